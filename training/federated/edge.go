package federated

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/payload"
)

// EdgeConfig configures an edge.
type EdgeConfig struct {
	ID          string
	RunID       string
	Components  Components
	Steps       int // E: local steps on the private data D_j per round
	PublicSteps int // steps on the public share D'_j per round (gen + CCL, + SE-CCL when on); 0: none
	Predictions int // public samples whose generated text goes into the update (0: none)
	Train       TrainConfig
	// Encoders overrides the template's encoder shape per modality name (model-structure heterogeneity:
	// edges differ in encoder width and depth); an overridden encoder starts from its seeded init.
	Encoders map[string]EncoderShape
	Log      *slog.Logger
}

// EncoderShape is the width, depth and heads of one modality encoder (0 keeps the template's value).
type EncoderShape struct{ Width, Depth, Heads int }

// Edge is one edge node's learner: its model (own encoder shapes, the SLM backbone with private and
// shared LoRA), its private data D_j and its public share D'_j. It is not safe for concurrent use.
type Edge struct {
	cfg        EdgeConfig
	modalities []string
	private    []model.Example
	public     []model.Example
	l          *learner
	priv, pub  *cursor
	round      uint64
	start      []float32 // shared LoRA at the start of the round (the global one)
	log        *slog.Logger
}

