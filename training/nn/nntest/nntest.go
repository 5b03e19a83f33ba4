// Package nntest holds the numerical test helpers shared by the training packages: random inputs and the
// float64 central-difference gradient check every Forward/Backward pair is held to.
package nntest

import (
	"math"
	"math/rand/v2"
	"testing"
)

// GradTol is the largest max relative error GradCheck accepts.
const GradTol = 1e-6

// Randn returns n standard normal draws from r.
func Randn(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

// Dot returns the inner product of a and b (len(a) elements).
func Dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// GradCheck compares analytic with the central difference of loss with respect to every element of x,
// and fails t if the max relative error |a-n| / max(|a|,|n|,1e-3) exceeds GradTol. loss must read x.
func GradCheck(t testing.TB, name string, x, analytic []float64, loss func() float64) {
	t.Helper()
	const h = 1e-5
	worst, at := 0.0, -1
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
			worst, at = rel, i
		}
	}
	t.Logf("%s: max rel err %.2e over %d elements", name, worst, len(x))
	if worst > GradTol || math.IsNaN(worst) {
		t.Errorf("%s: max rel err %.3e at %d exceeds %.0e", name, worst, at, GradTol)
	}
}
