package node

import (
	"time"
)

// Anchor election by lease and term.
//
// Every node sends a heartbeat each interval carrying its term, the anchor it follows and, from the anchor
// itself, a claim with the lease time left. The rules (all decided here, all time passed in so tests are
// deterministic):
//
//   - Fencing: the term is a fencing token. A claim, round manifest or update from a term older than ours is
//     refused; a message from a newer term makes us adopt that term (and its anchor when it is a claim).
//   - Pinned mode: a node with role "anchor" wins whenever it is alive. Once it has listened for a short
//     start grace (two heartbeats, to learn the current term) it claims term+1 unless it already is the
//     anchor; elected anchors never claim while a pinned anchor is live.
//   - Elected mode: when the lease has expired (or was released) and no pinned anchor is live, the
//     anchor-capable node with the lowest peer id among live candidates (heard within one lease) claims
//     term+1 after a random backoff in [0, backoff). Nobody else claims, so normally one claim is made; the
//     backoff absorbs the moment when views of who is live differ.
//   - Two claims with the same term (split views): the pinned one wins, else the lower peer id; the loser
//     steps down when it hears the winner.
//   - Start: a fresh node treats the lease as held until start+lease, so it hears the current anchor before
//     it would claim.
//   - Leave: a departing anchor sends a final heartbeat with Release; followers drop the lease at once and
//     re-elect without waiting for expiry, and the leaver is no longer a candidate.
//
// Claims raise the term; the caller persists it before the claim is sent (storage) so a restarted node
// never reuses a term.

// Beat is what the election needs from one heartbeat.
type Beat struct {
	From      string        // sender peer id (from the signed message, not the payload)
	Role      Role          // sender's role
	Term      uint64        // sender's term
	Anchor    string        // anchor the sender follows (itself when it claims)
	Claim     bool          // sender claims the anchor lease for Term
	Release   bool          // sender, the anchor, gives the lease up (graceful leave)
	LeaseLeft time.Duration // lease time left, measured by the sender; only used with Claim
}

// Verdict is the outcome of observing a beat.
type Verdict int

const (
	// Accepted: the beat was current and was used.
	Accepted Verdict = iota
	// Fenced: the beat's term is older than ours; it was refused.
	Fenced
)

type candidate struct {
	role     Role
	lastSeen time.Time
}

// Election holds one node's view of the anchor lease. It is not safe for concurrent use: the node's
// event loop owns it.
type Election struct {
	self       string
	role       Role
	lease      time.Duration
	backoff    time.Duration
	startGrace time.Duration
	rnd        func() float64 // uniform in [0,1), injected so tests are deterministic

	term         uint64
	anchor       string
	anchorPinned bool
	expiry       time.Time // lease expiry of the current anchor (or start + lease)
	started      time.Time
	claimAt      time.Time // when we claim, once we are the chosen candidate; zero when not scheduled
	cands        map[string]candidate
}

// ElectionParams configures an Election.
type ElectionParams struct {
	Self      string
	Role      Role
	Term      uint64 // last persisted term
	Heartbeat time.Duration
	Lease     time.Duration
	Backoff   time.Duration
	Rand      func() float64
	Now       time.Time
}

// NewElection starts a view at p.Now with the persisted term.
func NewElection(p ElectionParams) *Election {
	rnd := p.Rand
	if rnd == nil {
		rnd = func() float64 { return 0 }
	}
	return &Election{
		self: p.Self, role: p.Role, lease: p.Lease, backoff: p.Backoff, startGrace: 2 * p.Heartbeat,
		rnd: rnd, term: p.Term, expiry: p.Now.Add(p.Lease), started: p.Now,
		cands: map[string]candidate{},
	}
}

// Term is the current term.
func (e *Election) Term() uint64 { return e.term }

// Anchor is the peer id of the current anchor, or "" when none is known or its lease expired at now.
func (e *Election) Anchor(now time.Time) string {
	if e.anchor == e.self && e.anchor != "" {
		return e.anchor
	}
	if e.anchor == "" || !now.Before(e.expiry) {
		return ""
	}
	return e.anchor
}

// IsAnchor reports whether this node holds the lease.
func (e *Election) IsAnchor() bool { return e.anchor == e.self }

// Fenced reports whether a message of the given term must be refused.
func (e *Election) Fenced(term uint64) bool { return term < e.term }

// LeaseLeft is the lease time this node announces when it is the anchor.
func (e *Election) LeaseLeft() time.Duration { return e.lease }

