package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/cmd/train"
	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
	"github.com/mlecs/mlecs/training/dataset/importer"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no model", []string{"--dataset", "x", "--out", "y"}},
		{"no dataset", []string{"--model", "x", "--out", "y"}},
		{"no out", []string{"--model", "x", "--dataset", "y"}},
		{"bad split", []string{"--model", "x", "--dataset", "y", "--out", "z", "--split", "dev"}},
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

func TestEvalHAR(t *testing.T) {
	data := datatest.SharedData(t)
	dir := t.TempDir()
	ds := filepath.Join(dir, "har")
	subset.HAR(t, ds, importer.HARSubjects("s01", "s03"))
	mdir := filepath.Join(dir, "m")
	tr := train.NewCmd()
	tr.SetArgs([]string{"--dataset", ds, "--out", mdir, "--epochs", "1", "--batch", "16", "--pretrain-steps", "10",
		"--bpe", filepath.Join(data, "gpt2-bpe"), "--threads", "1"})
	tr.SetOut(&bytes.Buffer{})
	tr.SetErr(&bytes.Buffer{})
	if err := tr.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "eval")
	var stdout bytes.Buffer
	cmd := NewCmd()
	cmd.SetArgs([]string{"--model", mdir, "--dataset", ds, "--out", out, "--threads", "1"})
	cmd.SetOut(&stdout)
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rougeLsum", "accuracy", "n", "rouge1", "rouge2", "rougeL", "macro_f1"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metrics.json lacks %q: %s", k, raw)
		}
	}
	n, _ := m["n"].(float64)
	f, err := os.Open(filepath.Join(out, "predictions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p map[string]any
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		for _, k := range []string{"id", "target", "prediction", "label"} {
			if _, ok := p[k]; !ok {
				t.Errorf("prediction line %d lacks %q", lines+1, k)
			}
		}
		lines++
	}
	if n < 1 || lines != int(n) {
		t.Errorf("%d predictions for n=%v", lines, n)
	}
	if stdout.Len() == 0 {
		t.Error("no summary on stdout")
	}
	// A model directory without a checkpoint is an error, not a crash.
	bad := NewCmd()
	bad.SetArgs([]string{"--model", dir, "--dataset", ds, "--out", out})
	bad.SetOut(&bytes.Buffer{})
	bad.SetErr(&bytes.Buffer{})
	if err := bad.ExecuteContext(context.Background()); err == nil {
		t.Error("eval of a directory without a model succeeded")
	}
}
