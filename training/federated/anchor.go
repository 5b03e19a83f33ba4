package federated

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"

	"github.com/mlecs/mlecs/training/aggregate"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/payload"
)

// AnchorConfig configures the anchor.
type AnchorConfig struct {
	RunID      string
	Components Components
	Steps      int     // tuning steps on D' per round (gen + CCL, + SE-CCL when on)
	ServerLR   float32 // scale of the aggregated delta (1: plain FedAvg/MMA); 0 means 1
	Train      TrainConfig
	// Aggregation are extra aggregate options (norm caps, robust rules, groups); the strategy adds
	// WithFedAvg when MMA is off.
	Aggregation []aggregate.Option
	Log         *slog.Logger
}

// Anchor is the anchor's learner: its own (larger, all-modality) model tuned on the public set D', the
// global shared LoRA of the edges' backbone shape, and the aggregator. It is not safe for concurrent use.
type Anchor struct {
	cfg    AnchorConfig
	l      *learner
	public []model.Example
	pub    *cursor
	global []payload.Tensor
	agg    *aggregate.Aggregator
	round  uint64 // the last round published
	last   *aggregate.Result
	log    *slog.Logger
}

// NewAnchor builds the anchor from its model (built by training/model with every modality, on its base),
// the initial shared LoRA of the edges' backbone (InitShared) and the public set D'.
func NewAnchor(cfg AnchorConfig, m *model.Model[float32], shared []payload.Tensor, public []model.Example, pool *nn.Pool) (*Anchor, error) {
	if cfg.Steps < 0 || (cfg.Steps > 0 && len(public) == 0) {
		return nil, fmt.Errorf("%w: anchor: %d steps on %d public examples", ErrConfig, cfg.Steps, len(public))
	}
	if cfg.ServerLR < 0 || math.IsNaN(float64(cfg.ServerLR)) {
		return nil, fmt.Errorf("%w: anchor: server lr %v", ErrConfig, cfg.ServerLR)
	}
	if cfg.ServerLR == 0 {
		cfg.ServerLR = 1
	}
	comp := cfg.Components
	mc := m.Config()
	mc.CCL = comp.CCL
	if comp.CCL && !(mc.CCLWeight > 0 && mc.CCLTau > 0) {
		return nil, fmt.Errorf("%w: anchor: CCL on with weight %v and tau %v", ErrConfig, mc.CCLWeight, mc.CCLTau)
	}
	am, err := cloneModel(m, mc, pool)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	// The anchor's own LoRA stays its own: only the edges' shared LoRA is aggregated, so no AMT here.
	tc := cfg.Train
	if !comp.SECCL {
		tc.SECCLWeight = 0
	}
	l, err := newLearner(tc, am, false)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	if comp.Distill {
		l.alpha = comp.DistillAlpha
	}
	a := &Anchor{cfg: cfg, l: l, public: public, pub: newCursor(len(public), cfg.Train.Seed+5), log: cfg.Log}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.global = cloneTensors(shared)
	if comp.Communicate && comp.ShareLoRA {
		opts := append([]aggregate.Option(nil), cfg.Aggregation...)
		if !comp.MMA {
			opts = append(opts, aggregate.WithFedAvg())
		}
		if a.agg, err = aggregate.New(aggregate.LayoutOf(shared), opts...); err != nil {
			return nil, fmt.Errorf("anchor: %w", err)
		}
	}
	return a, nil
}

// Global returns a copy of the current global shared LoRA.
func (a *Anchor) Global() []payload.Tensor { return cloneTensors(a.global) }

// LastAggregation is the aggregation report of the last round (nil before the first aggregation).
func (a *Anchor) LastAggregation() *aggregate.Result { return a.last }

// Model returns the anchor's model, ready for Evaluate or Generate.
func (a *Anchor) Model() *model.Model[float32] { return a.l.m }

