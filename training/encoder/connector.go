package encoder

import (
	"fmt"

	"github.com/mlecs/mlecs/training/nn"
)

// ConnectorConfig describes the connector C.
type ConnectorConfig struct {
	Modalities int    // K, the modality slots (fixed order)
	Latent     int    // d_s of every encoder output
	Fused      int    // fused representation width (paper: 256)
	SoftTokens int    // P soft-prompt tokens (paper: 16)
	Width      int    // backbone width of each soft token
	MaxBatch   int    // activations are allocated for this many samples
	Seed       uint64 // initialisation seed
}

// Validate reports the first invalid field.
func (c ConnectorConfig) Validate() error {
	for _, d := range []struct {
		n string
		v int
	}{{"modalities", c.Modalities}, {"latent", c.Latent}, {"fused", c.Fused}, {"soft tokens", c.SoftTokens}, {"width", c.Width}, {"max batch", c.MaxBatch}} {
		if err := checkDim(d.n, d.v); err != nil {
			return fmt.Errorf("connector: %w", err)
		}
	}
	if c.Modalities > 64 {
		return fmt.Errorf("connector: %d modalities > 64: %w", c.Modalities, ErrConfig)
	}
	return nil
}

// Connector fuses per-modality vectors into a fused representation and P
// soft-prompt tokens:
//
//	z     [B,K*Ds] = concat_k (present ? v_k : missing_k)
//	fused [B,Df]   = LayerNorm(z) @ W1^T + b1
//	soft  [B,P*Cb] = GELU(fused) @ W2^T + b2
//
// Missing modalities: an absent slot k of a sample is filled with missing_k,
// a learned per-modality embedding (trained by the samples that lack k).
// The model therefore sees "modality k is absent" as its own signal instead
// of zeros posing as data, LayerNorm statistics stay those of a full-width
// input, and a sample with every modality present never touches missing_k.
type Connector[F nn.Float] struct {
	cfg    ConnectorConfig
	params []F
	grads  []F
	p, g   struct {
		missing  []F // [K,Ds]
		lnw, lnb []F // [K*Ds]
		w1, b1   []F // [Df,K*Ds], [Df]
		w2, b2   []F // [P*Cb,Df], [P*Cb]
	}
	z, ln, mean, rstd []F
	fused, fusedG     []F
	soft              []F
	present           []bool // [maxB*K] copy of the last mask
	dfused, dfusedG   []F
	dln, dz           []F
	dvec              [][]F // [K][maxB*Ds]
	B                 int
}

