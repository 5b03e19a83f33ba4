package gpt2

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// checkConfig is small enough for a central-difference check of every parameter in float64.
func checkConfig(mlp bool) Config {
	return Config{VocabSize: 11, MaxSeq: 8, NumLayers: 2, NumHeads: 2, Channels: 8, LoRARank: 2, LoRAAlpha: 3, LoRAMLP: mlp}
}

// randomize fills every parameter (including LoRA B, which Init leaves at zero) with non-trivial values
// so that no gradient is structurally zero.
func randomize[F float32 | float64](m *Model[F], seed uint64) {
	m.Init(seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range m.Buf {
		m.Buf[i] += F(rng.NormFloat64() * 0.3)
	}
}

type batch struct {
	ids, targets []int32
	prefix       []float64
	bias         []float64 // [B,V] logit bias, or nil
	B            int
}

func randomBatch(c Config, B, Tt, P int, seed uint64) batch {
	rng := rand.New(rand.NewPCG(seed, 11))
	bt := batch{B: B, ids: make([]int32, B*Tt), targets: make([]int32, B*Tt), prefix: make([]float64, B*P*c.Channels)}
	for i := range bt.ids {
		bt.ids[i] = int32(rng.IntN(c.VocabSize))
		bt.targets[i] = int32(rng.IntN(c.VocabSize))
	}
	bt.targets[len(bt.targets)-1] = IgnoreIndex
	for i := range bt.prefix {
		bt.prefix[i] = rng.NormFloat64()
	}
	return bt
}

// randNormal returns n standard normal values.
func randNormal(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 13))
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

// gradCheck compares analytic and central-difference gradients of every trainable parameter and of
// the prefix, reporting the worst relative error max|a-n| / max(|a|,|n|, 1e-3·scale).
func gradCheck(t *testing.T, m *Model[float64], bt batch) {
	t.Helper()
	loss := func() float64 {
		l, err := m.ForwardBias(bt.ids, bt.targets, bt.prefix, bt.bias, bt.B)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	m.ZeroGrad()
	loss()
	if err := m.Backward(); err != nil {
		t.Fatal(err)
	}
	params, grads := m.Trainable()
	analytic := append([]float64(nil), grads...)
	dprefix := append([]float64(nil), m.PrefixGrad()...)
	dbias := append([]float64(nil), m.BiasGrad()...)
	const h = 1e-5
	check := func(what string, xs []float64, want []float64) {
		worst, nonzero := 0.0, 0
		for i := range xs {
			orig := xs[i]
			xs[i] = orig + h
			lp := loss()
			xs[i] = orig - h
			lm := loss()
			xs[i] = orig
			num := (lp - lm) / (2 * h)
			den := math.Max(math.Max(math.Abs(num), math.Abs(want[i])), 1e-4)
			if e := math.Abs(num-want[i]) / den; e > worst {
				worst = e
			}
			if math.Abs(want[i]) > 1e-9 {
				nonzero++
			}
		}
		t.Logf("%s: %d values (%d nonzero), worst relative error %.2e", what, len(xs), nonzero, worst)
		if worst > 1e-5 {
			t.Errorf("%s: gradient check failed, worst relative error %.2e", what, worst)
		}
		if nonzero < len(xs)/2 {
			t.Errorf("%s: only %d of %d gradients are nonzero", what, nonzero, len(xs))
		}
	}
	check("trainable", params, analytic)
	check("prefix", bt.prefix, dprefix)
	if bt.bias != nil {
		check("bias", bt.bias, dbias)
	}
}

func TestGradCheckLoRA(t *testing.T) {
	for _, mlp := range []bool{false, true} {
		c := checkConfig(mlp)
		m, err := New[float64](c, WithMaxBatch(2))
		if err != nil {
			t.Fatal(err)
		}
		randomize(m, 1)
		gradCheck(t, m, randomBatch(c, 2, 3, 2, 2))
	}
}

// A logit bias gets its own gradient and leaves the others' checks intact.
func TestGradCheckBias(t *testing.T) {
	c := checkConfig(false)
	m, err := New[float64](c, WithMaxBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, 7)
	bt := randomBatch(c, 2, 3, 2, 8)
	bt.bias = randNormal(2*c.VocabSize, 9)
	gradCheck(t, m, bt)
}

func TestGradCheckFull(t *testing.T) {
	c := checkConfig(true)
	m, err := New[float64](c, WithMaxBatch(2), WithTrainBase(true))
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, 3)
	gradCheck(t, m, randomBatch(c, 2, 3, 2, 4))
	// Without a prefix the lm_head takes the single-GEMM path.
	bt := randomBatch(c, 2, 4, 0, 5)
	gradCheck(t, m, bt)
}

