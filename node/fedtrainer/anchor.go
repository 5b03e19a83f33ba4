package fedtrainer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/payload"
)

// Anchor is the node.Trainer of the anchor node: Init runs the anchor's first round (tuning on D')
// and publishes round 1; Aggregate decodes the update blobs (the payload codec validates them), runs
// federated.Anchor.Round and encodes the next Global.
type Anchor struct {
	a       *federated.Anchor
	o       options
	onRound func(context.Context, AnchorReport) error
	genesis []byte            // Init may be called more than once (restarts): the first round runs once
	last    [sha256.Size]byte // hash of the last global this anchor encoded
}

// NewAnchor wraps a communicating anchor learner. onRound (optional) runs after each aggregation,
// under the compute lock, before the next global is handed to the node.
func NewAnchor(a *federated.Anchor, onRound func(context.Context, AnchorReport) error, opts ...Option) (*Anchor, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil anchor", ErrOption)
	}
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return &Anchor{a: a, o: o, onRound: onRound}, nil
}

// Init returns the Global of round 1.
func (t *Anchor) Init(ctx context.Context) ([]byte, error) {
	if t.genesis != nil {
		return t.genesis, nil
	}
	t.o.lock.Lock()
	defer t.o.lock.Unlock()
	g, err := t.a.Round(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("anchor genesis: %w", err)
	}
	var buf bytes.Buffer
	if _, err := g.Encode(&buf, t.o.codec); err != nil {
		return nil, fmt.Errorf("anchor genesis: encode: %w", err)
	}
	t.genesis = buf.Bytes()
	t.last = sha256.Sum256(t.genesis)
	return t.genesis, nil
}

// LocalRound is refused: the anchor tunes on D' inside Aggregate.
func (t *Anchor) LocalRound(context.Context, uint64, []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: the anchor does not train edge rounds", ErrRole)
}

// Aggregate closes the round the updates answer and returns the next Global.
func (t *Anchor) Aggregate(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, error) {
	g, _, err := payload.DecodeGlobal(bytes.NewReader(global), t.o.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("anchor round %d: own global: %w", round, err)
	}
	if t.o.maxRounds > 0 && g.Round > t.o.maxRounds {
		return nil, fmt.Errorf("anchor: round %d: %w", g.Round, ErrDone)
	}
	if g.Round == 0 {
		return nil, fmt.Errorf("anchor round %d: %w", round, ErrNoGlobal)
	}
	rep := AnchorReport{Round: g.Round}
	ups := make([]*payload.Update, 0, len(updates))
	for i, b := range updates {
		u, s, err := payload.DecodeUpdate(bytes.NewReader(b), t.o.maxBytes)
		if err != nil {
			// One bad update must not stop the round: the others are aggregated.
			rep.Rejected++
			continue
		}
		if u.Round != g.Round {
			return nil, fmt.Errorf("anchor: update %d of %s answers round %d, the round is %d", i, u.Edge, u.Round, g.Round)
		}
		ups = append(ups, u)
		rep.Updates = append(rep.Updates, Transfer{Sizes: s, Bytes: int64(len(b))})
		rep.Edges = append(rep.Edges, u.Edge)
	}
	t.o.lock.Lock()
	defer t.o.lock.Unlock()
	// A global this anchor did not encode (it was elected, restarted, or another anchor ran rounds in
	// between) is resumed from: its LoRA becomes the global one and its round the round being closed.
	if sha256.Sum256(global) != t.last || g.Round != t.a.LastRound() {
		if err := t.a.Resume(g); err != nil {
			return nil, fmt.Errorf("anchor round %d: %w", g.Round, err)
		}
	}
	next, err := t.a.Round(ctx, ups)
	if err != nil {
		return nil, err
	}
	if r := t.a.LastAggregation(); r != nil {
		rep.Rejected += len(r.Rejected)
	}
	var buf bytes.Buffer
	ns, err := next.Encode(&buf, t.o.codec)
	if err != nil {
		return nil, fmt.Errorf("anchor round %d: encode global: %w", next.Round, err)
	}
	rep.Next = Transfer{Sizes: ns, Bytes: int64(buf.Len())}
	t.last = sha256.Sum256(buf.Bytes())
	if t.onRound != nil {
		if err := t.onRound(ctx, rep); err != nil {
			return nil, fmt.Errorf("anchor round %d: report: %w", g.Round, err)
		}
	}
	return buf.Bytes(), nil
}

// Learner returns the wrapped anchor learner (for evaluation inside hooks).
func (t *Anchor) Learner() *federated.Anchor { return t.a }
