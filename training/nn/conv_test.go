package nn

import (
	"errors"
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func TestConvGradAndReference(t *testing.T) {
	for _, s := range []ConvShape{
		{B: 2, H: 5, W: 4, Cin: 2, Cout: 3, KH: 3, KW: 3, Stride: 2, PadH: 1, PadW: 1},
		{B: 1, H: 4, W: 4, Cin: 1, Cout: 2, KH: 2, KW: 2, Stride: 2},
		{B: 2, H: 7, W: 1, Cin: 3, Cout: 2, KH: 3, KW: 1, Stride: 1, PadH: 1}, // 1-D
	} {
		r := newRNG(20)
		OH, OW := s.Out()
		inp, w, b := nntest.Randn(r, s.B*s.H*s.W*s.Cin), nntest.Randn(r, s.Cout*s.Cols()), nntest.Randn(r, s.Cout)
		dout := nntest.Randn(r, s.Rows()*s.Cout)
		out, col := make([]float64, s.Rows()*s.Cout), make([]float64, s.Rows()*s.Cols())
		loss := func() float64 {
			if err := ConvForward(nil, out, col, inp, w, b, s); err != nil {
				t.Fatal(err)
			}
			return nntest.Dot(out, dout)
		}
		loss()
		// direct convolution as reference
		for bb := range s.B {
			for oy := range OH {
				for ox := range OW {
					for co := range s.Cout {
						v := b[co]
						for ky := range s.KH {
							for kx := range s.KW {
								iy, ix := oy*s.Stride-s.PadH+ky, ox*s.Stride-s.PadW+kx
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								for ci := range s.Cin {
									v += w[co*s.Cols()+(ky*s.KW+kx)*s.Cin+ci] * inp[((bb*s.H+iy)*s.W+ix)*s.Cin+ci]
								}
							}
						}
						if got := out[((bb*OH+oy)*OW+ox)*s.Cout+co]; math.Abs(got-v) > 1e-12 {
							t.Fatalf("%+v: out (%d,%d,%d,%d) = %v want %v", s, bb, oy, ox, co, got, v)
						}
					}
				}
			}
		}
		dinp, dw, db, dcol := make([]float64, len(inp)), make([]float64, len(w)), make([]float64, len(b)), make([]float64, len(col))
		if err := ConvBackward(nil, dinp, dw, db, dcol, dout, col, w, s); err != nil {
			t.Fatal(err)
		}
		nntest.GradCheck(t, "dinp", inp, dinp, loss)
		nntest.GradCheck(t, "dw", w, dw, loss)
		nntest.GradCheck(t, "dbias", b, db, loss)
	}
	bad := ConvShape{B: 1, H: 2, W: 2, Cin: 1, Cout: 1, KH: 3, KW: 3, Stride: 1}
	if err := ConvForward(nil, nil, nil, nil, []float64{}, nil, bad); !errors.Is(err, ErrShape) {
		t.Fatalf("kernel larger than input: %v", err)
	}
}