// Full-training mode computes the same adapter and prefix gradients as LoRA mode, and the per-position
// losses average to the loss.
func TestModesAgree(t *testing.T) {
	c := checkConfig(true)
	lo, err := New[float64](c, WithMaxBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	full, err := New[float64](c, WithMaxBatch(2), WithTrainBase(true))
	if err != nil {
		t.Fatal(err)
	}
	randomize(lo, 3)
	copy(full.Buf, lo.Buf)
	bt := randomBatch(c, 2, 3, 2, 4)
	var losses [2]float64
	for i, m := range []*Model[float64]{lo, full} {
		loss, err := m.Forward(bt.ids, bt.targets, bt.prefix, bt.B)
		if err != nil {
			t.Fatal(err)
		}
		losses[i] = loss
		m.ZeroGrad()
		if err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, l := range m.Losses() {
			sum += l
		}
		if math.Abs(sum/float64(len(bt.ids)-1)-loss) > 1e-12 {
			t.Errorf("per-position losses average %v, loss %v", sum/float64(len(bt.ids)-1), loss)
		}
	}
	if losses[0] != losses[1] {
		t.Errorf("losses differ: %v vs %v", losses[0], losses[1])
	}
	if e := maxDiff(lo.AdapterGrad(), full.AdapterGrad()); e > 1e-12 {
		t.Errorf("adapter gradients differ by %g", e)
	}
	if e := maxDiff(lo.PrefixGrad(), full.PrefixGrad()); e > 1e-12 {
		t.Errorf("prefix gradients differ by %g", e)
	}
	if len(lo.AdapterGrad()) != len(lo.AdapterBuf()) || len(full.AdapterGrad()) != len(full.AdapterBuf()) {
		t.Error("AdapterGrad and AdapterBuf lengths differ")
	}
}

func maxDiff(a, b []float64) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// BackwardLogits with the cross-entropy gradient computed by the caller equals Backward.
func TestBackwardLogits(t *testing.T) {
	c := checkConfig(true)
	m, err := New[float64](c, WithMaxBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, 5)
	bt := randomBatch(c, 2, 3, 2, 6)
	if _, err := m.Forward(bt.ids, bt.targets, bt.prefix, bt.B); err != nil {
		t.Fatal(err)
	}
	m.ZeroGrad()
	if err := m.Backward(); err != nil {
		t.Fatal(err)
	}
	want, wantPrefix := append([]float64(nil), m.GradBuf...), append([]float64(nil), m.PrefixGrad()...)

	if _, err := m.Forward(bt.ids, nil, bt.prefix, bt.B); err != nil {
		t.Fatal(err)
	}
	V, valid := c.VocabSize, 0
	for _, y := range bt.targets {
		if y != IgnoreIndex {
			valid++
		}
	}
	logits := m.Logits()
	dlogits := make([]float64, len(logits))
	for n, y := range bt.targets {
		if y == IgnoreIndex {
			continue
		}
		row, d := logits[n*V:(n+1)*V], dlogits[n*V:(n+1)*V]
		var z float64
		for _, x := range row {
			z += math.Exp(x)
		}
		for i, x := range row {
			d[i] = math.Exp(x) / z / float64(valid)
		}
		d[y] -= 1 / float64(valid)
	}
	m.ZeroGrad()
	if err := m.BackwardLogits(dlogits); err != nil {
		t.Fatal(err)
	}
	if e := maxDiff(m.GradBuf, want); e > 1e-12 {
		t.Errorf("BackwardLogits gradients differ from Backward by %g", e)
	}
	if e := maxDiff(m.PrefixGrad(), wantPrefix); e > 1e-12 {
		t.Errorf("BackwardLogits prefix gradient differs by %g", e)
	}
	if err := m.BackwardLogits(dlogits[1:]); !errors.Is(err, ErrShape) {
		t.Errorf("short dlogits: %v", err)
	}
}
