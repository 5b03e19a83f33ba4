// Package subset imports small subsets of the real datasets for tests. It is
// apart from datatest because it imports the importer, whose own tests use
// datatest (one package would be an import cycle).
package subset

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/dataset/importer"
)

// HAR imports the real har-phone-watch dataset into the directory out with
// opts (typically importer.HARSubjects to keep it small) and a silent logger,
// failing t on error and skipping it when the data is absent.
func HAR(t testing.TB, out string, opts ...importer.HAROption) *dataset.Dataset {
	t.Helper()
	src := filepath.Join(datatest.SharedData(t), "har-phone-watch")
	opts = append([]importer.HAROption{importer.HARLogger(slog.New(slog.DiscardHandler))}, opts...)
	ds, _, err := importer.ImportHAR(context.Background(), src, out, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// Emoji imports the real emoji dataset into the directory out with opts and a
// silent logger, failing t on error and skipping it when the data is absent.
func Emoji(t testing.TB, out string, opts ...importer.EmojiOption) *dataset.Dataset {
	t.Helper()
	src := filepath.Join(datatest.SharedData(t), "emoji")
	opts = append([]importer.EmojiOption{importer.EmojiLogger(slog.New(slog.DiscardHandler))}, opts...)
	ds, _, err := importer.ImportEmoji(context.Background(), src, out, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
