package nn

import "fmt"

// ConvShape describes a 2-D convolution over NHWC tensors (a 1-D one over
// [B,L,Cin] is the case W = 1, KW = 1, PadW = 0).
type ConvShape struct {
	B, H, W, Cin int
	Cout         int
	KH, KW       int
	Stride       int
	PadH, PadW   int
}

// Out returns the output height and width.
func (s ConvShape) Out() (OH, OW int) {
	return (s.H+2*s.PadH-s.KH)/s.Stride + 1, (s.W+2*s.PadW-s.KW)/s.Stride + 1
}

// Rows is the number of output positions, B*OH*OW (rows of col and out).
func (s ConvShape) Rows() int {
	OH, OW := s.Out()
	return s.B * OH * OW
}

// Cols is the length of one im2col row, KH*KW*Cin (columns of the weight).
func (s ConvShape) Cols() int { return s.KH * s.KW * s.Cin }

// Validate rejects shapes with no output or a nonsense stride/padding.
func (s ConvShape) Validate() error {
	if s.B < 1 || s.H < 1 || s.W < 1 || s.Cin < 1 || s.Cout < 1 || s.KH < 1 || s.KW < 1 || s.Stride < 1 ||
		s.PadH < 0 || s.PadW < 0 || s.PadH >= s.KH || s.PadW >= s.KW || s.H+2*s.PadH < s.KH || s.W+2*s.PadW < s.KW {
		return fmt.Errorf("conv %+v: %w", s, ErrShape)
	}
	return nil
}

// ConvIm2Col copies every receptive field of inp [B,H,W,Cin] into a row of
// col [B*OH*OW, KH*KW*Cin] in (ky, kx, ci) order; taps in the zero padding
// are 0. (A PyTorch Conv2d weight [Cout,Cin,KH,KW] maps to our
// [Cout,KH*KW*Cin] by permute(0,2,3,1).)
func ConvIm2Col[F Float](col, inp []F, s ConvShape) {
	OH, OW := s.Out()
	K := s.Cols()
	for b := range s.B {
		for oy := range OH {
			for ox := range OW {
				row := col[((b*OH+oy)*OW+ox)*K:]
				for ky := range s.KH {
					iy := oy*s.Stride - s.PadH + ky
					for kx := range s.KW {
						ix := ox*s.Stride - s.PadW + kx
						dst := row[(ky*s.KW+kx)*s.Cin : (ky*s.KW+kx+1)*s.Cin]
						if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
							clear(dst)
							continue
						}
						copy(dst, inp[((b*s.H+iy)*s.W+ix)*s.Cin:])
					}
				}
			}
		}
	}
}

// ConvCol2Im is the adjoint of ConvIm2Col: dinp [B,H,W,Cin] += scatter(dcol).
func ConvCol2Im[F Float](dinp, dcol []F, s ConvShape) {
	OH, OW := s.Out()
	K := s.Cols()
	for b := range s.B {
		for oy := range OH {
			for ox := range OW {
				row := dcol[((b*OH+oy)*OW+ox)*K:]
				for ky := range s.KH {
					iy := oy*s.Stride - s.PadH + ky
					if iy < 0 || iy >= s.H {
						continue
					}
					for kx := range s.KW {
						ix := ox*s.Stride - s.PadW + kx
						if ix < 0 || ix >= s.W {
							continue
						}
						src := row[(ky*s.KW+kx)*s.Cin : (ky*s.KW+kx+1)*s.Cin]
						dst := dinp[((b*s.H+iy)*s.W+ix)*s.Cin:]
						for i, v := range src {
							dst[i] += v
						}
					}
				}
			}
		}
	}
}

// ConvForward is a strided, zero-padded 2-D convolution via im2col + GEMM:
//
//	out [B,OH,OW,Cout], col [B*OH*OW, KH*KW*Cin] scratch kept for backward,
//	inp [B,H,W,Cin], w [Cout,KH*KW*Cin], bias [Cout] or nil
func ConvForward[F Float](p *Pool, out, col, inp, w, bias []F, s ConvShape) error {
	if err := s.Validate(); err != nil {
		return err
	}
	ConvIm2Col(col, inp, s)
	LinearForward(p, out, col, w, bias, s.Rows(), s.Cols(), s.Cout)
	return nil
}

// ConvBackward accumulates the gradients of ConvForward.
//
//	dinp [B,H,W,Cin], dw [Cout,KH*KW*Cin], dbias [Cout] (each nil: skip)
//	dcol like col, scratch (overwritten; unused when dinp is nil)
//	dout [B,OH,OW,Cout], col as left by ConvForward
func ConvBackward[F Float](p *Pool, dinp, dw, dbias, dcol, dout, col, w []F, s ConvShape) error {
	if err := s.Validate(); err != nil {
		return err
	}
	N, K := s.Rows(), s.Cols()
	var dc []F
	if dinp != nil {
		dc = dcol[:N*K]
		clear(dc)
	}
	LinearBackward(p, dc, dw, dbias, dout, col, w, N, K, s.Cout)
	if dinp != nil {
		ConvCol2Im(dinp, dc, s)
	}
	return nil
}
