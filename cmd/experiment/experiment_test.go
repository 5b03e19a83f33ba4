package experiment

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	exp "github.com/mlecs/mlecs/node/experiment"
)

func parse(t *testing.T, args []string) (exp.RunConfig, string, error) {
	t.Helper()
	o := &options{cfg: exp.DefaultRunConfig()}
	cmd := newRunCmdWith(o)
	if err := cmd.ParseFlags(args); err != nil {
		return exp.RunConfig{}, "", err
	}
	c, err := o.config(cmd.Flags())
	return c, o.out, err
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"dataset": "data/emoji", "edges": 5, "rounds": 7, "seeds": [4, 5],
		"methods": ["mlecs", "fedprox"], "out": "res", "round_deadline": "90s", "missing_rate": 0.25}`), 0o600); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typo, []byte(`{"dataset": "x", "egdes": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c exp.RunConfig, out string)
	}{
		{name: "flags", args: []string{"--dataset", "d", "--out", "o", "--edges", "4", "--modality-plan", "single", "--rounds", "2",
			"--seeds", "1,2,3", "--methods", "mlecs,fedavg,local", "--preset", "small"},
			check: func(t *testing.T, c exp.RunConfig, out string) {
				if c.Dataset != "d" || out != "o" || c.Edges != 4 || c.ModalityPlan != "single" || c.Rounds != 2 || c.Preset != "small" ||
					!slices.Equal(c.Seeds, []uint64{1, 2, 3}) || !slices.Equal(c.Methods, []string{"mlecs", "fedavg", "local"}) {
					t.Errorf("got %+v out %q", c, out)
				}
			}},
		{name: "file with flag override", args: []string{"--config", good, "--rounds", "3"},
			check: func(t *testing.T, c exp.RunConfig, out string) {
				if c.Dataset != filepath.Join(dir, "data/emoji") || c.Edges != 5 || c.Rounds != 3 || out != "res" ||
					!slices.Equal(c.Seeds, []uint64{4, 5}) || !slices.Equal(c.Methods, []string{"mlecs", "fedprox"}) ||
					c.RoundDeadline != 90*time.Second || c.MissingRate != 0.25 {
					t.Errorf("got %+v out %q", c, out)
				}
			}},
		{name: "attack", args: []string{"--dataset", "d", "--out", "o", "--edges", "10", "--attack", "signflip", "--attackers", "3",
			"--attack-scale", "2.5", "--robust", "trimmed", "--trim", "0.3"},
			check: func(t *testing.T, c exp.RunConfig, _ string) {
				if c.Attack != exp.AttackSignFlip || c.Attackers != 3 || c.AttackScale != 2.5 || c.Robust != exp.RobustTrimmed || c.Trim != 0.3 {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "attackers without attack", args: []string{"--dataset", "d", "--out", "o", "--attackers", "2"}, wantErr: "attackers"},
		{name: "too many attackers", args: []string{"--dataset", "d", "--out", "o", "--edges", "3", "--attack", "scale", "--attackers", "4"}, wantErr: "attackers"},
		{name: "bad attack", args: []string{"--dataset", "d", "--out", "o", "--attack", "lie", "--attackers", "1"}, wantErr: "attack"},
		{name: "bad robust", args: []string{"--dataset", "d", "--out", "o", "--robust", "krum"}, wantErr: "robust"},
		{name: "no out", args: []string{"--dataset", "d"}, wantErr: "--out"},
		{name: "bad seeds", args: []string{"--dataset", "d", "--out", "o", "--seeds", "1,x"}, wantErr: "seeds"},
		{name: "unknown method", args: []string{"--dataset", "d", "--out", "o", "--methods", "mlecs,fedsgd"}, wantErr: "fedsgd"},
		{name: "bad plan", args: []string{"--dataset", "d", "--out", "o", "--modality-plan", "half"}, wantErr: "modality_plan"},
		{name: "bad deadline", args: []string{"--dataset", "d", "--out", "o", "--round-deadline", "soon"}, wantErr: "round-deadline"},
		{name: "typo in file", args: []string{"--config", typo, "--out", "o"}, wantErr: "egdes"},
		{name: "missing file", args: []string{"--config", filepath.Join(dir, "none.json"), "--out", "o"}, wantErr: "none.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, out, err := parse(t, tc.args)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want a usage error naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c, out)
		})
	}
}
