package mesh

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	// replayWindow is how far below a sender's highest sequence number a
	// message may arrive (gossip reorders) and still be accepted once.
	replayWindow = 1024
	// maxTrackedSenders bounds the guard's memory; the least recently
	// active sender is forgotten first (its old messages are then also
	// refused by the age check and gossipsub's seen cache).
	maxTrackedSenders = 4096
)

type seqVerdict int

const (
	seqFresh  seqVerdict = iota
	seqReplay            // exactly this (sender, seq) was accepted before
	seqStale             // below the window: too old to tell
)

// senderSeqs tracks one sender's accepted sequence numbers in a sliding
// window (IPsec-style): hi is the highest seen and bit i of mask says
// whether hi-i was seen.
type senderSeqs struct {
	hi    uint64
	mask  [replayWindow / 64]uint64
	touch uint64 // guard clock of the last update, for eviction
}

func (s *senderSeqs) bit(off uint64) (word int, bit uint64) {
	return int(off / 64), 1 << (off % 64)
}

// replayGuard is called from pubsub's concurrent validators, hence the lock.
type replayGuard struct {
	mu      sync.Mutex
	window  uint64
	max     int
	clock   uint64
	senders map[peer.ID]*senderSeqs
}

func newReplayGuard(window uint64, maxSenders int) *replayGuard {
	return &replayGuard{window: window, max: maxSenders, senders: make(map[peer.ID]*senderSeqs)}
}

// check records (from, seq) and says whether it is fresh, a replay or too
// old to judge.
func (g *replayGuard) check(from peer.ID, seq uint64) seqVerdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.clock++
	s, ok := g.senders[from]
	if !ok {
		if len(g.senders) >= g.max {
			g.evictLocked()
		}
		s = &senderSeqs{hi: seq}
		s.mask[0] = 1
		s.touch = g.clock
		g.senders[from] = s
		return seqFresh
	}
	s.touch = g.clock
	switch {
	case seq > s.hi:
		shift := seq - s.hi
		s.shift(shift)
		s.hi = seq
		s.mask[0] |= 1
		return seqFresh
	case s.hi-seq >= g.window:
		return seqStale
	default:
		w, b := s.bit(s.hi - seq)
		if s.mask[w]&b != 0 {
			return seqReplay
		}
		s.mask[w] |= b
		return seqFresh
	}
}

// shift moves the window up by n: old bit i becomes bit i+n.
func (s *senderSeqs) shift(n uint64) {
	if n >= replayWindow {
		s.mask = [replayWindow / 64]uint64{}
		return
	}
	words, bits := int(n/64), n%64
	for i := len(s.mask) - 1; i >= 0; i-- {
		var v uint64
		if j := i - words; j >= 0 {
			v = s.mask[j] << bits
			if bits != 0 && j-1 >= 0 {
				v |= s.mask[j-1] >> (64 - bits)
			}
		}
		s.mask[i] = v
	}
}

func (g *replayGuard) evictLocked() {
	var oldest peer.ID
	var at uint64
	first := true
	for id, s := range g.senders {
		if first || s.touch < at {
			oldest, at, first = id, s.touch, false
		}
	}
	delete(g.senders, oldest)
}
