package mesh

import (
	"math/rand/v2"
	"time"
)

// Bootstrap redial policy. Two cases need different answers:
//   - unreachable (the dial failed): while no bootstrap peer at all is
//     connected the node is cut off, and the wait is capped at
//     bootIsolatedMax so it rejoins within seconds of the network coming
//     back, however long it was away; with some bootstrap peer up, the wait
//     grows politely to bootBackoffMax.
//   - reached but dropped (the dial succeeded, the connection died before
//     it proved itself): the remote refuses us (allowlist) or flaps. The
//     wait keeps growing to bootBackoffMax even when isolated, so a
//     non-allowlisted node does not redial every few seconds forever.
//
// A connection proves itself by a successful peer-list exchange or by
// living bootStableAfter; only then is the backoff reset.
const (
	bootBackoffMin  = 500 * time.Millisecond
	bootBackoffMax  = 30 * time.Second
	bootIsolatedMax = 2 * time.Second
	bootStableAfter = 10 * time.Second
	// bootIsolatedDialTimeout bounds a bootstrap dial while isolated: a
	// handshake takes milliseconds on a LAN and well under a second on a
	// WAN, but a dial started while the network was down can hang (DNS,
	// dropped SYNs) and would delay the retry by the full dialTimeout.
	bootIsolatedDialTimeout = 3 * time.Second
)

// redial is one bootstrap peer's backoff; owned by the discovery loop.
type redial struct {
	backoff   time.Duration // base of the next wait
	wait      time.Duration // jittered wait chosen after the last attempt
	last      time.Time     // when the last attempt ended
	reached   bool          // the last dial succeeded but is not proven yet
	connSince time.Time     // when the current connection was first seen; zero if down
	provenAt  time.Time     // last proof; an exchange may beat the dial's own report
}

func newRedial() redial { return redial{backoff: bootBackoffMin} }

// due reports whether a down peer may be dialled now.
func (r *redial) due(now time.Time, isolated bool) bool {
	w := r.wait
	if isolated && !r.reached {
		w = min(w, bootIsolatedMax)
	}
	return !now.Before(r.last.Add(w))
}

// failed records a failed dial.
func (r *redial) failed(now time.Time, isolated bool) {
	r.last, r.reached = now, false
	limit := bootBackoffMax
	if isolated {
		limit = bootIsolatedMax
	}
	r.wait = jitter(min(r.backoff, limit))
	r.backoff = min(2*r.backoff, bootBackoffMax)
}

// dialled records a successful dial: the connection is not trusted yet, so
// the backoff grows as if it had failed, unless it proves itself.
func (r *redial) dialled(now time.Time) {
	if !r.provenAt.IsZero() && now.Sub(r.provenAt) < bootIsolatedMax {
		r.last = now
		return
	}
	r.last, r.reached = now, true
	r.wait = jitter(r.backoff)
	r.backoff = min(2*r.backoff, bootBackoffMax)
}

// observe is called every tick with the peer's connectedness; a connection
// that lived bootStableAfter proves itself.
func (r *redial) observe(now time.Time, connected bool) {
	if !connected {
		r.connSince = time.Time{}
		return
	}
	if r.connSince.IsZero() {
		r.connSince = now
	}
	if now.Sub(r.connSince) >= bootStableAfter {
		r.proven(now)
	}
}

// proven resets the backoff after a successful protocol exchange or a
// long-lived connection: the next loss is a network problem, retried fast.
func (r *redial) proven(now time.Time) {
	r.backoff, r.wait, r.reached, r.provenAt = bootBackoffMin, 0, false, now
}

func jitter(d time.Duration) time.Duration {
	return d*4/5 + rand.N(d*2/5+1)
}
