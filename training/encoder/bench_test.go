package encoder

import (
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/mlecs/mlecs/training/nn"
)

// BenchmarkImageStep times one forward+backward of a ViT-style image encoder
// (28x28x1, patch 4 -> 49 tokens, width 64, depth 2, batch 32) and reports
// its matmul throughput next to one raw blas32.Gemm of the MLP shape
// measured in the same run (ratio = step GFLOP/s / raw GFLOP/s).
func BenchmarkImageStep(b *testing.B) {
	const B, C, depth = 32, 64, 2
	e, err := NewImage[float32](ImageConfig{Trunk: TrunkConfig{Width: C, Depth: depth, Heads: 4, Latent: 64, MaxBatch: B}, Height: 28, Width: 28, Channels: 1, Patch: 4})
	if err != nil {
		b.Fatal(err)
	}
	pool := nn.NewPool(0)
	defer pool.Close()
	x, dout := make([]float32, B*28*28), make([]float32, B*64)
	for i := range x {
		x[i] = float32(i%17) / 17
	}
	N := B * 49
	// matmul flops: per block qkv 3C^2 + proj C^2 + fc 4C^2 + fc2 4C^2 = 12C^2 per token,
	// attention 2*T*C per token for scores and again for values; stem 16*C; x3 for fwd+bwd.
	perTok := float64(depth)*(12*C*C+4*49*C) + 16*C
	flops := 3 * 2 * perTok * float64(N)
	a, w, c := make([]float32, N*C), make([]float32, 4*C*C), make([]float32, N*4*C)
	start := time.Now()
	for range b.N {
		blas32.Gemm(blas.NoTrans, blas.Trans, 1,
			blas32.General{Rows: N, Cols: C, Stride: C, Data: a},
			blas32.General{Rows: 4 * C, Cols: C, Stride: C, Data: w},
			0, blas32.General{Rows: N, Cols: 4 * C, Stride: 4 * C, Data: c})
	}
	rawGF := 2 * float64(N) * 4 * C * C * float64(b.N) / float64(time.Since(start).Nanoseconds())
	in := Input[float32]{B: B, X: x}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Forward(pool, in); err != nil {
			b.Fatal(err)
		}
		if err := e.Backward(pool, dout); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stepGF := flops * float64(b.N) / float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(stepGF, "step-GFLOP/s")
	b.ReportMetric(rawGF, "raw-GFLOP/s")
	b.ReportMetric(stepGF/rawGF, "ratio-vs-raw")
}
