package model

import (
	"path/filepath"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
	"github.com/mlecs/mlecs/training/dataset/importer"
	"math/rand/v2"
	"testing"

	"github.com/mlecs/mlecs/training/gpt2"
)

// tinyConfig is a model small enough for float64 gradient checks: an image, a series and a text slot.
func tinyConfig(t *testing.T, ccl bool) Config {
	t.Helper()
	return Config{
		Preset:   "test",
		Backbone: gpt2.Config{VocabSize: 23, MaxSeq: 16, NumLayers: 1, NumHeads: 2, Channels: 8, LoRARank: 2, LoRAAlpha: 4},
		Modalities: []ModalityConfig{
			{Name: "img", Kind: KindImage, Shape: []int{4, 4, 3}, Width: 8, Depth: 1, Heads: 2, Patch: 2},
			{Name: "ser", Kind: KindTimeseries, Shape: []int{6, 2}, Width: 8, Depth: 0, Heads: 2, Patch: 3},
			{Name: "txt", Kind: KindText, Shape: []int{4}, Width: 8, Depth: 1, Heads: 2},
		},
		Latent: 4, Fused: 6, SoftTokens: 2,
		InstructionText: "go", Instruction: []int32{3, 4},
		MaxTarget: 5, EOT: 22, MaxBatch: 4,
		CCL: ccl, CCLWeight: 0.5, CCLTau: 0.3, Seed: 5,
	}
}

// randomExamples gives n examples; sample 1 lacks the image, sample 2 lacks the series and text.
func randomExamples(cfg Config, n int, seed uint64) []Example {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]Example, n)
	for b := range out {
		ex := Example{ID: string(rune('a' + b)), Inputs: make([][]float32, len(cfg.Modalities)), Tokens: make([][]int32, len(cfg.Modalities))}
		for k, mc := range cfg.Modalities {
			if (b == 1 && k == 0) || (b == 2 && k > 0) {
				continue
			}
			if mc.Kind == KindText {
				toks := make([]int32, 1+rng.IntN(mc.Shape[0]))
				for i := range toks {
					toks[i] = int32(rng.IntN(cfg.Backbone.VocabSize))
				}
				ex.Tokens[k] = toks
				continue
			}
			x := make([]float32, mc.size())
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			ex.Inputs[k] = x
		}
		ex.Target = make([]int32, 1+rng.IntN(cfg.MaxTarget-1))
		for i := range ex.Target {
			ex.Target[i] = int32(rng.IntN(cfg.Backbone.VocabSize - 1))
		}
		out[b] = ex
	}
	return out
}

// harSubset imports a few HAR subjects (s03 is a test subject) into a temporary dataset.
func harSubset(t testing.TB, subjects ...string) *dataset.Dataset {
	t.Helper()
	return subset.HAR(t, filepath.Join(t.TempDir(), "har"), importer.HARSubjects(subjects...), importer.HARTestSubjects("s03"))
}
