package encoder

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/nn/nntest"
)

func TestConnectorGrad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		present []bool
	}{
		{"all present", nil},
		{"missing", []bool{true, false, true, false, true, true, true, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ConnectorConfig{Modalities: 3, Latent: 4, Fused: 5, SoftTokens: 2, Width: 3, MaxBatch: 3, Seed: 9}
			c, err := NewConnector[float64](cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(5, 6))
			for i := range c.Params() {
				c.Params()[i] += 0.3 * r.NormFloat64()
			}
			B := 3
			vecs := [][]float64{nntest.Randn(r, B*4), nntest.Randn(r, B*4), nntest.Randn(r, B*4)}
			Rs, Rf := nntest.Randn(r, B*2*3), nntest.Randn(r, B*5)
			loss := func() float64 {
				soft, fused, err := c.Forward(nil, vecs, tc.present, B)
				if err != nil {
					t.Fatal(err)
				}
				return nntest.Dot(soft, Rs) + nntest.Dot(fused, Rf)
			}
			loss()
			c.ZeroGrad()
			dvecs, err := c.Backward(nil, Rs, Rf)
			if err != nil {
				t.Fatal(err)
			}
			g := append([]float64(nil), c.Grads()...)
			dv := make([][]float64, 3)
			for k := range dv {
				dv[k] = append([]float64(nil), dvecs[k]...)
			}
			nntest.GradCheck(t, "params", c.Params(), g, loss)
			for k := range vecs {
				nntest.GradCheck(t, "dvec", vecs[k], dv[k], loss)
			}
			if tc.present != nil {
				// absent slots: zero gradient, and their values never matter
				l0 := loss()
				for b := range B {
					for k := range 3 {
						if tc.present[b*3+k] {
							continue
						}
						for i := range 4 {
							if dv[k][b*4+i] != 0 {
								t.Fatalf("absent (%d,%d) got gradient", b, k)
							}
							vecs[k][b*4+i] = 1e6
						}
					}
				}
				if l1 := loss(); l1 != l0 {
					t.Fatalf("absent values changed the output: %v vs %v", l1, l0)
				}
			}
		})
	}
}

func TestConnectorShapesAndErrors(t *testing.T) {
	cfg := ConnectorConfig{Modalities: 2, Latent: 4, Fused: 256, SoftTokens: 16, Width: 8, MaxBatch: 4, Seed: 1}
	c, err := NewConnector[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	vecs := [][]float32{make([]float32, 3*4), nil}
	present := []bool{true, false, true, false, true, false}
	soft, fused, err := c.Forward(nil, vecs, present, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(soft) != 3*16*8 || len(fused) != 3*256 {
		t.Fatalf("soft %d fused %d", len(soft), len(fused))
	}
	for _, v := range soft {
		if math.IsNaN(float64(v)) {
			t.Fatal("NaN in soft tokens")
		}
	}
	if _, _, err := c.Forward(nil, vecs, nil, 3); !errors.Is(err, ErrInput) {
		t.Errorf("present slot with nil data: %v", err)
	}
	if _, _, err := c.Forward(nil, vecs[:1], present, 3); !errors.Is(err, ErrInput) {
		t.Errorf("wrong slot count: %v", err)
	}
	if _, _, err := c.Forward(nil, vecs, present[:4], 3); !errors.Is(err, ErrInput) {
		t.Errorf("short mask: %v", err)
	}
	if _, _, err := c.Forward(nil, vecs, present, 5); !errors.Is(err, ErrInput) {
		t.Errorf("batch > max: %v", err)
	}
	c2, _ := NewConnector[float32](cfg)
	if _, err := c2.Backward(nil, nil, nil); !errors.Is(err, ErrInput) {
		t.Errorf("backward before forward: %v", err)
	}
}

// TestSteadyStateNoAllocs: a training step of encoder + connector allocates
// nothing once built.
func TestSteadyStateNoAllocs(t *testing.T) {
	pool := nn.NewPool(2)
	defer pool.Close()
	img, err := NewImage[float32](ImageConfig{Trunk: TrunkConfig{Width: 16, Depth: 1, Heads: 2, Latent: 8, MaxBatch: 4}, Height: 8, Width: 8, Channels: 1, Patch: 2})
	if err != nil {
		t.Fatal(err)
	}
	txt, err := NewText[float32](TextConfig{Trunk: TrunkConfig{Width: 16, Depth: 1, Heads: 2, Latent: 8, MaxBatch: 4}, Vocab: 30, MaxTokens: 6})
	if err != nil {
		t.Fatal(err)
	}
	con, err := NewConnector[float32](ConnectorConfig{Modalities: 2, Latent: 8, Fused: 16, SoftTokens: 2, Width: 8, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 4*8*8)
	ids := make([]int32, 4*6)
	valid := []int32{6, 2, 0, 4}
	present := []bool{true, true, true, false, false, true, true, true}
	vecs := make([][]float32, 2)
	dsoft := make([]float32, 4*2*8)
	step := func() {
		a, _ := img.Forward(pool, Input[float32]{B: 4, X: x})
		b, _ := txt.Forward(pool, Input[float32]{B: 4, IDs: ids, Valid: valid})
		vecs[0], vecs[1] = a, b
		_, _, _ = con.Forward(pool, vecs, present, 4)
		dv, _ := con.Backward(pool, dsoft, nil)
		_ = img.Backward(pool, dv[0])
		_ = txt.Backward(pool, dv[1])
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Fatalf("%v allocs per step", n)
	}
}
