package fedtrainer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/storage"
	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/payload"
)

// Edge is the node.Trainer of an edge node: LocalRound decodes the anchor's Global blob, runs
// federated.Edge.LocalRound and encodes the Update blob.
type Edge struct {
	e       *federated.Edge
	o       options
	onRound func(context.Context, EdgeReport) error
	// The last round's global (hash) and update: an anchor that takes over re-announces the round the
	// edge may already have trained, and the learner cannot train a round twice.
	lastGlobal [sha256.Size]byte
	lastUpdate []byte
}

// NewEdge wraps a communicating edge learner. onRound (optional) runs after each round, under the
// compute lock, before the update is handed to the node: a runner evaluates the edge there.
func NewEdge(e *federated.Edge, onRound func(context.Context, EdgeReport) error, opts ...Option) (*Edge, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil edge", ErrOption)
	}
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return &Edge{e: e, o: o, onRound: onRound}, nil
}

// Init returns a placeholder genesis (an empty Global of round 0): an edge never publishes a model, it
// waits for the anchor's.
func (t *Edge) Init(context.Context) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := (&payload.Global{RunID: t.o.runID}).Encode(&buf, t.o.codec); err != nil {
		return nil, fmt.Errorf("edge %s: genesis: %w", t.e.ID(), err)
	}
	return buf.Bytes(), nil
}

// LocalRound trains one round from the global blob and returns the encoded update.
func (t *Edge) LocalRound(ctx context.Context, round uint64, global []byte) ([]byte, error) {
	g, gs, err := payload.DecodeGlobal(bytes.NewReader(global), t.o.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("edge %s round %d: %w", t.e.ID(), round, err)
	}
	if g.Round == 0 {
		return nil, fmt.Errorf("edge %s: %w", t.e.ID(), ErrNoGlobal)
	}
	if t.o.maxRounds > 0 && g.Round > t.o.maxRounds {
		return nil, fmt.Errorf("edge %s: global round %d: %w", t.e.ID(), g.Round, ErrDone)
	}
	t.o.lock.Lock()
	defer t.o.lock.Unlock()
	if g.Round <= t.e.Round() {
		// The same global again (a new anchor re-announcing the round): the same update, as sent.
		if t.lastUpdate != nil && sha256.Sum256(global) == t.lastGlobal {
			return t.lastUpdate, nil
		}
		// A round whose training was cancelled, or another anchor's global of it: train it again.
		if err := t.e.Rewind(g.Round - 1); err != nil {
			return nil, err
		}
	}
	u, err := t.e.LocalRound(ctx, g)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	us, err := u.Encode(&buf, t.o.codec)
	if err != nil {
		return nil, fmt.Errorf("edge %s round %d: encode update: %w", t.e.ID(), u.Round, err)
	}
	if t.onRound != nil {
		rep := EdgeReport{Edge: t.e.ID(), Round: u.Round, Down: Transfer{Sizes: gs, Bytes: int64(len(global))},
			Up: Transfer{Sizes: us, Bytes: int64(buf.Len())}, Update: u}
		if err := t.onRound(ctx, rep); err != nil {
			return nil, fmt.Errorf("edge %s round %d: report: %w", t.e.ID(), u.Round, err)
		}
	}
	t.lastGlobal, t.lastUpdate = sha256.Sum256(global), buf.Bytes()
	return buf.Bytes(), nil
}

// Learner returns the wrapped edge learner.
func (t *Edge) Learner() *federated.Edge { return t.e }

// Aggregate is refused: an edge never aggregates.
func (t *Edge) Aggregate(context.Context, uint64, []byte, [][]byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: edge %s cannot aggregate", ErrRole, t.e.ID())
}

var _ node.StatefulTrainer = (*Edge)(nil)

// SaveState returns the edge learner's state (federated.Edge.State) as checkpoint tensors, under the
// compute lock so that no round is half-way.
func (t *Edge) SaveState(context.Context) (node.TrainerState, error) {
	t.o.lock.Lock()
	defer t.o.lock.Unlock()
	meta, ts, err := t.e.State()
	if err != nil {
		return node.TrainerState{}, err
	}
	out := node.TrainerState{Meta: meta, Tensors: make([]storage.NamedTensor, len(ts))}
	for i, x := range ts {
		out.Tensors[i] = storage.NamedTensor{Name: x.Name, Shape: x.Shape, Data: x.Data}
	}
	return out, nil
}

// RestoreState makes the edge learner continue from a saved state (federated.Edge.Restore, which
// refuses a state of another run, edge or strategy, or a damaged one, leaving the learner unchanged).
// The remembered last update is dropped: it belonged to the learner as it was before.
func (t *Edge) RestoreState(_ context.Context, s node.TrainerState) error {
	ts := make([]payload.Tensor, len(s.Tensors))
	for i, x := range s.Tensors {
		ts[i] = payload.Tensor{Name: x.Name, Shape: x.Shape, Data: x.Data}
	}
	t.o.lock.Lock()
	defer t.o.lock.Unlock()
	if err := t.e.Restore(s.Meta, ts); err != nil {
		return err
	}
	t.lastGlobal, t.lastUpdate = [sha256.Size]byte{}, nil
	return nil
}
