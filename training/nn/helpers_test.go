package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 42)) }

func randn(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func to32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// gradTol is the float64 central-difference tolerance on relative error.
const gradTol = 1e-6

// gradCheck compares analytic with the central difference of loss with
// respect to every element of x, and fails if the max relative error
// |a-n| / max(|a|,|n|,1e-3) exceeds gradTol.
func gradCheck(t *testing.T, name string, x, analytic []float64, loss func() float64) {
	t.Helper()
	const h = 1e-5
	worst := 0.0
	worstAt := -1
	for i := range x {
		orig := x[i]
		x[i] = orig + h
		lp := loss()
		x[i] = orig - h
		lm := loss()
		x[i] = orig
		num := (lp - lm) / (2 * h)
		rel := math.Abs(analytic[i]-num) / max(math.Abs(analytic[i]), math.Abs(num), 1e-3)
		if rel > worst || math.IsNaN(rel) {
			worst, worstAt = rel, i
		}
	}
	t.Logf("%s: max rel err %.2e over %d elements", name, worst, len(x))
	if worst > gradTol || math.IsNaN(worst) {
		t.Errorf("%s: max rel err %.3e at %d exceeds %.0e", name, worst, worstAt, gradTol)
	}
}

func maxAbsDiff32(a []float32, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-b[i]))
	}
	return m
}

func equalSlices[F Float](t *testing.T, name string, a, b []F) {
	t.Helper()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("%s: differ at %d: %v vs %v", name, i, a[i], b[i])
		}
	}
}
