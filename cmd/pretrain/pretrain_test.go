package pretrain

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
	data := datatest.SharedData(t)
	dir := t.TempDir()
	ds := filepath.Join(dir, "har")
	subset.HAR(t, ds, importer.HARSubjects("s01", "s03"))
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
