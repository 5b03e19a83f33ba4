package node

import (
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func newTestElection(self string, role Role, term uint64) *Election {
	return NewElection(ElectionParams{
		Self: self, Role: role, Term: term, Heartbeat: ms(200), Lease: time.Second, Backoff: ms(500),
		Rand: func() float64 { return 0.5 }, Now: t0,
	})
}

func TestElectionFencing(t *testing.T) {
	e := newTestElection("B", RoleAnchorCapable, 5)
	if v, _ := e.Observe(Beat{From: "A", Role: RoleAnchorCapable, Term: 4, Claim: true, LeaseLeft: time.Second}, t0); v != Fenced {
		t.Fatalf("claim of term 4 at term 5: verdict %v, want Fenced", v)
	}
	if e.Anchor(t0) != "" || e.Term() != 5 {
		t.Fatalf("fenced claim changed the view: anchor %q term %d", e.Anchor(t0), e.Term())
	}
	if !e.Fenced(4) || e.Fenced(5) || e.Fenced(6) {
		t.Fatal("Fenced must refuse exactly the older terms")
	}
	v, changed := e.Observe(Beat{From: "C", Role: RoleAnchorCapable, Term: 6, Claim: true, LeaseLeft: time.Second}, t0)
	if v != Accepted || !changed || e.Term() != 6 || e.Anchor(t0) != "C" {
		t.Fatalf("newer claim: verdict %v changed %v term %d anchor %q", v, changed, e.Term(), e.Anchor(t0))
	}
}

func TestElectionLowestIDClaimsAfterExpiryAndBackoff(t *testing.T) {
	a := newTestElection("A", RoleAnchorCapable, 0)
	a.Observe(Beat{From: "B", Role: RoleAnchorCapable}, t0)
	a.Observe(Beat{From: "C", Role: RoleEdge}, t0)
	// Start: the lease counts as held until t0+lease; claim at expiry + 0.5*backoff.
	for _, at := range []time.Duration{0, ms(500), ms(999), ms(1000), ms(1200)} {
		now := t0.Add(at)
		a.Observe(Beat{From: "B", Role: RoleAnchorCapable}, now)
		if a.Tick(now) {
			t.Fatalf("claimed at +%v, before lease expiry + backoff", at)
		}
	}
	now := t0.Add(ms(1250))
	a.Observe(Beat{From: "B", Role: RoleAnchorCapable}, now)
	if !a.Tick(now) {
		t.Fatal("lowest candidate did not claim at expiry + backoff")
	}
	if a.Term() != 1 || !a.IsAnchor() {
		t.Fatalf("after claim: term %d anchor %v", a.Term(), a.IsAnchor())
	}

	b := newTestElection("B", RoleAnchorCapable, 0)
	for at := 0; at <= 3000; at += 200 {
		now := t0.Add(ms(at))
		b.Observe(Beat{From: "A", Role: RoleAnchorCapable}, now)
		if b.Tick(now) {
			t.Fatalf("B claimed at +%dms although A (lower id) is live", at)
		}
	}
}

func TestElectionEdgeNeverClaims(t *testing.T) {
	e := newTestElection("A", RoleEdge, 0)
	for at := 0; at <= 5000; at += 200 {
		if e.Tick(t0.Add(ms(at))) {
			t.Fatal("an edge claimed the lease")
		}
	}
}

func TestElectionExpiryElectsNext(t *testing.T) {
	b := newTestElection("B", RoleAnchorCapable, 0)
	b.Observe(Beat{From: "A", Role: RoleAnchorCapable, Term: 3, Claim: true, LeaseLeft: time.Second}, t0)
	if b.Anchor(t0) != "A" || b.Term() != 3 {
		t.Fatalf("did not follow A: %q %d", b.Anchor(t0), b.Term())
	}
	// A goes silent at t0. Its lease and its candidacy both end at t0+1s; B claims after backoff.
	var claimed time.Duration
	for at := 100; at <= 3000; at += 100 {
		now := t0.Add(ms(at))
		if b.Tick(now) {
			claimed = ms(at)
			break
		}
	}
	if claimed != ms(1300) { // expiry at 1000 + 0.5*500 backoff, seen at the next 100 ms tick
		t.Fatalf("B claimed at +%v, want +1.3s", claimed)
	}
	if b.Term() != 4 || !b.IsAnchor() {
		t.Fatalf("term %d anchor %v, want term 4 held by B", b.Term(), b.IsAnchor())
	}
	// A returns with its old term: fenced; it then adopts B when it hears B.
	if v, _ := b.Observe(Beat{From: "A", Role: RoleAnchorCapable, Term: 3, Claim: true, LeaseLeft: time.Second}, t0.Add(ms(1400))); v != Fenced {
		t.Fatal("returning anchor with the old term was not fenced")
	}
	a := newTestElection("A", RoleAnchorCapable, 3)
	a.Observe(Beat{From: "B", Role: RoleAnchorCapable, Term: 4, Claim: true, LeaseLeft: time.Second}, t0)
	if a.Anchor(t0) != "B" || a.Term() != 4 || a.Tick(t0.Add(ms(200))) {
		t.Fatal("returning node did not follow the new anchor")
	}
}

func TestElectionPinnedWins(t *testing.T) {
	p := newTestElection("Z", RoleAnchor, 0)
	p.Observe(Beat{From: "A", Role: RoleAnchorCapable, Term: 7, Claim: true, LeaseLeft: time.Second}, t0)
	if p.Tick(t0.Add(ms(100))) {
		t.Fatal("pinned anchor claimed inside its start grace")
	}
	if !p.Tick(t0.Add(ms(400))) || p.Term() != 8 || !p.IsAnchor() {
		t.Fatalf("pinned anchor did not preempt: term %d", p.Term())
	}
	// The elected anchor A steps down on the pinned claim.
	a := newTestElection("A", RoleAnchorCapable, 7)
	a.claim(t0)
	a.term = 7
	a.Observe(Beat{From: "Z", Role: RoleAnchor, Term: 8, Claim: true, LeaseLeft: time.Second}, t0.Add(ms(400)))
	if a.IsAnchor() || a.Anchor(t0.Add(ms(400))) != "Z" {
		t.Fatal("elected anchor did not step down for the pinned one")
	}
	// While the pinned anchor is live, capable nodes do not claim even after its lease lapses.
	c := newTestElection("B", RoleAnchorCapable, 8)
	for at := 0; at <= 900; at += 100 {
		c.Observe(Beat{From: "Z", Role: RoleAnchor, Term: 8}, t0.Add(ms(at)))
		if c.Tick(t0.Add(ms(at))) {
			t.Fatalf("claimed at +%dms while the pinned anchor is live", at)
		}
	}
}

func TestElectionSameTermSplitLowerIDWins(t *testing.T) {
	b := newTestElection("B", RoleAnchorCapable, 1)
	b.claim(t0) // B thinks it holds term 2
	b.Observe(Beat{From: "A", Role: RoleAnchorCapable, Term: 2, Claim: true, LeaseLeft: time.Second}, t0)
	if b.IsAnchor() || b.Anchor(t0) != "A" {
		t.Fatal("B did not yield to A's same-term claim")
	}
	b.Observe(Beat{From: "C", Role: RoleAnchorCapable, Term: 2, Claim: true, LeaseLeft: time.Second}, t0)
	if b.Anchor(t0) != "A" {
		t.Fatal("C (higher id) displaced A at the same term")
	}
}

func TestElectionReleaseReelectsAtOnce(t *testing.T) {
	b := newTestElection("B", RoleAnchorCapable, 0)
	b.Observe(Beat{From: "A", Role: RoleAnchorCapable, Term: 2, Claim: true, LeaseLeft: time.Second}, t0)
	now := t0.Add(ms(200))
	b.Observe(Beat{From: "A", Role: RoleAnchorCapable, Term: 2, Release: true}, now)
	if b.Anchor(now) != "" {
		t.Fatal("release did not drop the anchor")
	}
	// B is now the lowest live candidate; it claims after the backoff only, not a whole lease.
	if b.Tick(now) {
		t.Fatal("claimed before the backoff")
	}
	if !b.Tick(now.Add(ms(250))) || b.Term() != 3 {
		t.Fatalf("did not claim right after release + backoff (term %d)", b.Term())
	}
}

func TestElectionReleaseBySelf(t *testing.T) {
	a := newTestElection("A", RoleAnchorCapable, 0)
	if a.Release(t0) {
		t.Fatal("a non-anchor released")
	}
	a.claim(t0)
	if !a.Release(t0) || a.IsAnchor() {
		t.Fatal("anchor did not release")
	}
}

func TestElectionOverlongLeaseClamped(t *testing.T) {
	b := newTestElection("B", RoleAnchorCapable, 0)
	b.Observe(Beat{From: "A", Role: RoleAnchorCapable, Term: 1, Claim: true, LeaseLeft: time.Hour}, t0)
	if b.Anchor(t0.Add(3*time.Second)) != "" {
		t.Fatal("a peer held the lease for an hour")
	}
}

func TestElectionTwoPinnedLowerIDWins(t *testing.T) {
	y := newTestElection("Y", RoleAnchor, 0)
	y.Observe(Beat{From: "X", Role: RoleAnchor, Term: 1, Claim: true, LeaseLeft: time.Second}, t0)
	if y.Tick(t0.Add(ms(400))) {
		t.Fatal("pinned Y claimed against pinned X (lower id)")
	}
	x := newTestElection("X", RoleAnchor, 0)
	x.Observe(Beat{From: "Y", Role: RoleAnchor, Term: 1, Claim: true, LeaseLeft: time.Second}, t0)
	if !x.Tick(t0.Add(ms(400))) || x.Term() != 2 {
		t.Fatal("pinned X did not preempt pinned Y (higher id)")
	}
}
