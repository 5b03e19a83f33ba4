package aggregate

import (
	"fmt"
	"slices"

	"github.com/mlecs/mlecs/training/payload"
)

// Rejection is a contribution left out of the round and why; Err wraps ErrContribution, ErrDuplicate,
// ErrShape, ErrNonFinite or ErrNorm.
type Rejection struct {
	Edge string
	Err  error
}

// Accepted describes a contribution that took part in the round.
type Accepted struct {
	Edge     string
	Declared int64   // sample count the edge declared
	Samples  int64   // sample count used for weighting (after capping)
	Norm     float64 // L2 norm of the whole delta
}

// GroupReport says who contributed to a group and with which normalised weight.
type GroupReport struct {
	Name       string
	Modalities []string
	Tensors    int       // tensors of the layout in the group
	Edges      []string  // eligible contributions, in input order
	Weights    []float64 // normalised weights, parallel to Edges (sum 1; empty if no edge was eligible)
}

// Result is the outcome of one aggregation.
type Result struct {
	Tensors  []payload.Tensor // the aggregated delta, in layout order
	Accepted []Accepted
	Rejected []Rejection
	Groups   []GroupReport
}

// Aggregate validates cs and combines the valid ones per group. It returns an error wrapping
// ErrNoContributions (with the Result holding the rejections) when none is valid. The input tensors are
// only read.
func (a *Aggregator) Aggregate(cs []Contribution) (*Result, error) {
	res := &Result{}
	seen := make(map[string]bool, len(cs))
	es := make([]entry, 0, len(cs))
	for _, c := range cs {
		if seen[c.Edge] {
			// also when the first one was rejected: an edge gets one attempt per round
			res.Rejected = append(res.Rejected, Rejection{Edge: c.Edge, Err: fmt.Errorf("%w: edge %q contributed more than once", ErrDuplicate, c.Edge)})
			continue
		}
		seen[c.Edge] = true
		e, err := a.check(c)
		if err != nil {
			res.Rejected = append(res.Rejected, Rejection{Edge: c.Edge, Err: err})
			continue
		}
		es = append(es, e)
	}
	es, res.Rejected = a.relativeNorm(es, res.Rejected)
	if len(es) == 0 {
		return res, fmt.Errorf("%w: all %d rejected", ErrNoContributions, len(cs))
	}
	a.capSamples(es)
	for _, e := range es {
		res.Accepted = append(res.Accepted, Accepted{Edge: e.edge, Declared: e.declared, Samples: e.samples, Norm: e.norm})
	}

	res.Tensors = make([]payload.Tensor, len(a.layout))
	for i, s := range a.layout {
		res.Tensors[i] = payload.Tensor{Name: s.Name, Shape: slices.Clone(s.Shape), Data: make([]float32, s.numel())}
	}
	for gi, g := range a.groups {
		rep := GroupReport{Name: g.Name, Modalities: slices.Clone(g.Modalities)}
		var members []int // layout indices
		for i := range a.layout {
			if a.groupOf[i] == gi {
				members = append(members, i)
			}
		}
		rep.Tensors = len(members)
		var elig []*entry
		var raw []float64
		for k := range es {
			if w := a.weight(&es[k], g); w > 0 {
				elig = append(elig, &es[k])
				raw = append(raw, w)
				rep.Edges = append(rep.Edges, es[k].edge)
			}
		}
		var total float64
		for _, w := range raw {
			total += w
		}
		for _, w := range raw {
			rep.Weights = append(rep.Weights, w/total)
		}
		if len(elig) > 0 {
			for _, i := range members {
				a.combine(res.Tensors[i].Data, i, elig, raw, rep.Weights)
			}
		}
		res.Groups = append(res.Groups, rep)
	}
	return res, nil
}

// weight is the raw (unnormalised) weight of e in group g; 0 means not eligible.
func (a *Aggregator) weight(e *entry, g Group) float64 {
	held := 0 // c_{i,g}: modalities of the group that the edge holds
	for _, m := range g.Modalities {
		if slices.Contains(e.mods, m) {
			held++
		}
	}
	if len(g.Modalities) == 0 {
		held = len(e.mods) // the group depends on every modality
	}
	switch a.opt.eligibility {
	case AnyModality:
		if held == 0 {
			return 0
		}
	case AllModalities:
		if len(g.Modalities) > 0 && held < len(g.Modalities) {
			return 0
		}
	}
	if a.opt.weighting == SampleCount {
		return float64(e.samples)
	}
	return float64(e.samples) * float64(max(held, 1)) // Everyone + ModalityAware: an edge holding none of the group's modalities counts once
}

// combine writes the aggregate of layout tensor i over elig into out.
func (a *Aggregator) combine(out []float32, i int, elig []*entry, raw, norm []float64) {
	switch a.opt.rule {
	case Mean:
		weightedMean(out, i, elig, norm)
	case TrimmedMean, Median:
		robust(out, i, elig, raw, a.opt.rule, a.opt.trim)
	}
}
