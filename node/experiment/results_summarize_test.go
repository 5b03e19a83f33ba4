package experiment

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/payload"
)

func TestSummarizeHand(t *testing.T) {
	r := mustSummarize(t, handMeasurements())
	if r.Format != Format || r.Dataset != "emoji" || r.Preset != "tiny" || r.Rounds != 2 || !slices.Equal(r.Seeds, []uint64{1, 2, 3}) {
		t.Fatalf("header: %+v", r)
	}
	m := r.Methods["mlecs"]
	checkStat := func(name string, got Stat, mean, std float64, per ...float64) {
		t.Helper()
		if !near(got.Mean, mean) || !near(got.Std, std) || len(got.PerSeed) != len(per) {
			t.Errorf("%s: got %+v, want mean %v std %v per_seed %v", name, got, mean, std, per)
			return
		}
		for i := range per {
			if !near(got.PerSeed[i], per[i]) {
				t.Errorf("%s.per_seed[%d]: %v, want %v", name, i, got.PerSeed[i], per[i])
			}
		}
	}
	// Final round: seeds average their edges: (0.4+0.6)/2, (0.5+0.7)/2, (0.6+0.8)/2.
	checkStat("edge_rougeLsum", m.EdgeRougeLsum, 0.6, 0.1, 0.5, 0.6, 0.7)
	// (0.6, 0.7, 0.9): mean 0.7333, deviations -0.1333, -0.0333, 0.1667, sample var 0.046667/2.
	checkStat("edge_accuracy", m.EdgeAccuracy, 2.2/3, math.Sqrt(0.07/3), 0.6, 0.7, 0.9)
	if m.AnchorRougeLsum == nil {
		t.Fatal("anchor_rougeLsum: nil for mlecs")
	}
	checkStat("anchor_rougeLsum", *m.AnchorRougeLsum, 0.5, math.Sqrt(0.07), 0.3, 0.4, 0.8)
	checkStat("anchor_accuracy", *m.AnchorAccuracy, 0.5, 0, 0.5, 0.5, 0.5)
	if m.EdgeMacroF1 != nil {
		t.Errorf("edge_macro_f1: %+v, want nil when no edge reports it", m.EdgeMacroF1)
	}
	// Up: (1000 + 2000 + 3000 + 4000) / 4 per seed; down 500; comm = 3000 / (4 x 10000).
	if m.BytesUpPerEdgeRound != 2500 || m.BytesDownPerEdgeRound != 500 || m.EdgeModelParams != 10000 {
		t.Errorf("bytes: up %d down %d params %d", m.BytesUpPerEdgeRound, m.BytesDownPerEdgeRound, m.EdgeModelParams)
	}
	if !near(m.CommRatio, 0.075) {
		t.Errorf("comm_ratio %v, want 0.075", m.CommRatio)
	}
	wantUp := payload.Sizes{Header: 10, LoRA: 990, Fused: 1250, Predictions: 250}
	if *m.BytesUpParts != wantUp || *m.BytesDownParts != (payload.Sizes{Header: 20, LoRA: 480}) {
		t.Errorf("parts: up %+v down %+v", *m.BytesUpParts, *m.BytesDownParts)
	}
	// Wall: seed 1 sums its rounds (1.5 + 2.5), seeds 2 and 3 give 10 and 7.
	if !near(m.WallSeconds, 7) {
		t.Errorf("wall_seconds %v, want 7", m.WallSeconds)
	}
	want := []EdgeResult{
		{Node: "edge-1", Modalities: []string{"twemoji"}, RougeLsum: 0.5, Accuracy: 1.9 / 3, Seeds: 3},
		{Node: "edge-2", Modalities: []string{"twemoji", "text"}, RougeLsum: 0.7, Accuracy: 2.5 / 3, Seeds: 3},
	}
	if len(m.PerEdge) != len(want) {
		t.Fatalf("per_edge: %+v", m.PerEdge)
	}
	for i, w := range want {
		g := m.PerEdge[i]
		if g.Node != w.Node || !slices.Equal(g.Modalities, w.Modalities) || !near(g.RougeLsum, w.RougeLsum) ||
			!near(g.Accuracy, w.Accuracy) || g.Seeds != w.Seeds || g.MacroF1 != nil {
			t.Errorf("per_edge[%d]: %+v, want %+v", i, g, w)
		}
	}
	c := m.Curves
	if !slices.Equal(c.Rounds, []int{1, 2}) || !near(c.EdgeRougeLsum.Mean[0], 0.4) || !near(c.EdgeRougeLsum.Std[0], 0.1) ||
		!near(c.EdgeRougeLsum.Mean[1], 0.6) || !near(c.BytesUp.Mean[0], 1500) || !near(c.BytesUp.Mean[1], 3500) ||
		c.BytesUp.Std[1] != 0 || !near(c.AnchorRougeLsum.Mean[0], 0.4) || !near(c.WallSeconds.Mean[1], 2.5) {
		t.Errorf("curves: %+v", c)
	}

	// fedavg: no anchor, constant metrics (std 0), fractional byte mean (1001 and 1002 up) rounded,
	// comm_ratio from the unrounded mean.
	f := r.Methods["fedavg"]
	if f.AnchorRougeLsum != nil || f.AnchorAccuracy != nil || f.Curves.AnchorRougeLsum != nil {
		t.Errorf("fedavg anchor: %+v", f.AnchorRougeLsum)
	}
	checkStat("fedavg edge_rougeLsum", f.EdgeRougeLsum, 0.45, 0, 0.45, 0.45, 0.45)
	if f.BytesUpPerEdgeRound != 1002 || f.BytesDownPerEdgeRound != 1001 || !near(f.CommRatio, (1001.5+1001)/40000) {
		t.Errorf("fedavg bytes: up %d down %d comm %v", f.BytesUpPerEdgeRound, f.BytesDownPerEdgeRound, f.CommRatio)
	}
	if l := r.Methods["local"]; l.BytesUpPerEdgeRound != 0 || l.CommRatio != 0 {
		t.Errorf("local: %+v", l)
	}
	if r.Settings["modality_plan"] != "mixed" {
		t.Errorf("settings: %v", r.Settings)
	}
}