// Round closes the round the updates answer (the last published one; none for the first call), runs
// validation and MMA over their shared-LoRA deltas and applies the aggregate to the global shared LoRA,
// tunes the anchor's model on D' (SE-CCL towards the mean of the edges' normalised fused
// representations of each public id; FedMKT: distillation from the mean of the edges' top-K
// distributions, see edgeKnowledge), and returns the next round's Global: the global shared LoRA, the
// anchor's fused representations of D' and its top-K distributions on D', each only when the strategy
// sends it. Updates for another round or run are rejected before aggregation (logged); if none survives
// validation the global LoRA is unchanged and the round goes on. Absent parts are tolerated: an update without a LoRA delta is
// rejected by the aggregation alone, one without reps gives no SE-CCL targets, predictions are unused.
func (a *Anchor) Round(ctx context.Context, updates []*payload.Update) (*payload.Global, error) {
	comm := a.cfg.Components.Communicate
	if !comm && len(updates) > 0 {
		return nil, fmt.Errorf("%w: anchor: a local strategy takes no updates", ErrPayload)
	}
	var fresh []*payload.Update
	for _, u := range updates {
		if u == nil || u.Round != a.round || u.RunID != a.cfg.RunID {
			a.log.Warn("update for another round or run dropped", "round", a.round, "update", describe(u))
			continue
		}
		fresh = append(fresh, u)
	}
	if len(fresh) > 0 && a.agg != nil {
		cs := make([]aggregate.Contribution, len(fresh))
		for i, u := range fresh {
			cs[i] = aggregate.FromUpdate(u)
		}
		res, err := a.agg.Aggregate(cs)
		a.last = res
		if res != nil {
			for _, r := range res.Rejected {
				a.log.Warn("update rejected", "round", a.round, "edge", r.Edge, "err", r.Err)
			}
		}
		switch {
		case errors.Is(err, aggregate.ErrNoContributions):
		case err != nil:
			return nil, fmt.Errorf("anchor round %d: %w", a.round, err)
		default:
			if err := aggregate.Apply(a.global, res.Tensors, a.cfg.ServerLR); err != nil {
				return nil, fmt.Errorf("anchor round %d: %w", a.round, err)
			}
		}
	}
	targets := a.edgeTargets(fresh)
	teach := a.edgeKnowledge(fresh)
	for range a.cfg.Steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("anchor round %d: %w", a.round, err)
		}
		batch := pick(a.public, a.pub.next(a.cfg.Train.Batch))
		var tg [][]float32
		if targets != nil {
			tg = make([][]float32, len(batch))
			for b := range batch {
				tg[b] = targets[batch[b].ID]
			}
		}
		if _, err := a.l.step(batch, tg, teachersFor(batch, teach)); err != nil {
			return nil, fmt.Errorf("anchor round %d: %w", a.round, err)
		}
	}
	// Only the parts the edges use are published (see Components): the LoRA when it is shared, reps
	// when SE-CCL aligns to them (the ensemble of the edges' reps for CreamFL, else the anchor's own).
	comp := a.cfg.Components
	g := &payload.Global{RunID: a.cfg.RunID, Round: a.round + 1}
	if comp.SendsLoRA() {
		g.LoRA = cloneTensors(a.global)
	}
	switch {
	case comp.SendsReps() && comp.Ensemble:
		g.Fused = ensembleReps(targets)
	case comp.SendsReps():
		var err error
		if g.Fused, err = a.l.reps(ctx, a.public); err != nil {
			return nil, fmt.Errorf("anchor round %d: %w", a.round, err)
		}
	}
	if comp.SendsKnowledge() {
		var err error
		if g.Knowledge, err = a.l.knowledge(ctx, a.public, comp.DistillTopK); err != nil {
			return nil, fmt.Errorf("anchor round %d: %w", a.round, err)
		}
	}
	a.round++
	return g, nil
}

// edgeTargets combines, per public id, the L2-normalised fused representations the edges sent (of the
// most common width; an edge of another width is skipped): their mean for ML-ECS; for CreamFL the
// agreement-weighted ensemble (see agreement). nil when SE-CCL is off or no edge sent any.
func (a *Anchor) edgeTargets(us []*payload.Update) map[string][]float32 {
	if !a.cfg.Components.SECCL {
		return nil
	}
	count := map[int]int{}
	for _, u := range us {
		if u.Fused.Dim > 0 {
			count[u.Fused.Dim] += len(u.Fused.IDs)
		}
	}
	dim, best := 0, 0
	for d, n := range count {
		if n > best || (n == best && d < dim) {
			dim, best = d, n
		}
	}
	if dim == 0 {
		return nil
	}
	sum := map[string][]float32{}
	rows := map[string][][]float32{}
	for _, u := range us {
		if u.Fused.Dim != dim {
			continue
		}
		for i, id := range u.Fused.IDs {
			row := u.Fused.Row(i)
			var nr float64
			for _, v := range row {
				nr += float64(v) * float64(v)
			}
			if nr == 0 {
				continue
			}
			s := sum[id]
			if s == nil {
				s = make([]float32, dim)
				sum[id] = s
			}
			inv := float32(1 / math.Sqrt(nr))
			unit := make([]float32, dim)
			for j, v := range row {
				unit[j] = v * inv
				s[j] += unit[j]
			}
			rows[id] = append(rows[id], unit)
		}
	}
	if a.cfg.Components.Ensemble {
		for id, s := range sum {
			agreement(s, rows[id])
		}
	}
	return sum
}

