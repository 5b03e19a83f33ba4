package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/node/fedtrainer"
	"github.com/mlecs/mlecs/training/dataset"
)

// makeDataset writes a small text-only dataset: 20 train and 4 test samples, modality b on even ones only.
func makeDataset(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	w, err := dataset.Create(dir, dataset.Header{Name: "tiny", Modalities: map[string]dataset.Modality{
		"a": {Kind: dataset.KindText}, "b": {Kind: dataset.KindText}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 24 {
		split := dataset.SplitTrain
		if i >= 20 {
			split = dataset.SplitTest
		}
		in := map[string]dataset.Input{"a": {Text: fmt.Sprint("a", i)}}
		if i%2 == 0 {
			in["b"] = dataset.Input{Text: fmt.Sprint("b", i)}
		}
		if err := w.Add(dataset.Sample{ID: fmt.Sprint("s", i), Split: split, Inputs: in, Targets: []string{"t"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPartitionsCoverTrainOnceAndKeepModalities(t *testing.T) {
	src := makeDataset(t)
	seen := map[string]int{}
	for i := range 3 {
		out := filepath.Join(t.TempDir(), "p")
		if err := run([]string{"--dataset", src, "--out", out, "--parts", "3", "--index", fmt.Sprint(i), "--modalities", "b"}, io.Discard); err != nil {
			t.Fatal(err)
		}
		d, err := dataset.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		tests := 0
		for _, s := range d.Samples {
			if _, ok := s.Inputs["a"]; ok {
				t.Errorf("part %d sample %s kept modality a", i, s.ID)
			}
			if s.Split == dataset.SplitTest {
				tests++
				continue
			}
			seen[s.ID]++
		}
		if tests != 2 { // test samples 20 and 22 have modality b
			t.Errorf("part %d: %d test samples, want 2", i, tests)
		}
	}
	if len(seen) != 10 {
		t.Errorf("train samples with b over all parts = %d, want 10", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("sample %s in %d partitions", id, n)
		}
	}
}

// The public set goes to every partition; the rest of train to exactly one.
func TestPublicInEveryPartition(t *testing.T) {
	src := makeDataset(t)
	const frac = 0.6 // the ids s0..s9 hash to about 0.55, s10..s19 to about 0.75
	seen := map[string]int{}
	public := 0
	for i := range 3 {
		out := filepath.Join(t.TempDir(), "p")
		if err := run([]string{"--dataset", src, "--out", out, "--parts", "3", "--index", fmt.Sprint(i), "--modalities", "a",
			"--public-fraction", fmt.Sprint(frac)}, io.Discard); err != nil {
			t.Fatal(err)
		}
		d, err := dataset.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range d.Split(dataset.SplitTrain) {
			seen[s.ID]++
		}
	}
	for i := range 20 {
		id := fmt.Sprint("s", i)
		want := 1
		if fedtrainer.IsPublic(id, frac) {
			want, public = 3, public+1
		}
		if seen[id] != want {
			t.Errorf("sample %s in %d partitions, want %d", id, seen[id], want)
		}
	}
	if public == 0 || public == 20 {
		t.Fatalf("%d of 20 samples public at fraction %v: the test needs both kinds", public, frac)
	}
}

func TestBadFlags(t *testing.T) {
	src := makeDataset(t)
	out := filepath.Join(t.TempDir(), "p")
	for _, args := range [][]string{
		{"--dataset", src, "--out", out, "--parts", "2", "--index", "2", "--modalities", "a"},
		{"--dataset", src, "--out", out, "--parts", "2", "--index", "0"},
		{"--dataset", src, "--parts", "2", "--index", "0", "--modalities", "a"},
		{"--dataset", src, "--out", out, "--parts", "2", "--index", "0", "--modalities", "a,,b"},
		{"--dataset", src, "--out", out, "--parts", "2", "--index", "0", "--modalities", "zzz"},
	} {
		if err := run(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want usage error", args, err)
		}
	}
}
