package fedtrainer

import (
	"context"
	"fmt"
)

// Trainer is what every trainer of this package implements: node.Trainer (not imported here, so the
// node package and its tests may import this one).
type Trainer interface {
	Init(ctx context.Context) ([]byte, error)
	LocalRound(ctx context.Context, round uint64, global []byte) ([]byte, error)
	Aggregate(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, error)
}

// Roles as the node config names them.
const (
	RoleEdge          = "edge"
	RoleAnchorCapable = "anchor-capable"
	RoleAnchor        = "anchor"
)

// Hooks are the optional per-round callbacks of the trainers ForRole builds.
type Hooks struct {
	Edge   func(context.Context, EdgeReport) error
	Anchor func(context.Context, AnchorReport) error
}

// ForRole builds the trainer of a node role from b: an edge trains its edge learner; a pinned anchor
// builds its anchor learner on D' at once and computes the genesis global (round 1) before it returns,
// so the daemon's start is not held up by it; an anchor-capable node trains as an edge and builds its
// anchor learner when it first aggregates (Combined). opts apply to every trainer built; without a
// WithComputeLock they share one lock.
func ForRole(ctx context.Context, role string, b *Builder, h Hooks, opts ...Option) (Trainer, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil builder", ErrOption)
	}
	if _, err := build(opts); err != nil {
		return nil, err
	}
	switch role {
	case RoleAnchor:
		a, err := b.Anchor(ctx, nil)
		if err != nil {
			return nil, err
		}
		t, err := NewAnchor(a, h.Anchor, opts...)
		if err != nil {
			return nil, err
		}
		if _, err := t.Init(ctx); err != nil {
			return nil, err
		}
		return t, nil
	case RoleEdge, RoleAnchorCapable:
		e, err := b.Edge(ctx)
		if err != nil {
			return nil, err
		}
		et, err := NewEdge(e, h.Edge, opts...)
		if err != nil {
			return nil, err
		}
		if role == RoleEdge {
			return et, nil
		}
		return NewCombined(et, b.Anchor, h.Anchor, opts...)
	}
	return nil, fmt.Errorf("%w: role %q is not one of %s, %s, %s", ErrOption, role, RoleEdge, RoleAnchorCapable, RoleAnchor)
}
