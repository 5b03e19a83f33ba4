package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/mlecs/mlecs/training/encoder"
	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/nn"
)

// modalityEncoder is what the model needs from an encoder of package encoder.
type modalityEncoder[F nn.Float] interface {
	Forward(p *nn.Pool, in encoder.Input[F]) ([]F, error)
	Backward(p *nn.Pool, dout []F) error
	Params() []F
	Grads() []F
	ZeroGrad()
}

// slot holds one modality's encoder and its batch buffers (allocated once).
type slot[F nn.Float] struct {
	cfg   ModalityConfig
	enc   modalityEncoder[F]
	x     []F     // [MaxBatch, size] compact inputs (non-text)
	ids   []int32 // [MaxBatch, MaxTokens] compact token inputs (text)
	valid []int32 // [MaxBatch]
	rows  []int   // batch rows that hold the modality, in order
	vec   []F     // [MaxBatch, Ds] encoder output scattered to batch rows (absent rows unused)
	dout  []F     // [MaxBatch, Ds] compact gradient for the encoder
}

// Group is a named set of trainable parameters with its gradients (aliases of the model's buffers).
type Group[F nn.Float] struct {
	Name   string // "encoder/<modality>", "connector", "ccl", "head", "lora"
	Params []F
	Grads  []F
}

// Model is M = {E, C, B} of one node. It is not safe for concurrent use.
type Model[F nn.Float] struct {
	cfg   Config
	pool  *nn.Pool
	slots []*slot[F]
	conn  *encoder.Connector[F]
	lm    *gpt2.Model[F]

	// CCL anchor projection [Ds, C] (target text embedding -> d_s) and its gradient.
	cclW, cclG []F
	// Word head (cfg.WordHead): [V, Fused] map of the fused representation to a logit bias, then the copy
	// bonus of the prompt's text tokens (one value); and its gradient.
	head, headG []F

	// batch buffers
	nb       int       // batch size of the last encode
	fused    []F       // [B, Fused] of the last encode (the connector's view)
	present  []bool    // [MaxBatch, K]
	prompts  [][]int32 // [MaxBatch] per-sample prompt tokens (text modalities, instruction)
	ids      []int32   // [MaxBatch, Tt]
	targets  []int32   // [MaxBatch, Tt]
	vecs     [][]F     // K views for the connector
	dsoft    []F       // [MaxBatch, P*C]
	textEmb  []F       // [MaxBatch, C] mean target-token embedding
	anc      []F       // [MaxBatch, Ds] projected anchor
	ancN     []F       // [MaxBatch, Ds] normalised anchor
	ancNorm  []F       // [MaxBatch]
	mRaw     []F       // [MaxBatch, K, Ds]
	mN       []F       // [MaxBatch, K, Ds]
	mNorm    []F       // [MaxBatch*K]
	vol      []F       // [MaxBatch^2] (and logits/probs)
	logits   []F       //
	probsRow []F       //
	probsCol []F       //
	dAncN    []F       // [MaxBatch, Ds]
	dAnc     []F       // [MaxBatch, Ds]
	dmN      []F       // [MaxBatch, K, Ds]
	dmRaw    []F       // [MaxBatch, K, Ds]
	bias     []F       // [MaxBatch, V] word-head logit bias
	bag      []F       // [MaxBatch, V] 1 for the tokens of a sample's text modalities
	dfused   []F       // [MaxBatch, Fused]
	cclOn    bool      // the last Forward computed CCL
	genLoss  F
	cclLoss  F
}

// Option configures New.
type Option func(*options) error

type options struct{ pool *nn.Pool }

// WithPool runs the ops on a worker pool (nil: serial); the model does not close it.
func WithPool(p *nn.Pool) Option {
	return func(o *options) error { o.pool = p; return nil }
}