// Observe applies one heartbeat received at now. It reports whether the beat was accepted and whether
// the (term, anchor) pair changed.
func (e *Election) Observe(b Beat, now time.Time) (Verdict, bool) {
	if b.From == "" || b.From == e.self {
		return Accepted, false
	}
	if b.Term < e.term {
		return Fenced, false
	}
	prevTerm, prevAnchor := e.term, e.anchor
	if b.Release {
		delete(e.cands, b.From)
		if b.Term == e.term && e.anchor == b.From {
			e.anchor, e.anchorPinned, e.expiry = "", false, now
			e.claimAt = time.Time{}
		}
		return Accepted, e.term != prevTerm || e.anchor != prevAnchor
	}
	e.cands[b.From] = candidate{role: b.Role, lastSeen: now}
	lease := b.LeaseLeft
	if lease <= 0 || lease > 2*e.lease {
		lease = e.lease // never let a peer hold the lease longer than our own setting allows
	}
	switch {
	case b.Term > e.term:
		e.term = b.Term
		e.claimAt = time.Time{}
		if b.Claim {
			e.setAnchor(b.From, b.Role == RoleAnchor, now.Add(lease))
		} else if b.Anchor != "" && b.Anchor != e.self {
			// Hearsay: the sender follows an anchor of a newer term; give it one lease to be heard directly.
			e.setAnchor(b.Anchor, false, now.Add(e.lease))
		} else {
			e.anchor, e.anchorPinned = "", false
		}
	case b.Claim:
		switch {
		case e.anchor == b.From:
			e.setAnchor(b.From, b.Role == RoleAnchor, now.Add(lease))
		case e.anchor == "" || (e.anchor != e.self && !now.Before(e.expiry)):
			e.setAnchor(b.From, b.Role == RoleAnchor, now.Add(lease))
		case beats(b.From, b.Role == RoleAnchor, e.anchor, e.anchorPinned):
			// Same-term split: the better claimant wins; if that was us we step down here.
			e.setAnchor(b.From, b.Role == RoleAnchor, now.Add(lease))
		}
	}
	return Accepted, e.term != prevTerm || e.anchor != prevAnchor
}

func (e *Election) setAnchor(id string, pinned bool, expiry time.Time) {
	e.anchor, e.anchorPinned, e.expiry = id, pinned, expiry
	e.claimAt = time.Time{}
}

// beats reports whether claimant a wins over b at the same term: pinned first, then lower peer id.
func beats(a string, aPinned bool, b string, bPinned bool) bool {
	if aPinned != bPinned {
		return aPinned
	}
	return a < b
}

// Tick is called every heartbeat. It returns true when this node claims the lease now; the term has then
// been raised and the caller must persist it and send a claiming heartbeat.
func (e *Election) Tick(now time.Time) bool {
	e.expireCandidates(now)
	if e.IsAnchor() {
		e.expiry = now.Add(e.lease)
		return false
	}
	switch e.role {
	case RoleAnchor:
		if now.Sub(e.started) < e.startGrace {
			return false
		}
		if e.anchorPinned && e.anchor != "" && now.Before(e.expiry) && !beats(e.self, true, e.anchor, true) {
			return false // another pinned anchor with a lower id holds the lease
		}
		return e.claim(now)
	case RoleAnchorCapable:
		if e.anchor != "" && now.Before(e.expiry) {
			e.claimAt = time.Time{}
			return false
		}
		for _, c := range e.cands {
			if c.role == RoleAnchor {
				return false // a live pinned anchor will claim
			}
		}
		if e.lowestCandidate() != e.self {
			e.claimAt = time.Time{}
			return false
		}
		if e.claimAt.IsZero() {
			from := e.expiry
			if now.After(from) {
				from = now
			}
			e.claimAt = from.Add(time.Duration(e.rnd() * float64(e.backoff)))
		}
		if now.Before(e.claimAt) {
			return false
		}
		return e.claim(now)
	default:
		return false
	}
}

func (e *Election) claim(now time.Time) bool {
	e.term++
	e.setAnchor(e.self, e.role == RoleAnchor, now.Add(e.lease))
	return true
}

// Release gives the lease up (graceful leave). It reports whether this node was the anchor, in which
// case the caller sends a final heartbeat with Release set.
func (e *Election) Release(now time.Time) bool {
	if !e.IsAnchor() {
		return false
	}
	e.anchor, e.anchorPinned, e.expiry = "", false, now
	return true
}

func (e *Election) expireCandidates(now time.Time) {
	for id, c := range e.cands {
		if now.Sub(c.lastSeen) >= e.lease {
			delete(e.cands, id)
		}
	}
}

// lowestCandidate is the lowest peer id among live anchor-capable nodes, this node included.
func (e *Election) lowestCandidate() string {
	best := ""
	if e.role.CanAnchor() {
		best = e.self
	}
	for id, c := range e.cands {
		if c.role.CanAnchor() && (best == "" || id < best) {
			best = id
		}
	}
	return best
}
