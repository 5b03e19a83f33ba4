package encoder

import (
	"math/rand/v2"
	"testing"

	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/optim"
)

// TestEncodersLearn trains each encoder kind (float32, pool, AdamW) as a
// classifier on a small synthetic task, its latent vector used as the
// logits: the image task is "which quadrant is bright", the series task
// "which channel carries the sine", the text task "which marker token occurs".
// Loss must fall well below chance (ln 4) and accuracy must be high.
func TestEncodersLearn(t *testing.T) {
	pool := nn.NewPool(2)
	defer pool.Close()
	const B, classes = 16, 4
	tr := TrunkConfig{Width: 16, Depth: 1, Heads: 2, Latent: classes, MaxBatch: B, Seed: 3}
	cases := []struct {
		cfg  Config
		make func(r *rand.Rand, labels []int32) Input[float32]
	}{
		{Config{Kind: KindImage, Image: ImageConfig{Trunk: tr, Height: 8, Width: 8, Channels: 1, Patch: 2}}, func(r *rand.Rand, labels []int32) Input[float32] {
			x := make([]float32, B*64)
			for b, y := range labels {
				qy, qx := int(y)/2, int(y)%2
				for i := range 64 {
					v := 0.3 * r.NormFloat64()
					if (i/8)/4 == qy && (i%8)/4 == qx {
						v += 1
					}
					x[b*64+i] = float32(v)
				}
			}
			return Input[float32]{B: B, X: x}
		}},
		{Config{Kind: KindSeries, Series: SeriesConfig{Trunk: tr, Length: 16, Channels: 4, Patch: 4}}, func(r *rand.Rand, labels []int32) Input[float32] {
			x := make([]float32, B*16*4)
			valid := make([]int32, B)
			for b, y := range labels {
				valid[b] = int32(8 + r.IntN(9))
				for t := range int(valid[b]) {
					for c := range 4 {
						v := 0.3 * r.NormFloat64()
						if c == int(y) {
							v += float64(t%4) - 1.5
						}
						x[(b*16+t)*4+c] = float32(v)
					}
				}
			}
			return Input[float32]{B: B, X: x, Valid: valid}
		}},
		{Config{Kind: KindText, Text: TextConfig{Trunk: tr, Vocab: 20, MaxTokens: 6}}, func(r *rand.Rand, labels []int32) Input[float32] {
			ids := make([]int32, B*6)
			valid := make([]int32, B)
			for b, y := range labels {
				valid[b] = int32(2 + r.IntN(5))
				for t := range int(valid[b]) {
					ids[b*6+t] = int32(4 + r.IntN(16))
				}
				ids[b*6+r.IntN(int(valid[b]))] = y // marker tokens 0..3
			}
			return Input[float32]{B: B, IDs: ids, Valid: valid}
		}},
		{Config{Kind: KindCNN, CNN: CNNConfig{Height: 8, Width: 8, Channels: 1, Layers: []int{8, 16}, Kernel: 3, Stride: 2, Latent: classes, MaxBatch: B, Seed: 4}}, nil},
	}
	cases[3].make = cases[0].make
	steps := 150
	if testing.Short() {
		steps = 100
	}
	for _, tc := range cases {
		t.Run(string(tc.cfg.Kind), func(t *testing.T) {
			e, err := New[float32](tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg := optim.DefaultConfig()
			cfg.LR = 3e-3
			opt, err := optim.New(len(e.Params()), cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(11, 12))
			labels := make([]int32, B)
			probs, losses, dlogits := make([]float32, B*classes), make([]float32, B), make([]float32, B*classes)
			var first, last float32
			for step := range steps {
				for b := range labels {
					labels[b] = int32(r.IntN(classes))
				}
				logits, err := e.Forward(pool, tc.make(r, labels))
				if err != nil {
					t.Fatal(err)
				}
				loss, _, err := nn.CrossEntropyForward(pool, probs, losses, logits, labels, B, classes, -1)
				if err != nil {
					t.Fatal(err)
				}
				if step == 0 {
					first = loss
				}
				last = 0.9*last + 0.1*loss
				if step < 10 {
					last = loss
				}
				clear(dlogits)
				if err := nn.CrossEntropyBackward(pool, dlogits, probs, labels, B, classes, -1, 1); err != nil {
					t.Fatal(err)
				}
				e.ZeroGrad()
				if err := e.Backward(pool, dlogits); err != nil {
					t.Fatal(err)
				}
				optim.ClipGradNorm(1, e.Grads())
				if err := opt.Step(e.Params(), e.Grads()); err != nil {
					t.Fatal(err)
				}
			}
			// held-out accuracy
			correct := 0
			for range 4 {
				for b := range labels {
					labels[b] = int32(r.IntN(classes))
				}
				logits, err := e.Forward(pool, tc.make(r, labels))
				if err != nil {
					t.Fatal(err)
				}
				for b, y := range labels {
					best := 0
					for c := range classes {
						if logits[b*classes+c] > logits[b*classes+best] {
							best = c
						}
					}
					if best == int(y) {
						correct++
					}
				}
			}
			acc := float64(correct) / float64(4*B)
			t.Logf("loss %.3f -> %.3f (smoothed), accuracy %.2f", first, last, acc)
			if last > 0.5 || acc < 0.85 {
				t.Errorf("did not learn: loss %.3f -> %.3f, accuracy %.2f", first, last, acc)
			}
		})
	}
}
