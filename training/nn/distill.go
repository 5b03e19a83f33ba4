package nn

import "math"

// SoftCrossEntropyForward is cross-entropy against probability targets
// (logit distillation; apply a temperature by scaling logits first):
//
//	probs  [N,V] = softmax(logits) (may alias logits)
//	losses [N]   = -sum_j targets[n,j] log probs[n,j]
//	logits [N,V], targets [N,V] (rows summing to 1)
//
// It returns the mean over N.
func SoftCrossEntropyForward[F Float](probs, losses, logits, targets []F, N, V int) F {
	var total float64
	for n := range N {
		x, pr, tg := logits[n*V:(n+1)*V], probs[n*V:(n+1)*V], targets[n*V:(n+1)*V]
		mx := x[0]
		for _, v := range x[1:] {
			mx = max(mx, v)
		}
		var sum float64
		for _, v := range x {
			sum += math.Exp(float64(v - mx))
		}
		lse := math.Log(sum) + float64(mx)
		var l float64
		for j, v := range x {
			l -= float64(tg[j]) * (float64(v) - lse)
		}
		for j, v := range x {
			pr[j] = F(math.Exp(float64(v) - lse))
		}
		losses[n] = F(l)
		total += l
	}
	return F(total / float64(N))
}

// SoftCrossEntropyBackward accumulates dlogits [N,V] += dloss/N * (probs - targets)
// (exact when each target row sums to 1).
func SoftCrossEntropyBackward[F Float](dlogits, probs, targets []F, N, V int, dloss F) {
	s := dloss / F(N)
	for i := range N * V {
		dlogits[i] += s * (probs[i] - targets[i])
	}
}

// MSEForward returns mean((a - b)^2) over N elements.
func MSEForward[F Float](a, b []F, N int) F {
	var s float64
	for i := range N {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return F(s / float64(N))
}

// MSEBackward accumulates da += dloss * 2(a-b)/N and db -= the same (nil: skip).
func MSEBackward[F Float](da, db, a, b []F, N int, dloss F) {
	s := 2 * dloss / F(N)
	for i := range N {
		g := s * (a[i] - b[i])
		if da != nil {
			da[i] += g
		}
		if db != nil {
			db[i] -= g
		}
	}
}
