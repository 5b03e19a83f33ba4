package encoder

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/nn/nntest"
)

type enc64 interface {
	Forward(p *nn.Pool, in Input[float64]) ([]float64, error)
	Backward(p *nn.Pool, dout []float64) error
	Params() []float64
	Grads() []float64
	ZeroGrad()
}

// checkEncoder gradient-checks every parameter of e on batch in.
func checkEncoder(t *testing.T, e enc64, in Input[float64], latent int) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	// random (not the tiny init) weights so every path carries signal
	for i, v := range e.Params() {
		e.Params()[i] = v + 0.3*r.NormFloat64()
	}
	R := nntest.Randn(r, in.B*latent)
	loss := func() float64 {
		out, err := e.Forward(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		return nntest.Dot(out, R)
	}
	loss()
	e.ZeroGrad()
	if err := e.Backward(nil, R); err != nil {
		t.Fatal(err)
	}
	g := append([]float64(nil), e.Grads()...)
	nntest.GradCheck(t, "params", e.Params(), g, loss)
}

func trunkCfg(depth int) TrunkConfig {
	return TrunkConfig{Width: 8, Depth: depth, Heads: 2, Latent: 3, MaxBatch: 3, Seed: 1}
}

func TestImageGrad(t *testing.T) {
	for _, depth := range []int{0, 1, 2} {
		e, err := NewImage[float64](ImageConfig{Trunk: trunkCfg(depth), Height: 4, Width: 4, Channels: 2, Patch: 2})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		checkEncoder(t, e, Input[float64]{B: 2, X: nntest.Randn(r, 2*4*4*2)}, 3)
	}
}

func TestSeriesGradAndPadding(t *testing.T) {
	e, err := NewSeries[float64](SeriesConfig{Trunk: trunkCfg(1), Length: 8, Channels: 2, Patch: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	x := nntest.Randn(r, 2*8*2)
	in := Input[float64]{B: 2, X: x, Valid: []int32{3, 8}}
	checkEncoder(t, e, in, 3)
	// steps past the real ones (patch 1 ends at step 4) must not matter
	out, err := e.Forward(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float64(nil), out...)
	for i := 4 * 2; i < 8*2; i++ {
		x[i] = 100
	}
	if out, err = e.Forward(nil, in); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if math.Abs(out[i]-want[i]) > 1e-12 {
			t.Fatalf("padding changed output %d: %v vs %v", i, out[i], want[i])
		}
	}
}

func TestTextGradAndPadding(t *testing.T) {
	for _, depth := range []int{0, 1} {
		e, err := NewText[float64](TextConfig{Trunk: trunkCfg(depth), Vocab: 10, MaxTokens: 5})
		if err != nil {
			t.Fatal(err)
		}
		ids := []int32{1, 2, 3, 0, 0, 9, 9, 4, 5, 6}
		in := Input[float64]{B: 2, IDs: ids, Valid: []int32{3, 5}}
		checkEncoder(t, e, in, 3)
		out, err := e.Forward(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]float64(nil), out...)
		ids[3], ids[4] = -7, 1000 // padding ids are never looked up
		out, err = e.Forward(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range out {
			if math.Abs(out[i]-want[i]) > 1e-12 {
				t.Fatalf("padding changed output")
			}
		}
		ids[0] = 10
		if _, err := e.Forward(nil, in); !errors.Is(err, nn.ErrIndex) {
			t.Fatalf("id == vocab: %v", err)
		}
	}
}

func TestConfigAndInputErrors(t *testing.T) {
	bad := []error{
		func() error {
			_, err := NewImage[float32](ImageConfig{Trunk: trunkCfg(1), Height: 5, Width: 4, Channels: 1, Patch: 2})
			return err
		}(),
		func() error {
			_, err := NewImage[float32](ImageConfig{Trunk: trunkCfg(1), Height: 4, Width: 4, Channels: 0, Patch: 2})
			return err
		}(),
		func() error {
			c := trunkCfg(1)
			c.Heads = 3
			_, err := NewSeries[float32](SeriesConfig{Trunk: c, Length: 8, Channels: 1, Patch: 2})
			return err
		}(),
		func() error {
			_, err := NewSeries[float32](SeriesConfig{Trunk: trunkCfg(1), Length: 7, Channels: 1, Patch: 2})
			return err
		}(),
		func() error {
			c := trunkCfg(0)
			c.Latent = 0
			_, err := NewText[float32](TextConfig{Trunk: c, Vocab: 3, MaxTokens: 2})
			return err
		}(),
		func() error {
			_, err := NewText[float32](TextConfig{Trunk: trunkCfg(0), Vocab: 0, MaxTokens: 2})
			return err
		}(),
		func() error {
			_, err := NewConnector[float32](ConnectorConfig{Modalities: 0, Latent: 2, Fused: 2, SoftTokens: 1, Width: 2, MaxBatch: 1})
			return err
		}(),
	}
	for i, err := range bad {
		if !errors.Is(err, ErrConfig) {
			t.Errorf("case %d: %v, want ErrConfig", i, err)
		}
	}
	e, _ := NewSeries[float32](SeriesConfig{Trunk: trunkCfg(1), Length: 8, Channels: 1, Patch: 2})
	if err := e.Backward(nil, make([]float32, 9)); !errors.Is(err, ErrInput) {
		t.Errorf("backward before forward: %v", err)
	}
	for i, in := range []Input[float32]{
		{B: 0, X: make([]float32, 8)},
		{B: 4, X: make([]float32, 32)},
		{B: 2, X: make([]float32, 15)},
		{B: 2, X: make([]float32, 16), Valid: []int32{1}},
	} {
		if _, err := e.Forward(nil, in); !errors.Is(err, ErrInput) {
			t.Errorf("input %d: %v, want ErrInput", i, err)
		}
	}
}

type shaped interface {
	Latent() int
	Tokens() int
	Params() []float32
}

func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() (interface {
			Latent() int
			Tokens() int
			Params() []float32
		}, error)
		tokens int
	}{
		{"image 8x8 p4", func() (interface {
			Latent() int
			Tokens() int
			Params() []float32
		}, error) {
			return NewImage[float32](ImageConfig{Trunk: trunkCfg(1), Height: 8, Width: 8, Channels: 3, Patch: 4})
		}, 4},
		{"series 12 p3", func() (interface {
			Latent() int
			Tokens() int
			Params() []float32
		}, error) {
			return NewSeries[float32](SeriesConfig{Trunk: trunkCfg(2), Length: 12, Channels: 3, Patch: 3})
		}, 4},
		{"text 6", func() (interface {
			Latent() int
			Tokens() int
			Params() []float32
		}, error) {
			return NewText[float32](TextConfig{Trunk: trunkCfg(0), Vocab: 20, MaxTokens: 6})
		}, 6},
	} {
		e, err := tc.build()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if e.Latent() != 3 || e.Tokens() != tc.tokens || len(e.Params()) == 0 {
			t.Errorf("%s: latent %d tokens %d params %d", tc.name, e.Latent(), e.Tokens(), len(e.Params()))
		}
	}
}
