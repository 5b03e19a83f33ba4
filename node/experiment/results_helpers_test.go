package experiment

import (
	"fmt"
	"math"
	"testing"

	"github.com/mlecs/mlecs/training/payload"
)

// handMeasurements is a small experiment whose summary is computed by hand in TestSummarizeHand:
// seeds 1,2,3; 2 rounds; 2 edges; methods mlecs (with an anchor), fedavg, local, centralized and
// mlecs-no-ccl.
func handMeasurements() Measurements {
	m := Measurements{
		Dataset: "emoji", Preset: "tiny", Rounds: 2, Seeds: []uint64{1, 2, 3},
		Settings: map[string]string{"edges": "2", "modality_plan": "mixed", "codec": "fp32"},
	}
	// mlecs final-round ROUGE per seed and edge: (0.4, 0.6), (0.5, 0.7), (0.6, 0.8); round 1 is 0.2 lower.
	rouge := [3][2]float64{{0.4, 0.6}, {0.5, 0.7}, {0.6, 0.8}}
	acc := [3][2]float64{{0.5, 0.7}, {0.6, 0.8}, {0.8, 1.0}}
	anchor := [3]float64{0.3, 0.4, 0.8}
	wall := [3]float64{0, 10, 7} // seed 1: 0 = sum of the rounds (1.5 + 2.5)
	// Up bytes: (r1: 1000, 2000), (r2: 3000, 4000); down 500 everywhere.
	up := [2][2]payload.Sizes{
		{{Header: 10, LoRA: 990}, {Header: 10, LoRA: 990, Fused: 1000}},
		{{Header: 10, LoRA: 990, Fused: 2000}, {Header: 10, LoRA: 990, Fused: 2000, Predictions: 1000}},
	}
	down := payload.Sizes{Header: 20, LoRA: 480}
	mods := [2][]string{{"twemoji"}, {"twemoji", "text"}}
	mr := MethodRuns{Method: "mlecs", EdgeModelParams: 10000}
	for s, seed := range m.Seeds {
		run := Run{Seed: seed, WallSeconds: wall[s]}
		for r := 1; r <= 2; r++ {
			off := 0.2 * float64(2-r)
			rd := Round{Round: r, WallSeconds: 1.5 + float64(r-1), Anchor: &Eval{RougeLsum: anchor[s] - off/2, Accuracy: 0.5}}
			for e := range 2 {
				rd.Edges = append(rd.Edges, EdgeRound{
					Node: fmt.Sprintf("edge-%d", e+1), Modalities: mods[e],
					Eval: Eval{RougeLsum: rouge[s][e] - off, Accuracy: acc[s][e]},
					Up:   up[r-1][e], Down: down,
				})
			}
			run.Rounds = append(run.Rounds, rd)
		}
		mr.Runs = append(mr.Runs, run)
	}
	m.Methods = append(m.Methods, mr)
	m.Methods = append(m.Methods,
		flatMethod("fedavg", m.Seeds, 2, 0.45, payload.Sizes{Header: 1, LoRA: 1000}, payload.Sizes{LoRA: 1001}, 10000),
		flatMethod("local", m.Seeds, 2, 0.30, payload.Sizes{}, payload.Sizes{}, 10000),
		flatMethod("centralized", m.Seeds, 2, 0.90, payload.Sizes{}, payload.Sizes{}, 10000),
		flatMethod("mlecs-no-ccl", m.Seeds, 2, 0.55, payload.Sizes{LoRA: 999}, payload.Sizes{LoRA: 999}, 10000),
	)
	return m
}

// flatMethod is a method whose every edge scores rouge in every round and seed, without an anchor;
// edge-2's up bytes are one more than edge-1's so that the per-edge mean is fractional.
func flatMethod(name string, seeds []uint64, rounds int, rouge float64, up, down payload.Sizes, params int64) MethodRuns {
	mr := MethodRuns{Method: name, EdgeModelParams: params}
	for _, seed := range seeds {
		run := Run{Seed: seed, WallSeconds: 3}
		for r := 1; r <= rounds; r++ {
			rd := Round{Round: r, WallSeconds: 1}
			for e := range 2 {
				u := up
				if e == 1 && u.Total() > 0 {
					u.Metrics++
				}
				rd.Edges = append(rd.Edges, EdgeRound{
					Node: fmt.Sprintf("edge-%d", e+1), Modalities: [][]string{{"twemoji"}, {"twemoji", "text"}}[e],
					Eval: Eval{RougeLsum: rouge, Accuracy: rouge}, Up: u, Down: down,
				})
			}
			run.Rounds = append(run.Rounds, rd)
		}
		mr.Runs = append(mr.Runs, run)
	}
	return mr
}

// curvedMeasurements is a longer synthetic run for the plots: ROUGE rising with noise per seed,
// bytes that differ by orders of magnitude between methods (local sends nothing).
func curvedMeasurements(rounds int, seeds []uint64) Measurements {
	m := Measurements{Dataset: "emoji", Preset: "tiny", Rounds: rounds, Seeds: seeds}
	specs := []struct {
		name     string
		ceiling  float64
		upBytes  int64
		anchor   bool
		dnFactor int64
	}{
		{"mlecs", 0.62, 40_000, true, 2}, {"mlecs-no-ccl", 0.57, 40_000, true, 2},
		{"mlecs-no-seccl", 0.55, 30_000, true, 1}, {"local", 0.35, 0, false, 0},
		{"fedavg", 0.50, 1_200_000, false, 1}, {"fedprox", 0.51, 1_200_000, false, 1},
		{"fedmkt", 0.48, 90_000, true, 1}, {"creamfl", 0.46, 250_000, true, 1},
		{"centralized", 0.70, 0, false, 0},
	}
	for k, sp := range specs {
		mr := MethodRuns{Method: sp.name, EdgeModelParams: 2_500_000}
		for si, seed := range seeds {
			run := Run{Seed: seed}
			for r := 1; r <= rounds; r++ {
				t := float64(r) / float64(rounds)
				noise := 0.03 * math.Sin(float64(7*si+3*r+k))
				v := math.Max(0, math.Min(1, sp.ceiling*(1-math.Exp(-3*t))+noise))
				rd := Round{Round: r, WallSeconds: 2 + float64(k)/4}
				if sp.anchor {
					rd.Anchor = &Eval{RougeLsum: math.Min(1, v+0.08), Accuracy: math.Min(1, v+0.1)}
				}
				var up, down payload.Sizes
				if sp.upBytes > 0 {
					up = payload.Sizes{Header: 64, LoRA: sp.upBytes}
					down = payload.Sizes{Header: 64, LoRA: sp.upBytes * sp.dnFactor}
				}
				for e := range 3 {
					rd.Edges = append(rd.Edges, EdgeRound{
						Node: fmt.Sprintf("edge-%d", e+1), Modalities: []string{"twemoji"},
						Eval: Eval{RougeLsum: v, Accuracy: math.Min(1, v+0.05)}, Up: up, Down: down,
					})
				}
				run.Rounds = append(run.Rounds, rd)
			}
			mr.Runs = append(mr.Runs, run)
		}
		m.Methods = append(m.Methods, mr)
	}
	return m
}

func mustSummarize(t *testing.T, m Measurements) Results {
	t.Helper()
	r, err := Summarize(m)
	if err != nil {
		t.Fatalf("Summarize: %v", err)
	}
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
