package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// Tile sizes of Gemm. gonum's native Sgemm/Dgemm spawns goroutines (and
// allocates) once C spans >= 4 blocks of 64x64, so every call we make covers
// at most 64x128 of C (2 blocks) and runs serially; the Pool supplies the
// parallelism. K is cut into slabs so a tile's slice of B stays in cache.
const (
	tileM = 64
	tileN = 128
	tileK = 256
)

// Gemm computes C = alpha * op(A) @ op(B) + beta * C where op(A) is [M,K],
// op(B) is [K,N] and C is [M,N], all row-major with row strides lda, ldb, ldc.
// transA means A is stored as [K,M] (op(A) = A^T), transB means B is stored
// as [N,K]. Work is split in tiles of C over the pool.
func Gemm[F Float](p *Pool, transA, transB bool, M, N, K int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	if M <= 0 || N <= 0 {
		return
	}
	var t task
	t.kind = kGemm
	setSlot(&t, 0, a)
	setSlot(&t, 1, b)
	setSlot(&t, 2, c)
	t.n = [10]int{M, N, K, lda, ldb, ldc, b2i(transA), b2i(transB)}
	t.f[0], t.f[1] = float64(alpha), float64(beta)
	tiles := ((M + tileM - 1) / tileM) * ((N + tileN - 1) / tileN)
	p.run(&t, tiles, 1)
}

// gemmTiles computes tiles [lo,hi) of C (tiles numbered row-major).
func gemmTiles[F Float](transA, transB bool, M, N, K int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int, lo, hi int) {
	nt := (N + tileN - 1) / tileN
	for tile := lo; tile < hi; tile++ {
		i0, j0 := (tile/nt)*tileM, (tile%nt)*tileN
		mt, ntt := min(tileM, M-i0), min(tileN, N-j0)
		if K <= 0 {
			for i := range mt {
				row := c[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+ntt]
				for j := range row {
					row[j] *= beta
				}
			}
			continue
		}
		for k0 := 0; k0 < K; k0 += tileK {
			kt := min(tileK, K-k0)
			bt := beta
			if k0 > 0 {
				bt = 1
			}
			var as, bs []F
			if transA {
				as = a[k0*lda+i0:]
			} else {
				as = a[i0*lda+k0:]
			}
			if transB {
				bs = b[j0*ldb+k0:]
			} else {
				bs = b[k0*ldb+j0:]
			}
			gemmBlas(transA, transB, mt, ntt, kt, alpha, as, lda, bs, ldb, bt, c[i0*ldc+j0:], ldc)
		}
	}
}

// gemmBlas is the one place that dispatches to blas32 or blas64.
func gemmBlas[F Float](transA, transB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	tA, tB := blas.NoTrans, blas.NoTrans
	ar, ac := m, k
	if transA {
		tA, ar, ac = blas.Trans, k, m
	}
	br, bc := k, n
	if transB {
		tB, br, bc = blas.Trans, n, k
	}
	if is64[F]() {
		blas64.Gemm(tA, tB, float64(alpha),
			blas64.General{Rows: ar, Cols: ac, Stride: lda, Data: as64(a)},
			blas64.General{Rows: br, Cols: bc, Stride: ldb, Data: as64(b)},
			float64(beta), blas64.General{Rows: m, Cols: n, Stride: ldc, Data: as64(c)})
		return
	}
	blas32.Gemm(tA, tB, float32(alpha),
		blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: as32(a)},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: as32(b)},
		float32(beta), blas32.General{Rows: m, Cols: n, Stride: ldc, Data: as32(c)})
}

// colSumRange adds the column sums of inp [N,C] to out [C] for columns [lo,hi).
func colSumRange[F Float](out, inp []F, N, C, lo, hi int) {
	for n := range N {
		row := inp[n*C+lo : n*C+hi]
		o := out[lo:hi]
		for i, v := range row {
			o[i] += v
		}
	}
}

// ColSum adds the column sums of inp [N,C] to out [C] (out += 1^T inp).
func ColSum[F Float](p *Pool, out, inp []F, N, C int) {
	var t task
	t.kind = kColSum
	setSlot(&t, 0, out)
	setSlot(&t, 1, inp)
	t.n[0], t.n[1] = N, C
	p.run(&t, C, 64)
}
