package mesh

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh/wire"
)

// Reasons recorded in ValidationStats (as "<verdict>:<reason>").
const (
	ReasonOversized = "oversized"
	ReasonMalformed = "malformed"
	ReasonVersion   = "version"
	ReasonWrongRun  = "wrong-run"
	ReasonWrongKind = "wrong-kind"
	ReasonStale     = "stale"
	ReasonFuture    = "future"
	ReasonReplay    = "replay"
	ReasonStaleSeq  = "stale-seq"
	ReasonPolicy    = "policy"
)

// newerVersions is how many schema versions above ours are ignored (not
// penalised) as a plausible rolling upgrade; any other version is malformed.
const newerVersions = 8

// validator returns the gossipsub validator of kind k's topic. StrictSign
// has already verified the author's signature when it runs.
func (m *Host) validator(k wire.Kind) pubsub.ValidatorEx {
	return func(_ context.Context, src peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		v, reason := m.check(k, msg)
		m.stats.add(v, reason)
		if v != Accept {
			attrs := []any{"verdict", v, "reason", reason, "kind", k, "author", msg.GetFrom(), "from", src, "bytes", len(msg.GetData())}
			if v == Ignore {
				m.log.Debug("control message dropped", attrs...)
				return pubsub.ValidationIgnore
			}
			// A reject costs the sender score; a few put it under the graylist threshold, after which
			// its RPCs are no longer validated, so these warnings stay bounded per peer.
			m.log.Warn("control message rejected", attrs...)
			return pubsub.ValidationReject
		}
		return pubsub.ValidationAccept
	}
}

// check runs the mesh's checks in order of cost, then the policy. On
// Accept the decoded envelope is left in msg.ValidatorData.
func (m *Host) check(k wire.Kind, msg *pubsub.Message) (Verdict, string) {
	data := msg.GetData()
	if len(data) > wire.MaxEnvelope {
		return Reject, ReasonOversized
	}
	env, err := wire.DecodeEnvelope(data)
	if err != nil {
		if errors.Is(err, wire.ErrVersion) && data[0] > wire.Version && data[0] <= wire.Version+newerVersions {
			// A newer peer is not a forger; it just speaks a schema we cannot judge.
			return Ignore, ReasonVersion
		}
		return Reject, ReasonMalformed
	}
	if env.RunID != m.cfg.runID {
		return Reject, ReasonWrongRun
	}
	if env.Kind != k {
		return Reject, ReasonWrongKind
	}
	now := time.Now()
	sent := time.Unix(0, env.SentAt)
	if now.Sub(sent) > m.cfg.maxAge {
		return Ignore, ReasonStale
	}
	if sent.Sub(now) > m.cfg.maxSkew {
		return Ignore, ReasonFuture
	}
	author := msg.GetFrom()
	if author != m.self {
		switch m.guard.check(author, env.Seq) {
		case seqReplay:
			// The signature covers the pubsub seqno, so only the author can
			// re-sign an old envelope under a new message id: misbehaviour.
			return Reject, ReasonReplay
		case seqStale:
			return Ignore, ReasonStaleSeq
		}
		if p := m.policy.Load().p; p != nil {
			switch p.Check(author, env) {
			case Ignore:
				return Ignore, ReasonPolicy
			case Reject:
				return Reject, ReasonPolicy
			}
		}
		m.book.seen(author, now)
	}
	msg.ValidatorData = env
	return Accept, ""
}

// validationStats counts validation outcomes by "<verdict>:<reason>".
type validationStats struct {
	mu sync.Mutex
	n  map[string]uint64
}

func newValidationStats() *validationStats { return &validationStats{n: make(map[string]uint64)} }

func (s *validationStats) add(v Verdict, reason string) {
	key := v.String()
	if reason != "" {
		key += ":" + reason
	}
	s.addKey(key)
}

func (s *validationStats) addKey(key string) {
	s.mu.Lock()
	s.n[key]++
	s.mu.Unlock()
}

func (s *validationStats) snapshot() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.n)
}

// ValidationStats returns counters of control-message validation outcomes
// keyed "accept", "reject:<reason>" or "ignore:<reason>" (reasons are the
// Reason* constants), plus "ignore:dropped:slow-subscriber" and, for
// Penalize, "penalty:<reason>". Messages that gossipsub itself refuses (bad or missing signatures) never reach our
// validator and show only in peer scores.
func (m *Host) ValidationStats() map[string]uint64 { return m.stats.snapshot() }
