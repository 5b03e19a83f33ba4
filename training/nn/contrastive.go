package nn

import (
	"fmt"
	"math"
)

// InfoNCEForward is the InfoNCE loss over a square matrix of similarity
// logits whose diagonal holds the positive pairs (the caller builds logits
// from L2-normalised vectors, e.g. LinearForward without bias followed by
// ScaleForward with 1/tau):
//
//	rows:      mean_i CE(softmax_j logits[i,j], target i)
//	symmetric: (rows + mean_j CE(softmax_i logits[i,j], target j)) / 2
//	probsRow [n,n] row softmax, probsCol [n,n] column softmax (only used when
//	symmetric; may be nil otherwise), logits [n,n]
func InfoNCEForward[F Float](probsRow, probsCol, logits []F, n int, symmetric bool) F {
	loss := softmaxRowsCE(probsRow, logits, n)
	if !symmetric {
		return F(loss)
	}
	return F((loss + softmaxColsCE(probsCol, logits, n)) / 2)
}

// InfoNCEBackward accumulates dlogits [n,n] += dloss * dLoss/dlogits.
func InfoNCEBackward[F Float](dlogits, probsRow, probsCol []F, n int, symmetric bool, dloss F) {
	w := float64(dloss) / float64(n)
	if symmetric {
		w /= 2
	}
	for i := range n {
		for j := range n {
			g := float64(probsRow[i*n+j])
			if symmetric {
				g += float64(probsCol[i*n+j])
			}
			if i == j {
				g -= 1
				if symmetric {
					g -= 1
				}
			}
			dlogits[i*n+j] += F(w * g)
		}
	}
}

// softmaxRowsCE writes the row softmax of logits [n,n] to probs and returns
// the mean CE with diagonal targets.
func softmaxRowsCE[F Float](probs, logits []F, n int) float64 {
	var loss float64
	for i := range n {
		x, pr := logits[i*n:(i+1)*n], probs[i*n:(i+1)*n]
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
		for j := range pr {
			pr[j] = F(float64(pr[j]) / sum)
		}
		loss += math.Log(sum) - float64(x[i]-mx)
	}
	return loss / float64(n)
}

// softmaxColsCE writes the column softmax of logits [n,n] to probs and
// returns the mean CE with diagonal targets.
func softmaxColsCE[F Float](probs, logits []F, n int) float64 {
	var loss float64
	for j := range n {
		mx := logits[j]
		for i := 1; i < n; i++ {
			mx = max(mx, logits[i*n+j])
		}
		var sum float64
		for i := range n {
			e := math.Exp(float64(logits[i*n+j] - mx))
			probs[i*n+j] = F(e)
			sum += e
		}
		for i := range n {
			probs[i*n+j] = F(float64(probs[i*n+j]) / sum)
		}
		loss += math.Log(sum) - float64(logits[j*n+j]-mx)
	}
	return loss / float64(n)
}

// GramEps is added to the Gram matrix diagonal before the determinant.
const GramEps = 1e-6

// MaxGramK bounds the number of modality vectors per sample in GramForward.
const MaxGramK = 8

// GramForward is the Gram-volume contrastive loss (GRAM, ICLR 2025). For the
// anchor a_i and the present modality vectors m_j1..m_jk of sample j,
//
//	V[i,j]      = sqrt(det(G + eps I)), G the Gram matrix of {a_i, m_j*}
//	logits[i,j] = -V[i,j] / tau
//	loss        = (mean row CE + mean column CE) / 2, diagonal targets.
//
// Inputs are L2-normalised by the caller. A modality absent from sample j
// (mask[j*k+p] false) is dropped from every Gram matrix of column j, so the
// matrix shrinks; it is never fed as zeros.
//
//	vol [n,n], logits [n,n], probsRow [n,n], probsCol [n,n] (kept for backward)
//	a [n,d], m [n,k,d], mask [n*k] or nil (all present)
func GramForward[F Float](vol, logits, probsRow, probsCol, a, m []F, mask []bool, n, k, d int, tau F) (F, error) {
	if k < 1 || k > MaxGramK {
		return 0, fmt.Errorf("gram: %d modalities not in [1,%d]: %w", k, MaxGramK, ErrShape)
	}
	if !(tau > 0) {
		return 0, fmt.Errorf("gram: temperature %v must be positive: %w", tau, ErrShape)
	}
	var g gramPair[F]
	for i := range n {
		for j := range n {
			g.build(a, m, mask, i, j, k, d)
			v := g.factor()
			vol[i*n+j] = F(v)
			logits[i*n+j] = F(-v / float64(tau))
		}
	}
	loss := (softmaxRowsCE(probsRow, logits, n) + softmaxColsCE(probsCol, logits, n)) / 2
	return F(loss), nil
}

