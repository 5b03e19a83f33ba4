package experiment

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mlecs/mlecs/training/payload"
)

// TestPartsKnowledge: the knowledge part is averaged with the others and has its own report column.
func TestPartsKnowledge(t *testing.T) {
	var p partsF
	p.add(payload.Sizes{Header: 10, Metrics: 100, Knowledge: 300})
	p.add(payload.Sizes{Header: 10, Metrics: 100, Knowledge: 501})
	p.scale(0.5)
	if s := p.sizes(); *s != (payload.Sizes{Header: 10, Metrics: 100, Knowledge: 401}) { // 400.5 rounds half away from 0
		t.Fatalf("mean parts %+v", *s)
	}
	var b strings.Builder
	r := Results{Methods: map[string]MethodResults{"fedmkt": {BytesUpParts: p.sizes()}}}
	reportParts(&b, r, []string{"fedmkt"})
	if want := "| fedmkt | up | 10 | 0 | 0 | 0 | 100 | 401 | 511 |"; !strings.Contains(b.String(), want) {
		t.Fatalf("parts table lacks %q:\n%s", want, b.String())
	}
	if err := checkSizes("x", payload.Sizes{Knowledge: -1}); err == nil {
		t.Fatal("negative knowledge bytes accepted")
	}
}

// TestExecuteMeshFedMKT runs fedmkt through the experiment runner over real nodes, as creamfl runs: the
// top-K distributions travel both ways in every round and no LoRA does.
func TestExecuteMeshFedMKT(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model over a mesh")
	}
	ds, bpe := importEmoji(t)
	c := DefaultRunConfig()
	c.Dataset, c.BPEDir, c.WorkDir = ds, bpe, t.TempDir()
	c.Edges, c.ModalityPlan, c.Rounds, c.Seeds = 2, PlanMixed, 2, []uint64{1}
	c.Methods = []string{"fedmkt"}
	c.TrainSamples, c.TestSamples, c.PretrainSteps = 120, 8, 5
	c.PublicFraction, c.Steps, c.PublicSteps, c.AnchorSteps = 0.2, 2, 1, 2
	c.RoundDeadline = 2 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, oc, err := ExecuteAndWrite(ctx, c, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(oc.Measurements.Methods) != 1 || len(oc.Measurements.Methods[0].Runs) != 1 {
		t.Fatalf("measurements %+v", oc.Measurements.Methods)
	}
	run := oc.Measurements.Methods[0].Runs[0]
	if len(run.Rounds) != c.Rounds {
		t.Fatalf("%d rounds, want %d", len(run.Rounds), c.Rounds)
	}
	for _, rd := range run.Rounds {
		for _, e := range rd.Edges {
			if e.Up.Knowledge == 0 || e.Down.Knowledge == 0 || e.Up.LoRA > 4 || e.Down.LoRA > 4 {
				t.Errorf("round %d edge %s: up %+v down %+v: want knowledge and no LoRA", rd.Round, e.Node, e.Up, e.Down)
			}
		}
	}
	m, ok := res.Methods["fedmkt"]
	if !ok || m.BytesUpParts == nil || m.BytesUpParts.Knowledge == 0 || m.BytesDownParts.Knowledge == 0 {
		t.Fatalf("results: %+v", m)
	}
	t.Logf("fedmkt: up %+v down %+v", *m.BytesUpParts, *m.BytesDownParts)
}
