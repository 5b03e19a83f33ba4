package aggregate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlecs/mlecs/training/payload"
)

// DefaultGroup names the group of tensors that match no configured prefix; it depends on every modality.
const DefaultGroup = "shared"

// Spec is one tensor of the expected layout.
type Spec struct {
	Name  string
	Shape []int
}

// numel is the product of the shape.
func (s Spec) numel() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// LayoutOf returns the names and shapes of ts (e.g. a model's shared-LoRA tensors), in order.
func LayoutOf(ts []payload.Tensor) []Spec {
	out := make([]Spec, len(ts))
	for i, t := range ts {
		out[i] = Spec{Name: t.Name, Shape: slices.Clone(t.Shape)}
	}
	return out
}

// Group is a set of tensors (by name prefix) and the modalities their parameters depend on.
type Group struct {
	Name       string
	Prefixes   []string // a tensor belongs to the group with the longest matching prefix
	Modalities []string // empty: depends on every modality
}

// Contribution is one edge's shared-LoRA delta for a round.
type Contribution struct {
	Edge       string
	Samples    int64
	Modalities []string
	Tensors    []payload.Tensor
}

// Aggregator runs MMA (or a baseline rule) over the contributions of a round. It holds no per-round
// state, so one Aggregator may serve every round; it is safe for concurrent use.
type Aggregator struct {
	opt     options
	layout  []Spec
	index   map[string]int // tensor name -> layout index
	groups  []Group        // configured groups, then DefaultGroup if any tensor falls in it
	groupOf []int          // layout index -> group index
}

// New builds an Aggregator for tensors of the given layout.
func New(layout []Spec, opts ...Option) (*Aggregator, error) {
	var o options
	for _, f := range opts {
		if err := f(&o); err != nil {
			return nil, err
		}
	}
	if len(layout) == 0 {
		return nil, fmt.Errorf("%w: empty layout", ErrConfig)
	}
	a := &Aggregator{opt: o, index: make(map[string]int, len(layout)), groupOf: make([]int, len(layout))}
	for i, s := range layout {
		if s.Name == "" {
			return nil, fmt.Errorf("%w: layout tensor %d has no name", ErrConfig, i)
		}
		if _, dup := a.index[s.Name]; dup {
			return nil, fmt.Errorf("%w: layout tensor %q appears twice", ErrConfig, s.Name)
		}
		if len(s.Shape) == 0 || slices.ContainsFunc(s.Shape, func(d int) bool { return d < 1 }) {
			return nil, fmt.Errorf("%w: layout tensor %q has shape %v", ErrConfig, s.Name, s.Shape)
		}
		a.index[s.Name] = i
		a.layout = append(a.layout, Spec{Name: s.Name, Shape: slices.Clone(s.Shape)})
	}
	known := map[string]bool{}
	for _, m := range o.modalities {
		if m == "" || known[m] {
			return nil, fmt.Errorf("%w: declared modality %q empty or repeated", ErrConfig, m)
		}
		known[m] = true
	}
	names, prefixes := map[string]bool{DefaultGroup: true}, map[string]bool{}
	for _, g := range o.groups {
		if g.Name == "" || names[g.Name] {
			return nil, fmt.Errorf("%w: group name %q empty, repeated or reserved", ErrConfig, g.Name)
		}
		names[g.Name] = true
		if len(g.Prefixes) == 0 {
			return nil, fmt.Errorf("%w: group %q has no prefixes", ErrConfig, g.Name)
		}
		for _, p := range g.Prefixes {
			if p == "" || prefixes[p] {
				return nil, fmt.Errorf("%w: group %q: prefix %q empty or used by another group", ErrConfig, g.Name, p)
			}
			prefixes[p] = true
		}
		seen := map[string]bool{}
		for _, m := range g.Modalities {
			if m == "" || seen[m] || (len(known) > 0 && !known[m]) {
				return nil, fmt.Errorf("%w: group %q: modality %q empty, repeated or not declared", ErrConfig, g.Name, m)
			}
			seen[m] = true
		}
		a.groups = append(a.groups, Group{Name: g.Name, Prefixes: slices.Clone(g.Prefixes), Modalities: slices.Clone(g.Modalities)})
	}
	def := -1
	for i, s := range a.layout {
		best, bestLen := -1, -1
		for gi, g := range a.groups {
			for _, p := range g.Prefixes {
				if strings.HasPrefix(s.Name, p) && len(p) > bestLen {
					best, bestLen = gi, len(p)
				}
			}
		}
		if best < 0 {
			if def < 0 {
				a.groups = append(a.groups, Group{Name: DefaultGroup})
				def = len(a.groups) - 1
			}
			best = def
		}
		a.groupOf[i] = best
	}
	return a, nil
}

// Layout returns the expected tensors.
func (a *Aggregator) Layout() []Spec { return slices.Clone(a.layout) }

// Groups returns the groups in use (configured ones, then DefaultGroup if some tensor falls in it).
func (a *Aggregator) Groups() []Group { return slices.Clone(a.groups) }