// edgeKnowledge averages, per public id and target position, the top-K distributions the edges sent
// (FedMKT's aggregation of the SLMs' knowledge): each edge's distribution is renormalised, then the mean
// is taken over the edges that sent that position, a token missing from an edge's top-K counting 0 for
// it. Tokens are sorted by id. An update whose knowledge is not usable (a token outside the anchor's
// vocabulary) is skipped with a warning, as a rejected delta is. nil when distillation is off or no edge
// sent any.
func (a *Anchor) edgeKnowledge(us []*payload.Update) map[string][]model.Dist {
	if !a.cfg.Components.Distill {
		return nil
	}
	type acc struct {
		sum map[int32]float64
		n   int
	}
	per := map[string][]acc{}
	for _, u := range us {
		ts, err := teachersOf(u.Knowledge, a.l.lm.Config().VocabSize)
		if err != nil {
			a.log.Warn("update knowledge skipped", "round", a.round, "edge", u.Edge, "err", err)
			continue
		}
		for id, ds := range ts {
			ps := per[id]
			for len(ps) < len(ds) {
				ps = append(ps, acc{sum: map[int32]float64{}})
			}
			for j, d := range ds {
				var tot float64
				for _, p := range d.Probs {
					tot += float64(p)
				}
				if !(tot > 0) {
					continue
				}
				for k, t := range d.IDs {
					ps[j].sum[t] += float64(d.Probs[k]) / tot
				}
				ps[j].n++
			}
			per[id] = ps
		}
	}
	if len(per) == 0 {
		return nil
	}
	out := make(map[string][]model.Dist, len(per))
	for id, ps := range per {
		ds := make([]model.Dist, len(ps))
		for j, p := range ps {
			if p.n == 0 {
				continue // no edge had a usable distribution here: the position gets no teacher
			}
			ids := slices.Sorted(maps.Keys(p.sum))
			d := model.Dist{IDs: ids, Probs: make([]float32, len(ids))}
			for k, t := range ids {
				d.Probs[k] = float32(p.sum[t] / float64(p.n))
			}
			ds[j] = d
		}
		out[id] = ds
	}
	return out
}

// agreement turns sum (Σ of the unit vectors rs) into the CreamFL-style ensemble Σ_k w_k r_k / Σ_k w_k
// with w_k = max(0, cos(r_k, mean)): an edge whose representation disagrees with the others' consensus
// counts less (CreamFL weights clients by the quality of their representations; agreement with the
// consensus is our label-free proxy). All weights 0 keeps the mean.
func agreement(sum []float32, rs [][]float32) {
	var nm float64
	for _, v := range sum {
		nm += float64(v) * float64(v)
	}
	if nm == 0 || len(rs) < 2 {
		return
	}
	nm = math.Sqrt(nm)
	out := make([]float64, len(sum))
	var wsum float64
	for _, r := range rs {
		var dot float64
		for j, v := range r {
			dot += float64(v) * float64(sum[j])
		}
		w := max(0, dot/nm)
		wsum += w
		for j, v := range r {
			out[j] += w * float64(v)
		}
	}
	if wsum == 0 {
		return
	}
	for j := range sum {
		sum[j] = float32(out[j] / wsum)
	}
}

// ensembleReps lays the per-id targets out as Reps, sorted by id so that equal inputs encode equally.
func ensembleReps(ts map[string][]float32) payload.Reps {
	var r payload.Reps
	if len(ts) == 0 {
		return r
	}
	r.IDs = slices.Sorted(maps.Keys(ts))
	r.Dim = len(ts[r.IDs[0]])
	r.Data = make([]float32, 0, len(r.IDs)*r.Dim)
	for _, id := range r.IDs {
		r.Data = append(r.Data, ts[id]...)
	}
	return r
}

func describe(u *payload.Update) string {
	if u == nil {
		return "<nil>"
	}
	return fmt.Sprintf("edge %s run %q round %d", u.Edge, u.RunID, u.Round)
}

func cloneTensors(ts []payload.Tensor) []payload.Tensor {
	out := make([]payload.Tensor, len(ts))
	for i, t := range ts {
		out[i] = payload.Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
	}
	return out
}
