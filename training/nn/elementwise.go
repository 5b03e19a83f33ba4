package nn

import "math"

// geluScale is sqrt(2/pi) of the GPT-2 tanh approximation.
const geluScale = 0.7978845608028654

// GELUForward applies GPT-2's tanh-approximated GELU (PyTorch
// approximate="tanh"): out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
//
//	out [N], inp [N]
func GELUForward[F Float](p *Pool, out, inp []F, N int) {
	var t task
	t.kind = kGELUFwd
	setSlot(&t, 0, out)
	setSlot(&t, 1, inp)
	p.run(&t, N, 4096)
}

func geluForwardRange[F Float](out, inp []F, lo, hi int) {
	for i := lo; i < hi; i++ {
		x := float64(inp[i])
		out[i] = F(0.5 * x * (1 + math.Tanh(geluScale*(x+0.044715*x*x*x))))
	}
}

// GELUBackward accumulates dinp [N] += GELU'(inp) * dout.
func GELUBackward[F Float](p *Pool, dinp, inp, dout []F, N int) {
	var t task
	t.kind = kGELUBwd
	setSlot(&t, 0, dinp)
	setSlot(&t, 1, inp)
	setSlot(&t, 2, dout)
	p.run(&t, N, 4096)
}

func geluBackwardRange[F Float](dinp, inp, dout []F, lo, hi int) {
	for i := lo; i < hi; i++ {
		x := float64(inp[i])
		u := geluScale * (x + 0.044715*x*x*x)
		th := math.Tanh(u)
		sech2 := 1 - th*th
		g := 0.5*(1+th) + 0.5*x*sech2*geluScale*(1+3*0.044715*x*x)
		dinp[i] += F(g) * dout[i]
	}
}

// ResidualForward computes out [N] = inp1 + inp2.
func ResidualForward[F Float](out, inp1, inp2 []F, N int) {
	for i := range N {
		out[i] = inp1[i] + inp2[i]
	}
}

// ResidualBackward accumulates dinp1 += dout and dinp2 += dout (nil: skip).
func ResidualBackward[F Float](dinp1, dinp2, dout []F, N int) {
	if dinp1 != nil {
		for i := range N {
			dinp1[i] += dout[i]
		}
	}
	if dinp2 != nil {
		for i := range N {
			dinp2[i] += dout[i]
		}
	}
}

// ScaleForward computes out [N] = s * inp (out may alias inp).
func ScaleForward[F Float](out, inp []F, s F, N int) {
	for i := range N {
		out[i] = s * inp[i]
	}
}

// ScaleBackward accumulates dinp [N] += s * dout.
func ScaleBackward[F Float](dinp, dout []F, s F, N int) {
	for i := range N {
		dinp[i] += s * dout[i]
	}
}
