package federated

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAlignerHand: z = t = the 2x2 identity, τ = 1: logits = I, loss = -log(e/(e+1)) = log(1 + 1/e);
// dLoss/dlogits row i = (softmax - onehot)/2 = ±(1/(e+1))/2, and through the normalisation (rows are
// unit vectors along the axes) dz_00 = 0 (the radial part is removed), dz_01 = +1/(2(e+1)).
func TestAlignerHand(t *testing.T) {
	a, err := NewAligner[float64](2, 2, 4, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	id := []float64{1, 0, 0, 1}
	loss, err := a.Forward(id, id, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := math.Log(1 + 1/math.E); math.Abs(loss-want) > 1e-12 {
		t.Fatalf("loss %v, want %v", loss, want)
	}
	dz := make([]float64, 4)
	if err := a.Backward(dz, 1); err != nil {
		t.Fatal(err)
	}
	q := 1 / (2 * (math.E + 1))
	want := []float64{0, q, q, 0}
	for i := range dz {
		if math.Abs(dz[i]-want[i]) > 1e-12 {
			t.Fatalf("dz %v, want %v", dz, want)
		}
	}
	// Perfectly separated targets at a low temperature: the loss goes to 0.
	a2, _ := NewAligner[float64](2, 2, 2, 0.01, 0)
	if l, _ := a2.Forward(id, id, 2); l > 1e-30 {
		t.Fatalf("aligned loss at τ=0.01: %v", l)
	}
	if _, err := a.Forward(id[:2], id[:2], 1); err == nil {
		t.Fatal("one row accepted")
	}
}

// TestAlignerGradCheck checks dz and the projection gradient (dz != dt) by central differences.
func TestAlignerGradCheck(t *testing.T) {
	const n, dz, dt = 4, 5, 3
	a, err := NewAligner[float64](dz, dt, n, 0.3, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	z, tg := make([]float64, n*dz), make([]float64, n*dt)
	for i := range z {
		z[i] = rng.NormFloat64()
	}
	for i := range tg {
		tg[i] = rng.NormFloat64()
	}
	const w = 0.7
	loss := func() float64 {
		l, err := a.Forward(z, tg, n)
		if err != nil {
			t.Fatal(err)
		}
		return w * l
	}
	loss()
	a.ZeroGrad()
	dZ := make([]float64, n*dz)
	if err := a.Backward(dZ, w); err != nil {
		t.Fatal(err)
	}
	gW := append([]float64(nil), a.G...)
	const h = 1e-6
	for _, tc := range []struct {
		name      string
		xs, grads []float64
	}{{"z", z, dZ}, {"W", a.W, gW}} {
		for i := range tc.xs {
			orig := tc.xs[i]
			tc.xs[i] = orig + h
			lp := loss()
			tc.xs[i] = orig - h
			lm := loss()
			tc.xs[i] = orig
			num := (lp - lm) / (2 * h)
			if math.Abs(num-tc.grads[i]) > 1e-7*math.Max(1, math.Abs(num)) {
				t.Fatalf("%s[%d]: analytic %v, numeric %v", tc.name, i, tc.grads[i], num)
			}
		}
	}
}