// NewConnector builds a connector with freshly initialised parameters.
func NewConnector[F nn.Float](cfg ConnectorConfig) (*Connector[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	K, D, Df, S, B := cfg.Modalities, cfg.Latent, cfg.Fused, cfg.SoftTokens*cfg.Width, cfg.MaxBatch
	c := &Connector[F]{cfg: cfg}
	var l layout[F]
	w := normal[F](0.02)
	l.add(&c.p.missing, &c.g.missing, K*D, w)
	l.add(&c.p.lnw, &c.g.lnw, K*D, constant[F](1))
	l.add(&c.p.lnb, &c.g.lnb, K*D, constant[F](0))
	l.add(&c.p.w1, &c.g.w1, Df*K*D, w)
	l.add(&c.p.b1, &c.g.b1, Df, constant[F](0))
	l.add(&c.p.w2, &c.g.w2, S*Df, w)
	l.add(&c.p.b2, &c.g.b2, S, constant[F](0))
	c.params, c.grads = l.build(cfg.Seed)
	c.z, c.ln, c.mean, c.rstd = make([]F, B*K*D), make([]F, B*K*D), make([]F, B), make([]F, B)
	c.fused, c.fusedG, c.soft = make([]F, B*Df), make([]F, B*Df), make([]F, B*S)
	c.present = make([]bool, B*K)
	c.dfused, c.dfusedG = make([]F, B*Df), make([]F, B*Df)
	c.dln, c.dz = make([]F, B*K*D), make([]F, B*K*D)
	c.dvec = make([][]F, K)
	for k := range c.dvec {
		c.dvec[k] = make([]F, B*D)
	}
	return c, nil
}

// Params is the flat parameter buffer.
func (c *Connector[F]) Params() []F { return c.params }

// Grads is the flat gradient buffer, aligned with Params.
func (c *Connector[F]) Grads() []F { return c.grads }

// ZeroGrad clears the gradients (Backward accumulates).
func (c *Connector[F]) ZeroGrad() { clear(c.grads) }

// Forward fuses vecs (K slices, each [B,Ds]; an absent modality's slice may
// be nil when no sample has it) under present [B*K] (nil: all present) and
// returns soft [B,P*Cb] and fused [B,Df], views valid until the next Forward.
func (c *Connector[F]) Forward(p *nn.Pool, vecs [][]F, present []bool, B int) (soft, fused []F, err error) {
	K, D, Df, S := c.cfg.Modalities, c.cfg.Latent, c.cfg.Fused, c.cfg.SoftTokens*c.cfg.Width
	if B < 1 || B > c.cfg.MaxBatch {
		return nil, nil, fmt.Errorf("connector: batch %d not in [1,%d]: %w", B, c.cfg.MaxBatch, ErrInput)
	}
	if len(vecs) != K {
		return nil, nil, fmt.Errorf("connector: %d modality slices, want %d: %w", len(vecs), K, ErrInput)
	}
	if present != nil && len(present) < B*K {
		return nil, nil, fmt.Errorf("connector: presence mask has %d entries, want %d: %w", len(present), B*K, ErrInput)
	}
	for b := range B {
		for k := range K {
			on := present == nil || present[b*K+k]
			c.present[b*K+k] = on
			dst := c.z[(b*K+k)*D : (b*K+k+1)*D]
			if !on {
				copy(dst, c.p.missing[k*D:(k+1)*D])
				continue
			}
			if len(vecs[k]) < B*D {
				return nil, nil, fmt.Errorf("connector: modality %d has %d values, want %d: %w", k, len(vecs[k]), B*D, ErrInput)
			}
			copy(dst, vecs[k][b*D:(b+1)*D])
		}
	}
	c.B = B
	nn.LayerNormForward(p, c.ln, c.mean, c.rstd, c.z, c.p.lnw, c.p.lnb, B, K*D)
	nn.LinearForward(p, c.fused, c.ln, c.p.w1, c.p.b1, B, K*D, Df)
	nn.GELUForward(p, c.fusedG, c.fused, B*Df)
	nn.LinearForward(p, c.soft, c.fusedG, c.p.w2, c.p.b2, B, Df, S)
	return c.soft[:B*S], c.fused[:B*Df], nil
}

// Backward accumulates parameter gradients from dsoft [B,P*Cb] and dfused
// [B,Df] (either may be nil, e.g. dfused carries a contrastive loss on the
// fused representation) and returns the gradients with respect to the K
// input slices ([K][B,Ds] views, valid until the next call; rows of absent
// modalities are zero).
func (c *Connector[F]) Backward(p *nn.Pool, dsoft, dfused []F) ([][]F, error) {
	K, D, Df, S, B := c.cfg.Modalities, c.cfg.Latent, c.cfg.Fused, c.cfg.SoftTokens*c.cfg.Width, c.B
	if B == 0 {
		return nil, fmt.Errorf("connector: backward before forward: %w", ErrInput)
	}
	if (dsoft != nil && len(dsoft) < B*S) || (dfused != nil && len(dfused) < B*Df) {
		return nil, fmt.Errorf("connector: gradient sizes %d, %d, want %d, %d: %w", len(dsoft), len(dfused), B*S, B*Df, ErrInput)
	}
	df := c.dfused[:B*Df]
	clear(df)
	if dsoft != nil {
		dg := c.dfusedG[:B*Df]
		clear(dg)
		nn.LinearBackward(p, dg, c.g.w2, c.g.b2, dsoft, c.fusedG, c.p.w2, B, Df, S)
		nn.GELUBackward(p, df, c.fused, dg, B*Df)
	}
	if dfused != nil {
		nn.ResidualForward(df, df, dfused, B*Df)
	}
	dln, dz := c.dln[:B*K*D], c.dz[:B*K*D]
	clear(dln)
	nn.LinearBackward(p, dln, c.g.w1, c.g.b1, df, c.ln, c.p.w1, B, K*D, Df)
	clear(dz)
	nn.LayerNormBackward(p, dz, c.g.lnw, c.g.lnb, dln, c.z, c.p.lnw, c.mean, c.rstd, B, K*D)
	for k := range K {
		c.dvec[k] = c.dvec[k][:B*D] // within capacity maxB*D
	}
	for b := range B {
		for k := range K {
			src := dz[(b*K+k)*D : (b*K+k+1)*D]
			dst := c.dvec[k][b*D : (b+1)*D]
			if c.present[b*K+k] {
				copy(dst, src)
				continue
			}
			clear(dst)
			gm := c.g.missing[k*D : (k+1)*D]
			for i, v := range src {
				gm[i] += v
			}
		}
	}
	return c.dvec, nil
}
