package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlecs/mlecs/training/gpt2"
)

// TestDistillHandComputed: uniform logits over V = 3, target 0, teacher {0: 0.75, 1: 0.25}, alpha 0.5:
// gen = ln 3, KL = 0.75 ln(0.75·3) + 0.25 ln(0.25·3), gradient ½(p − e₀) + ½(p − q) = (−13/24, 5/24, 1/3).
func TestDistillHandComputed(t *testing.T) {
	logits := []float64{0.7, 0.7, 0.7}
	probs := make([]float64, 3)
	teach := []Dist{{IDs: []int32{0, 1}, Probs: []float32{0.75, 0.25}}}
	ls, err := DistillForward(probs, logits, []int32{0}, teach, 1, 3, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	gen, kl := math.Log(3), 0.75*math.Log(2.25)+0.25*math.Log(0.75)
	if math.Abs(ls.Gen-gen) > 1e-12 || math.Abs(ls.KL-kl) > 1e-12 || math.Abs(ls.Total-(gen+kl)/2) > 1e-12 || ls.NGen != 1 || ls.NKL != 1 {
		t.Fatalf("losses %+v, want gen %v KL %v total %v", ls, gen, kl, (gen+kl)/2)
	}
	d := make([]float64, 3)
	if err := DistillBackward(d, probs, []int32{0}, teach, 1, 3, 0.5, ls); err != nil {
		t.Fatal(err)
	}
	for j, want := range []float64{-13.0 / 24, 5.0 / 24, 1.0 / 3} {
		if math.Abs(d[j]-want) > 1e-12 {
			t.Fatalf("dlogits %v, want (-13/24, 5/24, 1/3)", d)
		}
	}
	// Unnormalised teacher weights mean the same distribution.
	ls2, err := DistillForward(probs, logits, []int32{0}, []Dist{{IDs: []int32{0, 1}, Probs: []float32{0.3, 0.1}}}, 1, 3, 0.5)
	if err != nil || math.Abs(ls2.Total-ls.Total) > 1e-7 {
		t.Fatalf("renormalised teacher: %+v, %v", ls2, err)
	}
	// Without any teacher the loss is the plain cross-entropy, whatever alpha.
	ls3, err := DistillForward(probs, logits, []int32{0}, []Dist{{}}, 1, 3, 0.5)
	if err != nil || ls3.Total != ls3.Gen || math.Abs(ls3.Gen-gen) > 1e-12 {
		t.Fatalf("no teacher: %+v, %v", ls3, err)
	}
	for _, bad := range []Dist{{IDs: []int32{3}, Probs: []float32{1}}, {IDs: []int32{0}, Probs: []float32{0}},
		{IDs: []int32{0}, Probs: []float32{float32(math.NaN())}}, {IDs: []int32{0, 1}, Probs: []float32{1}}} {
		if _, err := DistillForward(probs, logits, []int32{0}, []Dist{bad}, 1, 3, 0.5); err == nil {
			t.Fatalf("teacher %+v accepted", bad)
		}
	}
}

// TestDistillGradCheck: DistillBackward against float64 central differences of DistillForward on rows
// with a target and a teacher, either one, or neither.
func TestDistillGradCheck(t *testing.T) {
	const N, V = 5, 7
	rng := rand.New(rand.NewPCG(3, 4))
	logits := make([]float64, N*V)
	for i := range logits {
		logits[i] = rng.NormFloat64() * 2
	}
	targets := []int32{2, gpt2.IgnoreIndex, 6, 0, gpt2.IgnoreIndex}
	teach := []Dist{
		{IDs: []int32{2, 5, 0}, Probs: []float32{0.6, 0.3, 0.1}},
		{IDs: []int32{1, 3}, Probs: []float32{0.5, 0.5}},
		{},
		{IDs: []int32{4}, Probs: []float32{1}},
		{},
	}
	for _, alpha := range []float64{0, 0.5, 1} {
		probs := make([]float64, N*V)
		loss := func() float64 {
			ls, err := DistillForward(probs, logits, targets, teach, N, V, alpha)
			if err != nil {
				t.Fatal(err)
			}
			return ls.Total
		}
		ls, _ := DistillForward(probs, logits, targets, teach, N, V, alpha)
		d := make([]float64, N*V)
		if err := DistillBackward(d, probs, targets, teach, N, V, alpha, ls); err != nil {
			t.Fatal(err)
		}
		const eps = 1e-6
		for i := range logits {
			old := logits[i]
			logits[i] = old + eps
			lp := loss()
			logits[i] = old - eps
			lm := loss()
			logits[i] = old
			if num := (lp - lm) / (2 * eps); math.Abs(num-d[i]) > 1e-8 {
				t.Fatalf("alpha %v logit %d: analytic %.10g numeric %.10g", alpha, i, d[i], num)
			}
		}
		if i := 4 * V; d[i] != 0 { // the row with neither a target nor a teacher gets no gradient
			t.Fatalf("alpha %v: gradient %v on an unsupervised row", alpha, d[i:i+V])
		}
	}
}

// TestDistillModelGradCheck: Distill + BackwardLogits through the whole model (encoders, connector,
// CCL, LoRA) against float64 central differences of Forward + Distill.
func TestDistillModelGradCheck(t *testing.T) {
	cfg := tinyConfig(t, true)
	cfg.PromptTokens = 3
	m, err := New[float64](cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, g := range m.Groups() {
		if g.Name == "lora" {
			for i := range g.Params {
				g.Params[i] = rng.NormFloat64() * 0.3
			}
		}
	}
	batch := randomExamples(cfg, 4, 3)
	V := cfg.Backbone.VocabSize
	teachers := make([][]Dist, len(batch))
	for b := range batch {
		if b == 2 {
			continue // a sample without a teacher
		}
		for range len(batch[b].Target) + 1 - b%2 { // odd samples: the last position has none
			ids := rng.Perm(V)[:3]
			d := Dist{Probs: []float32{0.5, 0.3, 0.2}}
			for _, id := range ids {
				d.IDs = append(d.IDs, int32(id))
			}
			teachers[b] = append(teachers[b], d)
		}
	}
	var dl []float64
	loss := func() float64 {
		ls, err := m.Forward(batch)
		if err != nil {
			t.Fatal(err)
		}
		dl = make([]float64, len(m.Backbone().Logits()))
		d, err := m.Distill(dl, teachers, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if d.NKL == 0 || d.NGen == 0 {
			t.Fatalf("distillation rows %+v", d)
		}
		return d.Total + cfg.CCLWeight*ls.CCL
	}
	m.ZeroGrad()
	loss()
	if err := m.BackwardLogits(dl); err != nil {
		t.Fatal(err)
	}
	checkGroupGrads(t, m, rng, 15, loss, "distill")
}

// TestTopK: one distribution per target position (target tokens + end token), most probable first,
// renormalised; the model distilled towards its own full distribution has KL 0, and without teachers
// Distill's gradient is Backward's.
func TestTopK(t *testing.T) {
	cfg := tinyConfig(t, false)
	m, err := New[float64](cfg)
	if err != nil {
		t.Fatal(err)
	}
	batch := randomExamples(cfg, 3, 5)
	if _, err := m.Forward(batch); err != nil {
		t.Fatal(err)
	}
	top, err := m.TopK(4)
	if err != nil {
		t.Fatal(err)
	}
	for b, ds := range top {
		if len(ds) != len(batch[b].Target)+1 {
			t.Fatalf("sample %d: %d positions, want %d", b, len(ds), len(batch[b].Target)+1)
		}
		for _, d := range ds {
			var s float64
			for i, p := range d.Probs {
				s += float64(p)
				if i > 0 && p > d.Probs[i-1] {
					t.Fatalf("sample %d: probabilities %v not sorted", b, d.Probs)
				}
			}
			if len(d.IDs) != 4 || math.Abs(s-1) > 1e-6 {
				t.Fatalf("sample %d: %d ids, probabilities sum to %v", b, len(d.IDs), s)
			}
		}
	}
	V := cfg.Backbone.VocabSize
	full, err := m.TopK(V + 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(full[0][0].IDs) != V {
		t.Fatalf("top-%d over a vocabulary of %d: %d ids", V+10, V, len(full[0][0].IDs))
	}
	dl := make([]float64, len(m.Backbone().Logits()))
	ls, err := m.Distill(dl, full, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if ls.KL > 1e-6 || ls.NKL != ls.NGen {
		t.Fatalf("self-distillation: %+v", ls)
	}
	// alpha 0: the same gradients as Backward.
	m.ZeroGrad()
	if _, err := m.Forward(batch); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(); err != nil {
		t.Fatal(err)
	}
	var want [][]float64
	for _, g := range m.Groups() {
		want = append(want, append([]float64(nil), g.Grads...))
	}
	m.ZeroGrad()
	if _, err := m.Forward(batch); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Distill(dl, top, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.BackwardLogits(dl); err != nil {
		t.Fatal(err)
	}
	for i, g := range m.Groups() {
		for j := range g.Grads {
			if math.Abs(g.Grads[j]-want[i][j]) > 1e-10 {
				t.Fatalf("group %s[%d]: distillation with alpha 0 %v, Backward %v", g.Name, j, g.Grads[j], want[i][j])
			}
		}
	}
}
