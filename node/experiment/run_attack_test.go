package experiment

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
	"github.com/mlecs/mlecs/training/payload"
)

func TestAttackConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*RunConfig)
		field string // "" = valid
	}{
		{"signflip", func(c *RunConfig) { c.Edges, c.Attack, c.Attackers, c.AttackScale = 10, AttackSignFlip, 3, 10 }, ""},
		{"median", func(c *RunConfig) { c.Robust = RobustMedian }, ""},
		{"unknown attack", func(c *RunConfig) { c.Attack, c.Attackers = "lie", 1 }, "attack"},
		{"attackers without attack", func(c *RunConfig) { c.Attackers = 1 }, "attackers"},
		{"no attackers", func(c *RunConfig) { c.Attack = AttackScale }, "attackers"},
		{"more attackers than edges", func(c *RunConfig) { c.Attack, c.Attackers = AttackScale, 4 }, "attackers"},
		{"zero scale", func(c *RunConfig) { c.Attack, c.Attackers, c.AttackScale = AttackScale, 1, 0 }, "attack_scale"},
		{"unknown rule", func(c *RunConfig) { c.Robust = "krum" }, "robust"},
		{"trim too large", func(c *RunConfig) { c.Robust, c.Trim = RobustTrimmed, 0.5 }, "trim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultRunConfig()
			c.Dataset = "x"
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrRunConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v, want an ErrRunConfig naming %s", err, tc.field)
			}
		})
	}
}

// TestPoison: the attack rewrites only the LoRA delta of an encoded update, through the real codec.
func TestPoison(t *testing.T) {
	u := &payload.Update{RunID: "r", Round: 2, Edge: "edge-1", Samples: 40, Modalities: []string{"phone"},
		LoRA:    []payload.Tensor{{Name: "l.a", Shape: []int{2, 2}, Data: []float32{1, -2, 0.5, 0}}},
		Metrics: map[string]float64{"loss": 1.5}}
	var buf bytes.Buffer
	if _, err := u.Encode(&buf, payload.FP32); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		attack string
		want   []float32
	}{{AttackSignFlip, []float32{-3, 6, -1.5, 0}}, {AttackScale, []float32{3, -6, 1.5, 0}}} {
		out, err := poison(buf.Bytes(), tc.attack, 3, payload.FP32, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := payload.DecodeUpdate(bytes.NewReader(out), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range tc.want {
			if p.LoRA[0].Data[j] != v {
				t.Fatalf("%s: delta %v, want %v", tc.attack, p.LoRA[0].Data, tc.want)
			}
		}
		if p.Samples != 40 || p.Edge != "edge-1" || p.Round != 2 || p.Metrics["loss"] != 1.5 {
			t.Fatalf("%s: header changed: %+v", tc.attack, p)
		}
	}
	if _, err := poison([]byte("junk"), AttackScale, 2, payload.FP32, 1<<20); err == nil {
		t.Fatal("junk update poisoned without error")
	}
}

// TestExecuteMeshUnderAttack runs over a real mesh (1 anchor, 4 edges, a real HAR subset) while
// edge-1 uploads -10x its delta. With robust MMA the anchor's aggregation rejects exactly the
// attacker's update in every round and no honest one; plain FedAvg takes it in (no rejection). Both
// runs complete.
func TestExecuteMeshUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model over a mesh twice, about 15 s")
	}
	data := datatest.SharedData(t)
	ds := filepath.Join(t.TempDir(), "har")
	subset.HAR(t, ds)
	for _, tc := range []struct {
		method, robust string
		rejected       int // per round
	}{{"mlecs", RobustTrimmed, 1}, {"fedavg", RobustNone, 0}} {
		t.Run(tc.method+"/"+tc.robust, func(t *testing.T) {
			c := DefaultRunConfig()
			c.Dataset, c.BPEDir, c.WorkDir = ds, filepath.Join(data, "gpt2-bpe"), t.TempDir()
			c.Edges, c.ModalityPlan, c.Rounds, c.Methods = 4, PlanMixed, 2, []string{tc.method}
			c.TrainSamples, c.TestSamples, c.PretrainSteps = 200, 16, 20
			c.Steps, c.PublicSteps, c.AnchorSteps, c.Predictions = 4, 1, 2, 2
			c.Attack, c.Attackers, c.AttackScale, c.Robust = AttackSignFlip, 1, 10, tc.robust
			c.RoundDeadline = 2 * time.Minute
			var progress strings.Builder
			c.Progress = &progress
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			oc, err := Execute(ctx, c)
			t.Logf("progress:\n%s", progress.String())
			if err != nil {
				t.Fatal(err)
			}
			want := tc.rejected * c.Rounds
			if len(oc.Mesh) != 1 || oc.Mesh[0].Rejected != want {
				t.Fatalf("mesh stats %+v: want %d rejected updates", oc.Mesh, want)
			}
			if n := strings.Count(progress.String(), "aggregation rejected edge-1 (attacker true)"); n != want {
				t.Fatalf("attacker rejected in %d rounds, want %d", n, want)
			}
			if strings.Contains(progress.String(), "(attacker false)") {
				t.Fatal("an honest update was rejected")
			}
		})
	}
}
