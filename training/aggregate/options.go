package aggregate

import (
	"fmt"
	"math"
)

// Rule is how the eligible values of one coordinate are combined.
type Rule int

// Rules.
const (
	Mean        Rule = iota // weighted mean
	TrimmedMean             // drop the floor(trim x n) lowest and highest values, weighted mean of the rest
	Median                  // weighted median (the usual median when weights are equal)
)

func (r Rule) String() string {
	switch r {
	case Mean:
		return "mean"
	case TrimmedMean:
		return "trimmed-mean"
	case Median:
		return "median"
	}
	return fmt.Sprintf("rule(%d)", int(r))
}

// Weighting is how a contribution's weight is computed.
type Weighting int

// Weightings.
const (
	ModalityAware Weighting = iota // n_i x |M_i ∩ M_g| (|M_i| for a group that depends on every modality)
	SampleCount                    // n_i (FedAvg)
)

// Eligibility is which contributions take part in a group.
type Eligibility int

// Eligibilities.
const (
	AnyModality   Eligibility = iota // holds at least one of the group's modalities (MMA default)
	AllModalities                    // holds every modality of the group
	Everyone                         // every contribution (FedAvg)
)

// MinForRelativeNorm is the fewest accepted contributions for which the k x median norm cap applies:
// with fewer, a median says little about what is normal.
const MinForRelativeNorm = 3

type options struct {
	groups       []Group
	modalities   []string
	rule         Rule
	trim         float64
	weighting    Weighting
	eligibility  Eligibility
	maxNorm      float64
	normFactor   float64
	maxSamples   int64
	sampleFactor float64
}

// Option configures New.
type Option func(*options) error

// WithGroups sets the parameter groups. Tensors that match no group's prefix form the group "shared",
// which depends on every modality.
func WithGroups(gs ...Group) Option {
	return func(o *options) error { o.groups = append(o.groups, gs...); return nil }
}

// WithModalities declares the modalities of the run: a contribution naming another one is rejected,
// and so is a group naming another one.
func WithModalities(ms ...string) Option {
	return func(o *options) error { o.modalities = append(o.modalities, ms...); return nil }
}

// WithMean selects the weighted mean (the default).
func WithMean() Option { return func(o *options) error { o.rule = Mean; return nil } }

// WithTrimmedMean selects the coordinate-wise trimmed mean dropping floor(frac x n) values at each end;
// frac must be in (0, 0.5).
func WithTrimmedMean(frac float64) Option {
	return func(o *options) error {
		if !(frac > 0 && frac < 0.5) {
			return fmt.Errorf("%w: trim fraction %v not in (0, 0.5)", ErrConfig, frac)
		}
		o.rule, o.trim = TrimmedMean, frac
		return nil
	}
}

// WithMedian selects the coordinate-wise weighted median.
func WithMedian() Option { return func(o *options) error { o.rule = Median; return nil } }

// WithWeighting sets the weighting (default ModalityAware).
func WithWeighting(w Weighting) Option {
	return func(o *options) error {
		if w != ModalityAware && w != SampleCount {
			return fmt.Errorf("%w: weighting %d", ErrConfig, w)
		}
		o.weighting = w
		return nil
	}
}

// WithEligibility sets which contributions take part in a group (default AnyModality).
func WithEligibility(e Eligibility) Option {
	return func(o *options) error {
		if e != AnyModality && e != AllModalities && e != Everyone {
			return fmt.Errorf("%w: eligibility %d", ErrConfig, e)
		}
		o.eligibility = e
		return nil
	}
}

// WithFedAvg turns MMA off (the ablation): weight = sample count, every contribution in every group.
func WithFedAvg() Option {
	return func(o *options) error { o.weighting, o.eligibility = SampleCount, Everyone; return nil }
}

// WithMaxNorm rejects deltas whose L2 norm (over all tensors) exceeds maxNorm; 0 turns the cap off.
func WithMaxNorm(maxNorm float64) Option {
	return func(o *options) error {
		if !(maxNorm >= 0) || math.IsInf(maxNorm, 0) {
			return fmt.Errorf("%w: max norm %v must be finite and >= 0", ErrConfig, maxNorm)
		}
		o.maxNorm = maxNorm
		return nil
	}
}

// WithNormFactor rejects deltas whose norm exceeds k x the (lower) median norm of the round's
// contributions that passed the other checks, when there are at least MinForRelativeNorm of them and
// the median is positive; k must be > 1, 0 turns the cap off.
func WithNormFactor(k float64) Option {
	return func(o *options) error {
		if k != 0 && !(k > 1 && !math.IsInf(k, 0)) {
			return fmt.Errorf("%w: norm factor %v must be > 1 (or 0 for off)", ErrConfig, k)
		}
		o.normFactor = k
		return nil
	}
}

// WithMaxSamples caps every declared sample count at n (e.g. the largest partition a node may hold);
// 0 turns the cap off.
func WithMaxSamples(n int64) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("%w: max samples %d must be >= 0", ErrConfig, n)
		}
		o.maxSamples = n
		return nil
	}
}

// WithSampleFactor caps every sample count at f x the (lower) median sample count of the round's
// accepted contributions; f must be >= 1, 0 turns the cap off.
func WithSampleFactor(f float64) Option {
	return func(o *options) error {
		if f != 0 && !(f >= 1 && !math.IsInf(f, 0)) {
			return fmt.Errorf("%w: sample factor %v must be >= 1 (or 0 for off)", ErrConfig, f)
		}
		o.sampleFactor = f
		return nil
	}
}
