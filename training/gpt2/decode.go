package gpt2

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mlecs/mlecs/training/nn"
)

// Sampling configures Generate. The zero value is greedy decoding with no end token.
type Sampling struct {
	MaxNewTokens int     // generate at most this many tokens (also bounded by MaxSeq)
	Temperature  float64 // <= 0: greedy (argmax); else sample from softmax(logits/Temperature)
	TopK         int     // > 0: sample among the TopK most likely tokens only
	EndTokens    []int32 // stop when one of them is produced; it is not returned
	Seed         uint64  // seeds the PCG sampler: equal inputs and seed give equal outputs
}

func (s Sampling) validate() error {
	if s.MaxNewTokens < 0 {
		return fmt.Errorf("%w: MaxNewTokens %d < 0", ErrConfig, s.MaxNewTokens)
	}
	if s.TopK < 0 {
		return fmt.Errorf("%w: TopK %d < 0", ErrConfig, s.TopK)
	}
	if math.IsNaN(s.Temperature) || math.IsInf(s.Temperature, 0) {
		return fmt.Errorf("%w: Temperature %v", ErrConfig, s.Temperature)
	}
	return nil
}

// kvCache holds the keys and values of one sequence for single-token decoding, plus the scratch of a
// step over up to MaxSeq new positions (the prefill). Allocated once, on the first Generate.
type kvCache[F nn.Float] struct {
	k, v      []F // [L, maxT, C]
	n         int // positions filled
	x, ln     []F // [maxT, C] residual stream, LayerNorm output
	qkv       []F // [maxT, 3C]
	atty, tmp []F // [maxT, C]
	fch, fchG []F // [maxT, 4C]
	h         []F // [maxT, r] LoRA hidden
	mean      []F // [maxT]
	rstd      []F // [maxT]
	scores    []F // [maxT]
	logits    []F // [V]
	bias      []F // [V] logit bias of the current Generate, or nil
	sorted    []float64
}

func newKVCache[F nn.Float](c Config) *kvCache[F] {
	T, C, L := c.MaxSeq, c.Channels, c.NumLayers
	return &kvCache[F]{
		k: make([]F, L*T*C), v: make([]F, L*T*C),
		x: make([]F, T*C), ln: make([]F, T*C), qkv: make([]F, T*3*C), atty: make([]F, T*C), tmp: make([]F, T*C),
		fch: make([]F, T*4*C), fchG: make([]F, T*4*C), h: make([]F, T*max(c.LoRARank, 1)),
		mean: make([]F, T), rstd: make([]F, T), scores: make([]F, T), logits: make([]F, c.VocabSize),
		sorted: make([]float64, c.VocabSize),
	}
}

// step appends n positions whose input embeddings (token or soft prompt, without positions) are in
// kc.x[:n*C] and leaves the logits of the last of them in kc.logits.
func (m *Model[F]) step(kc *kvCache[F], n int) {
	c, p := m.cfg, m.pool
	C, NH, V, T := c.Channels, c.NumHeads, c.VocabSize, c.MaxSeq
	hs := C / NH
	pos0 := kc.n
	scale := F(c.LoRAScale())
	attScale := 1 / math.Sqrt(float64(hs))
	x := kc.x[:n*C]
	nn.PositionForward(x, m.Base.Wpe, 1, n, C, pos0)
	for l := range c.NumLayers {
		ln, mean, rstd := kc.ln[:n*C], kc.mean[:n], kc.rstd[:n]
		nn.LayerNormForward(p, ln, mean, rstd, x, layerSlice(m.Base.LN1W, l, C), layerSlice(m.Base.LN1B, l, C), n, C)
		qp := m.proj(projQKV, l)
		qp.forward(p, kc.qkv[:n*3*C], kc.h, ln, n, scale, m.merged)
		kl, vl := kc.k[l*T*C:(l+1)*T*C], kc.v[l*T*C:(l+1)*T*C]
		for i := range n {
			row := kc.qkv[i*3*C : (i+1)*3*C]
			copy(kl[(pos0+i)*C:(pos0+i+1)*C], row[C:2*C])
			copy(vl[(pos0+i)*C:(pos0+i+1)*C], row[2*C:])
		}
		// Causal attention of each new position over the cache (keys 0..pos).
		for i := range n {
			keys := pos0 + i + 1
			q := kc.qkv[i*3*C : i*3*C+C]
			out := kc.atty[i*C : (i+1)*C]
			clear(out)
			for h := range NH {
				qh := q[h*hs : (h+1)*hs]
				sc := kc.scores[:keys]
				mx := math.Inf(-1)
				for t := range keys {
					var d float64
					for j, kv := range kl[t*C+h*hs : t*C+(h+1)*hs] {
						d += float64(qh[j] * kv)
					}
					d *= attScale
					sc[t] = F(d)
					mx = max(mx, d)
				}
				var sum float64
				for t := range keys {
					e := math.Exp(float64(sc[t]) - mx)
					sc[t] = F(e)
					sum += e
				}
				oh := out[h*hs : (h+1)*hs]
				for t := range keys {
					w := F(float64(sc[t]) / sum)
					for j, vv := range vl[t*C+h*hs : t*C+(h+1)*hs] {
						oh[j] += w * vv
					}
				}
			}
		}
		ap := m.proj(projAttProj, l)
		ap.forward(p, kc.tmp[:n*C], kc.h, kc.atty[:n*C], n, scale, m.merged)
		nn.ResidualForward(x, x, kc.tmp[:n*C], n*C)
		nn.LayerNormForward(p, ln, mean, rstd, x, layerSlice(m.Base.LN2W, l, C), layerSlice(m.Base.LN2B, l, C), n, C)
		fc := m.proj(projFC, l)
		fc.forward(p, kc.fch[:n*4*C], kc.h, ln, n, scale, m.merged)
		nn.GELUForward(p, kc.fchG[:n*4*C], kc.fch[:n*4*C], n*4*C)
		fp := m.proj(projFCProj, l)
		fp.forward(p, kc.tmp[:n*C], kc.h, kc.fchG[:n*4*C], n, scale, m.merged)
		nn.ResidualForward(x, x, kc.tmp[:n*C], n*C)
	}
	last := x[(n-1)*C : n*C]
	nn.LayerNormForward(nil, kc.ln[:C], kc.mean[:1], kc.rstd[:1], last, m.Base.LNFW, m.Base.LNFB, 1, C)
	nn.LinearForward(p, kc.logits, kc.ln[:C], m.Base.Wte, nil, 1, C, V)
	for v, x := range kc.bias {
		kc.logits[v] += x
	}
	kc.n += n
}

