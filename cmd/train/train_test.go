package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
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
		{"bad preset", []string{"--dataset", "x", "--out", "y", "--preset", "paper"}},
		{"zero epochs", []string{"--dataset", "x", "--out", "y", "--epochs", "0"}},
		{"negative clip", []string{"--dataset", "x", "--out", "y", "--clip", "-1"}},
		{"bad tau", []string{"--dataset", "x", "--out", "y", "--ccl-tau", "0"}},
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

// TestTrainResume trains one epoch without --base (pretraining on the fly), then resumes to two.
func TestTrainResume(t *testing.T) {
	data := datatest.SharedData(t)
	dir := t.TempDir()
	ds := filepath.Join(dir, "har")
	subset.HAR(t, ds, importer.HARSubjects("s01", "s03"))
	out := filepath.Join(dir, "m")
	run := func(extra ...string) map[string]any {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := NewCmd()
		cmd.SetArgs(append([]string{"--dataset", ds, "--out", out, "--modalities", "watch", "--batch", "16",
			"--pretrain-steps", "10", "--bpe", filepath.Join(data, "gpt2-bpe"), "--threads", "1"}, extra...))
		cmd.SetOut(&stdout)
		cmd.SetErr(&stderr)
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("%v: %v\n%s", extra, err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "train epoch") {
			t.Errorf("no progress line on stderr: %q", stderr.String())
		}
		var res map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("stdout %q: %v", stdout.String(), err)
		}
		return res
	}
	if res := run("--epochs", "1"); res["epochs"] != 1.0 {
		t.Errorf("first run: %v", res)
	}
	if res := run("--epochs", "2", "--resume"); res["epochs"] != 2.0 {
		t.Errorf("resumed run: %v", res)
	}
	latest, err := os.ReadFile(filepath.Join(out, model.LatestFile))
	if err != nil || !strings.Contains(string(latest), "epoch-0002") {
		t.Errorf("latest checkpoint %q (%v), want epoch-0002", latest, err)
	}
	if _, err := os.Stat(filepath.Join(out, "base", model.BaseWeightsFile)); err != nil {
		t.Errorf("on-the-fly base not written: %v", err)
	}
}
