package gpt2

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// amtModel is a float64 backbone with randomised base weights, branches (B nonzero) and gates.
func amtModel(t *testing.T, mlp bool, seed uint64) (*AMT[float64], Config) {
	t.Helper()
	c := AMTBackbone(checkConfig(mlp))
	m, err := New[float64](c, WithMaxBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, seed)
	a, err := NewAMT(m)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, s := range [][]float64{a.PrivateBuf, a.SharedBuf} {
		for i := range s {
			s[i] = rng.NormFloat64() * 0.3
		}
	}
	for i := range a.Gate {
		a.Gate[i] = rng.NormFloat64()
	}
	return a, c
}

// TestAMTGradCheck compares the private, shared and gate gradients with central differences.
func TestAMTGradCheck(t *testing.T) {
	for _, mlp := range []bool{false, true} {
		a, c := amtModel(t, mlp, 1)
		bt := randomBatch(c, 2, 3, 2, 2)
		loss := func() float64 {
			if err := a.Pack(); err != nil {
				t.Fatal(err)
			}
			l, err := a.Model().Forward(bt.ids, bt.targets, bt.prefix, bt.B)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		a.Model().ZeroGrad()
		a.ZeroGrad()
		loss()
		if err := a.Model().Backward(); err != nil {
			t.Fatal(err)
		}
		a.AccumulateGrads()
		const h = 1e-5
		for _, tc := range []struct {
			name string
			xs   []float64
			want []float64
		}{
			{"private", a.PrivateBuf, append([]float64(nil), a.GradPrivateBuf...)},
			{"shared", a.SharedBuf, append([]float64(nil), a.GradSharedBuf...)},
			{"gate", a.Gate, append([]float64(nil), a.GradGate...)},
		} {
			worst, nonzero := 0.0, 0
			for i := range tc.xs {
				orig := tc.xs[i]
				tc.xs[i] = orig + h
				lp := loss()
				tc.xs[i] = orig - h
				lm := loss()
				tc.xs[i] = orig
				num := (lp - lm) / (2 * h)
				den := math.Max(math.Max(math.Abs(num), math.Abs(tc.want[i])), 1e-4)
				worst = math.Max(worst, math.Abs(num-tc.want[i])/den)
				if math.Abs(tc.want[i]) > 1e-9 {
					nonzero++
				}
			}
			t.Logf("mlp=%v %s: %d values (%d nonzero), worst relative error %.2e", mlp, tc.name, len(tc.xs), nonzero, worst)
			if worst > 1e-5 {
				t.Errorf("mlp=%v %s: gradient check failed, worst relative error %.2e", mlp, tc.name, worst)
			}
			if nonzero < len(tc.xs)/2 {
				t.Errorf("mlp=%v %s: only %d of %d gradients nonzero", mlp, tc.name, nonzero, len(tc.xs))
			}
		}
	}
}

// TestAMTGateMerge checks the packed adapter of one projection by hand: with r = 1, in = C = 8 and the
// gate logit ln 3 (g = 0.75), B·A of the packed rank-2 adapter must equal B_p A_p + 0.75 B_s A_s.
func TestAMTGateMerge(t *testing.T) {
	c := AMTBackbone(Config{VocabSize: 5, MaxSeq: 4, NumLayers: 1, NumHeads: 2, Channels: 8, LoRARank: 1, LoRAAlpha: 2})
	m, err := New[float64](c)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAMT(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.BranchConfig(); got.LoRARank != 1 || got.LoRAScale() != c.LoRAScale() {
		t.Fatalf("branch config %+v: want rank 1 and scale %v", got, c.LoRAScale())
	}
	a.Gate[0] = math.Log(3)
	if g := a.GateValue(0); math.Abs(g-0.75) > 1e-15 {
		t.Fatalf("gate %v, want 0.75", g)
	}
	// attn.c_proj (C -> C): A_p = 1..8, A_s = all 2, B_p = e_0 (row 0), B_s = all 1.
	ap, bp, _, _ := branchPair(&a.private, a.branch, projAttProj, 0)
	as, bs, _, _ := branchPair(&a.shared, a.branch, projAttProj, 0)
	for i := range 8 {
		ap[i], as[i], bs[i] = float64(i+1), 2, 1
		bp[i] = 0
	}
	bp[0] = 1
	if err := a.Pack(); err != nil {
		t.Fatal(err)
	}
	v := m.proj(projAttProj, 0)
	for o := range 8 {
		for i := range 8 {
			got := v.bm[o*2]*v.a[i] + v.bm[o*2+1]*v.a[8+i]
			want := 0.75 * 1 * 2 // shared: g · B_s[o] · A_s[i]
			if o == 0 {
				want += float64(i + 1) // private: B_p[0] · A_p[i]
			}
			if math.Abs(got-want) > 1e-12 {
				t.Fatalf("packed (B·A)[%d,%d] = %v, want %v", o, i, got, want)
			}
		}
	}
	if err := m.Merge(); err != nil {
		t.Fatal(err)
	}
	if err := a.Pack(); !errors.Is(err, ErrState) {
		t.Fatalf("Pack on a merged backbone: %v, want ErrState", err)
	}
}

func TestAMTRejectsOddRank(t *testing.T) {
	m, err := New[float32](Config{VocabSize: 5, MaxSeq: 4, NumLayers: 1, NumHeads: 2, Channels: 8, LoRARank: 3, LoRAAlpha: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAMT(m); !errors.Is(err, ErrConfig) {
		t.Fatalf("odd rank: %v, want ErrConfig", err)
	}
}

// TestLoRASpecs checks that the specs address the same values LoRATensors exports.
func TestLoRASpecs(t *testing.T) {
	c := checkConfig(true)
	m, err := New[float32](c)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	randomizeAdapters(m)
	specs, ts := LoRASpecs(c), m.LoRATensors()
	if len(specs) != len(ts) {
		t.Fatalf("%d specs, %d tensors", len(specs), len(ts))
	}
	buf := m.AdapterBuf()
	for i, s := range specs {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		if s.Name != ts[i].Name || n != len(ts[i].Data) {
			t.Fatalf("spec %d %s %v, tensor %s with %d values", i, s.Name, s.Shape, ts[i].Name, len(ts[i].Data))
		}
		for j := range n {
			if buf[s.Offset+j] != ts[i].Data[j] {
				t.Fatalf("%s[%d]: buffer %v, tensor %v", s.Name, j, buf[s.Offset+j], ts[i].Data[j])
			}
		}
	}
}

func randomizeAdapters(m *Model[float32]) {
	rng := rand.New(rand.NewPCG(9, 9))
	for i, b := 0, m.AdapterBuf(); i < len(b); i++ {
		b[i] = float32(rng.NormFloat64())
	}
}

// TestPrefixMeanGrad checks PrefixMean against the prefix and that AddPrefixMeanGrad adds the gradient
// of Σ w·PrefixMean to PrefixGrad (loss = CE + Σ w·mean_p prefix, by central differences on the prefix).
func TestPrefixMeanGrad(t *testing.T) {
	c := checkConfig(false)
	m, err := New[float64](c, WithMaxBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, 4)
	const B, Tt, P = 2, 3, 2
	bt := randomBatch(c, B, Tt, P, 5)
	C := c.Channels
	rng := rand.New(rand.NewPCG(6, 6))
	w := make([]float64, B*C)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	mean := make([]float64, B*C)
	loss := func() float64 {
		l, err := m.Forward(bt.ids, bt.targets, bt.prefix, B)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.PrefixMean(mean); err != nil {
			t.Fatal(err)
		}
		for i := range w {
			l += w[i] * mean[i]
		}
		return l
	}
	loss()
	for b := range B {
		for j := range C {
			want := (bt.prefix[(b*P)*C+j] + bt.prefix[(b*P+1)*C+j]) / 2
			if math.Abs(mean[b*C+j]-want) > 1e-12 {
				t.Fatalf("PrefixMean[%d,%d] = %v, want %v", b, j, mean[b*C+j], want)
			}
		}
	}
	m.ZeroGrad()
	if err := m.AddPrefixMeanGrad(w); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(); err != nil {
		t.Fatal(err)
	}
	got := append([]float64(nil), m.PrefixGrad()...)
	const h = 1e-5
	for i := range bt.prefix {
		orig := bt.prefix[i]
		bt.prefix[i] = orig + h
		lp := loss()
		bt.prefix[i] = orig - h
		lm := loss()
		bt.prefix[i] = orig
		num := (lp - lm) / (2 * h)
		if math.Abs(num-got[i]) > 1e-6*math.Max(1, math.Abs(num)) {
			t.Fatalf("prefix grad %d: analytic %v, numeric %v", i, got[i], num)
		}
	}
	// The queued gradient is used once: a fresh Forward drops anything left over.
	if err := m.AddPrefixMeanGrad(make([]float64, 3)); !errors.Is(err, ErrShape) {
		t.Fatalf("wrong size: %v, want ErrShape", err)
	}
}
