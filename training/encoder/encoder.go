package encoder

import (
	"fmt"

	"github.com/mlecs/mlecs/training/nn"
)

// Input is one batch for an encoder. Which fields are used depends on the
// encoder: X for Image ([B,H,W,Ch], HWC) and Series ([B,Length,Channels]),
// IDs for Text ([B,MaxTokens], padded).
type Input[F nn.Float] struct {
	B   int
	X   []F
	IDs []int32
	// Valid is, per sample, the number of leading real time steps (Series)
	// or tokens (Text); the rest is padding, masked out of attention and
	// pooling. nil: everything is real. Ignored by Image.
	Valid []int32
}

// base holds what all encoders share: the trunk and the flat buffers.
type base[F nn.Float] struct {
	tr     trunk[F]
	params []F
	grads  []F
}

// Params is the flat parameter buffer (stem, then trunk), for the optimiser
// and checkpoints.
func (e *base[F]) Params() []F { return e.params }

// Grads is the flat gradient buffer, aligned with Params.
func (e *base[F]) Grads() []F { return e.grads }

// ZeroGrad clears the gradients (Backward accumulates).
func (e *base[F]) ZeroGrad() { clear(e.grads) }

// Latent is the output dimension d_s.
func (e *base[F]) Latent() int { return e.tr.cfg.Latent }

// Tokens is the number of tokens per sample inside the trunk.
func (e *base[F]) Tokens() int { return e.tr.T }

func (e *base[F]) checkBatch(B int) error {
	if B < 1 || B > e.tr.cfg.MaxBatch {
		return fmt.Errorf("batch %d not in [1,%d]: %w", B, e.tr.cfg.MaxBatch, ErrInput)
	}
	return nil
}

func (e *base[F]) checkDout(dout []F) error {
	if e.tr.B == 0 {
		return fmt.Errorf("backward before forward: %w", ErrInput)
	}
	if want := e.tr.B * e.tr.cfg.Latent; len(dout) < want {
		return fmt.Errorf("dout has %d values, want %d: %w", len(dout), want, ErrInput)
	}
	return nil
}

func checkValid(valid []int32, B int) error {
	if valid != nil && len(valid) < B {
		return fmt.Errorf("valid has %d entries for batch %d: %w", len(valid), B, ErrInput)
	}
	return nil
}

// Image encodes HWC images: 2-D patch embedding, then the trunk.
type Image[F nn.Float] struct {
	base[F]
	cfg        ImageConfig
	w, b       []F // [C,P*P*Ch], [C]
	gw, gb     []F
	col        []F // [maxB*nPatches, P*P*Ch]
	nPatch, kp int
}