// Generate continues prompt (after the optional soft prompt prefix [P,C]) and returns the new tokens.
// It decodes one token per step with a KV cache (no recomputation of earlier positions) and stops at
// an end token, after MaxNewTokens, or when the sequence reaches MaxSeq. It works on merged and unmerged
// adapters (Merge first for speed). The model's cache is reused, so calls must not overlap.
func (m *Model[F]) Generate(ctx context.Context, prompt []int32, prefix []F, s Sampling) ([]int32, error) {
	return m.GenerateBias(ctx, prompt, prefix, nil, s)
}

// GenerateBias is Generate with a logit bias [V] (or nil) added at every step, as ForwardBias adds it.
func (m *Model[F]) GenerateBias(ctx context.Context, prompt []int32, prefix, bias []F, s Sampling) ([]int32, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	c := m.cfg
	C := c.Channels
	if bias != nil && len(bias) != c.VocabSize {
		return nil, fmt.Errorf("%w: bias of %d values, want %d", ErrShape, len(bias), c.VocabSize)
	}
	if len(prefix)%C != 0 {
		return nil, fmt.Errorf("%w: prefix of %d values is not [P,%d]", ErrShape, len(prefix), C)
	}
	P := len(prefix) / C
	start := P + len(prompt)
	if start == 0 {
		return nil, fmt.Errorf("%w: empty prompt and prefix", ErrShape)
	}
	if start > c.MaxSeq {
		return nil, fmt.Errorf("%w: prefix %d + prompt %d exceeds MaxSeq %d", ErrShape, P, len(prompt), c.MaxSeq)
	}
	if m.cache == nil {
		m.cache = newKVCache[F](c)
	}
	kc := m.cache
	kc.n, kc.bias = 0, bias
	defer func() { kc.bias = nil }()
	copy(kc.x, prefix)
	if err := nn.EmbeddingForward(kc.x[P*C:], prompt, m.Base.Wte, len(prompt), C); err != nil {
		return nil, fmt.Errorf("gpt2 generate: prompt: %w", err)
	}
	m.step(kc, start)
	rng := rand.New(rand.NewPCG(s.Seed, 0x6a09e667f3bcc909))
	out := make([]int32, 0, min(s.MaxNewTokens, c.MaxSeq-start))
	for len(out) < s.MaxNewTokens {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("gpt2 generate: %w", err)
		}
		tok := m.pick(kc, s, rng)
		if slices.Contains(s.EndTokens, tok) {
			break
		}
		out = append(out, tok)
		if kc.n >= c.MaxSeq || len(out) == s.MaxNewTokens {
			break
		}
		copy(kc.x[:C], m.Base.Wte[int(tok)*C:(int(tok)+1)*C])
		m.step(kc, 1)
	}
	return out, nil
}

// pick chooses the next token from kc.logits: argmax when greedy, else a temperature/top-k sample.
func (m *Model[F]) pick(kc *kvCache[F], s Sampling, rng *rand.Rand) int32 {
	lg := kc.logits
	best := 0
	for i, x := range lg {
		if x > lg[best] {
			best = i
		}
	}
	if s.Temperature <= 0 {
		return int32(best)
	}
	// Threshold at the k-th largest logit (ties at the threshold are all kept, deterministically).
	thr := math.Inf(-1)
	if s.TopK > 0 && s.TopK < len(lg) {
		sv := kc.sorted[:len(lg)]
		for i, x := range lg {
			sv[i] = float64(x)
		}
		slices.Sort(sv)
		thr = sv[len(sv)-s.TopK]
	}
	mx := float64(lg[best])
	var z float64
	for _, x := range lg {
		if float64(x) >= thr {
			z += math.Exp((float64(x) - mx) / s.Temperature)
		}
	}
	u := rng.Float64() * z
	var acc float64
	last := best
	for i, x := range lg {
		if float64(x) < thr {
			continue
		}
		acc += math.Exp((float64(x) - mx) / s.Temperature)
		last = i
		if acc > u {
			return int32(i)
		}
	}
	return int32(last)
}
