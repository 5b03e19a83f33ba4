package nntest

import (
	"math/rand/v2"
	"testing"
)

// fakeT records failures so the check itself can be tested.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Logf(string, ...any)   {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }

func TestGradCheck(t *testing.T) {
	x := Randn(rand.New(rand.NewPCG(1, 2)), 5)
	loss := func() float64 { return Dot(x, x) } // d/dx = 2x
	right := make([]float64, len(x))
	for i := range x {
		right[i] = 2 * x[i]
	}
	ok := &fakeT{TB: t}
	GradCheck(ok, "right", x, right, loss)
	if ok.failed {
		t.Fatal("GradCheck rejected the exact gradient")
	}
	wrong := append([]float64(nil), right...)
	wrong[3] *= 1.01
	bad := &fakeT{TB: t}
	GradCheck(bad, "wrong", x, wrong, loss)
	if !bad.failed {
		t.Fatal("GradCheck accepted a gradient 1% off")
	}
}
