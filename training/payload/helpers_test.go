package payload

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func randTensor(r *rand.Rand, name string, shape ...int) Tensor {
	t := Tensor{Name: name, Shape: shape}
	t.Data = make([]float32, t.Numel())
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64() * 0.1)
	}
	return t
}

func sampleUpdate() *Update {
	r := rand.New(rand.NewPCG(7, 8))
	fused := Reps{IDs: []string{"pub-1", "pub-2", "pub-3"}, Dim: 4}
	fused.Data = randTensor(r, "f", 3, 4).Data
	return &Update{
		RunID: "run-a", Round: 3, Edge: "edge-1", Samples: 120, Modalities: []string{"twemoji", "keywords"},
		LoRA: []Tensor{
			randTensor(r, "h.0.attn.c_attn.lora_A.weight", 2, 5),
			randTensor(r, "h.0.attn.c_attn.lora_B.weight", 15, 2),
			{Name: "zero", Shape: []int{3}, Data: []float32{0, 0, 0}},
		},
		Fused: fused,
		Predictions: []Prediction{
			{ID: "pub-1", Tokens: []int32{50256, 0, 300}},
			{ID: "pub-2", Text: "man firefighter"},
			{ID: "pub-3", Tokens: []int32{}},
		},
		Metrics: map[string]float64{"loss": 1.25, "rougeLsum": 0.5},
	}
}

func sampleGlobal() *Global {
	r := rand.New(rand.NewPCG(9, 10))
	fused := Reps{IDs: []string{"pub-1", "pub-2"}, Dim: 3}
	fused.Data = randTensor(r, "f", 2, 3).Data
	return &Global{RunID: "run-a", Round: 4, Term: 2,
		LoRA:  []Tensor{randTensor(r, "h.0.attn.c_proj.lora_A.weight", 2, 5)},
		Fused: fused}
}

func encodeUpdate(t testing.TB, u *Update, c Codec) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := u.Encode(&buf, c); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}

func encodeGlobal(t testing.TB, g *Global, c Codec) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := g.Encode(&buf, c); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}
