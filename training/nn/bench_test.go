package nn

import (
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/mlecs/mlecs/training/nn/nntest"
)

func randf32(seed uint64, n int) []float32 { return to32(nntest.Randn(newRNG(seed), n)) }

// TestSteadyStateNoAllocs asserts that the hot ops allocate nothing once
// buffers exist, with and without a pool.
func TestSteadyStateNoAllocs(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	B, T, C, NH, V := 2, 64, 64, 4, 100
	N := B * T
	x, w, bias := randf32(1, N*C), randf32(2, 3*C*C), randf32(3, 3*C)
	qkv, dqkv := make([]float32, N*3*C), make([]float32, N*3*C)
	out, dout, dx := make([]float32, N*C), randf32(4, N*C), make([]float32, N*C)
	dw, db := make([]float32, 3*C*C), make([]float32, 3*C)
	mean, rstd, lnw, lnb := make([]float32, N), make([]float32, N), randf32(5, C), randf32(6, C)
	att, datt := make([]float32, B*NH*T*T), make([]float32, B*NH*T*T)
	logits, losses := randf32(7, N*V), make([]float32, N)
	targets := make([]int32, N)
	valid := []int32{64, 40}
	for _, p := range []*Pool{nil, pool} {
		allocs := testing.AllocsPerRun(5, func() {
			LinearForward(p, qkv, x, w, bias, N, C, 3*C)
			LinearBackward(p, dx, dw, db, dqkv, x, w, N, C, 3*C)
			LayerNormForward(p, out, mean, rstd, x, lnw, lnb, N, C)
			LayerNormBackward(p, dx, dw[:C], db[:C], dout, x, lnw, mean, rstd, N, C)
			AttentionForward(p, out, nil, att, qkv, valid, B, T, C, NH, true)
			AttentionBackward(p, dqkv, datt, dout, qkv, att, B, T, C, NH)
			GELUForward(p, out, x, N*C)
			GELUBackward(p, dx, x, dout, N*C)
			_, _, _ = CrossEntropyForward(p, logits, losses, logits, targets, N, V, -1)
			_ = CrossEntropyBackward(p, logits, logits, targets, N, V, -1, 1)
		})
		if allocs != 0 {
			t.Errorf("pool=%v: %v allocs per forward+backward", p != nil, allocs)
		}
	}
}

// GPT-2 small MLP shape: [B*T=256, 768] @ [3072, 768]^T.
const benchM, benchN, benchK = 256, 3072, 768

// BenchmarkGemm compares our tiled Gemm on the pool with one raw
// blas32.Gemm call (gonum's own goroutine-parallel kernel) on the same shape,
// and reports the throughput ratio ours/raw measured in the same run.
func BenchmarkGemm(b *testing.B) {
	a, w := randf32(1, benchM*benchK), randf32(2, benchN*benchK)
	c := make([]float32, benchM*benchN)
	raw := func() {
		blas32.Gemm(blas.NoTrans, blas.Trans, 1,
			blas32.General{Rows: benchM, Cols: benchK, Stride: benchK, Data: a},
			blas32.General{Rows: benchN, Cols: benchK, Stride: benchK, Data: w},
			0, blas32.General{Rows: benchM, Cols: benchN, Stride: benchN, Data: c})
	}
	pool := NewPool(0)
	defer pool.Close()
	ours := func() { Gemm(pool, false, true, benchM, benchN, benchK, 1, a, benchK, w, benchK, 0, c, benchN) }
	flops := 2 * float64(benchM) * float64(benchN) * float64(benchK)
	// measure raw first, in the same run and over as many calls, to report
	// the ratio (ResetTimer then drops its time and allocations)
	start := time.Now()
	for range b.N {
		raw()
	}
	rawNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ours()
	}
	b.StopTimer()
	oursNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(flops/oursNs, "GFLOP/s")
	b.ReportMetric(flops/rawNs, "raw-GFLOP/s")
	b.ReportMetric(rawNs/oursNs, "speedup-vs-raw")
}

func benchLayer(b *testing.B, p *Pool) {
	B, T, C, NH := 4, 64, 256, 4
	N := B * T
	x, w, bias := randf32(1, N*C), randf32(2, 3*C*C), randf32(3, 3*C)
	qkv, dqkv := make([]float32, N*3*C), make([]float32, N*3*C)
	out, dout, dx := make([]float32, N*C), randf32(4, N*C), make([]float32, N*C)
	dw, db := make([]float32, 3*C*C), make([]float32, 3*C)
	mean, rstd, lnw, lnb := make([]float32, N), make([]float32, N), randf32(5, C), randf32(6, C)
	att, datt := make([]float32, B*NH*T*T), make([]float32, B*NH*T*T)
	b.ReportAllocs()
	for b.Loop() {
		LayerNormForward(p, out, mean, rstd, x, lnw, lnb, N, C)
		LinearForward(p, qkv, out, w, bias, N, C, 3*C)
		AttentionForward(p, out, nil, att, qkv, nil, B, T, C, NH, true)
		AttentionBackward(p, dqkv, datt, dout, qkv, att, B, T, C, NH)
		LinearBackward(p, dx, dw, db, dqkv, out, w, N, C, 3*C)
		LayerNormBackward(p, dx, dw[:C], db[:C], dout, x, lnw, mean, rstd, N, C)
	}
}

// BenchmarkLayerSerial and BenchmarkLayerPool run LayerNorm + Linear +
// attention forward and backward (allocs/op must be 0).
func BenchmarkLayerSerial(b *testing.B) { benchLayer(b, nil) }

func BenchmarkLayerPool(b *testing.B) {
	p := NewPool(0)
	defer p.Close()
	benchLayer(b, p)
}
