package gpt2

import (
	"context"
	"math"
	"slices"
	"testing"
)

// greedyRecompute decodes greedily by running the full Forward on the whole sequence for every token.
func greedyRecompute(t *testing.T, m *Model[float64], prompt []int32, prefix, bias []float64, n int) ([]int32, [][]float64) {
	t.Helper()
	seq := slices.Clone(prompt)
	var out []int32
	var logits [][]float64
	V := m.cfg.VocabSize
	for range n {
		if _, err := m.ForwardBias(seq, nil, prefix, bias, 1); err != nil {
			t.Fatal(err)
		}
		lg := m.Logits()
		last := slices.Clone(lg[len(lg)-V:])
		logits = append(logits, last)
		best := 0
		for i, x := range last {
			if x > last[best] {
				best = i
			}
		}
		out = append(out, int32(best))
		seq = append(seq, int32(best))
	}
	return out, logits
}

func TestKVCacheEqualsRecompute(t *testing.T) {
	for _, tc := range []struct{ merged, biased bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		merged := tc.merged
		c := checkConfig(true)
		c.MaxSeq = 16
		m, err := New[float64](c)
		if err != nil {
			t.Fatal(err)
		}
		randomize(m, 9)
		prefix := randomBatch(c, 1, 2, 3, 10).prefix
		prompt := []int32{3, 1, 4}
		var bias []float64
		if tc.biased {
			bias = randNormal(c.VocabSize, 11)
		}
		// The last token is predicted from a full context of MaxSeq positions and never fed back.
		n := c.MaxSeq - 3 - len(prompt) + 1
		want, wantLogits := greedyRecompute(t, m, prompt, prefix, bias, n)
		if merged {
			if err := m.Merge(); err != nil {
				t.Fatal(err)
			}
		}
		got, err := m.GenerateBias(context.Background(), prompt, prefix, bias, Sampling{MaxNewTokens: 100})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%+v: cached decoding %v, recompute %v", tc, got, want)
		}
		// The cached logits of every step equal the recomputed ones: with MaxNewTokens k the cache ends
		// holding the logits that chose token k.
		var worst float64
		for k := 1; k <= n; k++ {
			if _, err := m.GenerateBias(context.Background(), prompt, prefix, bias, Sampling{MaxNewTokens: k}); err != nil {
				t.Fatal(err)
			}
			for i, x := range m.cache.logits {
				worst = math.Max(worst, math.Abs(x-wantLogits[k-1][i]))
			}
		}
		t.Logf("%+v: %d tokens, max logit difference %.1e", tc, n, worst)
		if worst > 1e-9 {
			t.Errorf("%+v: cached logits differ from recompute by %g", tc, worst)
		}
	}
}

func TestGenerateSampling(t *testing.T) {
	c := checkConfig(false)
	c.MaxSeq = 32
	m, err := New[float32](c)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	ctx := context.Background()
	s := Sampling{MaxNewTokens: 20, Temperature: 1.5, TopK: 5, Seed: 42}
	a, err := m.Generate(ctx, []int32{1, 2}, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Generate(ctx, []int32{1, 2}, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) || len(a) != 20 {
		t.Fatalf("same seed gave %v and %v", a, b)
	}
	s.Seed = 43
	d, err := m.Generate(ctx, []int32{1, 2}, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a, d) {
		t.Errorf("seeds 42 and 43 gave the same 20 tokens %v", a)
	}
	// An end token stops generation and is not returned.
	s.EndTokens = []int32{a[3]}
	s.Seed = 42
	e, err := m.Generate(ctx, []int32{1, 2}, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(a, a[3]); !slices.Equal(e, a[:i]) {
		t.Errorf("with end token %d got %v, want %v", a[3], e, a[:i])
	}
	// Top-1 sampling is greedy.
	g1, err1 := m.Generate(ctx, []int32{1, 2}, nil, Sampling{MaxNewTokens: 10, Temperature: 1, TopK: 1, Seed: 5})
	g0, err0 := m.Generate(ctx, []int32{1, 2}, nil, Sampling{MaxNewTokens: 10})
	if err1 != nil || err0 != nil || len(g0) == 0 {
		t.Fatalf("greedy/top-1 generate: %v, %v, %d tokens", err1, err0, len(g0))
	}
	if !slices.Equal(g0, g1) {
		t.Errorf("top-1 sample %v differs from greedy %v", g1, g0)
	}
	// Bad inputs are errors, not panics.
	for name, tc := range map[string]struct {
		prompt []int32
		prefix []float32
		s      Sampling
	}{
		"empty":        {nil, nil, Sampling{MaxNewTokens: 1}},
		"bad token":    {[]int32{int32(c.VocabSize)}, nil, Sampling{MaxNewTokens: 1}},
		"ragged":       {[]int32{1}, make([]float32, c.Channels+1), Sampling{MaxNewTokens: 1}},
		"too long":     {make([]int32, c.MaxSeq+1), nil, Sampling{MaxNewTokens: 1}},
		"negative max": {[]int32{1}, nil, Sampling{MaxNewTokens: -1}},
		"nan temp":     {[]int32{1}, nil, Sampling{MaxNewTokens: 1, Temperature: math.NaN()}},
	} {
		if _, err := m.Generate(ctx, tc.prompt, tc.prefix, tc.s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Generate(cctx, []int32{1}, nil, Sampling{MaxNewTokens: 5}); err == nil {
		t.Error("cancelled context: no error")
	}
}
