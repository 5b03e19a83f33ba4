package mesh

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// Liveness: a peer whose process is stopped or whose network silently
// drops packets keeps an open TCP connection for as long as the kernel and
// yamux keep-alives allow (30 s and more), and would show as connected all
// that time. The ping loop closes the connection after maxFails pings in a
// row got no answer within pingTimeout, so Connected is right within about
// maxFails*pingTimeout (+ one ping interval), and bootstrap redials at once.
const (
	defaultPingTimeout = 2 * time.Second
	defaultPingFails   = 2
)

// liveness is the ping loop's per-peer state; ping goroutines report into
// it, so it takes a lock.
type liveness struct {
	mu       sync.Mutex
	inflight map[peer.ID]bool
	fails    map[peer.ID]int
}

func newLiveness() *liveness {
	return &liveness{inflight: make(map[peer.ID]bool), fails: make(map[peer.ID]int)}
}

// start marks a ping to p in flight; false if one already is (a slow peer
// is not pinged twice at once, so its failures are counted once each).
func (l *liveness) start(p peer.ID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight[p] {
		return false
	}
	l.inflight[p] = true
	return true
}

// done records a ping's outcome and returns the failures in a row.
func (l *liveness) done(p peer.ID, ok bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.inflight, p)
	if ok {
		delete(l.fails, p)
		return 0
	}
	l.fails[p]++
	return l.fails[p]
}

// forget drops a peer's count (after its connection was closed).
func (l *liveness) forget(p peer.ID) {
	l.mu.Lock()
	delete(l.fails, p)
	l.mu.Unlock()
}

// pingAll pings every connected peer that has no ping in flight; libp2p's
// ping records the latency EWMA in the peerstore, which PeerInfo reads.
// A peer that failed maxFails pings in a row is disconnected.
func (m *Host) pingAll() {
	for _, p := range m.h.Network().Peers() {
		if !m.live.start(p) {
			continue
		}
		m.wg.Add(1)
		go func(p peer.ID) {
			defer m.wg.Done()
			ctx, cancel := context.WithTimeout(m.ctx, m.cfg.pingTimeout)
			defer cancel()
			var err error
			select {
			case r := <-ping.Ping(ctx, m.h, p):
				err = r.Error
			case <-ctx.Done():
				err = ctx.Err()
			}
			if m.ctx.Err() != nil {
				return // closing: not the peer's fault
			}
			fails := m.live.done(p, err == nil)
			if err == nil {
				return
			}
			m.log.Debug("ping failed", "peer", p, "in_a_row", fails, "err", err)
			if fails >= m.cfg.pingFails {
				m.log.Info("peer unresponsive; closing its connections", "peer", p, "failed_pings", fails, "err", err)
				m.live.forget(p)
				_ = m.h.Network().ClosePeer(p)
				m.book.seen(p, time.Now())
			}
		}(p)
	}
}
