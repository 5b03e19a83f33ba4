package model

import (
	"fmt"
	"math"

	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/nn"
)

// Dist is a sparse next-token distribution at one target position (a teacher's top-K): Probs[i] is the
// probability of token IDs[i]. The distillation loss renormalises it over its entries, so a top-K
// truncation or codec rounding needs no fix-up by the caller.
type Dist struct {
	IDs   []int32
	Probs []float32
}

// DistillLosses are the parts of the distillation loss of one batch and the rows each mean is over.
type DistillLosses struct {
	Total float64 // (1-alpha)*Gen + alpha*KL when any row has a teacher, else Gen
	Gen   float64 // mean cross-entropy of the target tokens
	KL    float64 // mean KL(teacher || student) over the rows with a teacher
	NGen  int     // rows with a target
	NKL   int     // rows with a teacher
}

// DistillForward computes the loss of N rows of logits [N,V] (temperature 1, float64 arithmetic):
// targets[i] is row i's target token or gpt2.IgnoreIndex, teach[i] its teacher distribution q (no
// entries: none). KL(q || p) = Σ_k q_k (log q_k − log p_{id_k}) with q renormalised over its entries;
// it differs from the soft-target cross-entropy −Σ_k q_k log p_{id_k} by the teacher's entropy only,
// so both have the same gradient. probs [N,V] receives softmax(logits) for DistillBackward.
func DistillForward[F nn.Float](probs, logits []F, targets []int32, teach []Dist, N, V int, alpha float64) (DistillLosses, error) {
	var ls DistillLosses
	if N < 0 || V < 1 || len(logits) < N*V || len(probs) < N*V || len(targets) < N || len(teach) < N {
		return ls, fmt.Errorf("%w: distillation of %d rows of %d logits: %d logits, %d probs, %d targets, %d teachers",
			ErrInput, N, V, len(logits), len(probs), len(targets), len(teach))
	}
	if !(alpha >= 0 && alpha <= 1) {
		return ls, fmt.Errorf("%w: distillation weight %v not in [0, 1]", ErrInput, alpha)
	}
	for i := range N {
		z, p := logits[i*V:(i+1)*V], probs[i*V:(i+1)*V]
		mx := math.Inf(-1)
		for _, v := range z {
			mx = max(mx, float64(v))
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v) - mx)
		}
		logZ := mx + math.Log(sum)
		for j, v := range z {
			p[j] = F(math.Exp(float64(v) - logZ))
		}
		if y := targets[i]; y != gpt2.IgnoreIndex {
			if y < 0 || int(y) >= V {
				return ls, fmt.Errorf("%w: row %d: target %d outside vocab %d", ErrInput, i, y, V)
			}
			ls.Gen += logZ - float64(z[y])
			ls.NGen++
		}
		if len(teach[i].IDs) == 0 {
			continue
		}
		qs, err := teacherSum(teach[i], V)
		if err != nil {
			return ls, fmt.Errorf("row %d: %w", i, err)
		}
		var kl float64
		for k, id := range teach[i].IDs {
			if q := float64(teach[i].Probs[k]) / qs; q > 0 {
				kl += q * (math.Log(q) - (float64(z[id]) - logZ))
			}
		}
		ls.KL += kl
		ls.NKL++
	}
	if ls.NGen > 0 {
		ls.Gen /= float64(ls.NGen)
	}
	ls.Total = ls.Gen
	if ls.NKL > 0 {
		ls.KL /= float64(ls.NKL)
		ls.Total = (1-alpha)*ls.Gen + alpha*ls.KL
	}
	return ls, nil
}

// DistillBackward writes the gradient of DistillForward's Total w.r.t. the logits: per row
// (1−α)/NGen·(p − onehot(y)) + α/NKL·(p − q), where α is alpha when any row has a teacher, else 0 (the
// loss is then the plain cross-entropy). dlogits may alias probs (each value depends only on its own).
func DistillBackward[F nn.Float](dlogits, probs []F, targets []int32, teach []Dist, N, V int, alpha float64, ls DistillLosses) error {
	if len(dlogits) < N*V || len(probs) < N*V || len(targets) < N || len(teach) < N {
		return fmt.Errorf("%w: distillation backward of %d rows of %d logits", ErrInput, N, V)
	}
	a := 0.0
	if ls.NKL > 0 {
		a = alpha
	}
	var wGen, wKL float64
	if ls.NGen > 0 {
		wGen = (1 - a) / float64(ls.NGen)
	}
	if ls.NKL > 0 {
		wKL = a / float64(ls.NKL)
	}
	for i := range N {
		p, d := probs[i*V:(i+1)*V], dlogits[i*V:(i+1)*V]
		hasY, hasQ := targets[i] != gpt2.IgnoreIndex, len(teach[i].IDs) > 0
		w := 0.0
		if hasY {
			w += wGen
		}
		if hasQ {
			w += wKL
		}
		for j := range d {
			d[j] = F(w * float64(p[j]))
		}
		if hasY {
			d[targets[i]] -= F(wGen)
		}
		if hasQ {
			qs, err := teacherSum(teach[i], V)
			if err != nil {
				return fmt.Errorf("row %d: %w", i, err)
			}
			for k, id := range teach[i].IDs {
				d[id] -= F(wKL * float64(teach[i].Probs[k]) / qs)
			}
		}
	}
	return nil
}

