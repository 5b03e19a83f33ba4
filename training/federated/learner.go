package federated

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/optim"
	"github.com/mlecs/mlecs/training/payload"
)

// TrainConfig are the optimisation settings of one side (edge or anchor).
type TrainConfig struct {
	Batch       int     // examples per step (<= the model's MaxBatch)
	LR          float64 // AdamW learning rate of every group
	GateLR      float64 // AMT gate logits; 0: 10 x LR (a scalar per layer needs larger steps to move in a round)
	WeightDecay float64
	Clip        float64 // global gradient-norm clip over every group; <= 0 disables
	SECCLWeight float64 // weight of the SE-CCL alignment loss
	SECCLTau    float64 // its temperature
	Seed        uint64  // data order, projection init
}

func (c TrainConfig) validate(maxBatch int) error {
	switch {
	case c.Batch < 1 || c.Batch > maxBatch:
		return fmt.Errorf("%w: batch %d not in [1,%d]", ErrConfig, c.Batch, maxBatch)
	case !(c.LR > 0) || c.GateLR < 0 || c.WeightDecay < 0 || math.IsNaN(c.Clip):
		return fmt.Errorf("%w: lr %v, gate lr %v, weight decay %v, clip %v", ErrConfig, c.LR, c.GateLR, c.WeightDecay, c.Clip)
	case c.SECCLWeight < 0 || c.SECCLTau < 0 || (c.SECCLWeight > 0 && !(c.SECCLTau > 0)):
		return fmt.Errorf("%w: SE-CCL weight %v, tau %v (> 0 when the weight is)", ErrConfig, c.SECCLWeight, c.SECCLTau)
	}
	return nil
}

// param is one optimised parameter group.
type param struct {
	name     string
	p, g     []float32
	opt      *optim.AdamW
	optimize bool
}

// learner is a model with its optimisers, an optional AMT and an SE-CCL aligner: the training machinery
// shared by Edge and Anchor.
type learner struct {
	cfg    TrainConfig
	m      *model.Model[float32]
	lm     *gpt2.Model[float32]
	amt    *gpt2.AMT[float32] // nil: the backbone's adapters are trained as one LoRA
	params []param
	al     *Aligner[float32] // created at the first SE-CCL step, for the target width
	alOpt  *optim.AdamW      // its projection's optimiser (nil without a projection)
	rng    *rand.Rand

	prox      []float32 // FedProx centre (the round's global shared LoRA); nil: off
	proxMu    float32
	alpha     float64   // FedMKT distillation weight on steps with teachers (0: off)
	dlogits   []float32 // the distillation's logits gradient, grown to the largest pass
	rep, drep []float32 // [MaxBatch, C] prefix means and their gradient
	zc, tc    []float32 // compact rows with a target
	dzc       []float32
}

func newLearner(cfg TrainConfig, m *model.Model[float32], amt bool) (*learner, error) {
	mc := m.Config()
	if err := cfg.validate(mc.MaxBatch); err != nil {
		return nil, err
	}
	if cfg.GateLR == 0 {
		cfg.GateLR = 10 * cfg.LR
	}
	l := &learner{cfg: cfg, m: m, lm: m.Backbone(), rng: rand.New(rand.NewPCG(cfg.Seed, 0xFED))}
	if amt {
		a, err := gpt2.NewAMT(l.lm)
		if err != nil {
			return nil, fmt.Errorf("AMT: %w", err)
		}
		a.Init(mc.Seed + 29)
		l.amt = a
	}
	for _, g := range m.Groups() {
		if g.Name == "lora" && amt {
			continue
		}
		l.params = append(l.params, param{name: g.Name, p: g.Params, g: g.Grads})
	}
	if l.amt != nil {
		l.params = append(l.params, param{name: "amt/private", p: l.amt.PrivateBuf, g: l.amt.GradPrivateBuf},
			param{name: "amt/shared", p: l.amt.SharedBuf, g: l.amt.GradSharedBuf},
			param{name: "amt/gate", p: l.amt.Gate, g: l.amt.GradGate})
	}
	for i := range l.params {
		if err := l.initOpt(&l.params[i]); err != nil {
			return nil, err
		}
	}
	C, MB := mc.Backbone.Channels, mc.MaxBatch
	l.rep, l.drep, l.zc, l.dzc = make([]float32, MB*C), make([]float32, MB*C), make([]float32, MB*C), make([]float32, MB*C)
	return l, nil
}

