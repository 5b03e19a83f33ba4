package nn

import (
	"errors"
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func TestCrossEntropyGrad(t *testing.T) {
	r := newRNG(15)
	N, V := 5, 7
	logits := nntest.Randn(r, N*V)
	targets := []int32{3, -1, 0, 6, -1}
	probs, losses := make([]float64, N*V), make([]float64, N)
	loss := func() float64 {
		l, _, err := CrossEntropyForward(nil, probs, losses, logits, targets, N, V, -1)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := loss()
	// direct formula
	var want float64
	for n, tg := range targets {
		if tg < 0 {
			continue
		}
		var s float64
		for j := range V {
			s += math.Exp(logits[n*V+j])
		}
		want += math.Log(s) - logits[n*V+int(tg)]
	}
	want /= 3
	if math.Abs(l-want) > 1e-12 {
		t.Fatalf("loss %v want %v", l, want)
	}
	dlogits := make([]float64, N*V)
	if err := CrossEntropyBackward(nil, dlogits, probs, targets, N, V, -1, 1); err != nil {
		t.Fatal(err)
	}
	nntest.GradCheck(t, "dlogits", logits, dlogits, loss)

	// in place: probs aliasing logits and dlogits aliasing probs
	buf := append([]float64(nil), logits...)
	l2, cnt, err := CrossEntropyForward(nil, buf, losses, buf, targets, N, V, -1)
	if err != nil || cnt != 3 || math.Abs(l2-l) > 1e-12 {
		t.Fatalf("in place forward: %v %d %v", l2, cnt, err)
	}
	if err := CrossEntropyBackward(nil, buf, buf, targets, N, V, -1, 1); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		if math.Abs(buf[i]-dlogits[i]) > 1e-15 {
			t.Fatalf("in place dlogits[%d]=%v want %v", i, buf[i], dlogits[i])
		}
	}
	// all ignored: loss 0, no gradient, no NaN
	all := []int32{-1, -1, -1, -1, -1}
	if l, c, err := CrossEntropyForward(nil, probs, losses, logits, all, N, V, -1); l != 0 || c != 0 || err != nil {
		t.Fatalf("all ignored: %v %d %v", l, c, err)
	}
	if _, _, err := CrossEntropyForward(nil, probs, losses, logits, []int32{7, 0, 0, 0, 0}, N, V, -1); !errors.Is(err, ErrIndex) {
		t.Fatalf("target == V: %v", err)
	}
}

func TestCrossEntropyPoolMatchesSerial(t *testing.T) {
	pool := NewPool(3)
	defer pool.Close()
	r := newRNG(16)
	N, V := 33, 50
	logits := nntest.Randn(r, N*V)
	targets := make([]int32, N)
	for i := range targets {
		targets[i] = int32(r.IntN(V+1)) - 1
	}
	run := func(p *Pool) ([]float64, float64) {
		probs, losses, d := make([]float64, N*V), make([]float64, N), make([]float64, N*V)
		l, _, err := CrossEntropyForward(p, probs, losses, logits, targets, N, V, -1)
		if err != nil {
			t.Fatal(err)
		}
		if err := CrossEntropyBackward(p, d, probs, targets, N, V, -1, 1); err != nil {
			t.Fatal(err)
		}
		return d, l
	}
	d1, l1 := run(nil)
	d2, l2 := run(pool)
	if l1 != l2 {
		t.Fatalf("loss %v vs %v", l1, l2)
	}
	equalSlices(t, "dlogits", d1, d2)
}

func TestInfoNCEGrad(t *testing.T) {
	for _, sym := range []bool{false, true} {
		r := newRNG(17)
		n := 4
		logits := nntest.Randn(r, n*n)
		pr, pc := make([]float64, n*n), make([]float64, n*n)
		loss := func() float64 { return InfoNCEForward(pr, pc, logits, n, sym) }
		l := loss()
		// row (and column) CE by hand
		ce := func(at func(i, j int) float64) float64 {
			var tot float64
			for i := range n {
				var s float64
				for j := range n {
					s += math.Exp(at(i, j))
				}
				tot += math.Log(s) - at(i, i)
			}
			return tot / float64(n)
		}
		want := ce(func(i, j int) float64 { return logits[i*n+j] })
		if sym {
			want = (want + ce(func(i, j int) float64 { return logits[j*n+i] })) / 2
		}
		if math.Abs(l-want) > 1e-12 {
			t.Fatalf("symmetric=%v loss %v want %v", sym, l, want)
		}
		d := make([]float64, n*n)
		InfoNCEBackward(d, pr, pc, n, sym, 1)
		nntest.GradCheck(t, "dlogits", logits, d, loss)
	}
	// perfect alignment: large diagonal gives loss near 0
	n := 3
	lg := []float64{50, 0, 0, 0, 50, 0, 0, 0, 50}
	pr, pc := make([]float64, 9), make([]float64, 9)
	if l := InfoNCEForward(pr, pc, lg, n, true); l > 1e-15 {
		t.Fatalf("aligned loss %v", l)
	}
}

func TestGramVolumeValues(t *testing.T) {
	// orthonormal set: V = sqrt((1+eps)^(k+1)); identical pair: V = sqrt(2 eps + eps^2)
	a := []float64{1, 0, 0}
	m := []float64{0, 1, 0, 0, 0, 1}
	vol, lg, pr, pc := make([]float64, 1), make([]float64, 1), make([]float64, 1), make([]float64, 1)
	if _, err := GramForward(vol, lg, pr, pc, a, m, nil, 1, 2, 3, 0.1); err != nil {
		t.Fatal(err)
	}
	if want := math.Sqrt(math.Pow(1+GramEps, 3)); math.Abs(vol[0]-want) > 1e-12 {
		t.Fatalf("orthonormal V %v want %v", vol[0], want)
	}
	if _, err := GramForward(vol, lg, pr, pc, a, []float64{1, 0, 0}, nil, 1, 1, 3, 0.1); err != nil {
		t.Fatal(err)
	}
	if want := math.Sqrt(2*GramEps + GramEps*GramEps); math.Abs(vol[0]-want) > 1e-12 {
		t.Fatalf("collinear V %v want %v", vol[0], want)
	}
	// a masked modality is dropped, not zeroed: with m_2 absent V = V({a, m_1})
	if _, err := GramForward(vol, lg, pr, pc, a, []float64{0.6, 0.8, 0, 0, 0, 1}, []bool{true, false}, 1, 2, 3, 0.1); err != nil {
		t.Fatal(err)
	}
	g := (1 + GramEps) * (1 + GramEps)
	if want := math.Sqrt(g - 0.36); math.Abs(vol[0]-want) > 1e-12 {
		t.Fatalf("masked V %v want %v", vol[0], want)
	}
	if _, err := GramForward(vol, lg, pr, pc, a, m, nil, 1, 0, 3, 0.1); !errors.Is(err, ErrShape) {
		t.Fatalf("k=0: %v", err)
	}
	if _, err := GramForward(vol, lg, pr, pc, a, m, nil, 1, 2, 3, 0); !errors.Is(err, ErrShape) {
		t.Fatalf("tau=0: %v", err)
	}
}

func TestGramGrad(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    int
		mask []bool
	}{
		{"k1", 1, nil},
		{"k3", 3, nil},
		{"k3-masked", 3, []bool{true, true, true, false, true, false, false, false, false, true, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRNG(18)
			n, d, k := 4, 6, tc.k
			a, m := nntest.Randn(r, n*d), nntest.Randn(r, n*k*d)
			vol, lg, pr, pc := make([]float64, n*n), make([]float64, n*n), make([]float64, n*n), make([]float64, n*n)
			tau := 0.5
			loss := func() float64 {
				l, err := GramForward(vol, lg, pr, pc, a, m, tc.mask, n, k, d, tau)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			loss()
			da, dm := make([]float64, len(a)), make([]float64, len(m))
			if err := GramBackward(da, dm, vol, pr, pc, a, m, tc.mask, n, k, d, tau, 1); err != nil {
				t.Fatal(err)
			}
			nntest.GradCheck(t, "da", a, da, loss)
			nntest.GradCheck(t, "dm", m, dm, loss)
			for j := range n {
				for p := range k {
					if tc.mask != nil && !tc.mask[j*k+p] {
						for _, v := range dm[(j*k+p)*d : (j*k+p+1)*d] {
							if v != 0 {
								t.Fatalf("absent modality (%d,%d) got gradient", j, p)
							}
						}
					}
				}
			}
		})
	}
}
