package nn

import "fmt"

// Patch1DForward embeds non-overlapping time patches: the series is viewed
// as rows of P consecutive steps (a reshape, no copy) and projected.
//
//	out [B,L/P,C], inp [B,L,Cin], w [C,P*Cin], bias [C] or nil
//
// L must be a multiple of P (pad or crop before).
func Patch1DForward[F Float](p *Pool, out, inp, w, bias []F, B, L, Cin, P, C int) error {
	if P <= 0 || L%P != 0 {
		return fmt.Errorf("patch1d: length %d is not a multiple of patch %d: %w", L, P, ErrShape)
	}
	LinearForward(p, out, inp, w, bias, B*L/P, P*Cin, C)
	return nil
}

// Patch1DBackward accumulates the gradients of Patch1DForward.
//
//	dinp [B,L,Cin], dw [C,P*Cin], dbias [C] (each nil: skip), dout [B,L/P,C]
func Patch1DBackward[F Float](p *Pool, dinp, dw, dbias, dout, inp, w []F, B, L, Cin, P, C int) error {
	if P <= 0 || L%P != 0 {
		return fmt.Errorf("patch1d: length %d is not a multiple of patch %d: %w", L, P, ErrShape)
	}
	LinearBackward(p, dinp, dw, dbias, dout, inp, w, B*L/P, P*Cin, C)
	return nil
}

func patch2DCheck(H, W, P int) error {
	if P <= 0 || H%P != 0 || W%P != 0 {
		return fmt.Errorf("patch2d: image %dx%d is not a multiple of patch %d: %w", H, W, P, ErrShape)
	}
	return nil
}

// Im2Col copies non-overlapping PxP patches of HWC images into rows, each
// row in (py, px, ch) order. (A PyTorch Conv2d weight [C,Ch,P,P] maps to our
// [C,P*P*Ch] by permute(0,2,3,1).)
//
//	col [B*(H/P)*(W/P), P*P*Ch], img [B,H,W,Ch]
func Im2Col[F Float](col, img []F, B, H, W, Ch, P int) {
	nH, nW, K := H/P, W/P, P*P*Ch
	for b := range B {
		for ph := range nH {
			for pw := range nW {
				row := col[((b*nH+ph)*nW+pw)*K:]
				for py := range P {
					src := img[((b*H+ph*P+py)*W+pw*P)*Ch:]
					copy(row[py*P*Ch:(py+1)*P*Ch], src[:P*Ch])
				}
			}
		}
	}
}

// Col2Im is the adjoint of Im2Col: dimg [B,H,W,Ch] += scatter(dcol).
func Col2Im[F Float](dimg, dcol []F, B, H, W, Ch, P int) {
	nH, nW, K := H/P, W/P, P*P*Ch
	for b := range B {
		for ph := range nH {
			for pw := range nW {
				row := dcol[((b*nH+ph)*nW+pw)*K:]
				for py := range P {
					dst := dimg[((b*H+ph*P+py)*W+pw*P)*Ch:]
					src := row[py*P*Ch : (py+1)*P*Ch]
					for i, v := range src {
						dst[i] += v
					}
				}
			}
		}
	}
}

// Patch2DForward embeds non-overlapping PxP image patches (a ViT stem):
//
//	out [B,(H/P)*(W/P),C], col [B*(H/P)*(W/P),P*P*Ch] scratch kept for backward,
//	img [B,H,W,Ch] (HWC), w [C,P*P*Ch], bias [C] or nil
func Patch2DForward[F Float](p *Pool, out, col, img, w, bias []F, B, H, W, Ch, P, C int) error {
	if err := patch2DCheck(H, W, P); err != nil {
		return err
	}
	Im2Col(col, img, B, H, W, Ch, P)
	LinearForward(p, out, col, w, bias, B*(H/P)*(W/P), P*P*Ch, C)
	return nil
}

// Patch2DBackward accumulates the gradients of Patch2DForward.
//
//	dimg [B,H,W,Ch], dw [C,P*P*Ch], dbias [C] (each nil: skip)
//	dcol [B*(H/P)*(W/P),P*P*Ch] scratch (overwritten; unused when dimg is nil)
//	dout [B,(H/P)*(W/P),C], col as left by Patch2DForward
func Patch2DBackward[F Float](p *Pool, dimg, dw, dbias, dcol, dout, col, w []F, B, H, W, Ch, P, C int) error {
	if err := patch2DCheck(H, W, P); err != nil {
		return err
	}
	N, K := B*(H/P)*(W/P), P*P*Ch
	var dc []F
	if dimg != nil {
		dc = dcol[:N*K]
		clear(dc)
	}
	LinearBackward(p, dc, dw, dbias, dout, col, w, N, K, C)
	if dimg != nil {
		Col2Im(dimg, dc, B, H, W, Ch, P)
	}
	return nil
}
