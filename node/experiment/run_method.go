package experiment

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/mlecs/mlecs/node/fedtrainer"
	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
)

// edgeSlot is one edge learner with the session (modalities, test examples) it is evaluated with.
type edgeSlot struct {
	e    *federated.Edge
	s    *seedSession
	mods []string
}

// methodOutcome is one method under one seed: the measured Run, the mesh's own byte counts (nil
// without a mesh), the parameters of one edge model and, when asked for, the untrained evaluations.
type methodOutcome struct {
	run     Run
	mesh    *MeshStat
	params  int64
	initial []InitialEval
}

// runMethod runs one method under one seed.
func runMethod(ctx context.Context, c RunConfig, w *world, work string, pool *nn.Pool, method string, seed uint64) (methodOutcome, error) {
	var mo methodOutcome
	strat, err := federated.ParseStrategy(method)
	if err != nil {
		return mo, err
	}
	comp, err := federated.ComponentsOf(strat)
	if err != nil {
		return mo, err
	}
	tc := fedtrainer.TrainSettings(c.Batch, c.LR, seed)
	runID := fmt.Sprintf("%s-s%d", method, seed)
	ecfg := func(id string) federated.EdgeConfig {
		return federated.EdgeConfig{ID: id, RunID: runID, Components: comp, Steps: c.Steps, PublicSteps: c.PublicSteps,
			Predictions: c.Predictions, Train: tc, Log: c.Log}
	}
	var slots []edgeSlot
	if strat == federated.Centralized {
		// The upper bound: one model with every modality trained on the union of the train data.
		s, err := w.session(ctx, c, work, pool, seed, w.mods)
		if err != nil {
			return mo, err
		}
		priv, pub := w.split(s.train, -1)
		e, err := federated.NewEdge(ecfg("central"), s.sess.Model, w.mods, append(priv, pub...), pub, pool)
		if err != nil {
			return mo, err
		}
		slots = append(slots, edgeSlot{e: e, s: s, mods: w.mods})
	} else {
		for j, mods := range w.edgeMods {
			s, err := w.session(ctx, c, work, pool, seed, mods)
			if err != nil {
				return mo, err
			}
			priv, pub := w.split(s.train, j)
			e, err := federated.NewEdge(ecfg(fmt.Sprintf("edge-%d", j+1)), s.sess.Model, mods, priv, pub, pool)
			if err != nil {
				return mo, err
			}
			slots = append(slots, edgeSlot{e: e, s: s, mods: mods})
		}
	}
	m0, err := slots[0].e.Model()
	if err != nil {
		return mo, err
	}
	mo.params = int64(m0.ParamCount())
	if c.EvalInitial {
		for _, sl := range slots {
			ev, err := evaluateEdge(ctx, sl, w.li)
			if err != nil {
				return mo, err
			}
			mo.initial = append(mo.initial, InitialEval{Method: method, Seed: seed, Node: sl.e.ID(), Eval: ev})
		}
	}
	rec := newRecorder(c, method, seed, len(slots))
	// newAnchor builds the anchor of this run with the components it trains with.
	newAnchor := func(ac federated.Components) (*federated.Anchor, *seedSession, error) {
		as, err := w.session(ctx, c, work, pool, seed, w.mods)
		if err != nil {
			return nil, nil, err
		}
		_, pub := w.split(as.train, -1)
		shared, err := federated.InitShared(slots[0].e.SharedConfig(), seed+100)
		if err != nil {
			return nil, nil, err
		}
		a, err := federated.NewAnchor(federated.AnchorConfig{RunID: runID, Components: ac, Steps: c.AnchorSteps, Train: tc, Log: c.Log,
			Aggregation: c.aggregationOptions()},
			as.sess.Model, shared, pub, pool)
		return a, as, err
	}
	if !comp.Communicate {
		var alone *federated.Anchor
		var as *seedSession
		if strat == federated.Local {
			// The anchor trained alone on D' (its steps per round as in every other method), the reference
			// the ML-ECS anchor must beat. It keeps CCL, as the ML-ECS anchor does, so that only what it
			// receives differs.
			if alone, as, err = newAnchor(federated.Components{CCL: true}); err != nil {
				return mo, err
			}
		}
		mo.run, err = runLocal(ctx, c, w, slots, alone, as, rec)
		return mo, err
	}
	a, as, err := newAnchor(comp)
	if err != nil {
		return mo, err
	}
	if c.EvalInitial {
		ev, err := evaluate(ctx, as, a.Model(), w.li)
		if err != nil {
			return mo, err
		}
		mo.initial = append(mo.initial, InitialEval{Method: method, Seed: seed, Node: "anchor", Eval: ev})
	}
	if mo.mesh, err = runMesh(ctx, c, w, work, runID, a, as, slots, rec); err != nil {
		return mo, err
	}
	mo.mesh.Method, mo.mesh.Seed = method, seed
	mo.run = rec.run()
	return mo, nil
}

