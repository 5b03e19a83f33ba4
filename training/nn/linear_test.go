package nn

import (
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func TestLinearGrad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		N, C, OC int
		bias     bool
	}{{"bias", 5, 4, 3, true}, {"nobias", 3, 6, 2, false}, {"single", 1, 1, 1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRNG(2)
			inp, w, b := nntest.Randn(r, tc.N*tc.C), nntest.Randn(r, tc.OC*tc.C), nntest.Randn(r, tc.OC)
			if !tc.bias {
				b = nil
			}
			R := nntest.Randn(r, tc.N*tc.OC)
			out := make([]float64, tc.N*tc.OC)
			loss := func() float64 {
				LinearForward(nil, out, inp, w, b, tc.N, tc.C, tc.OC)
				return nntest.Dot(out, R)
			}
			dinp, dw := make([]float64, len(inp)), make([]float64, len(w))
			var db []float64
			if tc.bias {
				db = make([]float64, tc.OC)
			}
			LinearBackward(nil, dinp, dw, db, R, inp, w, tc.N, tc.C, tc.OC)
			nntest.GradCheck(t, "dinp", inp, dinp, loss)
			nntest.GradCheck(t, "dw", w, dw, loss)
			if tc.bias {
				nntest.GradCheck(t, "dbias", b, db, loss)
			}
		})
	}
}

func TestLinearPoolMatchesSerial(t *testing.T) {
	pool := NewPool(3)
	defer pool.Close()
	r := newRNG(3)
	N, C, OC := 70, 300, 130
	inp, w, b, dout := nntest.Randn(r, N*C), nntest.Randn(r, OC*C), nntest.Randn(r, OC), nntest.Randn(r, N*OC)
	run := func(p *Pool) [4][]float64 {
		out := make([]float64, N*OC)
		dinp, dw, db := make([]float64, N*C), make([]float64, OC*C), make([]float64, OC)
		LinearForward(p, out, inp, w, b, N, C, OC)
		LinearBackward(p, dinp, dw, db, dout, inp, w, N, C, OC)
		return [4][]float64{out, dinp, dw, db}
	}
	s, q := run(nil), run(pool)
	for i := range s {
		equalSlices(t, "linear", s[i], q[i])
	}
}

func TestLoRAGrad(t *testing.T) {
	r := newRNG(4)
	N, C, OC, R := 4, 5, 3, 2
	scale := 16.0 / 2
	inp, w, bias := nntest.Randn(r, N*C), nntest.Randn(r, OC*C), nntest.Randn(r, OC)
	a, b := nntest.Randn(r, R*C), nntest.Randn(r, OC*R)
	dout := nntest.Randn(r, N*OC)
	out, h := make([]float64, N*OC), make([]float64, N*R)
	loss := func() float64 {
		LoRAForward(nil, out, h, inp, w, bias, a, b, N, C, OC, R, scale)
		return nntest.Dot(out, dout)
	}
	loss()
	dinp, da, db, dh := make([]float64, N*C), make([]float64, R*C), make([]float64, OC*R), make([]float64, N*R)
	LoRABackward(nil, dinp, da, db, dh, dout, inp, h, w, a, b, N, C, OC, R, scale)
	nntest.GradCheck(t, "dinp", inp, dinp, loss)
	nntest.GradCheck(t, "da", a, da, loss)
	nntest.GradCheck(t, "db", b, db, loss)

	// Merged weights give the same output; unmerge restores w.
	loss()
	want := append([]float64(nil), out...)
	w0 := append([]float64(nil), w...)
	LoRAMerge(w, a, b, C, OC, R, scale)
	got := make([]float64, N*OC)
	LinearForward(nil, got, inp, w, bias, N, C, OC)
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-12*(1+math.Abs(want[i])) {
			t.Fatalf("merged output %d: %v want %v", i, got[i], want[i])
		}
	}
	LoRAUnmerge(w, a, b, C, OC, R, scale)
	for i := range w {
		if math.Abs(w[i]-w0[i]) > 1e-12 {
			t.Fatalf("unmerge: w[%d]=%v want %v", i, w[i], w0[i])
		}
	}
}

