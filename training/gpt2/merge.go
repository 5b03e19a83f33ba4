package gpt2

import (
	"fmt"

	"github.com/mlecs/mlecs/training/nn"
)

// Merge folds every adapter into its base weight (W += alpha/r · B·A) so that inference runs plain
// linear layers. Training (Backward) and InitLoRA are refused until Unmerge.
func (m *Model[F]) Merge() error {
	if m.merged {
		return fmt.Errorf("%w: LoRA already merged", ErrState)
	}
	m.foldLoRA(false)
	m.merged = true
	return nil
}

// Unmerge subtracts the adapters again. In float32 the base weights come back up to rounding (about
// one ulp of |W| + |alpha/r · B·A|), which is why training never runs on merged weights.
func (m *Model[F]) Unmerge() error {
	if !m.merged {
		return fmt.Errorf("%w: LoRA not merged", ErrState)
	}
	m.foldLoRA(true)
	m.merged = false
	return nil
}

func (m *Model[F]) foldLoRA(undo bool) {
	scale := F(m.cfg.LoRAScale())
	for l := range m.cfg.NumLayers {
		for k := range numProj {
			v := m.proj(k, l)
			if v.a == nil {
				continue
			}
			if undo {
				nn.LoRAUnmerge(v.w, v.a, v.bm, v.C, v.OC, v.r, scale)
			} else {
				nn.LoRAMerge(v.w, v.a, v.bm, v.C, v.OC, v.r, scale)
			}
		}
	}
}