// runLocal trains methods without communication round by round, in the same way as an edge node would;
// a non-nil anchor (session as) trains alone on D' beside them and is evaluated every round.
func runLocal(ctx context.Context, c RunConfig, w *world, slots []edgeSlot, anchor *federated.Anchor, as *seedSession, rec *recorder) (Run, error) {
	// The mesh anchor tunes on D' once before round 1 (its genesis, fedtrainer.Anchor.Init) and once per
	// round after; the anchor alone gets the same steps.
	if anchor != nil {
		if _, err := anchor.Round(ctx, nil); err != nil {
			return Run{}, err
		}
	}
	for r := 1; r <= c.Rounds; r++ {
		for _, sl := range slots {
			if _, err := sl.e.LocalRound(ctx, nil); err != nil {
				return Run{}, err
			}
			ev, err := evaluateEdge(ctx, sl, w.li)
			if err != nil {
				return Run{}, err
			}
			if err := rec.edge(r, EdgeRound{Node: sl.e.ID(), Modalities: sl.mods, Eval: ev}); err != nil {
				return Run{}, err
			}
		}
		var aev *Eval
		if anchor != nil {
			if _, err := anchor.Round(ctx, nil); err != nil {
				return Run{}, err
			}
			ev, err := evaluate(ctx, as, anchor.Model(), w.li)
			if err != nil {
				return Run{}, err
			}
			aev = &ev
		}
		if err := rec.closeRound(r, aev); err != nil {
			return Run{}, err
		}
	}
	return rec.run(), nil
}

func evaluateEdge(ctx context.Context, sl edgeSlot, li *model.LabelIndex) (Eval, error) {
	m, err := sl.e.Model()
	if err != nil {
		return Eval{}, err
	}
	return evaluate(ctx, sl.s, m, li)
}

// evaluate scores a model on the test examples of its session (ROUGE-Lsum, accuracy, macro-F1).
func evaluate(ctx context.Context, s *seedSession, m *model.Model[float32], li *model.LabelIndex) (Eval, error) {
	sess := &model.Session{Spec: s.sess.Spec, Model: m, Vocab: s.sess.Vocab}
	met, _, err := model.Evaluate(ctx, sess, s.test, li)
	if err != nil {
		return Eval{}, fmt.Errorf("evaluate: %w", err)
	}
	unit := func(v float64) float64 { return math.Min(1, math.Max(0, v)) } // guards rounding just past 1
	f1 := unit(met.MacroF1)
	return Eval{RougeLsum: unit(met.RougeLsum), Accuracy: unit(met.Accuracy), MacroF1: &f1}, nil
}

// recorder collects one run's rounds from edge and anchor hooks (called from node goroutines).
type recorder struct {
	c       RunConfig
	method  string
	seed    uint64
	nEdges  int
	mu      sync.Mutex
	rounds  []Round
	start   time.Time
	last    time.Time
	failed  chan error // the first failure of a node's trainer
	failOne sync.Once
}

func newRecorder(c RunConfig, method string, seed uint64, nEdges int) *recorder {
	rounds := make([]Round, c.Rounds)
	for i := range rounds {
		rounds[i].Round = i + 1
	}
	now := time.Now()
	return &recorder{c: c, method: method, seed: seed, nEdges: nEdges, rounds: rounds, start: now, last: now, failed: make(chan error, 1)}
}

// restart sets the clock of round 1 (after the mesh is up).
func (r *recorder) restart() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.start, r.last = time.Now(), time.Now()
}

func (r *recorder) fail(err error) {
	r.failOne.Do(func() { r.failed <- err })
}

func (r *recorder) edge(round int, er EdgeRound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if round < 1 || round > len(r.rounds) {
		return fmt.Errorf("edge %s reported round %d of %d", er.Node, round, len(r.rounds))
	}
	r.rounds[round-1].Edges = append(r.rounds[round-1].Edges, er)
	return nil
}

// closeRound records the anchor's evaluation and the round's wall time and prints a progress line.
func (r *recorder) closeRound(round int, anchor *Eval) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if round < 1 || round > len(r.rounds) {
		return fmt.Errorf("round %d closed, the run has %d", round, len(r.rounds))
	}
	rd := &r.rounds[round-1]
	if len(rd.Edges) != r.nEdges {
		return fmt.Errorf("round %d: %d of %d edges reported", round, len(rd.Edges), r.nEdges)
	}
	now := time.Now()
	rd.Anchor, rd.WallSeconds = anchor, now.Sub(r.last).Seconds()
	r.last = now
	var rouge, acc float64
	var up, down int64
	for _, e := range rd.Edges {
		rouge += e.Eval.RougeLsum / float64(len(rd.Edges))
		acc += e.Eval.Accuracy / float64(len(rd.Edges))
		up += e.Up.Total()
		down += e.Down.Total()
	}
	line := fmt.Sprintf("%s seed %d round %d/%d: edge rougeLsum %.4f accuracy %.4f", r.method, r.seed, round, len(r.rounds), rouge, acc)
	if anchor != nil {
		line += fmt.Sprintf(", anchor rougeLsum %.4f", anchor.RougeLsum)
	}
	if up+down > 0 {
		line += fmt.Sprintf(", up %d B down %d B per edge", up/int64(len(rd.Edges)), down/int64(len(rd.Edges)))
	}
	fmt.Fprintf(r.c.Progress, "%s, elapsed %.1fs\n", line, now.Sub(r.start).Seconds())
	return nil
}

func (r *recorder) run() Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Run{Seed: r.seed, WallSeconds: r.last.Sub(r.start).Seconds(), Rounds: r.rounds}
}
