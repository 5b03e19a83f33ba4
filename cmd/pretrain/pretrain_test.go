package pretrain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/dataset/importer"
	"github.com/mlecs/mlecs/training/model"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no dataset", []string{"--out", "x"}},
		{"no out", []string{"--dataset", "x"}},
		{"bad preset", []string{"--dataset", "x", "--out", "y", "--preset", "huge"}},
		{"zero steps", []string{"--dataset", "x", "--out", "y", "--steps", "0"}},
		{"bad lr", []string{"--dataset", "x", "--out", "y", "--lr", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := NewCmd()
			cmd.SetArgs(tc.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			if err := cmd.Execute(); !errors.Is(err, ErrUsage) {
				t.Errorf("%v: got %v, want ErrUsage", tc.args, err)
			}
		})
	}
}

func TestPretrainHAR(t *testing.T) {
	data := sharedData(t)
	dir := t.TempDir()
	ds := filepath.Join(dir, "har")
	if _, _, err := importer.ImportHAR(context.Background(), filepath.Join(data, "har-phone-watch"), ds,
		importer.HARSubjects("s01", "s03"), importer.HARLogger(slog.New(slog.DiscardHandler))); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := NewCmd()
	cmd.SetArgs([]string{"--dataset", ds, "--out", filepath.Join(dir, "base"), "--steps", "20", "--batch", "8",
		"--bpe", filepath.Join(data, "gpt2-bpe"), "--threads", "1"})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var info model.BaseInfo
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	if info.Steps != 20 || !(info.FinalLoss < info.FirstLoss) {
		t.Errorf("base info %+v: want 20 steps and a falling loss", info)
	}
	if !strings.Contains(stderr.String(), "pretrain step 20/20") {
		t.Errorf("no progress line on stderr: %q", stderr.String())
	}
	for _, f := range []string{model.BaseWeightsFile, model.RestrictedFile, model.EncoderFile, model.MergesFile, model.BaseInfoFile} {
		if _, err := os.Stat(filepath.Join(dir, "base", f)); err != nil {
			t.Error(err)
		}
	}
}

// sharedData returns ../shared/data relative to the module root, or skips.
func sharedData(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the package directory")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("real data not found at %s: %v", data, err)
	}
	return data
}
