package aggregate

import (
	"errors"
	"testing"

	"github.com/mlecs/mlecs/training/payload"
)

func TestApply(t *testing.T) {
	dst := []payload.Tensor{vec("a", 1, 2), vec("b", 3)}
	// 1 + 0.5*2 = 2, 2 + 0.5*(-2) = 1, 3 + 0.5*4 = 5
	if err := Apply(dst, []payload.Tensor{vec("b", 4), vec("a", 2, -2)}, 0.5); err != nil {
		t.Fatal(err)
	}
	near(t, "a", dst[0].Data, 2, 1)
	near(t, "b", dst[1].Data, 5)
	for _, bad := range [][]payload.Tensor{
		{vec("a", 1, 1)},
		{vec("a", 1, 1), vec("c", 1)},
		{vec("a", 1, 1, 1), vec("b", 1)},
	} {
		if err := Apply(dst, bad, 1); !errors.Is(err, ErrShape) {
			t.Fatalf("bad delta %v: err %v", bad, err)
		}
	}
	near(t, "a unchanged after errors", dst[0].Data, 2, 1)
}

func TestFromUpdate(t *testing.T) {
	u := &payload.Update{Edge: "e1", Samples: 7, Modalities: img, LoRA: []payload.Tensor{vec("w", 1)}}
	r := mustAggregate(t, mustNew(t, []Spec{{"w", []int{1}}}), []Contribution{FromUpdate(u)})
	near(t, "w", r.Tensors[0].Data, 1)
}
