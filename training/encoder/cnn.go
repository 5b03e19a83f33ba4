package encoder

import (
	"fmt"
	"math"

	"github.com/mlecs/mlecs/training/nn"
)

// CNNConfig describes a small convolutional encoder: Layers strided
// convolutions with GELU, masked mean pooling over positions, LayerNorm,
// Linear to Latent. With Width 1 it is a 1-D CNN over series
// [Length=Height, Channels] (kernels run along time only).
type CNNConfig struct {
	Height   int
	Width    int
	Channels int
	Layers   []int // output channels of each convolution
	Kernel   int   // odd kernel side; zero padding Kernel/2
	Stride   int   // stride of every convolution
	Latent   int
	MaxBatch int
	Seed     uint64
}

// Validate reports the first invalid field.
func (c CNNConfig) Validate() error {
	for _, d := range []struct {
		n string
		v int
	}{{"height", c.Height}, {"width", c.Width}, {"channels", c.Channels}, {"kernel", c.Kernel}, {"stride", c.Stride}, {"latent", c.Latent}, {"max batch", c.MaxBatch}} {
		if err := checkDim(d.n, d.v); err != nil {
			return fmt.Errorf("cnn encoder: %w", err)
		}
	}
	if c.Kernel%2 == 0 {
		return fmt.Errorf("cnn encoder: kernel %d must be odd: %w", c.Kernel, ErrConfig)
	}
	if len(c.Layers) < 1 || len(c.Layers) > 16 {
		return fmt.Errorf("cnn encoder: %d layers not in [1,16]: %w", len(c.Layers), ErrConfig)
	}
	for i, ch := range c.Layers {
		if err := checkDim(fmt.Sprintf("layer %d channels", i), ch); err != nil {
			return fmt.Errorf("cnn encoder: %w", err)
		}
	}
	return nil
}

type convLayer[F nn.Float] struct {
	shape     nn.ConvShape // for MaxBatch; B is set per call
	w, b      []F
	gw, gb    []F
	col       []F // im2col of the input
	pre, post []F // before and after GELU [rows,Cout]
}

// CNN is the convolutional encoder.
type CNN[F nn.Float] struct {
	cfg      CNNConfig
	params   []F
	grads    []F
	layers   []convLayer[F]
	lnw, lnb []F // [Clast]
	outw     []F // [Latent,Clast]
	outb     []F // [Latent]
	glnw     []F
	glnb     []F
	goutw    []F
	goutb    []F

	inp                   []F
	pooled, ln, lnm, lnr  []F
	out                   []F
	mask                  []bool
	dpooled, dln          []F
	dpost, dpre, dcol, dx []F // scratch sized for the largest layer
	B                     int
	hasValid              bool
	valid                 []int32
}