// NewEdge builds an edge from a template model (built by training/model for this edge's modalities and
// shapes, on the pretrained base): it copies the base weights and the encoders/connector into a model of
// the same shape whose backbone hosts AMT's two branches when AMT is on, with CCL as the components say.
// private is D_j, public is D'_j (featurised by the edge's own session: only its modalities).
func NewEdge(cfg EdgeConfig, template *model.Model[float32], modalities []string, private, public []model.Example, pool *nn.Pool) (*Edge, error) {
	switch {
	case cfg.ID == "" || len(cfg.ID) > 255:
		return nil, fmt.Errorf("%w: edge id %q", ErrConfig, cfg.ID)
	case cfg.Steps < 0 || cfg.PublicSteps < 0 || cfg.Predictions < 0 || cfg.Steps+cfg.PublicSteps == 0:
		return nil, fmt.Errorf("%w: edge %s: steps %d, public steps %d, predictions %d", ErrConfig, cfg.ID, cfg.Steps, cfg.PublicSteps, cfg.Predictions)
	case len(modalities) == 0:
		return nil, fmt.Errorf("%w: edge %s holds no modality", ErrConfig, cfg.ID)
	case cfg.Steps > 0 && len(private) == 0, cfg.PublicSteps > 0 && len(public) == 0:
		return nil, fmt.Errorf("%w: edge %s: %d private and %d public examples for %d and %d steps", ErrConfig, cfg.ID, len(private), len(public), cfg.Steps, cfg.PublicSteps)
	}
	comp := cfg.Components
	mc := template.Config()
	mc.CCL = comp.CCL
	if comp.CCL && !(mc.CCLWeight > 0 && mc.CCLTau > 0) {
		return nil, fmt.Errorf("%w: edge %s: CCL on with weight %v and tau %v", ErrConfig, cfg.ID, mc.CCLWeight, mc.CCLTau)
	}
	mc.Modalities = slices.Clone(mc.Modalities)
	for name, sh := range cfg.Encoders {
		k := slices.IndexFunc(mc.Modalities, func(x model.ModalityConfig) bool { return x.Name == name })
		if k < 0 || sh.Width < 0 || sh.Depth < 0 || sh.Heads < 0 {
			return nil, fmt.Errorf("%w: edge %s: encoder override %q %+v (model has %d modalities)", ErrConfig, cfg.ID, name, sh, len(mc.Modalities))
		}
		if sh.Width > 0 {
			mc.Modalities[k].Width = sh.Width
		}
		if sh.Depth > 0 {
			mc.Modalities[k].Depth = sh.Depth
		}
		if sh.Heads > 0 {
			mc.Modalities[k].Heads = sh.Heads
		}
	}
	if comp.AMT {
		mc.Backbone = gpt2.AMTBackbone(mc.Backbone)
	}
	m, err := cloneModel(template, mc, pool)
	if err != nil {
		return nil, fmt.Errorf("edge %s: %w", cfg.ID, err)
	}
	tc := cfg.Train
	if !comp.SECCL {
		tc.SECCLWeight = 0
	}
	l, err := newLearner(tc, m, comp.AMT)
	if err != nil {
		return nil, fmt.Errorf("edge %s: %w", cfg.ID, err)
	}
	l.proxMu = float32(comp.ProxMu)
	if comp.Distill {
		l.alpha = comp.DistillAlpha
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Edge{cfg: cfg, modalities: slices.Clone(modalities), private: private, public: public, l: l,
		priv: newCursor(len(private), cfg.Train.Seed+1), pub: newCursor(len(public), cfg.Train.Seed+2),
		log: log.With("edge", cfg.ID)}, nil
}

// ID is the edge's id.
func (e *Edge) ID() string { return e.cfg.ID }

// Round is the last round the edge trained.
func (e *Edge) Round() uint64 { return e.round }

// Model returns the edge's model with the current adapters packed, ready for Evaluate or Generate.
func (e *Edge) Model() (*model.Model[float32], error) {
	if err := e.l.ready(); err != nil {
		return nil, err
	}
	return e.l.m, nil
}

// SharedConfig is the backbone config of the shared LoRA the edge exchanges (rank r).
func (e *Edge) SharedConfig() gpt2.Config {
	_, c := e.l.shared()
	return c
}

// Gates returns the AMT gate values g_l (nil when AMT is off).
func (e *Edge) Gates() []float64 {
	if e.l.amt == nil {
		return nil
	}
	g := make([]float64, len(e.l.amt.Gate))
	for i := range g {
		g[i] = float64(e.l.amt.GateValue(i))
	}
	return g
}

// LocalRound runs one round on the edge. With communication on, global (the anchor's payload for a
// round after the edge's last one) replaces the shared LoRA — AMT keeps the private branch and gates, so
// the gates decide how much of it the edge takes — and its fused representations become the SE-CCL
// targets of D'_j, and (FedMKT) its top-K distributions the distillation teachers of D'_j. Then Steps
// steps on D_j and PublicSteps steps on D'_j, and the update: metrics and what the strategy sends
// (Components.SendsLoRA, SendsReps, SendsPredictions, SendsKnowledge): the change of the shared LoRA
// over the round, the fused representations of D'_j, predictions, the SLM's top-K distributions on
// D'_j. A global without reps (knowledge) leaves SE-CCL (distillation) without targets for the round.
// Without communication global must be nil and the update is only a report (metrics).
func (e *Edge) LocalRound(ctx context.Context, global *payload.Global) (*payload.Update, error) {
	comm := e.cfg.Components.Communicate
	var targets map[string][]float32
	var teach map[string][]model.Dist
	shared, sc := e.l.shared()
	switch {
	case comm && global == nil:
		return nil, fmt.Errorf("%w: edge %s: a communicating strategy needs the global payload", ErrPayload, e.cfg.ID)
	case !comm && global != nil:
		return nil, fmt.Errorf("%w: edge %s: a local strategy takes no global payload", ErrPayload, e.cfg.ID)
	case comm:
		if global.Round <= e.round {
			return nil, fmt.Errorf("%w: edge %s: global round %d, already trained round %d", ErrPayload, e.cfg.ID, global.Round, e.round)
		}
		if e.cfg.Components.ShareLoRA {
			if err := fromTensors(sc, global.LoRA, shared); err != nil {
				return nil, fmt.Errorf("edge %s: global shared LoRA: %w", e.cfg.ID, err)
			}
		}
		e.round = global.Round
		if e.cfg.Components.SECCL && global.Fused.Dim > 0 {
			targets = make(map[string][]float32, len(global.Fused.IDs))
			for i, id := range global.Fused.IDs {
				targets[id] = global.Fused.Row(i)
			}
		}
		if e.cfg.Components.Distill && len(global.Knowledge.Samples) > 0 {
			var err error
			if teach, err = teachersOf(global.Knowledge, e.l.lm.Config().VocabSize); err != nil {
				return nil, fmt.Errorf("edge %s: global: %w", e.cfg.ID, err)
			}
		}
	default:
		e.round++
	}
	e.start = append(e.start[:0], shared...)
	if e.cfg.Components.ProxMu > 0 {
		e.l.prox = e.start
	}
	var privM, pubM runningMean
	for range e.cfg.Steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("edge %s round %d: %w", e.cfg.ID, e.round, err)
		}
		st, err := e.l.step(pick(e.private, e.priv.next(e.cfg.Train.Batch)), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("edge %s round %d: %w", e.cfg.ID, e.round, err)
		}
		privM.add(st)
	}
	for range e.cfg.PublicSteps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("edge %s round %d: %w", e.cfg.ID, e.round, err)
		}
		batch := pick(e.public, e.pub.next(e.cfg.Train.Batch))
		var tg [][]float32
		if targets != nil {
			tg = make([][]float32, len(batch))
			for b := range batch {
				tg[b] = targets[batch[b].ID]
			}
		}
		st, err := e.l.step(batch, tg, teachersFor(batch, teach))
		if err != nil {
			return nil, fmt.Errorf("edge %s round %d: %w", e.cfg.ID, e.round, err)
		}
		pubM.add(st)
	}
	u := &payload.Update{RunID: e.cfg.RunID, Round: e.round, Edge: e.cfg.ID, Samples: int64(len(e.private)),
		Modalities: slices.Clone(e.modalities), Metrics: map[string]float64{}}
	if global != nil {
		u.RunID = global.RunID
	}
	if u.Samples == 0 {
		u.Samples = int64(len(e.public))
	}
	// Only the parts the strategy's other side uses are built (and computed): see Components.
	comp := e.cfg.Components
	if comp.SendsLoRA() {
		delta := make([]float32, len(shared))
		for i := range delta {
			delta[i] = shared[i] - e.start[i]
		}
		u.LoRA = toTensors(sc, delta)
	}
	var err error
	if comp.SendsReps() {
		if u.Fused, err = e.l.reps(ctx, e.public); err != nil {
			return nil, fmt.Errorf("edge %s: %w", e.cfg.ID, err)
		}
	}
	if comp.SendsKnowledge() {
		if u.Knowledge, err = e.l.knowledge(ctx, e.public, comp.DistillTopK); err != nil {
			return nil, fmt.Errorf("edge %s: %w", e.cfg.ID, err)
		}
	}
	if comp.SendsPredictions() {
		if u.Predictions, err = e.l.predict(ctx, e.public, e.cfg.Predictions); err != nil {
			return nil, fmt.Errorf("edge %s: %w", e.cfg.ID, err)
		}
	}
	privM.metrics("", u.Metrics)
	pubM.metrics("public_", u.Metrics)
	if g := e.Gates(); g != nil {
		var s float64
		for _, v := range g {
			s += v
		}
		u.Metrics["gate_mean"] = s / float64(len(g))
	}
	e.log.Debug("local round", "round", e.round, "loss", u.Metrics["loss"], "public_seccl", u.Metrics["public_seccl_loss"])
	return u, nil
}

func pick(exs []model.Example, idx []int) []model.Example {
	out := make([]model.Example, len(idx))
	for i, j := range idx {
		out[i] = exs[j]
	}
	return out
}
