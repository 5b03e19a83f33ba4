package aggregate

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// paperLayout is the shared LoRA of the paper's edge SLM: 36 layers, d=1280, r=8 on attention c_attn
// ([3C, C]) and c_proj ([C, C]), PEFT naming and shapes (lora_A [r, in], lora_B [out, r]).
func paperLayout() []Spec {
	const L, C, r = 36, 1280, 8
	var s []Spec
	for l := range L {
		h := "h." + strconv.Itoa(l) + ".attn."
		s = append(s,
			Spec{h + "c_attn.lora_A.weight", []int{r, C}}, Spec{h + "c_attn.lora_B.weight", []int{3 * C, r}},
			Spec{h + "c_proj.lora_A.weight", []int{r, C}}, Spec{h + "c_proj.lora_B.weight", []int{C, r}})
	}
	return s
}

// onePass reads every value of every contribution once (a sum, so the compiler cannot skip it): the
// floor that any aggregation of these bytes must pay.
// Four independent accumulators keep it memory-bound rather than bound by the latency of one add chain.
func onePass(cs []Contribution) float32 {
	var s0, s1, s2, s3 float32
	for _, c := range cs {
		for _, t := range c.Tensors {
			x := t.Data
			j := 0
			for ; j+4 <= len(x); j += 4 {
				s0 += x[j]
				s1 += x[j+1]
				s2 += x[j+2]
				s3 += x[j+3]
			}
			for ; j < len(x); j++ {
				s0 += x[j]
			}
		}
	}
	return s0 + s1 + s2 + s3
}

// BenchmarkAggregatePaper aggregates 10 edges x the paper-shaped LoRA (2,211,840 values each, 88 MB in
// all) and reports the time against one pass over the same bytes measured in the same run
// (x_one_pass = aggregation time / one-pass time).
func BenchmarkAggregatePaper(b *testing.B) {
	layout := paperLayout()
	cs := randContribs(rand.New(rand.NewPCG(5, 6)), layout, 10, both)
	var n int64
	for _, t := range cs[0].Tensors {
		n += int64(len(t.Data))
	}
	for _, c := range []struct {
		name string
		opt  Option
	}{{"mean", WithMean()}, {"trimmed-mean", WithTrimmedMean(0.2)}, {"median", WithMedian()}} {
		b.Run(c.name, func(b *testing.B) {
			a, err := New(layout, c.opt, WithNormFactor(5), WithSampleFactor(4))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(4 * n * int64(len(cs)))
			start := time.Now()
			for b.Loop() {
				if _, err := a.Aggregate(cs); err != nil {
					b.Fatal(err)
				}
			}
			agg := time.Since(start).Seconds() / float64(b.N)
			reps := 5
			var sink float32
			start = time.Now()
			for range reps {
				sink += onePass(cs)
			}
			pass := time.Since(start).Seconds() / float64(reps)
			if sink == 12345 { // keep sink alive
				b.Log(sink)
			}
			b.ReportMetric(agg/pass, "x_one_pass")
			b.ReportMetric(float64(len(cs)), "edges")
		})
	}
}