func (l *learner) initOpt(p *param) error {
	oc := optim.DefaultConfig()
	oc.LR, oc.WeightDecay = l.cfg.LR, l.cfg.WeightDecay
	if p.name == "amt/gate" {
		oc.LR, oc.WeightDecay = l.cfg.GateLR, 0
	}
	if len(p.p) == 0 {
		return nil
	}
	o, err := optim.New(len(p.p), oc)
	if err != nil {
		return fmt.Errorf("optimiser %s: %w", p.name, err)
	}
	p.opt, p.optimize = o, true
	return nil
}

// shared is the flat shared LoRA (the AMT shared branch, or the whole adapter) and its config.
func (l *learner) shared() ([]float32, gpt2.Config) {
	if l.amt != nil {
		return l.amt.SharedBuf, l.amt.BranchConfig()
	}
	return l.lm.AdapterBuf(), l.lm.Config()
}

func (l *learner) sharedGrad() []float32 {
	if l.amt != nil {
		return l.amt.GradSharedBuf
	}
	return l.lm.AdapterGrad()
}

// ready packs the AMT branches into the backbone (after any change to them).
func (l *learner) ready() error {
	if l.amt == nil {
		return nil
	}
	return l.amt.Pack()
}

// stepStats are the losses of one step; distilled says whether the step had teachers (kd is their KL).
type stepStats struct {
	total, gen, ccl, align, kd float64
	distilled                  bool
}

// step runs one optimiser step on batch. targets[b] is the representation row sample b is aligned to
// (nil: none); SE-CCL runs over the rows that have one when at least two do. teach[b] are sample b's
// teacher distributions per target position (nil: none); with teach non-nil and distillation on, the
// generation loss becomes (1−α)·CE + α·KL(teacher || student) (model.Distill).
func (l *learner) step(batch []model.Example, targets [][]float32, teach [][]model.Dist) (stepStats, error) {
	if err := l.ready(); err != nil {
		return stepStats{}, err
	}
	l.m.ZeroGrad()
	if l.amt != nil {
		l.amt.ZeroGrad()
	}
	if l.al != nil {
		l.al.ZeroGrad()
	}
	ls, err := l.m.Forward(batch)
	if err != nil {
		return stepStats{}, fmt.Errorf("forward: %w", err)
	}
	st := stepStats{total: float64(ls.Total), gen: float64(ls.Gen), ccl: float64(ls.CCL)}
	var dlogits []float32
	if teach != nil && l.alpha > 0 {
		n := len(l.lm.Logits())
		if cap(l.dlogits) < n {
			l.dlogits = make([]float32, n)
		}
		dlogits = l.dlogits[:n]
		d, err := l.m.Distill(dlogits, teach, l.alpha)
		if err != nil {
			return stepStats{}, err
		}
		// the distillation replaces the generation term; the CCL term stays as Forward weighted it
		st.total += d.Total - float64(ls.Gen)
		st.gen, st.kd, st.distilled = d.Gen, d.KL, d.NKL > 0
	}
	if targets != nil && l.cfg.SECCLWeight > 0 {
		a, err := l.alignGrad(batch, targets)
		if err != nil {
			return stepStats{}, err
		}
		st.align = a
		st.total += l.cfg.SECCLWeight * a
	}
	backward := l.m.Backward
	if dlogits != nil {
		backward = func() error { return l.m.BackwardLogits(dlogits) }
	}
	if err := backward(); err != nil {
		return stepStats{}, fmt.Errorf("backward: %w", err)
	}
	if l.amt != nil {
		l.amt.AccumulateGrads()
	}
	if l.prox != nil && l.proxMu > 0 { // FedProx: d/dw μ/2 ||w - w_g||² = μ (w - w_g)
		w, _ := l.shared()
		gr := l.sharedGrad()
		for i := range gr {
			gr[i] += l.proxMu * (w[i] - l.prox[i])
		}
	}
	grads := make([][]float32, 0, len(l.params)+1)
	for _, p := range l.params {
		grads = append(grads, p.g)
	}
	if l.al != nil && l.al.G != nil {
		grads = append(grads, l.al.G)
	}
	if l.cfg.Clip > 0 {
		optim.ClipGradNorm(l.cfg.Clip, grads...)
	}
	for _, p := range l.params {
		if !p.optimize {
			continue
		}
		if err := p.opt.Step(p.p, p.g); err != nil {
			return stepStats{}, fmt.Errorf("optimiser %s: %w", p.name, err)
		}
	}
	if l.al != nil && l.al.G != nil {
		if err := l.alOpt.Step(l.al.W, l.al.G); err != nil {
			return stepStats{}, fmt.Errorf("optimiser SE-CCL projection: %w", err)
		}
	}
	return st, nil
}

