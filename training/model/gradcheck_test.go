package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGradCheck compares Backward of the assembled model (encoders, connector, CCL projection, LoRA;
// generation loss + CCL, with absent modalities, with and without text in the prompt, transformer or CNN
// image and series encoders, with and without the word head) with float64 central differences.
func TestGradCheck(t *testing.T) {
	for _, c := range []struct {
		ccl      bool
		prompt   int
		encoder  string
		wordHead bool
	}{{false, 0, "", false}, {true, 0, "", false}, {true, 3, EncoderTransformer, false}, {true, 3, EncoderCNN, false},
		{true, 3, EncoderTransformer, true}} {
		ccl := c.ccl
		cfg := tinyConfig(t, ccl)
		cfg.PromptTokens = c.prompt
		cfg.WordHead = c.wordHead
		cfg.Modalities[0].Encoder, cfg.Modalities[1].Encoder = c.encoder, c.encoder
		m, err := New[float64](cfg)
		if err != nil {
			t.Fatal(err)
		}
		// LoRA B and the word head start at zero, which would hide the gradients that flow through them:
		// randomise both.
		rng := rand.New(rand.NewPCG(9, 9))
		groups := m.Groups()
		for _, g := range groups {
			if g.Name == "lora" || g.Name == "head" {
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
		checkGroupGrads(t, m, rng, 25, loss, fmt.Sprintf("ccl=%v prompt=%d encoder=%q word head=%v", ccl, c.prompt, c.encoder, c.wordHead))
	}
}

// checkGroupGrads compares the gradients of every trainable group (from a Backward after loss) with
// float64 central differences of loss at n random coordinates per group.
func checkGroupGrads(t *testing.T, m *Model[float64], rng *rand.Rand, n int, loss func() float64, label string) {
	t.Helper()
	const eps, tol = 1e-5, 1e-6
	for _, g := range m.Groups() {
		grads := append([]float64(nil), g.Grads...)
		if len(g.Params) == 0 {
			t.Errorf("%s group %s: nothing to check", label, g.Name)
		}
		// The last value is always checked: the word head keeps its copy gain there.
		for _, i := range append(rng.Perm(len(g.Params))[:min(n, len(g.Params))], len(g.Params)-1) {
			old := g.Params[i]
			g.Params[i] = old + eps
			lp := loss()
			g.Params[i] = old - eps
			lm := loss()
			g.Params[i] = old
			if num := (lp - lm) / (2 * eps); math.Abs(num-grads[i]) > tol+1e-4*math.Abs(num) {
				t.Errorf("%s group %s[%d]: analytic %.9g numeric %.9g", label, g.Name, i, grads[i], num)
			}
		}
	}
}
