package fedtrainer

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/storage"
	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/federated/fedtest"
	"github.com/mlecs/mlecs/training/payload"
)

// tinyEdge builds an ML-ECS edge learner on a model small enough for a unit test (an image and a text
// slot; as training/federated's tests).
func tinyEdge(t *testing.T, id string) *federated.Edge {
	t.Helper()
	m := fedtest.TinyModel(t)
	comp, err := federated.ComponentsOf(federated.MLECS)
	if err != nil {
		t.Fatal(err)
	}
	e, err := federated.NewEdge(federated.EdgeConfig{ID: id, RunID: "r", Components: comp, Steps: 3, PublicSteps: 2, Predictions: 1,
		Train: federated.TrainConfig{Batch: 4, LR: 1e-2, Clip: 1, SECCLWeight: 0.5, SECCLTau: 0.2, Seed: 1}},
		m, []string{"img", "txt"}, fedtest.TinyExamples("p", 6, 1), fedtest.TinyExamples("pub", 4, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func tinyGlobal(t *testing.T, e *federated.Edge, round uint64) []byte {
	t.Helper()
	shared, err := federated.InitShared(e.SharedConfig(), 7)
	if err != nil {
		t.Fatal(err)
	}
	reps := payload.Reps{Dim: 5, IDs: []string{"pub-0", "pub-1", "pub-2", "pub-3"}, Data: make([]float32, 20)}
	for i := range reps.Data {
		reps.Data[i] = float32(math.Cos(float64(i) + float64(round)))
	}
	return encodeGlobal(t, &payload.Global{RunID: "r", Round: round, LoRA: shared, Fused: reps})
}

// TestEdgeStateThroughStore: an edge trainer's state, saved as a storage checkpoint and loaded back
// into a freshly built edge, makes its next round's update blob byte-identical to the original
// trainer's; a fresh trainer without it sends another; another edge's state is refused.
func TestEdgeStateThroughStore(t *testing.T) {
	ctx := context.Background()
	newTrainer := func(id string) *Edge {
		tr, err := NewEdge(tinyEdge(t, id), nil, WithRunID("r"))
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	orig := newTrainer("e1")
	if _, err := orig.LocalRound(ctx, 1, tinyGlobal(t, orig.Learner(), 1)); err != nil {
		t.Fatal(err)
	}
	st, err := orig.SaveState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.SaveCheckpoint(ctx, &storage.Checkpoint{Kind: "learner", Term: 1, Round: 1, Meta: st.Meta, Tensors: st.Tensors}); err != nil {
		t.Fatal(err)
	}
	cp, err := store.LoadCheckpoint(ctx, "learner", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	back := newTrainer("e1")
	if err := back.RestoreState(ctx, nodeState(cp)); err != nil {
		t.Fatal(err)
	}
	if back.Learner().Round() != 1 {
		t.Fatalf("restored learner at round %d, want 1", back.Learner().Round())
	}
	g2 := tinyGlobal(t, orig.Learner(), 2)
	want, err := orig.LocalRound(ctx, 2, g2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.LocalRound(ctx, 2, g2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("restored trainer's round-2 update (%d bytes) differs from the original's (%d bytes)", len(got), len(want))
	}
	fresh := newTrainer("e1")
	if other, err := fresh.LocalRound(ctx, 2, g2); err != nil || bytes.Equal(other, want) {
		t.Fatalf("a fresh trainer's round 2: %v, same update %v; the state must make a difference", err, bytes.Equal(other, want))
	}

	wrong := newTrainer("e2")
	if err := wrong.RestoreState(ctx, nodeState(cp)); !errors.Is(err, federated.ErrState) {
		t.Fatalf("edge e2 restoring e1's state: %v, want ErrState", err)
	}
	if wrong.Learner().Round() != 0 {
		t.Fatalf("refused state moved the learner to round %d", wrong.Learner().Round())
	}
}

func nodeState(cp *storage.Checkpoint) node.TrainerState {
	return node.TrainerState{Meta: cp.Meta, Tensors: cp.Tensors}
}
