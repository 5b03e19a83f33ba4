package mesh

import (
	"testing"
	"time"
)

// waitAfter returns how long after an attempt at t the peer becomes due,
// probing in 10 ms steps.
func waitAfter(r *redial, t time.Time, isolated bool) time.Duration {
	for d := time.Duration(0); d < 2*bootBackoffMax; d += 10 * time.Millisecond {
		if r.due(t.Add(d), isolated) {
			return d
		}
	}
	return 2 * bootBackoffMax
}

func TestRedialIsolatedStaysFast(t *testing.T) {
	r := newRedial()
	now := time.Unix(1000, 0)
	for i := range 40 { // a long outage: 40 failed dials
		r.failed(now, true)
		if w := waitAfter(&r, now, true); w > bootIsolatedMax {
			t.Fatalf("dial %d: isolated node waits %v > %v", i, w, bootIsolatedMax)
		}
		now = now.Add(bootIsolatedMax)
	}
}

func TestRedialPoliteWhenNotIsolated(t *testing.T) {
	r := newRedial()
	now := time.Unix(1000, 0)
	var w time.Duration
	for range 10 {
		r.failed(now, false)
		w = waitAfter(&r, now, false)
		now = now.Add(w)
	}
	if w < bootBackoffMax*4/5 {
		t.Fatalf("after 10 failures with other bootstrap peers up, waits only %v", w)
	}
	// Becoming isolated shortens a long scheduled wait at once.
	if w := waitAfter(&r, now, true); w > bootIsolatedMax {
		t.Fatalf("isolated now, still waits %v", w)
	}
}

func TestRedialDroppedConnectionsBackOff(t *testing.T) {
	// A remote whose gater drops us right after the handshake: every dial
	// "succeeds" and the connection dies at once. Even isolated, the node
	// must not redial every few seconds forever.
	r := newRedial()
	now := time.Unix(1000, 0)
	var w time.Duration
	for range 10 {
		r.observe(now, false)
		r.dialled(now)
		r.observe(now.Add(10*time.Millisecond), false)
		w = waitAfter(&r, now, true)
		now = now.Add(w)
	}
	if w < bootBackoffMax*4/5 {
		t.Fatalf("a refused node still redials after %v", w)
	}
}

func TestRedialResetsOnlyOnProof(t *testing.T) {
	now := time.Unix(1000, 0)
	grown := func() redial {
		r := newRedial()
		for range 6 {
			r.failed(now, false)
		}
		return r
	}
	r := grown()
	r.dialled(now)
	r.observe(now, true)
	r.observe(now.Add(bootStableAfter/2), true)
	if r.backoff == bootBackoffMin {
		t.Fatal("backoff reset by a connection that has not lived long")
	}
	r.observe(now.Add(bootStableAfter), true)
	if r.backoff != bootBackoffMin {
		t.Fatalf("backoff %v not reset after a connection lived %v", r.backoff, bootStableAfter)
	}

	r = grown()
	r.dialled(now)
	r.proven(now.Add(50 * time.Millisecond)) // peer-list exchange answered
	if r.backoff != bootBackoffMin || r.reached {
		t.Fatalf("backoff %v (reached %v) not reset by a successful exchange", r.backoff, r.reached)
	}
	// The exchange may be reported before the dial itself.
	r = grown()
	r.proven(now)
	r.dialled(now.Add(10 * time.Millisecond))
	if r.backoff != bootBackoffMin || r.reached {
		t.Fatalf("late dial report undid the proof: backoff %v", r.backoff)
	}
}
