package model

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/gpt2"
)

// TestSetupHFBase builds a model on a Hugging Face-layout GPT-2 file with the full vocabulary (a small
// random one written by gpt2.SaveBase, standing in for real GPT-2 weights), trains a step, and reloads it.
func TestSetupHFBase(t *testing.T) {
	ds := harSubset(t, "s01", "s03")
	dir := t.TempDir()
	base, err := gpt2.New[float32](gpt2.Config{VocabSize: gpt2.GPT2Vocab, MaxSeq: 32, NumLayers: 1, NumHeads: 2, Channels: 16})
	if err != nil {
		t.Fatal(err)
	}
	base.Init(3)
	file := filepath.Join(dir, "gpt2.safetensors")
	if err := base.SaveBase(file); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out := filepath.Join(dir, "m")
	opts := SetupOptions{Preset: "tiny", Modalities: []string{"phone"}, Base: file, BPEDir: filepath.Join(datatest.SharedData(t), "gpt2-bpe"),
		MaxBatch: 8, Seed: 1, Features: dataset.DefaultConfig()}
	sess, err := Setup(ctx, ds, out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := sess.Spec.Model.Backbone.VocabSize; got != gpt2.GPT2Vocab {
		t.Errorf("vocab %d, want the full GPT-2 vocabulary", got)
	}
	ex, err := sess.Examples(ctx, ds, dataset.SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Train(ctx, sess.Model, ex[:16], out, TrainOptions{Epochs: 1, Batch: 8, LR: 1e-3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	back, err := Load(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sess.Model.Generate(ctx, ex[:2])
	got, _ := back.Model.Generate(ctx, ex[:2])
	for i := range want {
		if !slices.Equal(want[i], got[i]) {
			t.Fatalf("sample %d: %v before, %v after reload", i, want[i], got[i])
		}
	}
	// Unknown modality and a base without weights are rejected.
	opts.Modalities = []string{"nose"}
	if _, err := Setup(ctx, ds, out, opts); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown modality: %v, want ErrConfig", err)
	}
	opts.Modalities, opts.Base = nil, dir
	if _, err := Setup(ctx, ds, out, opts); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("base dir without files: %v, want ErrCheckpoint", err)
	}
}
