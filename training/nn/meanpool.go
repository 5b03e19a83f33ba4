package nn

// MaskedMeanForward averages each sequence over its unmasked steps:
//
//	out [B,C] = mean over t with mask[b*T+t] of inp[b,t]
//	inp [B,T,C], mask [B*T] (nil: all steps count)
//
// A sequence with no unmasked step gets a zero vector (not NaN).
func MaskedMeanForward[F Float](out, inp []F, mask []bool, B, T, C int) {
	for b := range B {
		o := out[b*C : (b+1)*C]
		clear(o)
		cnt := 0
		for t := range T {
			if mask != nil && !mask[b*T+t] {
				continue
			}
			cnt++
			for i, v := range inp[(b*T+t)*C : (b*T+t+1)*C] {
				o[i] += v
			}
		}
		if cnt > 0 {
			inv := 1 / F(cnt)
			for i := range o {
				o[i] *= inv
			}
		}
	}
}

// MaskedMeanBackward accumulates dinp [B,T,C] += dout[b] / count_b on the
// unmasked steps. dout [B,C].
func MaskedMeanBackward[F Float](dinp, dout []F, mask []bool, B, T, C int) {
	for b := range B {
		cnt := 0
		for t := range T {
			if mask == nil || mask[b*T+t] {
				cnt++
			}
		}
		if cnt == 0 {
			continue
		}
		inv := 1 / F(cnt)
		d := dout[b*C : (b+1)*C]
		for t := range T {
			if mask != nil && !mask[b*T+t] {
				continue
			}
			di := dinp[(b*T+t)*C : (b*T+t+1)*C]
			for i, v := range d {
				di[i] += v * inv
			}
		}
	}
}