func TestSummarizeOneSeedStdZeroAndMacroF1(t *testing.T) {
	m := curvedMeasurements(3, []uint64{7})
	f1 := 0.25
	for mi := range m.Methods {
		for ri := range m.Methods[mi].Runs {
			for di := range m.Methods[mi].Runs[ri].Rounds {
				for ei := range m.Methods[mi].Runs[ri].Rounds[di].Edges {
					m.Methods[mi].Runs[ri].Rounds[di].Edges[ei].Eval.MacroF1 = &f1
				}
			}
		}
	}
	r := mustSummarize(t, m)
	for name, mr := range r.Methods {
		if mr.EdgeRougeLsum.Std != 0 || mr.EdgeAccuracy.Std != 0 || len(mr.EdgeRougeLsum.PerSeed) != 1 {
			t.Errorf("%s: one seed must give std 0: %+v", name, mr.EdgeRougeLsum)
		}
		if mr.EdgeMacroF1 == nil || !near(mr.EdgeMacroF1.Mean, 0.25) || mr.PerEdge[0].MacroF1 == nil {
			t.Errorf("%s: macro F1 %+v", name, mr.EdgeMacroF1)
		}
		for i, s := range mr.Curves.EdgeRougeLsum.Std {
			if s != 0 {
				t.Errorf("%s: curve std[%d] = %v with one seed", name, i, s)
			}
		}
	}
}

func TestSummarizeSeedDependentModalitiesSplitRows(t *testing.T) {
	m := handMeasurements()
	m.Methods = m.Methods[:1]
	// In seed 3 edge-1 holds text instead of twemoji: its row must not be mixed with seeds 1 and 2.
	for i := range m.Methods[0].Runs[2].Rounds {
		m.Methods[0].Runs[2].Rounds[i].Edges[0].Modalities = []string{"text"}
	}
	pe := mustSummarize(t, m).Methods["mlecs"].PerEdge
	if len(pe) != 3 || pe[0].Seeds != 2 || !near(pe[0].RougeLsum, 0.45) || pe[2].Node != "edge-1" || pe[2].Seeds != 1 ||
		!near(pe[2].RougeLsum, 0.6) {
		t.Errorf("per_edge: %+v", pe)
	}
}

