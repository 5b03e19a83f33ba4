package fedtrainer

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/payload"
)

// The learners are exercised end to end over a real mesh by node/experiment's TestExecuteMesh; these
// tests cover what the adapter decides before a learner is touched.

func encodeGlobal(t *testing.T, g *payload.Global) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := g.Encode(&buf, payload.FP32); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"codec":     WithCodec(payload.Codec(99)),
		"max bytes": WithMaxBytes(0),
		"lock":      WithComputeLock(nil),
		"run id":    WithRunID(""),
		"nil":       nil,
	} {
		if _, err := NewEdge(&federated.Edge{}, nil, opt); !errors.Is(err, ErrOption) {
			t.Errorf("%s: got %v, want ErrOption", name, err)
		}
	}
	if _, err := NewEdge(nil, nil); !errors.Is(err, ErrOption) {
		t.Errorf("nil edge: got %v", err)
	}
	if _, err := NewAnchor(nil, nil); !errors.Is(err, ErrOption) {
		t.Errorf("nil anchor: got %v", err)
	}
}

func TestEdgeRefusals(t *testing.T) {
	ctx := context.Background()
	e, err := NewEdge(&federated.Edge{}, nil, WithRunID("run-1"), WithMaxRounds(3))
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := e.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := payload.ParseGlobal(genesis)
	if err != nil || g.Round != 0 || g.RunID != "run-1" {
		t.Fatalf("genesis %+v, %v: want an empty global of round 0", g, err)
	}
	if _, err := e.LocalRound(ctx, 0, genesis); !errors.Is(err, ErrNoGlobal) {
		t.Errorf("placeholder: got %v, want ErrNoGlobal", err)
	}
	if _, err := e.LocalRound(ctx, 4, encodeGlobal(t, &payload.Global{RunID: "run-1", Round: 4})); !errors.Is(err, ErrDone) {
		t.Errorf("round 4 of 3: got %v, want ErrDone", err)
	}
	if _, err := e.LocalRound(ctx, 1, []byte("not a payload")); err == nil {
		t.Error("garbage global accepted")
	}
	if _, err := e.Aggregate(ctx, 1, genesis, nil); !errors.Is(err, ErrRole) {
		t.Errorf("edge aggregate: got %v, want ErrRole", err)
	}
}

func TestAnchorRefusals(t *testing.T) {
	ctx := context.Background()
	a, err := NewAnchor(&federated.Anchor{}, nil, WithMaxRounds(2), WithMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.LocalRound(ctx, 1, nil); !errors.Is(err, ErrRole) {
		t.Errorf("anchor local round: got %v, want ErrRole", err)
	}
	if _, err := a.Aggregate(ctx, 3, encodeGlobal(t, &payload.Global{RunID: "r", Round: 3}), nil); !errors.Is(err, ErrDone) {
		t.Errorf("round 3 of 2: got %v, want ErrDone", err)
	}
	if _, err := a.Aggregate(ctx, 1, []byte("MLG?"), nil); err == nil {
		t.Error("garbage global accepted")
	}
	big := encodeGlobal(t, &payload.Global{RunID: "r", Round: 1, LoRA: []payload.Tensor{{Name: "w", Shape: []int{1 << 18}, Data: make([]float32, 1<<18)}}})
	if _, err := a.Aggregate(ctx, 1, big, nil); !errors.Is(err, payload.ErrTooLarge) {
		t.Errorf("global over the byte bound: got %v, want ErrTooLarge", err)
	}
}