func TestEmbeddingAndPosition(t *testing.T) {
	r := newRNG(5)
	B, T, C, V, maxT, off := 2, 3, 4, 6, 8, 2
	ids := []int32{0, 5, 2, 2, 1, 5}
	table, wpe := nntest.Randn(r, V*C), nntest.Randn(r, maxT*C)
	dout := nntest.Randn(r, B*T*C)
	out := make([]float64, B*T*C)
	loss := func() float64 {
		if err := EmbeddingForward(out, ids, table, B*T, C); err != nil {
			t.Fatal(err)
		}
		PositionForward(out, wpe, B, T, C, off)
		return nntest.Dot(out, dout)
	}
	dtable, dwpe := make([]float64, V*C), make([]float64, maxT*C)
	if err := EmbeddingBackward(dtable, dout, ids, B*T, C); err != nil {
		t.Fatal(err)
	}
	PositionBackward(dwpe, dout, B, T, C, off)
	nntest.GradCheck(t, "dtable", table, dtable, loss)
	nntest.GradCheck(t, "dwpe", wpe, dwpe, loss)
	for i := range off * C {
		if dwpe[i] != 0 {
			t.Fatalf("positions before offset got gradient")
		}
	}
	if err := EmbeddingForward(out, []int32{0, 6}, table, 2, C); err == nil {
		t.Fatal("id == V accepted")
	}
	if err := EmbeddingBackward(dtable, dout, []int32{-1}, 1, C); err == nil {
		t.Fatal("negative id accepted")
	}
}

func TestLayerNormGrad(t *testing.T) {
	for _, affine := range []bool{true, false} {
		r := newRNG(6)
		N, C := 4, 7
		inp, w, b := nntest.Randn(r, N*C), nntest.Randn(r, C), nntest.Randn(r, C)
		if !affine {
			w, b = nil, nil
		}
		dout := nntest.Randn(r, N*C)
		out, mean, rstd := make([]float64, N*C), make([]float64, N), make([]float64, N)
		loss := func() float64 {
			LayerNormForward(nil, out, mean, rstd, inp, w, b, N, C)
			return nntest.Dot(out, dout)
		}
		loss()
		dinp := make([]float64, N*C)
		var dw, db []float64
		if affine {
			dw, db = make([]float64, C), make([]float64, C)
		}
		LayerNormBackward(nil, dinp, dw, db, dout, inp, w, mean, rstd, N, C)
		nntest.GradCheck(t, "dinp", inp, dinp, loss)
		if affine {
			nntest.GradCheck(t, "dw", w, dw, loss)
			nntest.GradCheck(t, "db", b, db, loss)
		}
	}
}

func TestLayerNormPoolMatchesSerial(t *testing.T) {
	pool := NewPool(3)
	defer pool.Close()
	r := newRNG(7)
	N, C := 100, 200
	inp, w, b, dout := nntest.Randn(r, N*C), nntest.Randn(r, C), nntest.Randn(r, C), nntest.Randn(r, N*C)
	run := func(p *Pool) [4][]float64 {
		out, mean, rstd := make([]float64, N*C), make([]float64, N), make([]float64, N)
		dinp, dw, db := make([]float64, N*C), make([]float64, C), make([]float64, C)
		LayerNormForward(p, out, mean, rstd, inp, w, b, N, C)
		LayerNormBackward(p, dinp, dw, db, dout, inp, w, mean, rstd, N, C)
		return [4][]float64{out, dinp, dw, db}
	}
	s, q := run(nil), run(pool)
	for i := range s {
		equalSlices(t, "layernorm", s[i], q[i])
	}
}

func TestElementwiseGrad(t *testing.T) {
	r := newRNG(8)
	N := 11
	x, y, dout := nntest.Randn(r, N), nntest.Randn(r, N), nntest.Randn(r, N)
	out := make([]float64, N)
	t.Run("gelu", func(t *testing.T) {
		loss := func() float64 { GELUForward(nil, out, x, N); return nntest.Dot(out, dout) }
		d := make([]float64, N)
		GELUBackward(nil, d, x, dout, N)
		nntest.GradCheck(t, "dinp", x, d, loss)
		// known values of the tanh approximation (PyTorch approximate="tanh")
		v := []float64{-3, -1, 0, 0.5, 2}
		o := make([]float64, 5)
		GELUForward(nil, o, v, 5)
		want := []float64{-0.0036373920817729943, -0.15880800939172324, 0, 0.34571400982514394, 1.954597694087775}
		for i := range o {
			if math.Abs(o[i]-want[i]) > 1e-12 {
				t.Errorf("gelu(%v)=%v want %v", v[i], o[i], want[i])
			}
		}
	})
	t.Run("residual", func(t *testing.T) {
		loss := func() float64 { ResidualForward(out, x, y, N); return nntest.Dot(out, dout) }
		dx, dy := make([]float64, N), make([]float64, N)
		ResidualBackward(dx, dy, dout, N)
		nntest.GradCheck(t, "dinp1", x, dx, loss)
		nntest.GradCheck(t, "dinp2", y, dy, loss)
	})
	t.Run("scale", func(t *testing.T) {
		loss := func() float64 { ScaleForward(out, x, 2.5, N); return nntest.Dot(out, dout) }
		dx := make([]float64, N)
		ScaleBackward(dx, dout, 2.5, N)
		nntest.GradCheck(t, "dinp", x, dx, loss)
	})
}