func TestSummarizeRejects(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		edit func(*Measurements)
		want string
	}{
		{"no dataset", func(m *Measurements) { m.Dataset = "" }, "dataset: empty"},
		{"no rounds", func(m *Measurements) { m.Rounds = 0 }, "rounds: 0"},
		{"no seeds", func(m *Measurements) { m.Seeds = nil }, "seeds: none"},
		{"duplicate seed", func(m *Measurements) { m.Seeds = []uint64{1, 2, 1} }, "seeds: 1 listed twice"},
		{"no methods", func(m *Measurements) { m.Methods = nil }, "methods: none"},
		{"bad name", func(m *Measurements) { m.Methods[1].Method = "fed|avg" }, `method name "fed|avg"`},
		{"duplicate method", func(m *Measurements) { m.Methods[1].Method = "mlecs" }, `method "mlecs" listed twice`},
		{"zero params", func(m *Measurements) { m.Methods[0].EdgeModelParams = 0 }, "edge_model_params: 0"},
		{"missing seed", func(m *Measurements) { m.Methods[1].Runs = m.Methods[1].Runs[:2] }, `method "fedavg": seed 3: no run`},
		{"foreign seed", func(m *Measurements) { m.Methods[1].Runs[0].Seed = 9 }, "seed 9: seed not in"},
		{"two runs", func(m *Measurements) { m.Methods[1].Runs[1].Seed = 1 }, "seed 1: two runs"},
		{"rounds count", func(m *Measurements) { m.Methods[0].Runs[0].Rounds = m.Methods[0].Runs[0].Rounds[:1] }, "1 rounds recorded, want 2"},
		{"round number", func(m *Measurements) { m.Methods[0].Runs[1].Rounds[1].Round = 5 }, "rounds[1]: round number 5, want 2"},
		{"nan rouge", func(m *Measurements) { m.Methods[0].Runs[2].Rounds[1].Edges[1].Eval.RougeLsum = nan },
			`method "mlecs": seed 3: round 2: edge "edge-2": rougeLsum: NaN`},
		{"accuracy > 1", func(m *Measurements) { m.Methods[0].Runs[0].Rounds[0].Edges[0].Eval.Accuracy = 1.5 }, "accuracy: 1.5"},
		{"anchor partial", func(m *Measurements) { m.Methods[0].Runs[1].Rounds[1].Anchor = nil }, "anchor metrics present in some rounds"},
		{"anchor nan", func(m *Measurements) { m.Methods[0].Runs[0].Rounds[0].Anchor.RougeLsum = nan }, "anchor: rougeLsum: NaN"},
		{"negative bytes", func(m *Measurements) { m.Methods[0].Runs[0].Rounds[0].Edges[0].Down.Fused = -1 }, "bytes down: negative"},
		{"no edges", func(m *Measurements) { m.Methods[0].Runs[0].Rounds[0].Edges = nil }, "round 1: no edges"},
		{"duplicate edge", func(m *Measurements) { m.Methods[0].Runs[0].Rounds[0].Edges[1].Node = "edge-1" }, `edge "edge-1" listed twice`},
		{"no modalities", func(m *Measurements) { m.Methods[0].Runs[0].Rounds[0].Edges[1].Modalities = nil }, "modalities: none"},
		{"inf wall", func(m *Measurements) { m.Methods[0].Runs[0].WallSeconds = math.Inf(1) }, "wall_seconds: +Inf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := handMeasurements()
			tc.edit(&m)
			_, err := Summarize(m)
			if !errors.Is(err, ErrMeasurements) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrMeasurements containing %q", err, tc.want)
			}
		})
	}
}

func TestGain(t *testing.T) {
	r := mustSummarize(t, handMeasurements())
	g, err := r.Gain()
	if err != nil {
		t.Fatal(err)
	}
	// Baselines: fedavg 0.45 and local 0.30; centralized (0.90) and mlecs-no-ccl (0.55) are not baselines.
	if g.Baseline != "fedavg" || !near(g.Best, 0.45) || !near(g.Absolute, 0.15) || !g.HasRelative || !near(g.Relative, 0.15/0.45) {
		t.Errorf("gain: %+v", g)
	}
	delete(r.Methods, "fedavg")
	delete(r.Methods, "local")
	if _, err := r.Gain(); !errors.Is(err, ErrNoGain) {
		t.Errorf("no baseline: %v", err)
	}
	if !slices.Equal(r.MethodNames(), []string{"mlecs", "mlecs-no-ccl", "centralized"}) {
		t.Errorf("order: %v", r.MethodNames())
	}
}

func TestMeanStd(t *testing.T) {
	for _, tc := range []struct {
		xs        []float64
		mean, std float64
	}{
		{nil, 0, 0}, {[]float64{3}, 3, 0}, {[]float64{1, 3}, 2, math.Sqrt2}, {[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7)},
	} {
		m, s := meanStd(tc.xs)
		if !near(m, tc.mean) || !near(s, tc.std) {
			t.Errorf("meanStd(%v) = %v, %v; want %v, %v", tc.xs, m, s, tc.mean, tc.std)
		}
	}
}
