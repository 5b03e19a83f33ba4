package dataset

import (
	"cmp"
	"maps"
	"slices"
)

// sortedKeys returns m's keys in ascending order (map order is random; output
// that users see and compare must not be).
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// Has reports whether the sample holds modality name.
func (s Sample) Has(name string) bool {
	_, ok := s.Inputs[name]
	return ok
}

// ModalityNames returns the sample's modalities, sorted.
func (s Sample) ModalityNames() []string { return sortedKeys(s.Inputs) }

// ModalityNames returns the dataset's declared modalities, sorted.
func (d *Dataset) ModalityNames() []string { return sortedKeys(d.Modalities) }

// Split returns the samples of one split (SplitTrain or SplitTest), in file order.
func (d *Dataset) Split(split string) []Sample {
	return Filter(d.Samples, func(s Sample) bool { return s.Split == split })
}

// Filter returns the samples for which keep is true, in order.
func Filter(samples []Sample, keep func(Sample) bool) []Sample {
	var out []Sample
	for _, s := range samples {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// WithModalities returns the samples that hold every one of names.
func WithModalities(samples []Sample, names ...string) []Sample {
	return Filter(samples, func(s Sample) bool {
		for _, n := range names {
			if !s.Has(n) {
				return false
			}
		}
		return true
	})
}

// InGroups returns the samples whose group is one of groups.
func InGroups(samples []Sample, groups ...string) []Sample {
	return Filter(samples, func(s Sample) bool { return slices.Contains(groups, s.Group) })
}

// Count is a name with the number of samples it applies to.
type Count struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

// countBy tallies key(s) over samples (skipping empty keys), sorted by count
// descending then name, so "top N" is a prefix.
func countBy(samples []Sample, key func(Sample) []string) []Count {
	m := map[string]int{}
	for _, s := range samples {
		for _, k := range key(s) {
			if k != "" {
				m[k]++
			}
		}
	}
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Name: k, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// ModalityCounts returns how many samples hold each modality.
func ModalityCounts(samples []Sample) []Count {
	return countBy(samples, Sample.ModalityNames)
}

// GroupCounts returns the samples per non-empty group.
func GroupCounts(samples []Sample) []Count {
	return countBy(samples, func(s Sample) []string { return []string{s.Group} })
}

// LabelCounts returns the samples per non-empty label.
func LabelCounts(samples []Sample) []Count {
	return countBy(samples, func(s Sample) []string { return []string{s.Label} })
}

// TargetCounts returns the samples per distinct target text (every reference
// of a sample counts once).
func TargetCounts(samples []Sample) []Count {
	return countBy(samples, func(s Sample) []string { return slices.Compact(slices.Sorted(slices.Values(s.Targets))) })
}

// Groups returns the distinct non-empty groups of samples, sorted.
func Groups(samples []Sample) []string {
	set := map[string]struct{}{}
	for _, s := range samples {
		if s.Group != "" {
			set[s.Group] = struct{}{}
		}
	}
	return sortedKeys(set)
}

// Labels returns the distinct non-empty labels of samples, sorted.
func Labels(samples []Sample) []string {
	set := map[string]struct{}{}
	for _, s := range samples {
		if s.Label != "" {
			set[s.Label] = struct{}{}
		}
	}
	return sortedKeys(set)
}
