package aggregate

import (
	"fmt"
	"slices"

	"github.com/mlecs/mlecs/training/payload"
)

// FromUpdate is the contribution carried by a decoded edge update (its shared-LoRA delta). The tensors
// are shared, not copied.
func FromUpdate(u *payload.Update) Contribution {
	return Contribution{Edge: u.Edge, Samples: u.Samples, Modalities: u.Modalities, Tensors: u.LoRA}
}

// Apply adds scale x delta to dst in place (the anchor's global shared LoRA += the aggregated delta;
// scale is the server learning rate, 1 for plain FedAvg/MMA). Both must list the same tensors with the
// same shapes, in any order.
func Apply(dst, delta []payload.Tensor, scale float32) error {
	if len(dst) != len(delta) {
		return fmt.Errorf("%w: apply: %d tensors, delta has %d", ErrShape, len(dst), len(delta))
	}
	idx := make(map[string]int, len(dst))
	for i, t := range dst {
		idx[t.Name] = i
	}
	for _, d := range delta {
		i, ok := idx[d.Name]
		if !ok {
			return fmt.Errorf("%w: apply: delta tensor %q not in the target", ErrShape, d.Name)
		}
		if t := dst[i]; !slices.Equal(t.Shape, d.Shape) || len(t.Data) != len(d.Data) {
			return fmt.Errorf("%w: apply: tensor %q has shape %v, delta %v", ErrShape, d.Name, t.Shape, d.Shape)
		}
	}
	for _, d := range delta {
		t := dst[idx[d.Name]].Data
		for j, v := range d.Data {
			t[j] += scale * v
		}
	}
	return nil
}
