package gpt2

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mlecs/mlecs/training/nn"
)

// Model is a GPT-2 with LoRA adapters. F is float32 for training and float64 for gradient checks.
//
// Memory layout (llm.c): Buf holds every parameter, base first then LoRA; Base and Adapter are named
// views into it. GradBuf holds the gradients of the trainable region only: the LoRA part in LoRA mode,
// everything in full-training mode (Config.LoRARank may be 0 there). Activations are allocated once for
// (MaxBatch, MaxSeq) at construction.
//
// A Model is not safe for concurrent use; the Pool parallelises inside each op.
type Model[F nn.Float] struct {
	cfg Config

	Buf     []F
	Base    Params[F]
	Adapter LoRA[F]

	GradBuf     []F
	GradBase    Params[F] // all-nil views in LoRA mode: the base is frozen
	GradAdapter LoRA[F]

	maxBatch  int
	trainBase bool
	merged    bool
	pool      *nn.Pool
	nBase     int

	acts    acts[F]
	ids     []int32 // [maxB*maxT] copy of the last Forward's ids, for the embedding backward
	targets []int32 // [maxB*maxT] copy of its targets
	grads   gradScratch[F]
	last    pass // shape of the last Forward, used by Backward
	cache   *kvCache[F]

	pendingDPrefix []F // [B,C] queued by AddPrefixMeanGrad for the next backward
	dbias          []F // [maxB,V] gradient of the last ForwardBias's logit bias (allocated on first use)
}

// pass remembers the shape of the last forward pass.
type pass struct {
	B, T, P, Tt int // batch, total positions, prefix positions, token positions (T = P + Tt)
	haveLoss    bool
	probsGone   bool // Backward overwrote probs with dlogits
	biased      bool // ForwardBias added a logit bias; backward computes dbias
}

// IgnoreIndex marks a target position that does not contribute to the loss.
const IgnoreIndex = -1

type options struct {
	maxBatch  int
	trainBase bool
	pool      *nn.Pool
}

// Option configures New.
type Option func(*options) error

// WithMaxBatch sets the largest batch Forward accepts (default 1); activations are sized for it.
func WithMaxBatch(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("%w: max batch %d must be > 0", ErrConfig, n)
		}
		o.maxBatch = n
		return nil
	}
}

// WithTrainBase makes the base weights trainable too (full training, used by `mlecs pretrain`).
// Without it only the LoRA adapters get gradients.
func WithTrainBase(on bool) Option {
	return func(o *options) error { o.trainBase = on; return nil }
}

// WithPool runs the ops on a worker pool (nil: serial). The model does not close it.
func WithPool(p *nn.Pool) Option {
	return func(o *options) error { o.pool = p; return nil }
}

// New allocates a model with zeroed parameters; call Init (or load weights) before use.
func New[F nn.Float](cfg Config, opts ...Option) (*Model[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{maxBatch: 1}
	for _, f := range opts {
		if f == nil {
			return nil, fmt.Errorf("%w: nil option", ErrConfig)
		}
		if err := f(&o); err != nil {
			return nil, err
		}
	}
	if n := actElems(cfg, o.maxBatch); n > maxActs {
		return nil, fmt.Errorf("%w: activations for batch %d x %d positions need %.3g values", ErrConfig, o.maxBatch, cfg.MaxSeq, n)
	}
	bs, ls := baseShapes(cfg), loraShapes(cfg)
	nBase, nLoRA := sumShapes(bs), sumShapes(ls)
	m := &Model[F]{cfg: cfg, maxBatch: o.maxBatch, trainBase: o.trainBase, pool: o.pool, nBase: nBase}
	m.Buf = make([]F, nBase+nLoRA)
	bind(m.Base.fields(), bs, m.Buf[:nBase])
	bind(m.Adapter.fields(), ls, m.Buf[nBase:])
	if o.trainBase {
		m.GradBuf = make([]F, nBase+nLoRA)
		bind(m.GradBase.fields(), bs, m.GradBuf[:nBase])
		bind(m.GradAdapter.fields(), ls, m.GradBuf[nBase:])
	} else {
		m.GradBuf = make([]F, nLoRA)
		bind(m.GradAdapter.fields(), ls, m.GradBuf)
	}
	m.acts.alloc(cfg, o.maxBatch)
	m.ids = make([]int32, o.maxBatch*cfg.MaxSeq)
	m.targets = make([]int32, o.maxBatch*cfg.MaxSeq)
	m.grads.alloc(cfg, o.maxBatch)
	return m, nil
}

// Config is the model's shape.
func (m *Model[F]) Config() Config { return m.cfg }

// MaxBatch is the largest batch Forward accepts.
func (m *Model[F]) MaxBatch() int { return m.maxBatch }

// Trainable returns the trainable parameters and their gradients as two flat slices of equal length,
// the form an optimiser steps: the LoRA adapters, or every parameter in full-training mode.
func (m *Model[F]) Trainable() (params, grads []F) {
	if m.trainBase {
		return m.Buf, m.GradBuf
	}
	return m.Buf[m.nBase:], m.GradBuf
}

// AdapterBuf is the flat LoRA parameter vector (every adapter, in layout order): the part of the model
// that the mesh exchanges and aggregates. It aliases Buf.
func (m *Model[F]) AdapterBuf() []F { return m.Buf[m.nBase:] }

// AdapterGrad is the gradient of AdapterBuf (aliases GradBuf).
func (m *Model[F]) AdapterGrad() []F { return m.GradBuf[len(m.GradBuf)-len(m.Buf)+m.nBase:] }

// ZeroGrad clears the gradient buffer (Backward accumulates, so call it before each step).
func (m *Model[F]) ZeroGrad() { clear(m.GradBuf) }

// Init fills the base weights as GPT-2 does (normal(0, 0.02), residual projections scaled by
// 1/sqrt(2L), LayerNorm weight 1, biases 0) and resets the adapters with InitLoRA, all from seed.
func (m *Model[F]) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	p, c := &m.Base, m.cfg
	clear(m.Buf[:m.nBase])
	normal := func(s []F, std float64) {
		for i := range s {
			s[i] = F(rng.NormFloat64() * std)
		}
	}
	projStd := 0.02 / math.Sqrt(2*float64(c.NumLayers))
	normal(p.Wte, 0.02)
	normal(p.Wpe, 0.02)
	normal(p.QKVW, 0.02)
	normal(p.AttProjW, projStd)
	normal(p.FCW, 0.02)
	normal(p.FCProjW, projStd)
	for _, s := range [][]F{p.LN1W, p.LN2W, p.LNFW} {
		for i := range s {
			s[i] = 1
		}
	}
	m.merged = false
	_ = m.InitLoRA(seed + 1) // cannot fail: not merged

}

// InitLoRA resets the adapters as in the LoRA paper / PEFT: A ~ U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's
// kaiming_uniform_ with a=sqrt(5)) and B = 0, so the adapted model starts equal to the base model.
// It fails if the adapters are merged into the base weights.
func (m *Model[F]) InitLoRA(seed uint64) error {
	if m.merged {
		return fmt.Errorf("%w: InitLoRA while LoRA is merged", ErrState)
	}
	initBranch(&m.Adapter, m.cfg, seed)
	return nil
}
