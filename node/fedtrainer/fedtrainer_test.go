package fedtrainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/training/aggregate"
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

func TestCombinedRefusals(t *testing.T) {
	ctx := context.Background()
	e, err := NewEdge(&federated.Edge{}, nil, WithRunID("run-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCombined(nil, func(context.Context, *payload.Global) (*federated.Anchor, error) { return nil, nil }, nil); !errors.Is(err, ErrOption) {
		t.Errorf("nil edge: got %v, want ErrOption", err)
	}
	if _, err := NewCombined(e, nil, nil); !errors.Is(err, ErrOption) {
		t.Errorf("nil factory: got %v, want ErrOption", err)
	}
	built := 0
	c, err := NewCombined(e, func(context.Context, *payload.Global) (*federated.Anchor, error) {
		built++
		return nil, errors.New("no data")
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := c.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Elected before any anchor published: nothing to resume from, and the factory is not called.
	if _, err := c.Aggregate(ctx, 0, genesis, nil); !errors.Is(err, ErrNoGlobal) || built != 0 {
		t.Errorf("aggregate on the placeholder: got %v (factory called %d times), want ErrNoGlobal", err, built)
	}
	// A real global: the factory runs, and its failure is the node's error; no anchor is kept.
	if _, err := c.Aggregate(ctx, 1, encodeGlobal(t, &payload.Global{RunID: "run-1", Round: 2}), nil); err == nil || built != 1 || c.Anchor() != nil {
		t.Errorf("failing factory: got %v, factory called %d times, anchor %v", err, built, c.Anchor())
	}
	if _, err := c.LocalRound(ctx, 0, genesis); !errors.Is(err, ErrNoGlobal) {
		t.Errorf("local round on the placeholder: got %v, want ErrNoGlobal", err)
	}
}

func TestIsPublic(t *testing.T) {
	// The rule of the experiment runner: FNV-64a of the id, mod 2^20, below fraction·2^20.
	ids := []string{"1F600", "1F601", "1F44D-1F3FB", "0023-FE0F-20E3", "a", "b"}
	for _, id := range ids {
		if IsPublic(id, 0) {
			t.Errorf("%s public at fraction 0", id)
		}
		if !IsPublic(id, 1) {
			t.Errorf("%s not public at fraction 1", id)
		}
	}
	n := 0
	for i := range 10000 {
		if IsPublic(fmt.Sprintf("%05X-%d", i*7919, i%13), 0.1) {
			n++
		}
	}
	if n < 500 || n > 1500 {
		t.Errorf("%d of 10000 ids public at 0.1", n)
	}
}

// TestJudgeMapsRejectionsToInputs: each rejection of the aggregation's record, and each capped sample
// count, becomes a refusal of the right input index with its reason; a duplicate is the later update
// of its edge, never the first.
func TestJudgeMapsRejectionsToInputs(t *testing.T) {
	// Inputs 0..6; input 2 did not decode (refused before aggregation), so the aggregation saw the
	// other six in this order.
	edges := []string{"a", "b", "c", "b", "d", "e"}
	index := []int{0, 1, 3, 4, 5, 6}
	res := &aggregate.Result{
		Rejected: []aggregate.Rejection{
			{Edge: "b", Err: fmt.Errorf("%w: twice", aggregate.ErrDuplicate)},
			{Edge: "c", Err: fmt.Errorf("%w: value 3 is NaN", aggregate.ErrNonFinite)},
			{Edge: "d", Err: fmt.Errorf("%w: tensor w", aggregate.ErrShape)},
			{Edge: "e", Err: fmt.Errorf("%w: zero samples", aggregate.ErrContribution)},
			{Edge: "b", Err: fmt.Errorf("%w: 40 > 3 x 10", aggregate.ErrNorm)},
			{Edge: "zz", Err: aggregate.ErrNorm}, // not an input: ignored
		},
		Accepted: []aggregate.Accepted{
			{Edge: "a", Declared: 1000, Samples: 20},
		},
	}
	got := judge(res, edges, index)
	want := []node.Refusal{
		{Index: 4, Reason: node.RefuseDuplicate},
		{Index: 3, Reason: node.RefuseNonFinite},
		{Index: 5, Reason: node.RefuseShape},
		{Index: 6, Reason: node.RefuseInvalid},
		{Index: 1, Reason: node.RefuseNorm},
		{Index: 0, Reason: node.RefuseInflatedSamples},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("refusals\n got %v\nwant %v", got, want)
	}
	// An honest record refuses nobody.
	if got := judge(&aggregate.Result{Accepted: []aggregate.Accepted{{Edge: "a", Declared: 5, Samples: 5}}}, []string{"a"}, []int{0}); len(got) != 0 {
		t.Fatalf("honest round refused %v", got)
	}
}
