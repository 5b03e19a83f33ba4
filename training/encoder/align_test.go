package encoder

import (
	"math/rand/v2"
	"testing"

	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/optim"
)

// TestGramAlignmentLearns trains a text encoder (anchor) and a series
// encoder with the Gram-volume contrastive loss on paired synthetic samples
// that share a class; the loss must fall and each anchor must end up with
// the smallest volume against its own pair.
func TestGramAlignmentLearns(t *testing.T) {
	const n, classes, d = 4, 4, 8
	tr := TrunkConfig{Width: 16, Depth: 1, Heads: 2, Latent: d, MaxBatch: n, Seed: 5}
	txt, err := NewText[float32](TextConfig{Trunk: tr, Vocab: 12, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	tr.Seed = 6
	ser, err := NewSeries[float32](SeriesConfig{Trunk: tr, Length: 8, Channels: classes, Patch: 2})
	if err != nil {
		t.Fatal(err)
	}
	oc := optim.DefaultConfig()
	oc.LR = 3e-3
	ot, _ := optim.New(len(txt.Params()), oc)
	oser, _ := optim.New(len(ser.Params()), oc)
	r := rand.New(rand.NewPCG(3, 3))
	ids, x := make([]int32, n*4), make([]float32, n*8*classes)
	an, mn, anorm, mnorm := make([]float32, n*d), make([]float32, n*d), make([]float32, n), make([]float32, n)
	vol, lg, pr, pc := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	dan, dmn, da, dm := make([]float32, n*d), make([]float32, n*d), make([]float32, n*d), make([]float32, n*d)
	const tau = 0.1
	var first, last float32
	steps := 200
	for step := range steps {
		perm := r.Perm(classes)
		for b, y := range perm {
			for i := range 4 {
				ids[b*4+i] = int32(classes + r.IntN(8))
			}
			ids[b*4+r.IntN(4)] = int32(y)
			for s := range 8 {
				for c := range classes {
					v := 0.3 * r.NormFloat64()
					if c == y {
						v += float64(s%4) - 1.5
					}
					x[(b*8+s)*classes+c] = float32(v)
				}
			}
		}
		a, err := txt.Forward(nil, Input[float32]{B: n, IDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ser.Forward(nil, Input[float32]{B: n, X: x})
		if err != nil {
			t.Fatal(err)
		}
		nn.L2NormalizeForward(an, anorm, a, n, d)
		nn.L2NormalizeForward(mn, mnorm, m, n, d)
		loss, err := nn.GramForward(vol, lg, pr, pc, an, mn, nil, n, 1, d, tau)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = loss
		}
		if step >= steps-20 {
			last += loss / 20
		}
		clear(dan)
		clear(dmn)
		if err := nn.GramBackward(dan, dmn, vol, pr, pc, an, mn, nil, n, 1, d, tau, 1); err != nil {
			t.Fatal(err)
		}
		clear(da)
		clear(dm)
		nn.L2NormalizeBackward(da, dan, an, anorm, n, d)
		nn.L2NormalizeBackward(dm, dmn, mn, mnorm, n, d)
		txt.ZeroGrad()
		ser.ZeroGrad()
		if err := txt.Backward(nil, da); err != nil {
			t.Fatal(err)
		}
		if err := ser.Backward(nil, dm); err != nil {
			t.Fatal(err)
		}
		_ = ot.Step(txt.Params(), txt.Grads())
		_ = oser.Step(ser.Params(), ser.Grads())
	}
	hits := 0
	for i := range n {
		best := 0
		for j := range n {
			if vol[i*n+j] < vol[i*n+best] {
				best = j
			}
		}
		if best == i {
			hits++
		}
	}
	t.Logf("gram loss %.3f -> %.3f (mean of last 20), diagonal hits %d/%d", first, last, hits, n)
	if last > 0.3*first || hits < n-1 {
		t.Errorf("alignment did not learn: loss %.3f -> %.3f, hits %d/%d", first, last, hits, n)
	}
}
