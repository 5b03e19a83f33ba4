package nn

import (
	"fmt"
	"math"
	"unsafe"
)

// checkTargets validates targets [N] against [0,V) and ignore, returning the
// number of positions that count.
func checkTargets(targets []int32, N, V int, ignore int32) (int, error) {
	count := 0
	for n := range N {
		tg := targets[n]
		if tg == ignore {
			continue
		}
		if tg < 0 || int(tg) >= V {
			return 0, fmt.Errorf("cross-entropy: target %d at position %d not in [0,%d): %w", tg, n, V, ErrIndex)
		}
		count++
	}
	return count, nil
}

// CrossEntropyForward is a fused softmax + cross-entropy over rows of logits
// with an ignore index (PyTorch ignore_index, reduction "mean"):
//
//	probs  [N,V] softmax(logits) (may alias logits: computed in place)
//	losses [N]   -log probs[n, targets[n]], 0 where targets[n] == ignore
//	logits [N,V], targets [N]
//
// It returns the mean loss over the count of non-ignored positions (0 when
// count is 0).
func CrossEntropyForward[F Float](p *Pool, probs, losses, logits []F, targets []int32, N, V int, ignore int32) (loss F, count int, err error) {
	count, err = checkTargets(targets, N, V, ignore)
	if err != nil {
		return 0, 0, err
	}
	var t task
	t.kind = kCEFwd
	setSlot(&t, 0, probs)
	setSlot(&t, 1, losses)
	setSlot(&t, 2, logits)
	t.ids = targets
	t.n[0], t.n[1] = V, int(ignore)
	p.run(&t, N, 1)
	if count == 0 {
		return 0, 0, nil
	}
	var s float64
	for _, l := range losses[:N] {
		s += float64(l)
	}
	return F(s / float64(count)), count, nil
}

func crossEntropyForwardRows[F Float](probs, losses, logits []F, targets []int32, V int, ignore int32, lo, hi int) {
	for n := lo; n < hi; n++ {
		x, pr := logits[n*V:(n+1)*V], probs[n*V:(n+1)*V]
		tg := targets[n]
		var xt F
		if tg != ignore {
			xt = x[tg]
		}
		mx := x[0]
		for _, v := range x[1:] {
			mx = max(mx, v)
		}
		var sum float64
		for j, v := range x {
			e := math.Exp(float64(v - mx))
			pr[j] = F(e)
			sum += e
		}
		inv := F(1 / sum)
		for j := range pr {
			pr[j] *= inv
		}
		if tg == ignore {
			losses[n] = 0
		} else {
			losses[n] = F(math.Log(sum) - float64(xt-mx))
		}
	}
}

// CrossEntropyBackward accumulates the gradient of the mean loss of
// CrossEntropyForward scaled by dloss:
//
//	dlogits [N,V] += dloss/count * (probs - onehot(targets)), ignored rows untouched
//
// If dlogits is the same slice as probs, it is overwritten with the gradient
// instead (ignored rows set to zero), which saves an [N,V] buffer.
func CrossEntropyBackward[F Float](p *Pool, dlogits, probs []F, targets []int32, N, V int, ignore int32, dloss F) error {
	count, err := checkTargets(targets, N, V, ignore)
	if err != nil {
		return err
	}
	inplace := len(dlogits) > 0 && len(probs) > 0 && unsafe.SliceData(dlogits) == unsafe.SliceData(probs)
	if count == 0 {
		if inplace {
			clear(dlogits[:N*V])
		}
		return nil
	}
	var t task
	t.kind = kCEBwd
	setSlot(&t, 0, dlogits)
	setSlot(&t, 1, probs)
	t.ids = targets
	t.n[0], t.n[1], t.n[2] = V, int(ignore), b2i(inplace)
	t.f[0] = float64(dloss) / float64(count)
	p.run(&t, N, 1)
	return nil
}

func crossEntropyBackwardRows[F Float](dlogits, probs []F, targets []int32, V int, ignore int32, inplace bool, s F, lo, hi int) {
	for n := lo; n < hi; n++ {
		d, pr := dlogits[n*V:(n+1)*V], probs[n*V:(n+1)*V]
		tg := targets[n]
		if tg == ignore {
			if inplace {
				clear(d)
			}
			continue
		}
		if inplace {
			for j, v := range pr {
				d[j] = s * v
			}
		} else {
			for j, v := range pr {
				d[j] += s * v
			}
		}
		d[tg] -= s
	}
}

// L2NormEps is the floor on the norm, as torch.nn.functional.normalize.
const L2NormEps = 1e-12

// L2NormalizeForward scales each row to unit length: out = inp / max(||inp||, eps).
//
//	out [N,C], norm [N] (||inp||, kept for backward), inp [N,C]
func L2NormalizeForward[F Float](out, norm, inp []F, N, C int) {
	for n := range N {
		x := inp[n*C : (n+1)*C]
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		nr := math.Sqrt(s)
		inv := F(1 / max(nr, L2NormEps))
		o := out[n*C : (n+1)*C]
		for i, v := range x {
			o[i] = v * inv
		}
		norm[n] = F(nr)
	}
}

// L2NormalizeBackward accumulates dinp [N,C] += (dout - out <out,dout>) / ||inp||
// (dout / eps for rows whose norm is below eps).
//
//	dout [N,C], out [N,C], norm [N] from the forward pass
func L2NormalizeBackward[F Float](dinp, dout, out, norm []F, N, C int) {
	for n := range N {
		d, y, di := dout[n*C:(n+1)*C], out[n*C:(n+1)*C], dinp[n*C:(n+1)*C]
		if float64(norm[n]) <= L2NormEps {
			for i, v := range d {
				di[i] += v / L2NormEps
			}
			continue
		}
		var dot float64
		for i, v := range d {
			dot += float64(v) * float64(y[i])
		}
		inv, df := F(1/float64(norm[n])), F(dot)
		for i, v := range d {
			di[i] += (v - y[i]*df) * inv
		}
	}
}
