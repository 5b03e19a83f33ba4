package gpt2

import (
	"context"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/optim"
)

// benchVocab is a restricted vocabulary of the size the tiny/small presets get from a task corpus.
const benchVocab = 4096

// rawGemm runs blas32.Gemm (gonum, with its own internal parallelism) on the model's main products
// for N rows: x·Wᵀ of c_attn, c_fc, mlp c_proj and the lm_head. run does one pass of all four and
// returns their FLOPs.
type rawGemm struct{ mats [][3]blas32.General }

func newRawGemm(c Config, N, Nt int) *rawGemm {
	C, V := c.Channels, c.VocabSize
	shapes := [][3]int{{N, C, 3 * C}, {N, C, 4 * C}, {N, 4 * C, C}, {Nt, C, V}} // rows, in, out
	r := &rawGemm{}
	for _, s := range shapes {
		x := blas32.General{Rows: s[0], Cols: s[1], Stride: s[1], Data: make([]float32, s[0]*s[1])}
		w := blas32.General{Rows: s[2], Cols: s[1], Stride: s[1], Data: make([]float32, s[2]*s[1])}
		y := blas32.General{Rows: s[0], Cols: s[2], Stride: s[2], Data: make([]float32, s[0]*s[2])}
		for j := range x.Data {
			x.Data[j] = float32(j%7) * 0.1
		}
		for j := range w.Data {
			w.Data[j] = float32(j%5) * 0.1
		}
		r.mats = append(r.mats, [3]blas32.General{x, w, y})
	}
	return r
}

func (r *rawGemm) run() float64 {
	var flops float64
	for _, m := range r.mats {
		blas32.Gemm(blas.NoTrans, blas.Trans, 1, m[0], m[1], 0, m[2])
		flops += 2 * float64(m[0].Rows) * float64(m[0].Cols) * float64(m[1].Rows)
	}
	return flops
}

func benchTrainStep(b *testing.B, preset string, role Role) {
	c, err := Preset(preset, role, benchVocab)
	if err != nil {
		b.Fatal(err)
	}
	const B, P = 8, 16
	Tt := c.MaxSeq - P
	for _, mode := range []struct {
		name string
		full bool
	}{{"lora", false}, {"full", true}} {
		b.Run(mode.name, func(b *testing.B) {
			pool := nn.NewPool(0)
			defer pool.Close()
			m, err := New[float32](c, WithMaxBatch(B), WithPool(pool), WithTrainBase(mode.full))
			if err != nil {
				b.Fatal(err)
			}
			m.Init(1)
			params, grads := m.Trainable()
			opt, err := optim.New(len(params), optim.DefaultConfig())
			if err != nil {
				b.Fatal(err)
			}
			ids, targets := make([]int32, B*Tt), make([]int32, B*Tt)
			for i := range ids {
				ids[i], targets[i] = int32(i*7919%c.VocabSize), int32(i*104729%c.VocabSize)
			}
			prefix := make([]float32, B*P*c.Channels)
			for i := range prefix {
				prefix[i] = float32(i%13) * 0.01
			}
			step := func() {
				if _, err := m.Forward(ids, targets, prefix, B); err != nil {
					b.Fatal(err)
				}
				m.ZeroGrad()
				if err := m.Backward(); err != nil {
					b.Fatal(err)
				}
				if err := opt.Step(params, grads); err != nil {
					b.Fatal(err)
				}
			}
			step() // warm up
			flops := float64(StepFLOPs(c, B, P, Tt, mode.full))
			gemm := newRawGemm(c, B*c.MaxSeq, B*Tt)
			gemm.run()
			// The raw Gemm pass runs after every step with the timer stopped (gonum's parallel Gemm
			// allocates, which must not count in allocs/op), so that both rates see the same machine load.
			var rawFlops float64
			var rawTime time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step()
				b.StopTimer()
				t0 := time.Now()
				rawFlops += gemm.run()
				rawTime += time.Since(t0)
				b.StartTimer()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			raw := rawFlops / rawTime.Seconds() / 1e9
			gflops := flops / sec / 1e9
			b.ReportMetric(gflops, "GFLOP/s")
			b.ReportMetric(raw, "gemm-GFLOP/s")
			b.ReportMetric(gflops/raw, "gemm-ratio")
			b.ReportMetric(float64(len(m.Buf)*4), "param-bytes")
			b.ReportMetric(float64(len(m.GradBuf)*4), "grad-bytes")
			b.ReportMetric(float64(ActivationBytes(c, B, 4)), "act-bytes")
		})
	}
}

func BenchmarkTrainStepTinyEdge(b *testing.B)    { benchTrainStep(b, "tiny", Edge) }
func BenchmarkTrainStepTinyAnchor(b *testing.B)  { benchTrainStep(b, "tiny", Anchor) }
func BenchmarkTrainStepSmallEdge(b *testing.B)   { benchTrainStep(b, "small", Edge) }
func BenchmarkTrainStepSmallAnchor(b *testing.B) { benchTrainStep(b, "small", Anchor) }

// BenchmarkGenerateTinyEdge decodes 24 tokens after a 16-token soft prompt and an 8-token prompt with
// merged adapters (the eval path), reporting tokens per second.
func BenchmarkGenerateTinyEdge(b *testing.B) {
	c, err := Preset("tiny", Edge, benchVocab)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New[float32](c)
	if err != nil {
		b.Fatal(err)
	}
	m.Init(1)
	if err := m.Merge(); err != nil {
		b.Fatal(err)
	}
	prefix := make([]float32, 16*c.Channels)
	for i := range prefix {
		prefix[i] = float32(i%11) * 0.01
	}
	prompt := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	s := Sampling{MaxNewTokens: 24, Temperature: 0.8, TopK: 40, Seed: 1}
	ctx := context.Background()
	var n int
	for b.Loop() {
		out, err := m.Generate(ctx, prompt, prefix, s)
		if err != nil {
			b.Fatal(err)
		}
		n += len(out)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
}
