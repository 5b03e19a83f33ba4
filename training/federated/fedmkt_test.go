package federated

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/payload"
)

// TestEdgeKnowledgeMean: the anchor's teacher is, per sample and position, the mean over the edges that
// sent that position of their renormalised distributions (a token outside an edge's top-K counts 0);
// an update with a token outside the vocabulary is skipped.
func TestEdgeKnowledgeMean(t *testing.T) {
	comp, err := ComponentsOf(FedMKT)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAnchor(AnchorConfig{RunID: "r", Components: comp, Steps: 1, Train: TrainConfig{Batch: 4, LR: 1e-2, Seed: 1}},
		tinyModel(t), nil, tinyExamples("pub", 4, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	up := func(edge string, k int, samples ...payload.SampleDist) *payload.Update {
		return &payload.Update{RunID: "r", Edge: edge, Knowledge: payload.Knowledge{K: k, Samples: samples}}
	}
	us := []*payload.Update{
		// x: two positions; its probabilities sum to 0.5 at position 0 (renormalised to 0.5, 0.5)
		up("e0", 2, payload.SampleDist{ID: "x", Tokens: []int32{1, 2, 3, 4}, Probs: []float32{0.25, 0.25, 0.5, 0.5}}),
		// x: one position only; y: one position
		up("e1", 2, payload.SampleDist{ID: "x", Tokens: []int32{2, 5}, Probs: []float32{1, 0}},
			payload.SampleDist{ID: "y", Tokens: []int32{7, 8}, Probs: []float32{0.75, 0.25}}),
		up("bad", 1, payload.SampleDist{ID: "x", Tokens: []int32{99}, Probs: []float32{1}}), // outside vocab 23
	}
	got := a.edgeKnowledge(us)
	want := map[string][]model.Dist{
		"x": {{IDs: []int32{1, 2, 5}, Probs: []float32{0.25, 0.75, 0}}, {IDs: []int32{3, 4}, Probs: []float32{0.5, 0.5}}},
		"y": {{IDs: []int32{7, 8}, Probs: []float32{0.75, 0.25}}},
	}
	if len(got) != len(want) {
		t.Fatalf("teachers %v, want %v", got, want)
	}
	for id, ds := range want {
		if len(got[id]) != len(ds) {
			t.Fatalf("%s: %v, want %v", id, got[id], ds)
		}
		for j, d := range ds {
			g := got[id][j]
			if fmt.Sprint(g.IDs) != fmt.Sprint(d.IDs) || len(g.Probs) != len(d.Probs) {
				t.Fatalf("%s position %d: %+v, want %+v", id, j, g, d)
			}
			for k := range d.Probs {
				if math.Abs(float64(g.Probs[k]-d.Probs[k])) > 1e-7 {
					t.Fatalf("%s position %d: %+v, want %+v", id, j, g, d)
				}
			}
		}
	}
	if a.edgeKnowledge(nil) != nil {
		t.Fatal("teachers without updates")
	}
}

// tokenMass is the mean probability a learner gives token tok over every target position of exs.
func tokenMass(t *testing.T, l *learner, exs []model.Example, tok int32) float64 {
	t.Helper()
	kn, err := l.knowledge(context.Background(), exs, l.lm.Config().VocabSize)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	var n int
	for _, sd := range kn.Samples {
		for i, id := range sd.Tokens {
			if id == tok {
				s += float64(sd.Probs[i])
				n++
			}
		}
	}
	return s / float64(n)
}

// learnableTinyModel is tinyModel with a 10x larger (frozen) token embedding, so that the LoRA can move
// the tied output distribution visibly in a few steps.
func learnableTinyModel(t *testing.T) *model.Model[float32] {
	m := tinyModel(t)
	for i := range m.Backbone().Base.Wte {
		m.Backbone().Base.Wte[i] *= 10
	}
	return m
}

// TestFedMKTDistillationMoves: both directions distil. Given edges that put all their mass on token 9 at
// every position (never a target of the public samples), the anchor's public steps raise its
// probability of 9 well above (x1.3) that of the same anchor given updates without knowledge (the frozen
// random base of a tiny model moves slowly, so the gap, not the level, is the signal); given such a
// global, an edge's public steps do the same, and report the KL.
func TestFedMKTDistillationMoves(t *testing.T) {
	ctx := context.Background()
	comp, err := ComponentsOf(FedMKT)
	if err != nil {
		t.Fatal(err)
	}
	tc := TrainConfig{Batch: 4, LR: 3e-2, Seed: 1}
	pub := tinyExamples("pub", 4, 2)
	peaked := func() payload.Knowledge {
		kn := payload.Knowledge{K: 1}
		for _, ex := range pub {
			s := payload.SampleDist{ID: ex.ID}
			for range len(ex.Target) + 1 {
				s.Tokens, s.Probs = append(s.Tokens, 9), append(s.Probs, 1)
			}
			kn.Samples = append(kn.Samples, s)
		}
		return kn
	}
	// anchor: identical twins, one distilling from the edges' knowledge, one given none (plain CE)
	var mass [2]float64
	for i, kn := range []payload.Knowledge{peaked(), {}} {
		a, err := NewAnchor(AnchorConfig{RunID: "r", Components: comp, Steps: 30, Train: tc}, learnableTinyModel(t), nil, pub, nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := a.Round(ctx, nil) // no teachers yet: plain generation loss
		if err != nil {
			t.Fatal(err)
		}
		if g.Knowledge.K != DefaultDistillTopK || len(g.Knowledge.Samples) != len(pub) || len(g.LoRA) != 0 || len(g.Fused.IDs) != 0 {
			t.Fatalf("first global: K %d, %d samples, %d LoRA tensors, %d reps", g.Knowledge.K, len(g.Knowledge.Samples), len(g.LoRA), len(g.Fused.IDs))
		}
		for i, s := range g.Knowledge.Samples {
			if s.Positions(g.Knowledge.K) != len(pub[i].Target)+1 {
				t.Fatalf("sample %s: %d positions, want %d", s.ID, s.Positions(g.Knowledge.K), len(pub[i].Target)+1)
			}
		}
		ups := []*payload.Update{{RunID: "r", Round: 1, Edge: "e0", Knowledge: kn}, {RunID: "r", Round: 1, Edge: "e1", Knowledge: kn}}
		if _, err := a.Round(ctx, ups); err != nil {
			t.Fatal(err)
		}
		mass[i] = tokenMass(t, a.l, pub, 9)
	}
	if !(mass[0] > 1.3*mass[1]) {
		t.Fatalf("anchor's probability of the edges' token: %.3f distilled, %.3f without knowledge", mass[0], mass[1])
	}
	t.Logf("anchor: p(9) %.3f distilled, %.3f without knowledge", mass[0], mass[1])

	var e *Edge
	for i, kn := range []payload.Knowledge{peaked(), {}} {
		e, err = NewEdge(EdgeConfig{ID: "e0", RunID: "r", Components: comp, Steps: 1, PublicSteps: 30, Train: tc},
			learnableTinyModel(t), []string{"img", "txt"}, tinyExamples("p", 8, 1), pub, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := e.LocalRound(ctx, &payload.Global{RunID: "r", Round: 1, Knowledge: kn})
		if err != nil {
			t.Fatal(err)
		}
		mass[i] = tokenMass(t, e.l, pub, 9)
		if _, ok := u.Metrics["public_kd_loss"]; ok != (i == 0) || len(u.Knowledge.Samples) != len(pub) || len(u.LoRA) != 0 {
			t.Fatalf("update: metrics %v, %d knowledge samples, %d LoRA tensors", u.Metrics, len(u.Knowledge.Samples), len(u.LoRA))
		}
		if _, ok := u.Metrics["kd_loss"]; ok {
			t.Fatal("private steps reported a distillation loss")
		}
	}
	if !(mass[0] > 1.3*mass[1]) {
		t.Fatalf("edge's probability of the anchor's token: %.3f distilled, %.3f without knowledge", mass[0], mass[1])
	}
	t.Logf("edge: p(9) %.3f distilled, %.3f without knowledge", mass[0], mass[1])
	// A global whose knowledge names a token outside the edge's vocabulary is refused.
	bad := peaked()
	bad.Samples[0].Tokens[0] = 23
	if _, err := e.LocalRound(ctx, &payload.Global{RunID: "r", Round: 2, Knowledge: bad}); err == nil {
		t.Fatal("knowledge outside the vocabulary accepted")
	}
}

// TestSimFedMKT: three simulated FedMKT rounds over encoded payloads: the distributions travel both
// ways in every round (counted bytes), no LoRA moves, the edges distil, and their training loss falls.
func TestSimFedMKT(t *testing.T) {
	ctx := context.Background()
	comp, err := ComponentsOf(FedMKT)
	if err != nil {
		t.Fatal(err)
	}
	tc := TrainConfig{Batch: 4, LR: 1e-2, Seed: 1}
	pub := tinyExamples("pub", 4, 2)
	var edges []*Edge
	for i := range 2 {
		e, err := NewEdge(EdgeConfig{ID: fmt.Sprintf("e%d", i), RunID: "r", Components: comp, Steps: 4, PublicSteps: 2, Train: tc},
			tinyModel(t), []string{"img", "txt"}, tinyExamples("p", 8, uint64(i)), pub[2*i:2*i+2], nil)
		if err != nil {
			t.Fatal(err)
		}
		edges = append(edges, e)
	}
	a, err := NewAnchor(AnchorConfig{RunID: "r", Components: comp, Steps: 2, Train: tc}, tinyModel(t), nil, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	sim := &Sim{Anchor: a, Edges: edges, Codec: payload.FP16}
	stats, err := sim.Run(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stats {
		if d := st.Down.Sizes; d.Knowledge == 0 || d.Total() != st.Down.Bytes || d.LoRA != 4 {
			t.Fatalf("round %d: down sizes %+v (%d B)", st.Round, d, st.Down.Bytes)
		}
		for id, up := range st.Up {
			if u := up.Sizes; u.Knowledge == 0 || u.Total() != up.Bytes || u.LoRA != 4 {
				t.Fatalf("round %d edge %s: up sizes %+v (%d B)", st.Round, id, u, up.Bytes)
			}
		}
		for _, u := range st.Updates {
			if len(u.Knowledge.Samples) != 2 || u.Metrics["public_kd_loss"] <= 0 {
				t.Fatalf("round %d edge %s: %d knowledge samples, metrics %v", st.Round, u.Edge, len(u.Knowledge.Samples), u.Metrics)
			}
		}
	}
	for i, e := range edges {
		first, last := stats[0].Updates[i].Metrics["loss"], stats[len(stats)-1].Updates[i].Metrics["loss"]
		if !(last < first) {
			t.Fatalf("edge %s: private loss %.4f in round 1, %.4f in round 3", e.ID(), first, last)
		}
		t.Logf("edge %s: loss %.4f -> %.4f, public kd %.4f", e.ID(), first, last, stats[len(stats)-1].Updates[i].Metrics["public_kd_loss"])
	}
}
