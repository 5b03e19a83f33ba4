package nn

import (
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

// TestFloat32MatchesFloat64 runs a small transformer-like chain (Linear ->
// LayerNorm -> attention -> GELU -> cross-entropy) forward and backward in
// both precisions and checks that they agree to float32 accuracy.
func TestFloat32MatchesFloat64(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	r := newRNG(19)
	B, T, C, NH, V := 2, 6, 8, 2, 11
	N := B * T
	x := nntest.Randn(r, N*C)
	wqkv, bqkv := nntest.Randn(r, 3*C*C), nntest.Randn(r, 3*C)
	lnw, lnb := nntest.Randn(r, C), nntest.Randn(r, C)
	wout := nntest.Randn(r, V*C)
	for i := range wqkv {
		wqkv[i] *= 0.3
	}
	targets := make([]int32, N)
	for i := range targets {
		targets[i] = int32(r.IntN(V))
	}
	targets[3] = -1
	valid := []int32{6, 4}

	type res struct {
		loss float64
		dx   []float64
		dw   []float64
	}
	run64 := func() res {
		l, dx, dw := chainT(pool, x, wqkv, bqkv, lnw, lnb, wout, targets, valid, B, T, C, NH, V)
		return res{l, dx, dw}
	}
	run32 := func() res {
		l, dx, dw := chain32(pool, to32(x), to32(wqkv), to32(bqkv), to32(lnw), to32(lnb), to32(wout), targets, valid, B, T, C, NH, V)
		return res{l, dx, dw}
	}
	a := run64()
	b := run32()
	if math.Abs(a.loss-b.loss) > 1e-5*math.Abs(a.loss) {
		t.Fatalf("loss f64 %v f32 %v", a.loss, b.loss)
	}
	for name, pair := range map[string][2][]float64{"dx": {a.dx, b.dx}, "dwqkv": {a.dw, b.dw}} {
		scale := 0.0
		for _, v := range pair[0] {
			scale = max(scale, math.Abs(v))
		}
		for i := range pair[0] {
			if d := math.Abs(pair[0][i] - pair[1][i]); d > 1e-4*scale {
				t.Fatalf("%s[%d]: f64 %v f32 %v", name, i, pair[0][i], pair[1][i])
			}
		}
	}
}

func chain32(p *Pool, x, wqkv, bqkv, lnw, lnb, wout []float32, targets, valid []int32, B, T, C, NH, V int) (float64, []float64, []float64) {
	l, dx, dw := chainT(p, x, wqkv, bqkv, lnw, lnb, wout, targets, valid, B, T, C, NH, V)
	up := func(s []float32) []float64 {
		o := make([]float64, len(s))
		for i, v := range s {
			o[i] = float64(v)
		}
		return o
	}
	return float64(l), up(dx), up(dw)
}

func chainT[F Float](p *Pool, x, wqkv, bqkv, lnw, lnb, wout []F, targets, valid []int32, B, T, C, NH, V int) (F, []F, []F) {
	N := B * T
	ln, mean, rstd := make([]F, N*C), make([]F, N), make([]F, N)
	qkv, att, ao := make([]F, N*3*C), make([]F, B*NH*T*T), make([]F, N*C)
	g, logits, probs, losses := make([]F, N*C), make([]F, N*V), make([]F, N*V), make([]F, N)
	LayerNormForward(p, ln, mean, rstd, x, lnw, lnb, N, C)
	LinearForward(p, qkv, ln, wqkv, bqkv, N, C, 3*C)
	AttentionForward(p, ao, nil, att, qkv, valid, B, T, C, NH, true)
	GELUForward(p, g, ao, N*C)
	LinearForward(p, logits, g, wout, nil, N, C, V)
	loss, _, err := CrossEntropyForward(p, probs, losses, logits, targets, N, V, -1)
	if err != nil {
		panic(err)
	}
	dlogits, dg, dao := make([]F, N*V), make([]F, N*C), make([]F, N*C)
	dqkv, datt, dln, dx, dw := make([]F, N*3*C), make([]F, len(att)), make([]F, N*C), make([]F, N*C), make([]F, len(wqkv))
	if err := CrossEntropyBackward(p, dlogits, probs, targets, N, V, -1, 1); err != nil {
		panic(err)
	}
	LinearBackward(p, dg, nil, nil, dlogits, g, wout, N, C, V)
	GELUBackward(p, dao, ao, dg, N*C)
	AttentionBackward(p, dqkv, datt, dao, qkv, att, B, T, C, NH)
	LinearBackward(p, dln, dw, nil, dqkv, ln, wqkv, N, C, 3*C)
	LayerNormBackward(p, dx, nil, nil, dln, x, lnw, mean, rstd, N, C)
	return loss, dx, dw
}
