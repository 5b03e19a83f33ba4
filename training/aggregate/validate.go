package aggregate

import (
	"fmt"
	"math"
	"slices"

	"github.com/mlecs/mlecs/training/payload"
)

// entry is a contribution that passed the per-contribution checks, with its tensors in layout order.
type entry struct {
	edge     string
	declared int64
	samples  int64 // after capping
	mods     []string
	data     [][]float32 // [layout index] -> values
	norm     float64
}

// check validates one contribution against the layout and the absolute caps.
func (a *Aggregator) check(c Contribution) (entry, error) {
	if c.Edge == "" || len(c.Edge) > payload.MaxIDLen {
		return entry{}, fmt.Errorf("%w: edge id %q empty or longer than %d bytes", ErrContribution, c.Edge, payload.MaxIDLen)
	}
	if c.Samples < 1 {
		return entry{}, fmt.Errorf("%w: edge %q: sample count %d < 1", ErrContribution, c.Edge, c.Samples)
	}
	if len(c.Modalities) == 0 {
		return entry{}, fmt.Errorf("%w: edge %q holds no modality", ErrContribution, c.Edge)
	}
	for i, m := range c.Modalities {
		if m == "" || slices.Contains(c.Modalities[:i], m) || (len(a.opt.modalities) > 0 && !slices.Contains(a.opt.modalities, m)) {
			return entry{}, fmt.Errorf("%w: edge %q: modality %q empty, repeated or not declared for this run", ErrContribution, c.Edge, m)
		}
	}
	if len(c.Tensors) != len(a.layout) {
		return entry{}, fmt.Errorf("%w: edge %q sent %d tensors, layout has %d", ErrShape, c.Edge, len(c.Tensors), len(a.layout))
	}
	e := entry{edge: c.Edge, declared: c.Samples, samples: c.Samples, mods: c.Modalities, data: make([][]float32, len(a.layout))}
	var sumsq float64
	for _, t := range c.Tensors {
		i, ok := a.index[t.Name]
		if !ok {
			return entry{}, fmt.Errorf("%w: edge %q: unexpected tensor %q", ErrShape, c.Edge, t.Name)
		}
		if e.data[i] != nil {
			return entry{}, fmt.Errorf("%w: edge %q: tensor %q appears twice", ErrShape, c.Edge, t.Name)
		}
		if s := a.layout[i]; !slices.Equal(t.Shape, s.Shape) || len(t.Data) != s.numel() {
			return entry{}, fmt.Errorf("%w: edge %q: tensor %q has shape %v and %d values, want %v", ErrShape, c.Edge, t.Name, t.Shape, len(t.Data), s.Shape)
		}
		// A float32 squared fits a float64 with room for 2^700 of them, so the sum is finite exactly
		// when every value is; the slow search for the culprit runs only on failure.
		s := sumSquares(t.Data)
		if math.IsNaN(s) || math.IsInf(s, 0) {
			for j, v := range t.Data {
				if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
					return entry{}, fmt.Errorf("%w: edge %q: tensor %q value %d is %v", ErrNonFinite, c.Edge, t.Name, j, v)
				}
			}
		}
		sumsq += s
		e.data[i] = t.Data
	}
	e.norm = math.Sqrt(sumsq)
	if a.opt.maxNorm > 0 && e.norm > a.opt.maxNorm {
		return entry{}, fmt.Errorf("%w: edge %q: L2 norm %.6g exceeds the cap %.6g", ErrNorm, c.Edge, e.norm, a.opt.maxNorm)
	}
	return e, nil
}

// lowerMedian is the middle value of xs (the lower of the two middle ones for an even count); it sorts
// a copy. A lower median keeps the reference on the honest side when half the values are inflated.
func lowerMedian[T int64 | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// relativeNorm rejects entries above k x the lower median norm.
func (a *Aggregator) relativeNorm(es []entry, rej []Rejection) ([]entry, []Rejection) {
	if a.opt.normFactor == 0 || len(es) < MinForRelativeNorm {
		return es, rej
	}
	norms := make([]float64, len(es))
	for i, e := range es {
		norms[i] = e.norm
	}
	med := lowerMedian(norms)
	if med == 0 {
		return es, rej
	}
	limit := a.opt.normFactor * med
	kept := es[:0:0]
	for _, e := range es {
		if e.norm > limit {
			rej = append(rej, Rejection{Edge: e.edge, Err: fmt.Errorf("%w: edge %q: L2 norm %.6g exceeds %g x the round's median %.6g",
				ErrNorm, e.edge, e.norm, a.opt.normFactor, med)})
			continue
		}
		kept = append(kept, e)
	}
	return kept, rej
}

// capSamples lowers inflated sample counts to the declared maximum and to f x the lower median.
func (a *Aggregator) capSamples(es []entry) {
	limit := int64(math.MaxInt64)
	if a.opt.maxSamples > 0 {
		limit = a.opt.maxSamples
	}
	if a.opt.sampleFactor > 0 && len(es) > 0 {
		ns := make([]int64, len(es))
		for i, e := range es {
			ns[i] = e.declared
		}
		if f := a.opt.sampleFactor * float64(lowerMedian(ns)); f < float64(limit) {
			limit = max(1, int64(f))
		}
	}
	for i := range es {
		es[i].samples = min(es[i].declared, limit)
	}
}

// sumSquares is sum v^2 in float64 with four independent accumulators (one dependent chain would make
// this pass latency-bound instead of memory-bound).
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		a, b, c, d := float64(x[j]), float64(x[j+1]), float64(x[j+2]), float64(x[j+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; j < len(x); j++ {
		s0 += float64(x[j]) * float64(x[j])
	}
	return (s0 + s1) + (s2 + s3)
}