// NewCNN builds a CNN encoder with freshly initialised parameters.
func NewCNN[F nn.Float](cfg CNNConfig) (*CNN[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &CNN[F]{cfg: cfg, layers: make([]convLayer[F], len(cfg.Layers))}
	var l layout[F]
	H, W, Cin := cfg.Height, cfg.Width, cfg.Channels
	maxRows, maxCols, maxAct := 0, 0, 0
	for i, cout := range cfg.Layers {
		s := nn.ConvShape{B: cfg.MaxBatch, H: H, W: W, Cin: Cin, Cout: cout, KH: cfg.Kernel, KW: cfg.Kernel,
			Stride: cfg.Stride, PadH: cfg.Kernel / 2, PadW: cfg.Kernel / 2}
		if W == 1 {
			s.KW, s.PadW = 1, 0
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("cnn encoder: layer %d: %w", i, ErrConfig)
		}
		L := &e.layers[i]
		L.shape = s
		fanIn := float64(s.Cols())
		l.add(&L.w, &L.gw, cout*s.Cols(), normal[F](math.Sqrt(2/fanIn)))
		l.add(&L.b, &L.gb, cout, constant[F](0))
		rows := s.Rows()
		L.col, L.pre, L.post = make([]F, rows*s.Cols()), make([]F, rows*cout), make([]F, rows*cout)
		maxRows, maxCols, maxAct = max(maxRows, rows*cout), max(maxCols, rows*s.Cols()), max(maxAct, cfg.MaxBatch*H*W*Cin)
		H, W = s.Out()
		Cin = cout
	}
	l.add(&e.lnw, &e.glnw, Cin, constant[F](1))
	l.add(&e.lnb, &e.glnb, Cin, constant[F](0))
	l.add(&e.outw, &e.goutw, cfg.Latent*Cin, normal[F](0.02))
	l.add(&e.outb, &e.goutb, cfg.Latent, constant[F](0))
	e.params, e.grads = l.build(cfg.Seed)
	B := cfg.MaxBatch
	e.pooled, e.ln, e.lnm, e.lnr = make([]F, B*Cin), make([]F, B*Cin), make([]F, B), make([]F, B)
	e.out = make([]F, B*cfg.Latent)
	e.mask = make([]bool, B*H*W)
	e.dpooled, e.dln = make([]F, B*Cin), make([]F, B*Cin)
	e.dpost, e.dpre, e.dcol, e.dx = make([]F, maxRows), make([]F, maxRows), make([]F, maxCols), make([]F, maxAct)
	e.valid = make([]int32, B)
	return e, nil
}

// Params is the flat parameter buffer.
func (e *CNN[F]) Params() []F { return e.params }

// Grads is the flat gradient buffer, aligned with Params.
func (e *CNN[F]) Grads() []F { return e.grads }

// ZeroGrad clears the gradients (Backward accumulates).
func (e *CNN[F]) ZeroGrad() { clear(e.grads) }

// Latent is the output dimension d_s.
func (e *CNN[F]) Latent() int { return e.cfg.Latent }

func (e *CNN[F]) shape(i, B int) nn.ConvShape {
	s := e.layers[i].shape
	s.B = B
	return s
}

// Forward encodes in.X [B,Height,Width,Channels] to [B,Latent]. For a 1-D
// CNN in.Valid counts real time steps; positions of the last layer whose
// stride window starts past them are left out of the pooling. in.X must stay
// unchanged until Backward.
func (e *CNN[F]) Forward(p *nn.Pool, in Input[F]) ([]F, error) {
	c := e.cfg
	if in.B < 1 || in.B > c.MaxBatch {
		return nil, fmt.Errorf("cnn encoder: batch %d not in [1,%d]: %w", in.B, c.MaxBatch, ErrInput)
	}
	if want := in.B * c.Height * c.Width * c.Channels; len(in.X) < want {
		return nil, fmt.Errorf("cnn encoder: %d values, want %d: %w", len(in.X), want, ErrInput)
	}
	if err := checkValid(in.Valid, in.B); err != nil {
		return nil, fmt.Errorf("cnn encoder: %w", err)
	}
	B := in.B
	e.B = B
	e.inp = in.X[:B*c.Height*c.Width*c.Channels]
	x := e.inp
	for i := range e.layers {
		L, s := &e.layers[i], e.shape(i, B)
		n := s.Rows() * s.Cout
		if err := nn.ConvForward(p, L.pre, L.col, x, L.w, L.b, s); err != nil {
			return nil, fmt.Errorf("cnn encoder: layer %d: %w", i, err)
		}
		nn.GELUForward(p, L.post, L.pre, n)
		x = L.post[:n]
	}
	last := e.layers[len(e.layers)-1].shape
	OH, OW := last.Out()
	T, C := OH*OW, last.Cout
	for b := range B {
		v := int32(c.Height)
		if in.Valid != nil && c.Width == 1 {
			v = min(max(in.Valid[b], 0), int32(c.Height))
		}
		for range e.layers {
			v = (v + int32(c.Stride) - 1) / int32(c.Stride)
		}
		for t := range T {
			e.mask[b*T+t] = in.Valid == nil || c.Width != 1 || int32(t) < v
		}
	}
	nn.MaskedMeanForward(e.pooled, x, e.mask[:B*T], B, T, C)
	nn.LayerNormForward(p, e.ln, e.lnm, e.lnr, e.pooled, e.lnw, e.lnb, B, C)
	nn.LinearForward(p, e.out, e.ln, e.outw, e.outb, B, C, c.Latent)
	return e.out[:B*c.Latent], nil
}

// Backward accumulates parameter gradients from dout [B,Latent].
func (e *CNN[F]) Backward(p *nn.Pool, dout []F) error {
	B := e.B
	if B == 0 {
		return fmt.Errorf("cnn encoder: backward before forward: %w", ErrInput)
	}
	if want := B * e.cfg.Latent; len(dout) < want {
		return fmt.Errorf("cnn encoder: dout has %d values, want %d: %w", len(dout), want, ErrInput)
	}
	last := e.layers[len(e.layers)-1].shape
	OH, OW := last.Out()
	T, C := OH*OW, last.Cout
	dln, dpooled := e.dln[:B*C], e.dpooled[:B*C]
	clear(dln)
	nn.LinearBackward(p, dln, e.goutw, e.goutb, dout, e.ln, e.outw, B, C, e.cfg.Latent)
	clear(dpooled)
	nn.LayerNormBackward(p, dpooled, e.glnw, e.glnb, dln, e.pooled, e.lnw, e.lnm, e.lnr, B, C)
	dpost := e.dpost[:B*T*C]
	clear(dpost)
	nn.MaskedMeanBackward(dpost, dpooled, e.mask[:B*T], B, T, C)
	for i := len(e.layers) - 1; i >= 0; i-- {
		L, s := &e.layers[i], e.shape(i, B)
		n := s.Rows() * s.Cout
		dpre := e.dpre[:n]
		clear(dpre)
		nn.GELUBackward(p, dpre, L.pre, e.dpost[:n], n)
		var dx []F
		if i > 0 {
			dx = e.dx[:s.B*s.H*s.W*s.Cin]
			clear(dx)
		}
		if err := nn.ConvBackward(p, dx, L.gw, L.gb, e.dcol, dpre, L.col, L.w, s); err != nil {
			return fmt.Errorf("cnn encoder: layer %d: %w", i, err)
		}
		if i > 0 {
			copy(e.dpost, dx) // the previous layer's output gradient
		}
	}
	return nil
}
