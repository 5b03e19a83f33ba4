package nn

import "math"

// LayerNormEps is PyTorch's default epsilon.
const LayerNormEps = 1e-5

// LayerNormForward normalises each row over C and applies the affine w, b.
//
//	out [N,C], mean [N], rstd [N] (kept for backward), inp [N,C],
//	w [C], b [C] (nil: weight 1 / bias 0)
func LayerNormForward[F Float](p *Pool, out, mean, rstd, inp, w, b []F, N, C int) {
	var t task
	t.kind = kLayerNormFwd
	setSlot(&t, 0, out)
	setSlot(&t, 1, mean)
	setSlot(&t, 2, rstd)
	setSlot(&t, 3, inp)
	setSlot(&t, 4, w)
	setSlot(&t, 5, b)
	t.n[0] = C
	p.run(&t, N, 16)
}

func layerNormForwardRows[F Float](out, mean, rstd, inp, w, b []F, C, lo, hi int) {
	for n := lo; n < hi; n++ {
		x := inp[n*C : (n+1)*C]
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		m := s / float64(C)
		var v2 float64
		for _, v := range x {
			d := float64(v) - m
			v2 += d * d
		}
		rs := 1 / math.Sqrt(v2/float64(C)+LayerNormEps)
		o := out[n*C : (n+1)*C]
		mf, rf := F(m), F(rs)
		for i, v := range x {
			y := (v - mf) * rf
			if w != nil {
				y *= w[i]
			}
			if b != nil {
				y += b[i]
			}
			o[i] = y
		}
		mean[n], rstd[n] = mf, rf
	}
}

// LayerNormBackward accumulates the gradients of LayerNormForward.
//
//	dinp [N,C], dw [C], db [C] (each nil: skip), dout [N,C], inp [N,C],
//	w [C] (nil: 1), mean [N], rstd [N]
func LayerNormBackward[F Float](p *Pool, dinp, dw, db, dout, inp, w, mean, rstd []F, N, C int) {
	var t task
	if dinp != nil {
		t.kind = kLayerNormBwdRows
		setSlot(&t, 0, dinp)
		setSlot(&t, 1, dout)
		setSlot(&t, 2, inp)
		setSlot(&t, 3, w)
		setSlot(&t, 4, mean)
		setSlot(&t, 5, rstd)
		t.n[0] = C
		p.run(&t, N, 16)
	}
	if dw != nil || db != nil {
		t = task{kind: kLayerNormBwdCols}
		setSlot(&t, 0, dw)
		setSlot(&t, 1, db)
		setSlot(&t, 2, dout)
		setSlot(&t, 3, inp)
		setSlot(&t, 4, mean)
		setSlot(&t, 5, rstd)
		t.n[0], t.n[1] = N, C
		p.run(&t, C, 64)
	}
}

func layerNormBackwardRows[F Float](dinp, dout, inp, w, mean, rstd []F, C, lo, hi int) {
	for n := lo; n < hi; n++ {
		x, d, di := inp[n*C:(n+1)*C], dout[n*C:(n+1)*C], dinp[n*C:(n+1)*C]
		m, rs := mean[n], rstd[n]
		var sd, sdn float64
		for i, v := range x {
			dn := d[i]
			if w != nil {
				dn *= w[i]
			}
			sd += float64(dn)
			sdn += float64(dn * (v - m) * rs)
		}
		md, mdn := F(sd/float64(C)), F(sdn/float64(C))
		for i, v := range x {
			dn := d[i]
			if w != nil {
				dn *= w[i]
			}
			di[i] += (dn - md - (v-m)*rs*mdn) * rs
		}
	}
}

// layerNormBackwardCols accumulates dw and db for columns [lo,hi).
func layerNormBackwardCols[F Float](dw, db, dout, inp, mean, rstd []F, N, C, lo, hi int) {
	for n := range N {
		x, d := inp[n*C+lo:n*C+hi], dout[n*C+lo:n*C+hi]
		m, rs := mean[n], rstd[n]
		if dw != nil {
			o := dw[lo:hi]
			for i, v := range x {
				o[i] += d[i] * (v - m) * rs
			}
		}
		if db != nil {
			o := db[lo:hi]
			for i, v := range d {
				o[i] += v
			}
		}
	}
}