// alignGrad computes the SE-CCL loss of the batch rows that have a target and queues its gradient on the
// backbone's prefix mean (the representation), so the next Backward carries it into the connector and
// the encoders.
func (l *learner) alignGrad(batch []model.Example, targets [][]float32) (float64, error) {
	B, C := len(batch), l.lm.Config().Channels
	if len(targets) != B {
		return 0, fmt.Errorf("%w: %d alignment targets for %d examples", ErrConfig, len(targets), B)
	}
	var rows []int
	dt := 0
	for b, t := range targets {
		if t == nil {
			continue
		}
		if dt == 0 {
			dt = len(t)
		}
		if len(t) != dt || dt == 0 {
			return 0, fmt.Errorf("%w: sample %q: target representation of width %d, others %d", ErrPayload, batch[b].ID, len(t), dt)
		}
		rows = append(rows, b)
	}
	n := len(rows)
	if n < 2 { // InfoNCE needs a negative
		return 0, nil
	}
	if l.al == nil || l.al.dt != dt {
		al, err := NewAligner[float32](C, dt, l.m.Config().MaxBatch, l.cfg.SECCLTau, l.cfg.Seed+3)
		if err != nil {
			return 0, err
		}
		l.al, l.alOpt = al, nil
		if al.W != nil {
			oc := optim.DefaultConfig()
			oc.LR, oc.WeightDecay = l.cfg.LR, l.cfg.WeightDecay
			if l.alOpt, err = optim.New(len(al.W), oc); err != nil {
				return 0, fmt.Errorf("optimiser SE-CCL projection: %w", err)
			}
		}
	}
	if err := l.lm.PrefixMean(l.rep[:B*C]); err != nil {
		return 0, err
	}
	if cap(l.tc) < n*dt {
		l.tc = make([]float32, l.m.Config().MaxBatch*dt)
	}
	zc, tc, dzc := l.zc[:n*C], l.tc[:n*dt], l.dzc[:n*C]
	for i, b := range rows {
		copy(zc[i*C:(i+1)*C], l.rep[b*C:(b+1)*C])
		copy(tc[i*dt:(i+1)*dt], targets[b])
	}
	loss, err := l.al.Forward(zc, tc, n)
	if err != nil {
		return 0, err
	}
	if err := l.al.Backward(dzc, float32(l.cfg.SECCLWeight)); err != nil {
		return 0, err
	}
	d := l.drep[:B*C]
	clear(d)
	for i, b := range rows {
		copy(d[b*C:(b+1)*C], dzc[i*C:(i+1)*C])
	}
	if err := l.lm.AddPrefixMeanGrad(d); err != nil {
		return 0, err
	}
	return float64(loss), nil
}

