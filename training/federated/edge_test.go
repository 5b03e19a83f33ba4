package federated

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/federated/fedtest"
	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/payload"
)

func tinyModel(t *testing.T) *model.Model[float32] { return fedtest.TinyModel(t) }

func tinyExamples(prefix string, n int, seed uint64) []model.Example {
	return fedtest.TinyExamples(prefix, n, seed)
}

func tinyEdge(t *testing.T, s Strategy, mu float64) *Edge {
	t.Helper()
	comp, err := ComponentsOf(s)
	if err != nil {
		t.Fatal(err)
	}
	if mu > 0 {
		comp.ProxMu = mu
	}
	e, err := NewEdge(EdgeConfig{ID: "e1", RunID: "r", Components: comp, Steps: 6, PublicSteps: 2, Predictions: 2,
		Train: TrainConfig{Batch: 4, LR: 1e-2, Clip: 1, SECCLWeight: 0.5, SECCLTau: 0.2, Seed: 1}},
		tinyModel(t), []string{"img", "txt"}, tinyExamples("p", 8, 1), tinyExamples("pub", 4, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func norm(ts []payload.Tensor) float64 {
	var s float64
	for _, t := range ts {
		for _, v := range t.Data {
			s += float64(v) * float64(v)
		}
	}
	return math.Sqrt(s)
}

// TestEdgeRound: the update carries the delta of the shared branch only (rank r, not the packed 2r), the
// SE-CCL targets are used, private parts change, and stale or misplaced globals are refused.
func TestEdgeRound(t *testing.T) {
	ctx := context.Background()
	e := tinyEdge(t, MLECS, 0)
	sc := e.SharedConfig()
	if sc.LoRARank != 2 {
		t.Fatalf("shared rank %d, want 2", sc.LoRARank)
	}
	shared, err := InitShared(sc, 7)
	if err != nil {
		t.Fatal(err)
	}
	anchorReps := payload.Reps{Dim: 5, IDs: []string{"pub-0", "pub-1", "pub-2", "pub-3"}, Data: make([]float32, 20)}
	for i := range anchorReps.Data {
		anchorReps.Data[i] = float32(math.Sin(float64(i)))
	}
	g := &payload.Global{RunID: "r", Round: 1, LoRA: shared, Fused: anchorReps}
	privBefore := append([]float32(nil), e.l.amt.PrivateBuf...)
	u, err := e.LocalRound(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if u.Round != 1 || u.RunID != "r" || u.Samples != 8 || len(u.Fused.IDs) != 4 || u.Fused.Dim != 8 || len(u.Predictions) != 2 {
		t.Fatalf("update round %d run %q samples %d reps %d x %d predictions %d", u.Round, u.RunID, u.Samples,
			len(u.Fused.IDs), u.Fused.Dim, len(u.Predictions))
	}
	if len(u.LoRA) != len(shared) || norm(u.LoRA) == 0 {
		t.Fatalf("delta of %d tensors (want %d), norm %v", len(u.LoRA), len(shared), norm(u.LoRA))
	}
	for i, tn := range u.LoRA {
		if tn.Name != shared[i].Name || tn.Shape[0]*tn.Shape[1] != len(shared[i].Data) {
			t.Fatalf("delta tensor %s %v, layout %s %v", tn.Name, tn.Shape, shared[i].Name, shared[i].Shape)
		}
	}
	// The shared branch now holds global + delta.
	for i, tn := range u.LoRA {
		for j := range tn.Data {
			got := e.l.amt.SharedBuf[gpt2.LoRASpecs(sc)[i].Offset+j]
			if want := shared[i].Data[j] + tn.Data[j]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("%s[%d]: shared %v, global+delta %v", tn.Name, j, got, want)
			}
		}
	}
	if !(u.Metrics["public_seccl_loss"] > 0) || u.Metrics["gate_mean"] == 0.5 {
		t.Fatalf("metrics %v: want an SE-CCL loss and moved gates", u.Metrics)
	}
	changed := false
	for i, v := range e.l.amt.PrivateBuf {
		changed = changed || v != privBefore[i]
	}
	if !changed {
		t.Fatal("private branch did not train")
	}
	if _, err := e.LocalRound(ctx, g); !errors.Is(err, ErrPayload) {
		t.Fatalf("stale global: %v, want ErrPayload", err)
	}
	if _, err := e.LocalRound(ctx, nil); !errors.Is(err, ErrPayload) {
		t.Fatalf("no global: %v, want ErrPayload", err)
	}
	bad := &payload.Global{RunID: "r", Round: 2, LoRA: shared[1:]}
	if _, err := e.LocalRound(ctx, bad); !errors.Is(err, ErrPayload) {
		t.Fatalf("short LoRA: %v, want ErrPayload", err)
	}
	loc := tinyEdge(t, Local, 0)
	if _, err := loc.LocalRound(ctx, g); !errors.Is(err, ErrPayload) {
		t.Fatalf("local with a global: %v, want ErrPayload", err)
	}
	if u, err := loc.LocalRound(ctx, nil); err != nil || u.Round != 1 {
		t.Fatalf("local round: %v, %v", u, err)
	}
}

// TestFedProxShrinksDelta: with a large μ the proximal term pulls the shared LoRA back to the global one,
// so the round's delta is much smaller than FedAvg's from the same start.
func TestFedProxShrinksDelta(t *testing.T) {
	ctx := context.Background()
	deltas := map[float64]float64{}
	for _, mu := range []float64{0, 100} {
		s := FedAvg
		if mu > 0 {
			s = FedProx
		}
		e := tinyEdge(t, s, mu)
		shared, err := InitShared(e.SharedConfig(), 7)
		if err != nil {
			t.Fatal(err)
		}
		u, err := e.LocalRound(ctx, &payload.Global{RunID: "r", Round: 1, LoRA: shared})
		if err != nil {
			t.Fatal(err)
		}
		deltas[mu] = norm(u.LoRA)
	}
	t.Logf("delta norm: FedAvg %.4g, FedProx μ=100 %.4g", deltas[0], deltas[100])
	if !(deltas[100] < 0.5*deltas[0]) {
		t.Fatalf("FedProx delta %.4g not below half of FedAvg's %.4g", deltas[100], deltas[0])
	}
}

// TestAnchorRound: a first round publishes the initial shared LoRA; a second aggregates two updates with
// MMA weights (sample count x modalities held) and drops an update for the wrong round.
func TestAnchorRound(t *testing.T) {
	ctx := context.Background()
	comp, _ := ComponentsOf(MLECS)
	c := tinyModel(t).Config().Backbone
	shared, err := InitShared(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAnchor(AnchorConfig{RunID: "r", Components: comp, Steps: 2,
		Train: TrainConfig{Batch: 4, LR: 1e-2, SECCLWeight: 0.5, SECCLTau: 0.2, Seed: 1}}, tinyModel(t), shared, tinyExamples("pub", 4, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.Round(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Round != 1 || norm(g.LoRA) != norm(shared) || len(g.Fused.IDs) != 4 {
		t.Fatalf("first global: round %d, LoRA norm %v (want %v), %d reps", g.Round, norm(g.LoRA), norm(shared), len(g.Fused.IDs))
	}
	delta := func(v float32) []payload.Tensor {
		ts := cloneTensors(shared)
		for _, t := range ts {
			for i := range t.Data {
				t.Data[i] = v
			}
		}
		return ts
	}
	reps := payload.Reps{Dim: 8, IDs: []string{"pub-0", "pub-1"}, Data: make([]float32, 16)}
	for i := range reps.Data {
		reps.Data[i] = float32(i%5) - 2
	}
	us := []*payload.Update{
		{RunID: "r", Round: 1, Edge: "a", Samples: 10, Modalities: []string{"img"}, LoRA: delta(1), Fused: reps},
		{RunID: "r", Round: 1, Edge: "b", Samples: 10, Modalities: []string{"img", "txt"}, LoRA: delta(4), Fused: reps},
		{RunID: "r", Round: 0, Edge: "c", Samples: 10, Modalities: []string{"img"}, LoRA: delta(100)},
	}
	g2, err := a.Round(ctx, us)
	if err != nil {
		t.Fatal(err)
	}
	// weights 10x1 and 10x2: delta = (1·1 + 2·4)/3 = 3 on every coordinate
	for i, tn := range g2.LoRA {
		for j, v := range tn.Data {
			if want := shared[i].Data[j] + 3; math.Abs(float64(v-want)) > 1e-5 {
				t.Fatalf("%s[%d] = %v, want %v", tn.Name, j, v, want)
			}
		}
	}
	if g2.Round != 2 || len(a.LastAggregation().Accepted) != 2 {
		t.Fatalf("round %d, accepted %+v", g2.Round, a.LastAggregation().Accepted)
	}
}

func TestComponentsOf(t *testing.T) {
	for _, s := range Strategies() {
		c, err := ComponentsOf(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		p, err := ParseStrategy(string(s))
		if err != nil || p != s {
			t.Fatalf("parse %s: %v %v", s, p, err)
		}
		full := c.CCL && c.AMT && c.MMA && c.SECCL && c.Communicate
		if (s == MLECS) != full {
			t.Errorf("%s: components %+v", s, c)
		}
	}
	if c, _ := ComponentsOf(NoMMA); c.MMA || !c.AMT {
		t.Errorf("no-mma: %+v", c)
	}
	if c, _ := ComponentsOf(FedProx); c.ProxMu != DefaultProxMu || c.AMT || c.SECCL {
		t.Errorf("fedprox: %+v", c)
	}
	if c, _ := ComponentsOf(Local); c.Communicate {
		t.Errorf("local communicates: %+v", c)
	}
	if _, err := ParseStrategy("fedsgd"); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown strategy: %v", err)
	}
}

// TestAgreement: two edges agree on e1, a third points the other way: its weight is max(0, cos) = 0 and
// the ensemble is e1; with partial disagreement the weights follow the cosine to the mean.
func TestAgreement(t *testing.T) {
	rs := [][]float32{{1, 0}, {1, 0}, {-1, 0}}
	sum := []float32{1, 0}
	agreement(sum, rs)
	if sum[0] != 1 || sum[1] != 0 {
		t.Fatalf("ensemble %v, want [1 0]", sum)
	}
	// r1 = e1, r2 = e2: mean direction (1,1)/√2, both cos = 1/√2: ensemble = (0.5, 0.5).
	rs = [][]float32{{1, 0}, {0, 1}}
	sum = []float32{1, 1}
	agreement(sum, rs)
	if math.Abs(float64(sum[0])-0.5) > 1e-6 || math.Abs(float64(sum[1])-0.5) > 1e-6 {
		t.Fatalf("ensemble %v, want [0.5 0.5]", sum)
	}
}

// TestCreamFLRound: CreamFL exchanges no LoRA; the anchor publishes the ensemble of the edges' reps (in
// the edges' width), and edges align to it.
func TestCreamFLRound(t *testing.T) {
	ctx := context.Background()
	comp, err := ComponentsOf(CreamFL)
	if err != nil {
		t.Fatal(err)
	}
	tc := TrainConfig{Batch: 4, LR: 1e-2, SECCLWeight: 0.5, SECCLTau: 0.2, Seed: 1}
	a, err := NewAnchor(AnchorConfig{RunID: "r", Components: comp, Steps: 2, Train: tc}, tinyModel(t), nil, tinyExamples("pub", 4, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.Round(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.LoRA) != 0 || len(g.Fused.IDs) != 0 {
		t.Fatalf("first CreamFL global: %d LoRA tensors, %d reps; want none", len(g.LoRA), len(g.Fused.IDs))
	}
	var ups []*payload.Update
	for i := range 2 {
		e, err := NewEdge(EdgeConfig{ID: fmt.Sprintf("e%d", i), RunID: "r", Components: comp, Steps: 2, PublicSteps: 2, Train: tc},
			tinyModel(t), []string{"img", "txt"}, tinyExamples("p", 8, uint64(i)), tinyExamples("pub", 4, 2), nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := e.LocalRound(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if len(u.LoRA) != 0 || len(u.Fused.IDs) != 4 {
			t.Fatalf("CreamFL update: %d LoRA tensors, %d reps", len(u.LoRA), len(u.Fused.IDs))
		}
		ups = append(ups, u)
	}
	g2, err := a.Round(ctx, ups)
	if err != nil {
		t.Fatal(err)
	}
	if len(g2.LoRA) != 0 || len(g2.Fused.IDs) != 4 || g2.Fused.Dim != 8 {
		t.Fatalf("CreamFL global: %d LoRA tensors, reps %d x %d", len(g2.LoRA), len(g2.Fused.IDs), g2.Fused.Dim)
	}
	var buf bytes.Buffer
	if _, err := g2.Encode(&buf, payload.FP32); err != nil {
		t.Fatal(err)
	}
}

// partsWant are the payload parts a strategy must send: what its method uses, nothing more.
type partsWant struct {
	upLoRA, upReps, upPreds, upKnow bool
	downLoRA, downReps, downKnow    bool
}

// TestSimStrategies runs two rounds of every strategy with an anchor on tiny models and checks, from the
// encoders' Sizes, which parts travel in each direction (an empty part is only its count framing):
// FedAvg/FedProx only the LoRA, CreamFL only representations, FedMKT only top-K distributions, ML-ECS
// and the ablations LoRA + reps + predictions except -no-seccl (no reps, no predictions), nothing for
// local training; and encoded bytes equal to the reported sizes. The knowledge section costs 0 bytes
// when it is not sent.
func TestSimStrategies(t *testing.T) {
	ctx := context.Background()
	mlecs := partsWant{upLoRA: true, upReps: true, upPreds: true, downLoRA: true, downReps: true}
	loraOnly := partsWant{upLoRA: true, downLoRA: true}
	want := map[Strategy]*partsWant{
		MLECS: &mlecs, NoCCL: &mlecs, NoAMT: &mlecs, NoMMA: &mlecs,
		NoSECCL: &loraOnly, FedAvg: &loraOnly, FedProx: &loraOnly,
		CreamFL: {upReps: true, downReps: true},
		FedMKT:  {upKnow: true, downKnow: true},
		Local:   nil, Centralized: nil,
	}
	var buf bytes.Buffer
	emptyUp, err := (&payload.Update{RunID: "r", Round: 1, Edge: "e", Samples: 1, Modalities: []string{"img"}}).Encode(&buf, payload.FP16)
	if err != nil {
		t.Fatal(err)
	}
	emptyDown, err := (&payload.Global{RunID: "r", Round: 1}).Encode(&buf, payload.FP16)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Strategies() {
		w, ok := want[s]
		if !ok {
			t.Fatalf("%s: no expected payload parts", s)
		}
		comp, err := ComponentsOf(s)
		if err != nil {
			t.Fatal(err)
		}
		tc := TrainConfig{Batch: 4, LR: 1e-2, SECCLWeight: 0.5, SECCLTau: 0.2, Seed: 1}
		var edges []*Edge
		for i := range 2 {
			e, err := NewEdge(EdgeConfig{ID: fmt.Sprintf("e%d", i), RunID: "r", Components: comp, Steps: 2, PublicSteps: 1, Predictions: 2, Train: tc},
				tinyModel(t), []string{"img", "txt"}, tinyExamples("p", 8, uint64(i)), tinyExamples("pub", 4, 2), nil)
			if err != nil {
				t.Fatal(err)
			}
			edges = append(edges, e)
		}
		shared, err := InitShared(edges[0].SharedConfig(), 3)
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewAnchor(AnchorConfig{RunID: "r", Components: comp, Steps: 1, Train: tc}, tinyModel(t), shared, tinyExamples("pub", 4, 2), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, codec := range []payload.Codec{payload.FP16, payload.Int8} {
			sim := &Sim{Anchor: a, Edges: edges, Codec: codec}
			stats, err := sim.Run(ctx, 2)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			for k, st := range stats {
				if w == nil {
					if len(st.Up) != 0 || st.Down.Bytes != 0 {
						t.Fatalf("%s: local strategy moved %d B down and %d uploads", s, st.Down.Bytes, len(st.Up))
					}
					continue
				}
				d := st.Down.Sizes
				// CreamFL's first global of a run has no edge reps to ensemble yet: reps are checked on
				// the last round, when the edges have sent theirs.
				downReps := d.Fused > emptyDown.Fused
				if st.Down.Bytes != d.Total() || (d.LoRA > emptyDown.LoRA) != w.downLoRA ||
					(k == len(stats)-1 && downReps != w.downReps) || (downReps && !w.downReps) || d.Header == 0 ||
					(d.Knowledge > 0) != w.downKnow {
					t.Fatalf("%s/%s round %d: down %d B, sizes %+v, want %+v", s, codec, st.Round, st.Down.Bytes, d, *w)
				}
				if len(st.Up) != len(edges) {
					t.Fatalf("%s round %d: %d updates", s, st.Round, len(st.Up))
				}
				for id, up := range st.Up {
					u := up.Sizes
					if up.Bytes != u.Total() || (u.LoRA > emptyUp.LoRA) != w.upLoRA || (u.Fused > emptyUp.Fused) != w.upReps ||
						(u.Predictions > emptyUp.Predictions) != w.upPreds || u.Header == 0 || u.Metrics <= emptyUp.Metrics ||
						(u.Knowledge > 0) != w.upKnow {
						t.Fatalf("%s/%s round %d edge %s: up %d B, sizes %+v, want %+v", s, codec, st.Round, id, up.Bytes, u, *w)
					}
				}
				if st.Rejected != 0 {
					t.Fatalf("%s: %d updates rejected", s, st.Rejected)
				}
			}
			if w != nil {
				t.Logf("%s/%s: up %+v down %+v", s, codec, stats[1].Up["e0"].Sizes, stats[1].Down.Sizes)
			}
		}
	}
}

// TestAnchorToleratesAbsentParts: an ML-ECS anchor given updates without reps or predictions aggregates
// their deltas and still publishes its own reps; an update without a delta is rejected alone.
func TestAnchorToleratesAbsentParts(t *testing.T) {
	ctx := context.Background()
	comp, err := ComponentsOf(MLECS)
	if err != nil {
		t.Fatal(err)
	}
	e := tinyEdge(t, MLECS, 0)
	shared, err := InitShared(e.SharedConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	tc := TrainConfig{Batch: 4, LR: 1e-2, SECCLWeight: 0.5, SECCLTau: 0.2, Seed: 1}
	a, err := NewAnchor(AnchorConfig{RunID: "r", Components: comp, Steps: 1, Train: tc}, tinyModel(t), shared, tinyExamples("pub", 4, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.Round(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// An edge's global without reps: SE-CCL has no targets this round, the round still runs.
	g.Fused = payload.Reps{}
	u, err := e.LocalRound(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	u.Fused, u.Predictions = payload.Reps{}, nil
	bare := &payload.Update{RunID: "r", Round: u.Round, Edge: "bare", Samples: 3, Modalities: []string{"img"}}
	before := norm(a.Global())
	g2, err := a.Round(ctx, []*payload.Update{u, bare})
	if err != nil {
		t.Fatal(err)
	}
	r := a.LastAggregation()
	if r == nil || len(r.Accepted) != 1 || len(r.Rejected) != 1 || r.Rejected[0].Edge != "bare" {
		t.Fatalf("aggregation %+v: want e1 accepted, bare rejected", r)
	}
	if norm(g2.LoRA) == before || len(g2.Fused.IDs) != 4 {
		t.Fatalf("global: LoRA norm %v (before %v), %d reps", norm(g2.LoRA), before, len(g2.Fused.IDs))
	}
}