// GramBackward accumulates the gradients of GramForward scaled by dloss,
// using dV/dX = V (G + eps I)^{-1} X for the stacked vectors X:
//
//	da [n,d], dm [n,k,d] (each nil: skip); absent modalities get no gradient
//	vol, probsRow, probsCol from the forward pass; a, m, mask as in forward
func GramBackward[F Float](da, dm, vol, probsRow, probsCol, a, m []F, mask []bool, n, k, d int, tau, dloss F) error {
	if k < 1 || k > MaxGramK {
		return fmt.Errorf("gram: %d modalities not in [1,%d]: %w", k, MaxGramK, ErrShape)
	}
	if !(tau > 0) {
		return fmt.Errorf("gram: temperature %v must be positive: %w", tau, ErrShape)
	}
	w := float64(dloss) / (2 * float64(n))
	var g gramPair[F]
	for i := range n {
		for j := range n {
			dl := float64(probsRow[i*n+j]) + float64(probsCol[i*n+j])
			if i == j {
				dl -= 2
			}
			// dL/dV = dL/dlogit * dlogit/dV = -dl*w/tau
			dv := -dl * w / float64(tau)
			if dv == 0 {
				continue
			}
			g.build(a, m, mask, i, j, k, d)
			v := g.factor()
			g.inverse()
			c := dv * v
			for pi := range g.size {
				var dst []F
				if pi == 0 {
					if da == nil {
						continue
					}
					dst = da[i*d : (i+1)*d]
				} else {
					if dm == nil {
						continue
					}
					p := g.idx[pi]
					dst = dm[(j*k+p)*d : (j*k+p+1)*d]
				}
				for qi := range g.size {
					coef := F(c * g.inv[pi][qi])
					for t, x := range g.vec(a, m, i, j, qi, k, d) {
						dst[t] += coef * x
					}
				}
			}
		}
	}
	return nil
}

// gramPair holds the small (<= MaxGramK+1 square) matrices of one pair (i,j)
// on the stack: the Gram matrix plus eps, its Cholesky factor and inverse.
type gramPair[F Float] struct {
	size int
	idx  [MaxGramK + 1]int // idx[1:] are the present modalities of sample j
	l    [MaxGramK + 1][MaxGramK + 1]float64
	inv  [MaxGramK + 1][MaxGramK + 1]float64
}

// vec returns stacked vector q of pair (i,j): a_i for q = 0, else m_j,idx[q].
func (g *gramPair[F]) vec(a, m []F, i, j, q, k, d int) []F {
	if q == 0 {
		return a[i*d : (i+1)*d]
	}
	p := g.idx[q]
	return m[(j*k+p)*d : (j*k+p+1)*d]
}

// build fills the lower triangle of l with the Gram matrix + eps I of pair (i,j).
func (g *gramPair[F]) build(a, m []F, mask []bool, i, j, k, d int) {
	g.size = 1
	for p := range k {
		if mask == nil || mask[j*k+p] {
			g.idx[g.size] = p
			g.size++
		}
	}
	for p := range g.size {
		x := g.vec(a, m, i, j, p, k, d)
		for q := 0; q <= p; q++ {
			y := g.vec(a, m, i, j, q, k, d)
			var s float64
			for t, v := range x {
				s += float64(v) * float64(y[t])
			}
			if p == q {
				s += GramEps
			}
			g.l[p][q] = s
		}
	}
}

// factor replaces the lower triangle of l by its Cholesky factor and returns
// sqrt(det) = prod diag(L). Pivots are floored to stay finite in float32 use.
func (g *gramPair[F]) factor() float64 {
	v := 1.0
	for p := range g.size {
		for q := 0; q <= p; q++ {
			s := g.l[p][q]
			for r := range q {
				s -= g.l[p][r] * g.l[q][r]
			}
			if p == q {
				s = math.Sqrt(max(s, 1e-300))
				g.l[p][p] = s
				v *= s
			} else {
				g.l[p][q] = s / g.l[q][q]
			}
		}
	}
	return v
}

// inverse sets inv = (L L^T)^{-1} from the Cholesky factor.
func (g *gramPair[F]) inverse() {
	n := g.size
	// Linv lower triangular.
	var li [MaxGramK + 1][MaxGramK + 1]float64
	for c := range n {
		li[c][c] = 1 / g.l[c][c]
		for r := c + 1; r < n; r++ {
			var s float64
			for t := c; t < r; t++ {
				s += g.l[r][t] * li[t][c]
			}
			li[r][c] = -s / g.l[r][r]
		}
	}
	// inv = Linv^T Linv
	for p := range n {
		for q := range n {
			var s float64
			for t := max(p, q); t < n; t++ {
				s += li[t][p] * li[t][q]
			}
			g.inv[p][q] = s
		}
	}
}
