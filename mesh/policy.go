package mesh

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh/wire"
)

// Verdict is a validation outcome, mapped onto gossipsub's: Reject
// penalises the forwarding peer's score, Ignore drops silently.
type Verdict int

// Verdicts.
const (
	Accept Verdict = iota // deliver and forward
	Ignore                // drop, no penalty (stale, out of window, not yet judgeable)
	Reject                // drop and penalise (forged, malformed, no rights)
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Ignore:
		return "ignore"
	case Reject:
		return "reject"
	}
	return "verdict(?)"
}

// Policy is the consumer's say on a message that passed the mesh's own
// checks (size, schema, run id, kind/topic, age, replay): term, round
// window, sender rights. from is the signing author, not the forwarder.
// Check runs on pubsub's validation goroutines and must be fast and safe
// for concurrent use.
type Policy interface {
	Check(from peer.ID, env *wire.Envelope) Verdict
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(from peer.ID, env *wire.Envelope) Verdict

// Check calls f.
func (f PolicyFunc) Check(from peer.ID, env *wire.Envelope) Verdict { return f(from, env) }
