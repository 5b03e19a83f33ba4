package nn

import (
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func TestSoftCrossEntropyGrad(t *testing.T) {
	r := newRNG(21)
	N, V := 3, 5
	logits := nntest.Randn(r, N*V)
	// target distributions: softmax of other logits
	tl := nntest.Randn(r, N*V)
	targets, tmp := make([]float64, N*V), make([]float64, N)
	SoftCrossEntropyForward(targets, tmp, tl, make([]float64, N*V), N, V)
	probs, losses := make([]float64, N*V), make([]float64, N)
	loss := func() float64 { return SoftCrossEntropyForward(probs, losses, logits, targets, N, V) }
	l := loss()
	// with one-hot targets it equals the hard cross-entropy
	onehot := make([]float64, N*V)
	hard := []int32{1, 4, 0}
	for n, y := range hard {
		onehot[n*V+int(y)] = 1
	}
	ls := SoftCrossEntropyForward(probs, losses, logits, onehot, N, V)
	lh, _, err := CrossEntropyForward(nil, make([]float64, N*V), make([]float64, N), logits, hard, N, V, -1)
	if err != nil || math.Abs(ls-lh) > 1e-12 {
		t.Fatalf("one-hot soft CE %v, hard CE %v (%v)", ls, lh, err)
	}
	loss()
	d := make([]float64, N*V)
	SoftCrossEntropyBackward(d, probs, targets, N, V, 1)
	nntest.GradCheck(t, "dlogits", logits, d, loss)
	if l <= 0 {
		t.Fatalf("loss %v", l)
	}
}

func TestMSEGrad(t *testing.T) {
	r := newRNG(22)
	N := 7
	a, b := nntest.Randn(r, N), nntest.Randn(r, N)
	loss := func() float64 { return MSEForward(a, b, N) }
	da, db := make([]float64, N), make([]float64, N)
	MSEBackward(da, db, a, b, N, 1)
	nntest.GradCheck(t, "da", a, da, loss)
	nntest.GradCheck(t, "db", b, db, loss)
}
