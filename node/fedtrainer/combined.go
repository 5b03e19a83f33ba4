package fedtrainer

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/payload"
)

// AnchorFactory builds an anchor learner that resumes from the global it is given (Builder.Anchor).
type AnchorFactory func(ctx context.Context, from *payload.Global) (*federated.Anchor, error)

var _ node.StatefulTrainer = (*Combined)(nil)

// Combined is the node.Trainer of an anchor-capable node: it trains as an edge while another node is
// anchor, and aggregates when elected. The anchor learner (a second model, on D') is built on the
// first Aggregate only, starting from the global the node hands it, so a node that is never elected
// never pays for it.
type Combined struct {
	edge    *Edge
	build   AnchorFactory
	onRound func(context.Context, AnchorReport) error
	opts    []Option
	o       options
	mu      sync.Mutex // guards anchor: Aggregate calls may overlap across terms
	anchor  *Anchor
}

// NewCombined wraps an edge trainer and the factory of the anchor learner. onRound and opts apply to
// the anchor trainer when it is built; it shares the edge trainer's compute lock unless opts give one.
func NewCombined(edge *Edge, factory AnchorFactory, onRound func(context.Context, AnchorReport) error, opts ...Option) (*Combined, error) {
	if edge == nil || factory == nil {
		return nil, fmt.Errorf("%w: combined trainer needs an edge trainer and an anchor factory", ErrOption)
	}
	opts = append([]Option{WithComputeLock(edge.o.lock)}, opts...)
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return &Combined{edge: edge, build: factory, onRound: onRound, opts: opts, o: o}, nil
}

// Init returns the edge's placeholder genesis: an anchor-capable node starts as an edge and waits for
// an anchor's first global.
func (t *Combined) Init(ctx context.Context) ([]byte, error) { return t.edge.Init(ctx) }

// LocalRound trains one edge round.
func (t *Combined) LocalRound(ctx context.Context, round uint64, global []byte) ([]byte, error) {
	return t.edge.LocalRound(ctx, round, global)
}

// Aggregate closes a round as anchor, building the anchor learner from global on the first call.
func (t *Combined) Aggregate(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, error) {
	a, err := t.anchorFor(ctx, round, global)
	if err != nil {
		return nil, err
	}
	return a.Aggregate(ctx, round, global, updates)
}

// AggregateJudged is Aggregate plus the anchor's refusals (Anchor.AggregateJudged).
func (t *Combined) AggregateJudged(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, []node.Refusal, error) {
	a, err := t.anchorFor(ctx, round, global)
	if err != nil {
		return nil, nil, err
	}
	return a.AggregateJudged(ctx, round, global, updates)
}

// SaveState is the edge learner's state (Edge.SaveState); the anchor learner keeps none across a
// restart (it resumes from the global it is handed).
func (t *Combined) SaveState(ctx context.Context) (node.TrainerState, error) {
	return t.edge.SaveState(ctx)
}

// RestoreState restores the edge learner (Edge.RestoreState).
func (t *Combined) RestoreState(ctx context.Context, s node.TrainerState) error {
	return t.edge.RestoreState(ctx, s)
}

// Anchor returns the anchor trainer, nil until the node first aggregated.
func (t *Combined) Anchor() *Anchor {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.anchor
}

// Edge returns the edge trainer.
func (t *Combined) Edge() *Edge { return t.edge }

func (t *Combined) anchorFor(ctx context.Context, round uint64, global []byte) (*Anchor, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.anchor != nil {
		return t.anchor, nil
	}
	g, _, err := payload.DecodeGlobal(bytes.NewReader(global), t.o.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("anchor round %d: own global: %w", round, err)
	}
	if g.Round == 0 {
		// Only the placeholder: no anchor has published a model yet, so there is nothing to resume
		// (and edges train on no placeholder). A run starts with a pinned anchor.
		return nil, fmt.Errorf("anchor-capable node elected before any anchor published a global: %w", ErrNoGlobal)
	}
	// Building the learner is heavy (model setup, featurising D'): under the compute lock, like training.
	t.o.lock.Lock()
	fa, err := t.build(ctx, g)
	t.o.lock.Unlock()
	if err != nil {
		return nil, fmt.Errorf("build anchor learner: %w", err)
	}
	a, err := NewAnchor(fa, t.onRound, t.opts...)
	if err != nil {
		return nil, err
	}
	t.anchor = a
	return a, nil
}