// reps computes the fused representations (prefix means) of examples, keyed by their ids.
func (l *learner) reps(ctx context.Context, exs []model.Example) (payload.Reps, error) {
	if err := l.ready(); err != nil {
		return payload.Reps{}, err
	}
	C, MB := l.lm.Config().Channels, l.m.Config().MaxBatch
	r := payload.Reps{Dim: C, IDs: make([]string, len(exs)), Data: make([]float32, len(exs)*C)}
	if len(exs) == 0 {
		r.Dim = 0
		return r, nil
	}
	for i := 0; i < len(exs); i += MB {
		if err := ctx.Err(); err != nil {
			return payload.Reps{}, fmt.Errorf("representations: %w", err)
		}
		batch := exs[i:min(i+MB, len(exs))]
		if _, err := l.m.Forward(batch); err != nil {
			return payload.Reps{}, fmt.Errorf("representations: %w", err)
		}
		if err := l.lm.PrefixMean(r.Data[i*C : (i+len(batch))*C]); err != nil {
			return payload.Reps{}, err
		}
		for j := range batch {
			r.IDs[i+j] = batch[j].ID
		}
	}
	return r, nil
}

// predict generates the targets of the first n examples (the SLM predictions of SE-CCL).
func (l *learner) predict(ctx context.Context, exs []model.Example, n int) ([]payload.Prediction, error) {
	exs = exs[:min(n, len(exs))]
	if len(exs) == 0 {
		return nil, nil
	}
	if err := l.ready(); err != nil {
		return nil, err
	}
	MB := l.m.Config().MaxBatch
	out := make([]payload.Prediction, 0, len(exs))
	for i := 0; i < len(exs); i += MB {
		batch := exs[i:min(i+MB, len(exs))]
		toks, err := l.m.Generate(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("predictions: %w", err)
		}
		for j, t := range toks {
			out = append(out, payload.Prediction{ID: batch[j].ID, Tokens: append([]int32{}, t...)})
		}
	}
	return out, nil
}

// knowledge computes the top-k next-token distributions of examples at every target position (teacher
// forcing on the target and the end token), keyed by their ids: FedMKT's knowledge of the public set.
func (l *learner) knowledge(ctx context.Context, exs []model.Example, k int) (payload.Knowledge, error) {
	if len(exs) == 0 {
		return payload.Knowledge{}, nil
	}
	if err := l.ready(); err != nil {
		return payload.Knowledge{}, err
	}
	kn := payload.Knowledge{K: min(k, l.lm.Config().VocabSize)}
	MB := l.m.Config().MaxBatch
	for i := 0; i < len(exs); i += MB {
		if err := ctx.Err(); err != nil {
			return payload.Knowledge{}, fmt.Errorf("knowledge: %w", err)
		}
		batch := exs[i:min(i+MB, len(exs))]
		if _, err := l.m.Forward(batch); err != nil {
			return payload.Knowledge{}, fmt.Errorf("knowledge: %w", err)
		}
		top, err := l.m.TopK(k)
		if err != nil {
			return payload.Knowledge{}, fmt.Errorf("knowledge: %w", err)
		}
		for j, ds := range top {
			s := payload.SampleDist{ID: batch[j].ID, Tokens: make([]int32, 0, len(ds)*kn.K), Probs: make([]float32, 0, len(ds)*kn.K)}
			for _, d := range ds {
				s.Tokens = append(s.Tokens, d.IDs...)
				s.Probs = append(s.Probs, d.Probs...)
			}
			kn.Samples = append(kn.Samples, s)
		}
	}
	return kn, nil
}

