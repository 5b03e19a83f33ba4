package nn

import (
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func TestAttentionGrad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		B, T, C  int
		NH       int
		causal   bool
		valid    []int32
		preattOn bool
	}{
		{"causal", 2, 4, 6, 2, true, nil, true},
		{"noncausal", 2, 3, 4, 1, false, nil, false},
		{"valid", 2, 5, 4, 2, false, []int32{3, 5}, true},
		{"causal+valid+empty", 3, 3, 4, 2, true, []int32{2, 0, 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRNG(9)
			B, T, C, NH := tc.B, tc.T, tc.C, tc.NH
			inp, dout := nntest.Randn(r, B*T*3*C), nntest.Randn(r, B*T*C)
			out := make([]float64, B*T*C)
			att := make([]float64, B*NH*T*T)
			var preatt []float64
			if tc.preattOn {
				preatt = make([]float64, B*NH*T*T)
			}
			loss := func() float64 {
				AttentionForward(nil, out, preatt, att, inp, tc.valid, B, T, C, NH, tc.causal)
				return nntest.Dot(out, dout)
			}
			loss()
			dinp, datt := make([]float64, len(inp)), make([]float64, len(att))
			AttentionBackward(nil, dinp, datt, dout, inp, att, B, T, C, NH)
			nntest.GradCheck(t, "dinp", inp, dinp, loss)
			// every softmax row sums to 1 or is all zero (no visible key)
			for bh := range B * NH {
				for q := range T {
					var s float64
					for k := range T {
						a := att[(bh*T+q)*T+k]
						lim := keyLimit(tc.valid, bh/NH, q, T, tc.causal)
						if k >= lim && a != 0 {
							t.Fatalf("masked weight nonzero at b%d q%d k%d", bh/NH, q, k)
						}
						s += a
					}
					lim := keyLimit(tc.valid, bh/NH, q, T, tc.causal)
					if (lim > 0 && math.Abs(s-1) > 1e-12) || (lim == 0 && s != 0) {
						t.Fatalf("row sum %v with %d keys", s, lim)
					}
				}
			}
		})
	}
}

// naiveAttention is the llm.c loop form, used as an independent reference.
func naiveAttention(out, inp []float64, B, T, C, NH int, causal bool) {
	hs := C / NH
	sc := 1 / math.Sqrt(float64(hs))
	for b := range B {
		for h := range NH {
			for q := range T {
				lim := T
				if causal {
					lim = q + 1
				}
				w := make([]float64, lim)
				mx := math.Inf(-1)
				for k := range lim {
					var s float64
					for i := range hs {
						s += inp[(b*T+q)*3*C+h*hs+i] * inp[(b*T+k)*3*C+C+h*hs+i]
					}
					w[k] = s * sc
					mx = max(mx, w[k])
				}
				var sum float64
				for k := range w {
					w[k] = math.Exp(w[k] - mx)
					sum += w[k]
				}
				for i := range hs {
					var s float64
					for k := range w {
						s += w[k] / sum * inp[(b*T+k)*3*C+2*C+h*hs+i]
					}
					out[(b*T+q)*C+h*hs+i] = s
				}
			}
		}
	}
}

func TestAttentionMatchesNaiveAndPool(t *testing.T) {
	pool := NewPool(3)
	defer pool.Close()
	r := newRNG(10)
	B, T, C, NH := 2, 70, 24, 3
	inp := nntest.Randn(r, B*T*3*C)
	dout := nntest.Randn(r, B*T*C)
	for _, causal := range []bool{true, false} {
		want := make([]float64, B*T*C)
		naiveAttention(want, inp, B, T, C, NH, causal)
		var res [2][2][]float64
		for pi, p := range []*Pool{nil, pool} {
			out, att := make([]float64, B*T*C), make([]float64, B*NH*T*T)
			AttentionForward(p, out, nil, att, inp, nil, B, T, C, NH, causal)
			dinp, datt := make([]float64, len(inp)), make([]float64, len(att))
			AttentionBackward(p, dinp, datt, dout, inp, att, B, T, C, NH)
			res[pi] = [2][]float64{out, dinp}
		}
		for i := range want {
			if math.Abs(res[0][0][i]-want[i]) > 1e-12 {
				t.Fatalf("causal=%v out[%d]=%v want %v", causal, i, res[0][0][i], want[i])
			}
		}
		equalSlices(t, "attention out", res[0][0], res[1][0])
		equalSlices(t, "attention dinp", res[0][1], res[1][1])
	}
}
