package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGradCheck compares Backward of the assembled model (encoders, connector, CCL projection, LoRA;
// generation loss + CCL, with absent modalities, with and without text in the prompt, transformer or CNN
// image and series encoders) with float64 central differences.
func TestGradCheck(t *testing.T) {
	for _, c := range []struct {
		ccl     bool
		prompt  int
		encoder string
	}{{false, 0, ""}, {true, 0, ""}, {true, 3, EncoderTransformer}, {true, 3, EncoderCNN}} {
		ccl := c.ccl
		cfg := tinyConfig(t, ccl)
		cfg.PromptTokens = c.prompt
		cfg.Modalities[0].Encoder, cfg.Modalities[1].Encoder = c.encoder, c.encoder
		m, err := New[float64](cfg)
		if err != nil {
			t.Fatal(err)
		}
		// LoRA B starts at zero, which would hide the gradient of A: randomise every adapter.
		rng := rand.New(rand.NewPCG(9, 9))
		groups := m.Groups()
		for _, g := range groups {
			if g.Name == "lora" {
				for i := range g.Params {
					g.Params[i] = rng.NormFloat64() * 0.3
				}
			}
		}
		batch := randomExamples(cfg, 4, 3)
		loss := func() float64 {
			l, err := m.Forward(batch)
			if err != nil {
				t.Fatal(err)
			}
			return l.Total
		}
		m.ZeroGrad()
		loss()
		if err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		const eps, tol = 1e-5, 1e-6
		for _, g := range groups {
			grads := append([]float64(nil), g.Grads...)
			checked := 0
			for _, i := range rng.Perm(len(g.Params))[:min(25, len(g.Params))] {
				old := g.Params[i]
				g.Params[i] = old + eps
				lp := loss()
				g.Params[i] = old - eps
				lm := loss()
				g.Params[i] = old
				num := (lp - lm) / (2 * eps)
				if d := math.Abs(num - grads[i]); d > tol+1e-4*math.Abs(num) {
					t.Errorf("ccl=%v prompt=%d encoder=%q group %s[%d]: analytic %.9g numeric %.9g", ccl, c.prompt, c.encoder, g.Name, i, grads[i], num)
				}
				checked++
			}
			if checked == 0 {
				t.Errorf("group %s: nothing checked", g.Name)
			}
		}
	}
}