// New builds a model with freshly initialised encoders, connector, CCL projection and LoRA; the backbone
// base weights are GPT-2-initialised from cfg.Seed and are normally replaced with LoadBase.
func New[F nn.Float](cfg Config, opts ...Option) (*Model[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	m := &Model[F]{cfg: cfg, pool: o.pool}
	K, Ds, MB := len(cfg.Modalities), cfg.Latent, cfg.MaxBatch
	for k, mc := range cfg.Modalities {
		s := &slot[F]{cfg: mc, valid: make([]int32, MB), rows: make([]int, 0, MB), vec: make([]F, MB*Ds), dout: make([]F, MB*Ds)}
		trunk := encoder.TrunkConfig{Width: mc.Width, Depth: mc.Depth, Heads: mc.Heads, Latent: Ds, MaxBatch: MB, Seed: cfg.Seed + 101*uint64(k+1)}
		var err error
		switch {
		case mc.Encoder == EncoderCNN:
			// Images [H,W,Ch]; a series [L,Ch] is a 1-wide image, so kernels run along time only.
			h, w, ch := mc.Shape[0], 1, mc.Shape[1]
			if mc.Kind == KindImage {
				w, ch = mc.Shape[1], mc.Shape[2]
			}
			layers := make([]int, mc.Depth+1)
			for i := range layers {
				layers[i] = mc.Width
			}
			s.enc, err = encoder.NewCNN[F](encoder.CNNConfig{Height: h, Width: w, Channels: ch, Layers: layers,
				Kernel: 3, Stride: 2, Latent: Ds, MaxBatch: MB, Seed: trunk.Seed})
			s.x = make([]F, MB*mc.size())
		case mc.Kind == KindImage:
			s.enc, err = encoder.NewImage[F](encoder.ImageConfig{Trunk: trunk, Height: mc.Shape[0], Width: mc.Shape[1], Channels: mc.Shape[2], Patch: mc.Patch})
			s.x = make([]F, MB*mc.size())
		case mc.Kind == KindTimeseries || mc.Kind == KindAudio:
			s.enc, err = encoder.NewSeries[F](encoder.SeriesConfig{Trunk: trunk, Length: mc.Shape[0], Channels: mc.Shape[1], Patch: mc.Patch})
			s.x = make([]F, MB*mc.size())
		case mc.Kind == KindText:
			s.enc, err = encoder.NewText[F](encoder.TextConfig{Trunk: trunk, Vocab: cfg.Backbone.VocabSize, MaxTokens: mc.Shape[0]})
			s.ids = make([]int32, MB*mc.size())
		}
		if err != nil {
			return nil, fmt.Errorf("modality %q: %w", mc.Name, err)
		}
		m.slots = append(m.slots, s)
	}
	C := cfg.Backbone.Channels
	conn, err := encoder.NewConnector[F](encoder.ConnectorConfig{Modalities: K, Latent: Ds, Fused: cfg.Fused,
		SoftTokens: cfg.SoftTokens, Width: C, MaxBatch: MB, Seed: cfg.Seed + 7})
	if err != nil {
		return nil, fmt.Errorf("connector: %w", err)
	}
	m.conn = conn
	lm, err := gpt2.New[F](cfg.Backbone, gpt2.WithMaxBatch(MB), gpt2.WithPool(o.pool))
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	lm.Init(cfg.Seed + 13)
	m.lm = lm
	m.cclW, m.cclG = make([]F, Ds*C), make([]F, Ds*C)
	rng := rand.New(rand.NewPCG(cfg.Seed, 17))
	for i := range m.cclW {
		m.cclW[i] = F(rng.NormFloat64() * 0.02)
	}
	if cfg.WordHead {
		V := cfg.Backbone.VocabSize
		// Zero: the head starts as no bias at all, so training begins from the plain model.
		m.head, m.headG = make([]F, V*cfg.Fused+1), make([]F, V*cfg.Fused+1)
		m.bias, m.bag, m.dfused = make([]F, MB*V), make([]F, MB*V), make([]F, MB*cfg.Fused)
	}
	Tt := cfg.seqLen()
	m.present = make([]bool, MB*K)
	m.ids, m.targets = make([]int32, MB*Tt), make([]int32, MB*Tt)
	m.prompts = make([][]int32, MB)
	for b := range m.prompts {
		m.prompts[b] = make([]int32, 0, cfg.PromptTokens+len(cfg.Instruction))
	}
	m.vecs = make([][]F, K)
	m.dsoft = make([]F, MB*cfg.SoftTokens*C)
	m.textEmb, m.anc, m.ancN, m.ancNorm = make([]F, MB*C), make([]F, MB*Ds), make([]F, MB*Ds), make([]F, MB)
	m.mRaw, m.mN, m.mNorm = make([]F, MB*K*Ds), make([]F, MB*K*Ds), make([]F, MB*K)
	m.vol, m.logits, m.probsRow, m.probsCol = make([]F, MB*MB), make([]F, MB*MB), make([]F, MB*MB), make([]F, MB*MB)
	m.dAncN, m.dAnc, m.dmN, m.dmRaw = make([]F, MB*Ds), make([]F, MB*Ds), make([]F, MB*K*Ds), make([]F, MB*K*Ds)
	return m, nil
}

// Config returns the model's configuration.
func (m *Model[F]) Config() Config { return m.cfg }

// Backbone exposes the language model (to load base weights, save LoRA, merge for decoding).
func (m *Model[F]) Backbone() *gpt2.Model[F] { return m.lm }

// Groups returns the named trainable parameter groups, in a fixed order: one encoder per modality,
// the connector, the CCL projection, the word head (when configured), the LoRA adapters. The mesh exchanges only "lora".
func (m *Model[F]) Groups() []Group[F] {
	var g []Group[F]
	for _, s := range m.slots {
		g = append(g, Group[F]{Name: "encoder/" + s.cfg.Name, Params: s.enc.Params(), Grads: s.enc.Grads()})
	}
	g = append(g, Group[F]{Name: "connector", Params: m.conn.Params(), Grads: m.conn.Grads()})
	g = append(g, Group[F]{Name: "ccl", Params: m.cclW, Grads: m.cclG})
	if m.cfg.WordHead {
		g = append(g, Group[F]{Name: "head", Params: m.head, Grads: m.headG})
	}
	p, gr := m.lm.Trainable()
	g = append(g, Group[F]{Name: "lora", Params: p, Grads: gr})
	return g
}

// ZeroGrad clears every trainable gradient (Backward accumulates).
func (m *Model[F]) ZeroGrad() {
	for _, s := range m.slots {
		s.enc.ZeroGrad()
	}
	m.conn.ZeroGrad()
	clear(m.cclG)
	clear(m.headG)
	m.lm.ZeroGrad()
}

// ParamCount is the number of trainable parameters.
func (m *Model[F]) ParamCount() int {
	n := 0
	for _, g := range m.Groups() {
		n += len(g.Params)
	}
	return n
}
