package nn

import (
	"errors"
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func TestPatch1DGrad(t *testing.T) {
	r := newRNG(11)
	B, L, Cin, P, C := 2, 6, 2, 3, 4
	inp, w, b := nntest.Randn(r, B*L*Cin), nntest.Randn(r, C*P*Cin), nntest.Randn(r, C)
	dout := nntest.Randn(r, B*(L/P)*C)
	out := make([]float64, B*(L/P)*C)
	loss := func() float64 {
		if err := Patch1DForward(nil, out, inp, w, b, B, L, Cin, P, C); err != nil {
			t.Fatal(err)
		}
		return nntest.Dot(out, dout)
	}
	dinp, dw, db := make([]float64, len(inp)), make([]float64, len(w)), make([]float64, C)
	if err := Patch1DBackward(nil, dinp, dw, db, dout, inp, w, B, L, Cin, P, C); err != nil {
		t.Fatal(err)
	}
	nntest.GradCheck(t, "dinp", inp, dinp, loss)
	nntest.GradCheck(t, "dw", w, dw, loss)
	nntest.GradCheck(t, "dbias", b, db, loss)
	if err := Patch1DForward(nil, out, inp, w, b, B, 7, Cin, P, C); !errors.Is(err, ErrShape) {
		t.Fatalf("L=7,P=3: err %v", err)
	}
}

func TestPatch2DGradAndConv(t *testing.T) {
	r := newRNG(12)
	B, H, W, Ch, P, C := 2, 4, 6, 3, 2, 5
	nH, nW, K := H/P, W/P, P*P*Ch
	img, w, b := nntest.Randn(r, B*H*W*Ch), nntest.Randn(r, C*K), nntest.Randn(r, C)
	dout := nntest.Randn(r, B*nH*nW*C)
	out, col := make([]float64, B*nH*nW*C), make([]float64, B*nH*nW*K)
	loss := func() float64 {
		if err := Patch2DForward(nil, out, col, img, w, b, B, H, W, Ch, P, C); err != nil {
			t.Fatal(err)
		}
		return nntest.Dot(out, dout)
	}
	loss()
	// reference: a stride-P convolution with weight index (c, py, px, ch)
	for bb := range B {
		for ph := range nH {
			for pw := range nW {
				for c := range C {
					s := b[c]
					for py := range P {
						for px := range P {
							for ch := range Ch {
								s += w[c*K+(py*P+px)*Ch+ch] * img[((bb*H+ph*P+py)*W+pw*P+px)*Ch+ch]
							}
						}
					}
					got := out[((bb*nH+ph)*nW+pw)*C+c]
					if math.Abs(got-s) > 1e-12 {
						t.Fatalf("patch (%d,%d,%d) ch %d: %v want %v", bb, ph, pw, c, got, s)
					}
				}
			}
		}
	}
	dimg, dw, db, dcol := make([]float64, len(img)), make([]float64, len(w)), make([]float64, C), make([]float64, len(col))
	if err := Patch2DBackward(nil, dimg, dw, db, dcol, dout, col, w, B, H, W, Ch, P, C); err != nil {
		t.Fatal(err)
	}
	nntest.GradCheck(t, "dimg", img, dimg, loss)
	nntest.GradCheck(t, "dw", w, dw, loss)
	nntest.GradCheck(t, "dbias", b, db, loss)
	if err := Patch2DForward(nil, out, col, img, w, b, B, 5, W, Ch, P, C); !errors.Is(err, ErrShape) {
		t.Fatalf("H=5,P=2: err %v", err)
	}
}

func TestMaskedMeanGrad(t *testing.T) {
	r := newRNG(13)
	B, T, C := 3, 4, 2
	inp, dout := nntest.Randn(r, B*T*C), nntest.Randn(r, B*C)
	mask := []bool{true, false, true, true, false, false, false, false, true, true, true, true}
	out := make([]float64, B*C)
	loss := func() float64 { MaskedMeanForward(out, inp, mask, B, T, C); return nntest.Dot(out, dout) }
	loss()
	if out[2] != 0 || out[3] != 0 {
		t.Fatalf("all-masked row: %v", out[2:4])
	}
	if want := (inp[0] + inp[4] + inp[6]) / 3; math.Abs(out[0]-want) > 1e-15 {
		t.Fatalf("mean %v want %v", out[0], want)
	}
	dinp := make([]float64, len(inp))
	MaskedMeanBackward(dinp, dout, mask, B, T, C)
	nntest.GradCheck(t, "dinp", inp, dinp, loss)
	dinp2 := make([]float64, len(inp))
	loss2 := func() float64 { MaskedMeanForward(out, inp, nil, B, T, C); return nntest.Dot(out, dout) }
	MaskedMeanBackward(dinp2, dout, nil, B, T, C)
	nntest.GradCheck(t, "dinp nomask", inp, dinp2, loss2)
}

func TestL2NormalizeGrad(t *testing.T) {
	r := newRNG(14)
	N, C := 3, 5
	inp, dout := nntest.Randn(r, N*C), nntest.Randn(r, N*C)
	out, norm := make([]float64, N*C), make([]float64, N)
	loss := func() float64 { L2NormalizeForward(out, norm, inp, N, C); return nntest.Dot(out, dout) }
	loss()
	for n := range N {
		var s float64
		for _, v := range out[n*C : (n+1)*C] {
			s += v * v
		}
		if math.Abs(s-1) > 1e-12 {
			t.Fatalf("row %d norm^2 %v", n, s)
		}
	}
	dinp := make([]float64, len(inp))
	L2NormalizeBackward(dinp, dout, out, norm, N, C)
	nntest.GradCheck(t, "dinp", inp, dinp, loss)
	// a zero row stays finite
	z, zn := make([]float64, C), make([]float64, 1)
	L2NormalizeForward(z, zn, make([]float64, C), 1, C)
	for _, v := range z {
		if v != 0 {
			t.Fatalf("zero row normalised to %v", z)
		}
	}
}