// NewImage builds an image encoder with freshly initialised parameters.
func NewImage[F nn.Float](cfg ImageConfig) (*Image[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Image[F]{cfg: cfg}
	e.nPatch = (cfg.Height / cfg.Patch) * (cfg.Width / cfg.Patch)
	e.kp = cfg.Patch * cfg.Patch * cfg.Channels
	var l layout[F]
	l.add(&e.w, &e.gw, cfg.Trunk.Width*e.kp, normal[F](0.02))
	l.add(&e.b, &e.gb, cfg.Trunk.Width, constant[F](0))
	e.tr.register(&l, cfg.Trunk, e.nPatch)
	e.params, e.grads = l.build(cfg.Trunk.Seed)
	e.tr.allocActs()
	e.col = make([]F, cfg.Trunk.MaxBatch*e.nPatch*e.kp)
	return e, nil
}

// Forward encodes in.X [B,H,W,Ch] to [B,Latent] (a view valid until the
// next Forward).
func (e *Image[F]) Forward(p *nn.Pool, in Input[F]) ([]F, error) {
	if err := e.checkBatch(in.B); err != nil {
		return nil, fmt.Errorf("image encoder: %w", err)
	}
	c := e.cfg
	if want := in.B * c.Height * c.Width * c.Channels; len(in.X) < want {
		return nil, fmt.Errorf("image encoder: %d pixel values, want %d: %w", len(in.X), want, ErrInput)
	}
	e.tr.setValid(nil, in.B)
	if err := nn.Patch2DForward(p, e.tr.x0, e.col, in.X, e.w, e.b, in.B, c.Height, c.Width, c.Channels, c.Patch, c.Trunk.Width); err != nil {
		return nil, fmt.Errorf("image encoder: %w", err)
	}
	return e.tr.forward(p, in.B), nil
}

// Backward accumulates parameter gradients from dout [B,Latent].
func (e *Image[F]) Backward(p *nn.Pool, dout []F) error {
	if err := e.checkDout(dout); err != nil {
		return fmt.Errorf("image encoder: %w", err)
	}
	dx := e.tr.backward(p, dout)
	N := e.tr.B * e.nPatch
	nn.LinearBackward(p, nil, e.gw, e.gb, dx, e.col, e.w, N, e.kp, e.cfg.Trunk.Width)
	return nil
}

// Series encodes [Length, Channels] windows: 1-D patch embedding, then the
// trunk. Input.Valid counts real time steps; a patch is real when it holds
// at least one (the padding inside a last partial patch is kept as is).
type Series[F nn.Float] struct {
	base[F]
	cfg     SeriesConfig
	w, b    []F // [C,P*Channels], [C]
	gw, gb  []F
	inp     []F // the last input, for the weight gradient
	patches []int32
}

// NewSeries builds a time-series encoder with freshly initialised parameters.
func NewSeries[F nn.Float](cfg SeriesConfig) (*Series[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Series[F]{cfg: cfg}
	var l layout[F]
	l.add(&e.w, &e.gw, cfg.Trunk.Width*cfg.Patch*cfg.Channels, normal[F](0.02))
	l.add(&e.b, &e.gb, cfg.Trunk.Width, constant[F](0))
	e.tr.register(&l, cfg.Trunk, cfg.Length/cfg.Patch)
	e.params, e.grads = l.build(cfg.Trunk.Seed)
	e.tr.allocActs()
	e.patches = make([]int32, cfg.Trunk.MaxBatch)
	return e, nil
}

// Forward encodes in.X [B,Length,Channels] to [B,Latent]. in.X must stay
// unchanged until Backward.
func (e *Series[F]) Forward(p *nn.Pool, in Input[F]) ([]F, error) {
	if err := e.checkBatch(in.B); err != nil {
		return nil, fmt.Errorf("series encoder: %w", err)
	}
	c := e.cfg
	if want := in.B * c.Length * c.Channels; len(in.X) < want {
		return nil, fmt.Errorf("series encoder: %d values, want %d: %w", len(in.X), want, ErrInput)
	}
	if err := checkValid(in.Valid, in.B); err != nil {
		return nil, fmt.Errorf("series encoder: %w", err)
	}
	var valid []int32
	if in.Valid != nil {
		valid = e.patches[:in.B]
		for b, v := range in.Valid[:in.B] {
			valid[b] = (max(v, 0) + int32(c.Patch) - 1) / int32(c.Patch)
		}
	}
	e.tr.setValid(valid, in.B)
	e.inp = in.X[:in.B*c.Length*c.Channels]
	if err := nn.Patch1DForward(p, e.tr.x0, e.inp, e.w, e.b, in.B, c.Length, c.Channels, c.Patch, c.Trunk.Width); err != nil {
		return nil, fmt.Errorf("series encoder: %w", err)
	}
	return e.tr.forward(p, in.B), nil
}

// Backward accumulates parameter gradients from dout [B,Latent].
func (e *Series[F]) Backward(p *nn.Pool, dout []F) error {
	if err := e.checkDout(dout); err != nil {
		return fmt.Errorf("series encoder: %w", err)
	}
	dx := e.tr.backward(p, dout)
	c := e.cfg
	return nn.Patch1DBackward(p, nil, e.gw, e.gb, dx, e.inp, e.w, e.tr.B, c.Length, c.Channels, c.Patch, c.Trunk.Width)
}

// Text encodes padded token sequences: token embedding (padding positions
// are zero vectors and masked), then the trunk.
type Text[F nn.Float] struct {
	base[F]
	cfg    TextConfig
	wte    []F // [Vocab,C]
	gwte   []F
	ids    []int32 // [maxB*T] copy of the last batch
	tokens []int32 // [maxB] real tokens per sample
}

// NewText builds a text encoder with freshly initialised parameters.
func NewText[F nn.Float](cfg TextConfig) (*Text[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Text[F]{cfg: cfg}
	var l layout[F]
	l.add(&e.wte, &e.gwte, cfg.Vocab*cfg.Trunk.Width, normal[F](0.02))
	e.tr.register(&l, cfg.Trunk, cfg.MaxTokens)
	e.params, e.grads = l.build(cfg.Trunk.Seed)
	e.tr.allocActs()
	e.ids = make([]int32, cfg.Trunk.MaxBatch*cfg.MaxTokens)
	e.tokens = make([]int32, cfg.Trunk.MaxBatch)
	return e, nil
}

// Forward encodes in.IDs [B,MaxTokens] with in.Valid real tokens per sample
// (nil: all) to [B,Latent]. Ids of real tokens must be in [0,Vocab).
func (e *Text[F]) Forward(p *nn.Pool, in Input[F]) ([]F, error) {
	if err := e.checkBatch(in.B); err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	T, C := e.cfg.MaxTokens, e.cfg.Trunk.Width
	if want := in.B * T; len(in.IDs) < want {
		return nil, fmt.Errorf("text encoder: %d ids, want %d: %w", len(in.IDs), want, ErrInput)
	}
	if err := checkValid(in.Valid, in.B); err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	copy(e.ids, in.IDs[:in.B*T])
	for b := range in.B {
		n := int32(T)
		if in.Valid != nil {
			n = min(max(in.Valid[b], 0), int32(T))
		}
		e.tokens[b] = n
		x := e.tr.x0[b*T*C : (b+1)*T*C]
		if err := nn.EmbeddingForward(x, e.ids[b*T:], e.wte, int(n), C); err != nil {
			return nil, fmt.Errorf("text encoder: sample %d: %w", b, err)
		}
		clear(x[int(n)*C:])
	}
	var valid []int32
	if in.Valid != nil {
		valid = e.tokens[:in.B]
	}
	e.tr.setValid(valid, in.B)
	return e.tr.forward(p, in.B), nil
}

// Backward accumulates parameter gradients from dout [B,Latent].
func (e *Text[F]) Backward(p *nn.Pool, dout []F) error {
	if err := e.checkDout(dout); err != nil {
		return fmt.Errorf("text encoder: %w", err)
	}
	dx := e.tr.backward(p, dout)
	T, C := e.cfg.MaxTokens, e.cfg.Trunk.Width
	for b := range e.tr.B {
		if err := nn.EmbeddingBackward(e.gwte, dx[b*T*C:], e.ids[b*T:], int(e.tokens[b]), C); err != nil {
			return fmt.Errorf("text encoder: %w", err)
		}
	}
	return nil
}
