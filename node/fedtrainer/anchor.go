package fedtrainer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/training/aggregate"
	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/payload"
)

var (
	_ node.JudgedAggregator = (*Anchor)(nil)
	_ node.JudgedAggregator = (*Combined)(nil)
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
	out, _, err := t.AggregateJudged(ctx, round, global, updates)
	return out, err
}

// AggregateJudged is Aggregate plus, for each refused or capped update, its index and the reason
// (node.JudgedAggregator): an update that does not decode is update-nonfinite (NaN/Inf) or
// update-malformed, one for another round or run update-invalid; then the aggregation's own record
// (federated.Anchor.LastAggregation, which also logs each rejection) gives update-nonfinite,
// update-shape, update-norm, update-invalid (ErrContribution), update-duplicate, and
// update-inflated-samples for an accepted update whose sample count was capped. Refused updates do
// not stop the round.
func (t *Anchor) AggregateJudged(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, []node.Refusal, error) {
	g, _, err := payload.DecodeGlobal(bytes.NewReader(global), t.o.maxBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("anchor round %d: own global: %w", round, err)
	}
	if t.o.maxRounds > 0 && g.Round > t.o.maxRounds {
		return nil, nil, fmt.Errorf("anchor: round %d: %w", g.Round, ErrDone)
	}
	if g.Round == 0 {
		return nil, nil, fmt.Errorf("anchor round %d: %w", round, ErrNoGlobal)
	}
	rep := AnchorReport{Round: g.Round}
	var refused []node.Refusal
	ups := make([]*payload.Update, 0, len(updates))
	index := make([]int, 0, len(updates)) // input index of each decoded update
	for i, b := range updates {
		u, s, err := payload.DecodeUpdate(bytes.NewReader(b), t.o.maxBytes)
		if err != nil {
			// One bad update must not stop the round: the others are aggregated.
			reason := node.RefuseMalformed
			if errors.Is(err, payload.ErrNonFinite) {
				reason = node.RefuseNonFinite
			}
			refused = append(refused, node.Refusal{Index: i, Reason: reason})
			rep.Rejected++
			continue
		}
		if u.Round != g.Round || u.RunID != g.RunID {
			// The node hands only updates announced for this round; the blob saying otherwise is the
			// sender's doing, so it is refused rather than failing the round for everyone.
			refused = append(refused, node.Refusal{Index: i, Reason: node.RefuseInvalid})
			rep.Rejected++
			continue
		}
		ups = append(ups, u)
		index = append(index, i)
		rep.Updates = append(rep.Updates, Transfer{Sizes: s, Bytes: int64(len(b))})
		rep.Edges = append(rep.Edges, u.Edge)
	}
	t.o.lock.Lock()
	defer t.o.lock.Unlock()
	// A global this anchor did not encode (it was elected, restarted, or another anchor ran rounds in
	// between) is resumed from: its LoRA becomes the global one and its round the round being closed.
	if sha256.Sum256(global) != t.last || g.Round != t.a.LastRound() {
		if err := t.a.Resume(g); err != nil {
			return nil, refused, fmt.Errorf("anchor round %d: %w", g.Round, err)
		}
	}
	prev := t.a.LastAggregation()
	next, err := t.a.Round(ctx, ups)
	if err != nil {
		return nil, refused, err
	}
	// A round without updates to aggregate leaves the previous round's record in place.
	if r := t.a.LastAggregation(); r != nil && r != prev {
		rep.Rejected += len(r.Rejected)
		refused = append(refused, judge(r, rep.Edges, index)...)
	}
	var buf bytes.Buffer
	ns, err := next.Encode(&buf, t.o.codec)
	if err != nil {
		return nil, refused, fmt.Errorf("anchor round %d: encode global: %w", next.Round, err)
	}
	rep.Next = Transfer{Sizes: ns, Bytes: int64(buf.Len())}
	t.last = sha256.Sum256(buf.Bytes())
	if t.onRound != nil {
		if err := t.onRound(ctx, rep); err != nil {
			return nil, refused, fmt.Errorf("anchor round %d: report: %w", g.Round, err)
		}
	}
	return buf.Bytes(), refused, nil
}

// judge maps an aggregation's record to refusals by input index. edges[k] is the edge id of the k-th
// aggregated update and index[k] its input index. The record names edges, not positions: a duplicate
// is always a later update of its edge (the aggregation keeps the first attempt), every other
// rejection and a capped sample count concern the first.
func judge(r *aggregate.Result, edges []string, index []int) []node.Refusal {
	at := make(map[string][]int, len(edges))
	for k, e := range edges {
		at[e] = append(at[e], index[k])
	}
	dups := make(map[string]int, len(at)) // later updates of each edge already refused as duplicates
	var out []node.Refusal
	for _, rj := range r.Rejected {
		is := at[rj.Edge]
		if len(is) == 0 {
			continue // not one of ours (cannot happen: the aggregation saw only these)
		}
		i := is[0]
		if errors.Is(rj.Err, aggregate.ErrDuplicate) {
			dups[rj.Edge]++
			if dups[rj.Edge] >= len(is) {
				continue
			}
			i = is[dups[rj.Edge]]
		}
		out = append(out, node.Refusal{Index: i, Reason: rejectionReason(rj.Err)})
	}
	for _, a := range r.Accepted {
		if is := at[a.Edge]; len(is) > 0 && a.Declared > a.Samples {
			out = append(out, node.Refusal{Index: is[0], Reason: node.RefuseInflatedSamples})
		}
	}
	return out
}

// rejectionReason names an aggregation rejection (aggregate.Rejection.Err) as a refusal reason.
func rejectionReason(err error) string {
	switch {
	case errors.Is(err, aggregate.ErrDuplicate):
		return node.RefuseDuplicate
	case errors.Is(err, aggregate.ErrNonFinite):
		return node.RefuseNonFinite
	case errors.Is(err, aggregate.ErrShape):
		return node.RefuseShape
	case errors.Is(err, aggregate.ErrNorm):
		return node.RefuseNorm
	default: // aggregate.ErrContribution and anything new
		return node.RefuseInvalid
	}
}

// Learner returns the wrapped anchor learner (for evaluation inside hooks).
func (t *Anchor) Learner() *federated.Anchor { return t.a }
