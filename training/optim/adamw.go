// Package optim holds the optimiser of mlecs: AdamW exactly as
// torch.optim.AdamW (decoupled weight decay, bias correction, no amsgrad)
// over flat float32 buffers, and global-norm gradient clipping as
// torch.nn.utils.clip_grad_norm_.
package optim

import (
	"errors"
	"fmt"
	"math"
)

// ErrConfig reports invalid optimiser hyper-parameters.
var ErrConfig = errors.New("optim: invalid config")

// ErrSize reports buffers whose lengths disagree.
var ErrSize = errors.New("optim: buffer size mismatch")

// Config holds AdamW hyper-parameters; the zero value is not valid, start
// from DefaultConfig.
type Config struct {
	LR          float64
	Beta1       float64
	Beta2       float64
	Eps         float64
	WeightDecay float64
}

// DefaultConfig returns torch.optim.AdamW's defaults.
func DefaultConfig() Config {
	return Config{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-2}
}

// Validate rejects hyper-parameters torch would reject.
func (c Config) Validate() error {
	switch {
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate %v: %w", c.LR, ErrConfig)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("beta1 %v not in [0,1): %w", c.Beta1, ErrConfig)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("beta2 %v not in [0,1): %w", c.Beta2, ErrConfig)
	case !(c.Eps >= 0) || math.IsInf(c.Eps, 0):
		return fmt.Errorf("eps %v: %w", c.Eps, ErrConfig)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("weight decay %v: %w", c.WeightDecay, ErrConfig)
	}
	return nil
}

// Update performs AdamW step t (1-based) in place on params, with moment
// buffers m and v (zero before step 1), in torch's order of operations:
//
//	p -= lr*wd*p
//	m = b1*m + (1-b1)*g ; v = b2*v + (1-b2)*g^2
//	p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// It allocates nothing. Different weight decay for different segments
// (e.g. none on biases) is done by calling Update per segment.
func Update(params, grads, m, v []float32, t int, c Config) error {
	n := len(params)
	if len(grads) != n || len(m) != n || len(v) != n {
		return fmt.Errorf("adamw: params %d, grads %d, m %d, v %d: %w", n, len(grads), len(m), len(v), ErrSize)
	}
	if t < 1 {
		return fmt.Errorf("adamw: step %d must be >= 1: %w", t, ErrConfig)
	}
	b1, b2 := float32(c.Beta1), float32(c.Beta2)
	bc1 := 1 - math.Pow(c.Beta1, float64(t))
	bc2 := 1 - math.Pow(c.Beta2, float64(t))
	stepSize := float32(c.LR / bc1)
	bc2s := float32(math.Sqrt(bc2))
	decay := float32(1 - c.LR*c.WeightDecay)
	eps := float32(c.Eps)
	for i, g := range grads {
		p := params[i] * decay
		mi := b1*m[i] + (1-b1)*g
		vi := b2*v[i] + (1-b2)*g*g
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/bc2s + eps
		params[i] = p - stepSize*mi/denom
	}
	return nil
}

// AdamW owns the moment buffers and step count for one flat parameter
// buffer.
type AdamW struct {
	cfg  Config
	m, v []float32
	t    int
}

// New returns an AdamW for n parameters.
func New(n int, c Config) (*AdamW, error) {
	if n < 0 {
		return nil, fmt.Errorf("adamw: %d parameters: %w", n, ErrSize)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &AdamW{cfg: c, m: make([]float32, n), v: make([]float32, n)}, nil
}

// Step applies one update to params with grads (both of the size given to New).
func (o *AdamW) Step(params, grads []float32) error {
	if err := Update(params, grads, o.m, o.v, o.t+1, o.cfg); err != nil {
		return err
	}
	o.t++
	return nil
}

// SetLR changes the learning rate (for schedules).
func (o *AdamW) SetLR(lr float64) error {
	c := o.cfg
	c.LR = lr
	if err := c.Validate(); err != nil {
		return err
	}
	o.cfg = c
	return nil
}

// Config returns the current hyper-parameters.
func (o *AdamW) Config() Config { return o.cfg }

// State returns the step count and the moment buffers (aliased, for
// checkpointing).
func (o *AdamW) State() (t int, m, v []float32) { return o.t, o.m, o.v }

// Restore sets the step count and copies the moment buffers in.
func (o *AdamW) Restore(t int, m, v []float32) error {
	if len(m) != len(o.m) || len(v) != len(o.v) || t < 0 {
		return fmt.Errorf("adamw restore: step %d, m %d, v %d, want %d: %w", t, len(m), len(v), len(o.m), ErrSize)
	}
	copy(o.m, m)
	copy(o.v, v)
	o.t = t
	return nil
}

// GlobalNorm returns the L2 norm over all the buffers, accumulated in float64.
func GlobalNorm(grads ...[]float32) float64 {
	var s float64
	for _, g := range grads {
		for _, x := range g {
			s += float64(x) * float64(x)
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales all the buffers so that their global norm is at most
// maxNorm (coefficient maxNorm/(norm+1e-6), as torch) and returns the norm
// before clipping. A non-finite norm is returned without touching the
// buffers, so the caller can skip the step.
func ClipGradNorm(maxNorm float64, grads ...[]float32) float64 {
	norm := GlobalNorm(grads...)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm
	}
	c := float32(coef)
	for _, g := range grads {
		for i := range g {
			g[i] *= c
		}
	}
	return norm
}
