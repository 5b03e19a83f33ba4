package nn

import (
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func naiveGemm(transA, transB bool, M, N, K int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range M {
		for j := range N {
			var s float64
			for k := range K {
				var av, bv float64
				if transA {
					av = a[k*lda+i]
				} else {
					av = a[i*lda+k]
				}
				if transB {
					bv = b[j*ldb+k]
				} else {
					bv = b[k*ldb+j]
				}
				s += av * bv
			}
			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
		}
	}
}

func TestGemmMatchesNaive(t *testing.T) {
	pool := NewPool(3)
	defer pool.Close()
	r := newRNG(1)
	shapes := []struct{ M, N, K int }{{1, 1, 1}, {3, 5, 7}, {65, 129, 257}, {130, 200, 300}, {64, 128, 0}}
	for _, s := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				// strides wider than needed, to exercise lda/ldb/ldc
				ar, ac := s.M, s.K
				if tA {
					ar, ac = s.K, s.M
				}
				br, bc := s.K, s.N
				if tB {
					br, bc = s.N, s.K
				}
				lda, ldb, ldc := ac+3, bc+1, s.N+2
				a := nntest.Randn(r, max(ar*lda, 1))
				b := nntest.Randn(r, max(br*ldb, 1))
				c0 := nntest.Randn(r, s.M*ldc)
				want := append([]float64(nil), c0...)
				naiveGemm(tA, tB, s.M, s.N, s.K, 0.7, a, lda, b, ldb, 0.3, want, ldc)
				for _, p := range []*Pool{nil, pool} {
					got := append([]float64(nil), c0...)
					Gemm(p, tA, tB, s.M, s.N, s.K, 0.7, a, lda, b, ldb, 0.3, got, ldc)
					for i := range got {
						if math.Abs(got[i]-want[i]) > 1e-9*(1+math.Abs(want[i])) {
							t.Fatalf("shape %+v tA=%v tB=%v pool=%v: c[%d]=%v want %v", s, tA, tB, p != nil, i, got[i], want[i])
						}
					}
					g32 := to32(c0)
					Gemm(p, tA, tB, s.M, s.N, s.K, 0.7, to32(a), lda, to32(b), ldb, 0.3, g32, ldc)
					if d := maxAbsDiff32(g32, want); !(d <= 1e-5*math.Sqrt(float64(s.K)+1)) {
						t.Fatalf("float32 shape %+v: max diff %v", s, d)
					}
				}
			}
		}
	}
}

func TestPoolCloseIdempotentAndSerialAfter(t *testing.T) {
	p := NewPool(2)
	p.Close()
	p.Close()
	a := []float64{1, 2, 3, 4}
	c := make([]float64, 4)
	Gemm(p, false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2)
	want := []float64{7, 10, 15, 22}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("after close: %v want %v", c, want)
		}
	}
	var nilPool *Pool
	if nilPool.Size() != 1 {
		t.Fatal("nil pool size")
	}
	nilPool.Close()
}
