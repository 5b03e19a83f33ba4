package federated

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/payload"
)

// toTensors copies a flat adapter buffer of config c into named tensors (gpt2.LoRASpecs order).
func toTensors(c gpt2.Config, flat []float32) []payload.Tensor {
	specs := gpt2.LoRASpecs(c)
	out := make([]payload.Tensor, len(specs))
	for i, s := range specs {
		n := s.Shape[0] * s.Shape[1]
		out[i] = payload.Tensor{Name: s.Name, Shape: append([]int(nil), s.Shape...),
			Data: append([]float32(nil), flat[s.Offset:s.Offset+n]...)}
	}
	return out
}

// fromTensors copies named tensors into a flat adapter buffer of config c; every tensor of the layout
// must be present once with its exact shape.
func fromTensors(c gpt2.Config, ts []payload.Tensor, flat []float32) error {
	specs := gpt2.LoRASpecs(c)
	if len(ts) != len(specs) {
		return fmt.Errorf("%w: %d LoRA tensors, want %d", ErrPayload, len(ts), len(specs))
	}
	byName := make(map[string]payload.Tensor, len(ts))
	for _, t := range ts {
		byName[t.Name] = t
	}
	for _, s := range specs {
		t, ok := byName[s.Name]
		if !ok || len(t.Shape) != 2 || t.Shape[0] != s.Shape[0] || t.Shape[1] != s.Shape[1] || len(t.Data) != s.Shape[0]*s.Shape[1] {
			return fmt.Errorf("%w: LoRA tensor %s missing or not %v", ErrPayload, s.Name, s.Shape)
		}
		copy(flat[s.Offset:], t.Data)
	}
	return nil
}

// InitShared returns the initial shared LoRA of an edge backbone of config c (rank r: the branch config,
// not the packed one): A ~ U(-1/sqrt(in), 1/sqrt(in)) from seed and B = 0, as gpt2.InitLoRA. The anchor
// publishes it in its first Global so that every edge starts from the same shared A.
func InitShared(c gpt2.Config, seed uint64) ([]payload.Tensor, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: shared LoRA: %w", ErrConfig, err)
	}
	if c.LoRARank == 0 {
		return nil, fmt.Errorf("%w: shared LoRA needs a rank > 0", ErrConfig)
	}
	rng := rand.New(rand.NewPCG(seed, 0x51A7ED))
	ts := toTensors(c, make([]float32, gpt2.LoRAParamCount(c)))
	for _, t := range ts {
		if !strings.HasSuffix(t.Name, "lora_A.weight") { // B [out,r] stays zero
			continue
		}
		bound := 1 / math.Sqrt(float64(t.Shape[1]))
		for i := range t.Data {
			t.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return ts, nil
}