// teachersOf turns one payload's knowledge into per-sample teachers (a distribution per target
// position), rejecting token ids outside the model's vocabulary of size V.
func teachersOf(kn payload.Knowledge, V int) (map[string][]model.Dist, error) {
	out := make(map[string][]model.Dist, len(kn.Samples))
	for _, s := range kn.Samples {
		for _, t := range s.Tokens {
			if int(t) >= V {
				return nil, fmt.Errorf("%w: knowledge of sample %q: token %d outside vocab %d", ErrPayload, s.ID, t, V)
			}
		}
		P := s.Positions(kn.K)
		ds := make([]model.Dist, P)
		for j := range ds {
			ds[j] = model.Dist{IDs: s.Tokens[j*kn.K : (j+1)*kn.K], Probs: s.Probs[j*kn.K : (j+1)*kn.K]}
		}
		out[s.ID] = ds
	}
	return out, nil
}

// teachersFor looks up the teachers of a batch (nil when there are no teachers at all).
func teachersFor(batch []model.Example, teach map[string][]model.Dist) [][]model.Dist {
	if len(teach) == 0 {
		return nil
	}
	out := make([][]model.Dist, len(batch))
	for b := range batch {
		out[b] = teach[batch[b].ID]
	}
	return out
}

// cursor walks a data set in shuffled passes.
type cursor struct {
	perm []int
	pos  int
	src  *rand.PCG // rng's source, kept so that Edge.State can save where the shuffles are
	rng  *rand.Rand
}

func newCursor(n int, seed uint64) *cursor {
	src := rand.NewPCG(seed, 0xC0)
	c := &cursor{perm: make([]int, n), src: src, rng: rand.New(src)}
	for i := range c.perm {
		c.perm[i] = i
	}
	c.pos = n // shuffle on first use
	return c
}

// next returns the indices of the next k examples (fewer if the set is smaller), reshuffling at the end
// of each pass.
func (c *cursor) next(k int) []int {
	k = min(k, len(c.perm))
	out := make([]int, 0, k)
	for len(out) < k {
		if c.pos == len(c.perm) {
			c.rng.Shuffle(len(c.perm), func(i, j int) { c.perm[i], c.perm[j] = c.perm[j], c.perm[i] })
			c.pos = 0
		}
		out = append(out, c.perm[c.pos])
		c.pos++
	}
	return out
}

// runningMean accumulates step losses.
type runningMean struct {
	n, nkd                     int
	total, gen, ccl, align, kd float64
}

func (r *runningMean) add(s stepStats) {
	r.n++
	r.total += s.total
	r.gen += s.gen
	r.ccl += s.ccl
	r.align += s.align
	if s.distilled {
		r.nkd++
		r.kd += s.kd
	}
}

func (r *runningMean) metrics(prefix string, m map[string]float64) {
	if r.n == 0 {
		return
	}
	n := float64(r.n)
	m[prefix+"loss"] = r.total / n
	m[prefix+"gen_loss"] = r.gen / n
	m[prefix+"ccl_loss"] = r.ccl / n
	m[prefix+"seccl_loss"] = r.align / n
	if r.nkd > 0 { // only distilling strategies report it, so the others' metrics keep their bytes
		m[prefix+"kd_loss"] = r.kd / float64(r.nkd)
	}
}

// cloneModel builds a model of config mc on the base weights and non-LoRA groups of base.
func cloneModel(base *model.Model[float32], mc model.Config, pool *nn.Pool) (*model.Model[float32], error) {
	m, err := model.New[float32](mc, model.WithPool(pool))
	if err != nil {
		return nil, err
	}
	src, dst := base.Backbone(), m.Backbone()
	nb := len(src.Buf) - len(src.AdapterBuf())
	if nd := len(dst.Buf) - len(dst.AdapterBuf()); nd != nb {
		return nil, fmt.Errorf("%w: backbone base of %d values, template has %d", ErrConfig, nd, nb)
	}
	copy(dst.Buf[:nb], src.Buf[:nb])
	from := map[string][]float32{}
	for _, g := range base.Groups() {
		from[g.Name] = g.Params
	}
	for _, g := range m.Groups() {
		if p, ok := from[g.Name]; ok && g.Name != "lora" && len(p) == len(g.Params) {
			copy(g.Params, p)
		}
	}
	return m, nil
}