// teacherSum checks a teacher distribution (ids in the vocabulary, finite non-negative probabilities
// with a positive sum) and returns the sum of its probabilities.
func teacherSum(q Dist, V int) (float64, error) {
	if len(q.IDs) != len(q.Probs) {
		return 0, fmt.Errorf("%w: teacher has %d ids and %d probabilities", ErrInput, len(q.IDs), len(q.Probs))
	}
	var s float64
	for k, id := range q.IDs {
		p := float64(q.Probs[k])
		if id < 0 || int(id) >= V || !(p >= 0) || math.IsInf(p, 0) {
			return 0, fmt.Errorf("%w: teacher entry %d: token %d (vocab %d), probability %v", ErrInput, k, id, V, p)
		}
		s += p
	}
	if !(s > 0) {
		return 0, fmt.Errorf("%w: teacher probabilities sum to %v", ErrInput, s)
	}
	return s, nil
}

// lastRows returns the logits [B*Tt, V] of the last Forward and their targets.
func (m *Model[F]) lastRows() (logits []F, targets []int32, B, Tt, V int, err error) {
	V, B = m.cfg.Backbone.VocabSize, m.nb
	logits = m.lm.Logits()
	if B < 1 || len(logits) == 0 || len(logits)%(B*V) != 0 {
		return nil, nil, 0, 0, 0, fmt.Errorf("%w: no Forward of %d samples to distil", ErrInput, B)
	}
	Tt = len(logits) / (B * V)
	return logits, m.targets[:B*Tt], B, Tt, V, nil
}

// TopK returns, for each sample of the last Forward, its next-token distribution at each target position
// (predicting the target tokens and the end token, teacher forcing): the k most probable tokens (k capped
// at the vocabulary; ties to the lower id), most probable first, with probabilities renormalised over
// the k. It must directly follow Forward (Represent or Generate replace the pass).
func (m *Model[F]) TopK(k int) ([][]Dist, error) {
	logits, targets, B, Tt, V, err := m.lastRows()
	if err != nil {
		return nil, err
	}
	if k < 1 {
		return nil, fmt.Errorf("%w: top-%d distribution", ErrInput, k)
	}
	k = min(k, V)
	out := make([][]Dist, B)
	p := make([]float64, V)
	for b := range B {
		for t := range Tt {
			if targets[b*Tt+t] == gpt2.IgnoreIndex {
				continue
			}
			z := logits[(b*Tt+t)*V : (b*Tt+t+1)*V]
			mx := math.Inf(-1)
			for _, v := range z {
				mx = max(mx, float64(v))
			}
			for j, v := range z {
				p[j] = math.Exp(float64(v) - mx) // unnormalised: the top-k renormalisation divides anyway
			}
			ids := make([]int32, 0, k)
			for j := range V { // insertion into the sorted top k: V*k for the small k of distillation
				if len(ids) == k && p[j] <= p[ids[k-1]] {
					continue
				}
				pos := len(ids)
				for pos > 0 && p[ids[pos-1]] < p[j] {
					pos--
				}
				if len(ids) < k {
					ids = append(ids, 0)
				}
				copy(ids[pos+1:], ids[pos:len(ids)-1])
				ids[pos] = int32(j)
			}
			var s float64
			for _, id := range ids {
				s += p[id]
			}
			probs := make([]float32, k)
			for i, id := range ids {
				probs[i] = float32(p[id] / s)
			}
			out[b] = append(out[b], Dist{IDs: ids, Probs: probs})
		}
	}
	return out, nil
}

// Distill computes, on the last Forward, the loss (1−alpha)·gen + alpha·KL(teacher || student) of
// DistillForward, where teachers[b][j] is sample b's teacher at its target position j (as TopK lays
// them out; a nil or shorter list leaves those positions without one), and writes its gradient w.r.t.
// the logits into dlogits (len(Backbone().Logits()) values) for BackwardLogits. It must directly
// follow Forward.
func (m *Model[F]) Distill(dlogits []F, teachers [][]Dist, alpha float64) (DistillLosses, error) {
	logits, targets, B, Tt, V, err := m.lastRows()
	if err != nil {
		return DistillLosses{}, err
	}
	if len(teachers) != B || len(dlogits) != len(logits) {
		return DistillLosses{}, fmt.Errorf("%w: %d teachers and %d gradients for %d samples and %d logits", ErrInput, len(teachers), len(dlogits), B, len(logits))
	}
	rows := make([]Dist, B*Tt)
	for b := range B {
		j := 0
		for t := range Tt {
			if targets[b*Tt+t] == gpt2.IgnoreIndex {
				continue
			}
			if j < len(teachers[b]) {
				rows[b*Tt+t] = teachers[b][j]
			}
			j++
		}
	}
	ls, err := DistillForward(dlogits, logits, targets, rows, B*Tt, V, alpha)
	if err != nil {
		return ls, fmt.Errorf("distillation: %w", err)
	}
	if err := DistillBackward(dlogits, dlogits, targets, rows, B*Tt, V, alpha, ls); err != nil {
		return ls, fmt.Errorf("distillation: %w", err)
	}
	return ls, nil
}

// BackwardLogits is Backward with dlogits (e.g. from Distill) as the gradient of the last Forward's
// logits in place of the generation loss's; the CCL loss is back-propagated as in Backward.
func (m *Model[F]) BackwardLogits(dlogits []F) error {
	if dlogits == nil {
		return fmt.Errorf("%w: BackwardLogits without a gradient", ErrInput)
	}
	return m.backward(dlogits)
}
