// Package fedtest builds the tiny models and examples that the federated learners' tests train on, so
// that tests in training/federated and node/fedtrainer share one setup.
package fedtest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/model"
)

// TinyModel is a model small enough for fast unit tests: an image slot "img" and a text slot "txt".
func TinyModel(t testing.TB) *model.Model[float32] {
	t.Helper()
	m, err := model.New[float32](model.Config{
		Preset:   "test",
		Backbone: gpt2.Config{VocabSize: 23, MaxSeq: 16, NumLayers: 2, NumHeads: 2, Channels: 8, LoRARank: 2, LoRAAlpha: 4},
		Modalities: []model.ModalityConfig{
			{Name: "img", Kind: model.KindImage, Shape: []int{4, 4, 3}, Width: 8, Depth: 1, Heads: 2, Patch: 2},
			{Name: "txt", Kind: model.KindText, Shape: []int{4}, Width: 8, Depth: 1, Heads: 2},
		},
		Latent: 4, Fused: 6, SoftTokens: 2,
		InstructionText: "go", Instruction: []int32{3, 4},
		MaxTarget: 5, EOT: 22, MaxBatch: 4,
		CCL: true, CCLWeight: 0.5, CCLTau: 0.3, Seed: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TinyExamples gives n examples for TinyModel with both modalities; ids are prefix-i.
func TinyExamples(prefix string, n int, seed uint64) []model.Example {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]model.Example, n)
	for i := range out {
		img := make([]float32, 48)
		for j := range img {
			img[j] = float32(rng.NormFloat64())
		}
		txt := []int32{int32(rng.IntN(20)), int32(rng.IntN(20))}
		out[i] = model.Example{ID: fmt.Sprintf("%s-%d", prefix, i), Inputs: [][]float32{img, nil}, Tokens: [][]int32{nil, txt},
			Target: []int32{int32(i % 5), int32(5 + i%3)}}
	}
	return out
}
