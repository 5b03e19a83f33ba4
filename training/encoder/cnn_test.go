package encoder

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func TestCNNGrad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   CNNConfig
		valid []int32
	}{
		{"image", CNNConfig{Height: 6, Width: 5, Channels: 2, Layers: []int{3, 4}, Kernel: 3, Stride: 2, Latent: 3, MaxBatch: 2, Seed: 1}, nil},
		{"series", CNNConfig{Height: 9, Width: 1, Channels: 2, Layers: []int{3, 3}, Kernel: 3, Stride: 2, Latent: 2, MaxBatch: 3, Seed: 2}, []int32{9, 4, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewCNN[float64](tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(8, 8))
			B := tc.cfg.MaxBatch
			in := Input[float64]{B: B, X: nntest.Randn(r, B*tc.cfg.Height*tc.cfg.Width*tc.cfg.Channels), Valid: tc.valid}
			checkEncoder(t, e, in, tc.cfg.Latent)
			out, err := e.Forward(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out {
				if math.IsNaN(v) {
					t.Fatal("NaN output")
				}
			}
		})
	}
	bad := []CNNConfig{
		{Height: 4, Width: 4, Channels: 1, Layers: []int{2}, Kernel: 2, Stride: 1, Latent: 2, MaxBatch: 1},
		{Height: 4, Width: 4, Channels: 1, Layers: nil, Kernel: 3, Stride: 1, Latent: 2, MaxBatch: 1},
		{Height: 4, Width: 4, Channels: 1, Layers: []int{0}, Kernel: 3, Stride: 1, Latent: 2, MaxBatch: 1},
		{Height: 4, Width: 4, Channels: 1, Layers: []int{2}, Kernel: 3, Stride: 0, Latent: 2, MaxBatch: 1},
	}
	for i, c := range bad {
		if _, err := NewCNN[float32](c); !errors.Is(err, ErrConfig) {
			t.Errorf("bad config %d: %v", i, err)
		}
	}
}

func TestNewByKind(t *testing.T) {
	tr := trunkCfg(1)
	for _, c := range []Config{
		{Kind: KindImage, Image: ImageConfig{Trunk: tr, Height: 4, Width: 4, Channels: 1, Patch: 2}},
		{Kind: KindSeries, Series: SeriesConfig{Trunk: tr, Length: 4, Channels: 1, Patch: 2}},
		{Kind: KindText, Text: TextConfig{Trunk: tr, Vocab: 5, MaxTokens: 3}},
		{Kind: KindCNN, CNN: CNNConfig{Height: 4, Width: 4, Channels: 1, Layers: []int{2}, Kernel: 3, Stride: 2, Latent: 3, MaxBatch: 1}},
	} {
		e, err := New[float32](c)
		if err != nil || e.Latent() != 3 {
			t.Errorf("%s: %v", c.Kind, err)
		}
	}
	if _, err := New[float32](Config{Kind: "rnn"}); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := New[float32](Config{Kind: KindImage}); !errors.Is(err, ErrConfig) {
		t.Errorf("empty image config: %v", err)
	}
}

func TestCNNNoAllocs(t *testing.T) {
	e, err := NewCNN[float32](CNNConfig{Height: 16, Width: 1, Channels: 3, Layers: []int{8, 8}, Kernel: 3, Stride: 2, Latent: 4, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	in := Input[float32]{B: 4, X: make([]float32, 4*16*3), Valid: []int32{16, 3, 9, 0}}
	dout := make([]float32, 16)
	step := func() {
		_, _ = e.Forward(nil, in)
		_ = e.Backward(nil, dout)
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Fatalf("%v allocs per step", n)
	}
}
