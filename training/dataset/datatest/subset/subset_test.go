package subset

import (
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/importer"
)

func TestHAR(t *testing.T) {
	out := filepath.Join(t.TempDir(), "har")
	ds := HAR(t, out, importer.HARSubjects("s01", "s03"))
	if len(ds.Split(dataset.SplitTrain)) == 0 || len(ds.Split(dataset.SplitTest)) == 0 {
		t.Fatalf("HAR subset has %d samples, want both splits", len(ds.Samples))
	}
	if _, err := dataset.Open(out); err != nil {
		t.Errorf("imported directory does not open: %v", err)
	}
}

func TestEmoji(t *testing.T) {
	out := filepath.Join(t.TempDir(), "emoji")
	ds := Emoji(t, out)
	if len(ds.Samples) == 0 {
		t.Fatal("emoji import has no samples")
	}
	if _, err := dataset.Open(out); err != nil {
		t.Errorf("imported directory does not open: %v", err)
	}
}
