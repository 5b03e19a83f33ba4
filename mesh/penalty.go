package mesh

import (
	"math"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Penalty reasons the mesh itself records (Penalize takes any short reason; the node adds its own,
// e.g. for updates that aggregation rejects).
const (
	PenaltyBlobTooLarge = "blob-too-large" // offered a blob over the fetch cap
	PenaltyBlobHash     = "blob-hash"      // served bytes that do not match the requested hash
	PenaltyBlobProtocol = "blob-protocol"  // broke the blob protocol (frames past the announced size, bad header)
)

// Application-specific score: each offence adds one to a per-peer counter that halves every
// penaltyHalfLife; the score is penaltyWeight x counter², like gossipsub's invalid-message term, so
// one offence costs -10, three -90 (under the gossip threshold), seven -490 (graylisted).
const (
	penaltyWeight   = -10.0
	penaltyHalfLife = 10 * time.Minute
	// maxPenalized bounds the table; the peer with the smallest counter is forgotten first.
	maxPenalized = 4096
)

type penaltyEntry struct {
	count float64   // decayed number of offences as of at
	at    time.Time // last update
}

// penalties holds the application-specific penalties. Gossipsub reads them from its own goroutine
// (AppSpecificScore) while validators and blob fetches add to them, hence the lock.
type penalties struct {
	mu    sync.Mutex
	peers map[peer.ID]*penaltyEntry
	now   func() time.Time
}

func newPenalties(now func() time.Time) *penalties {
	return &penalties{peers: make(map[peer.ID]*penaltyEntry), now: now}
}

func decayed(e *penaltyEntry, now time.Time) float64 {
	dt := now.Sub(e.at)
	if dt <= 0 {
		return e.count
	}
	return e.count * math.Exp2(-float64(dt)/float64(penaltyHalfLife))
}

// add records one offence of id and returns its new application score.
func (p *penalties) add(id peer.ID) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	e, ok := p.peers[id]
	if !ok {
		if len(p.peers) >= maxPenalized {
			p.evictLocked(now)
		}
		e = &penaltyEntry{}
		p.peers[id] = e
	}
	e.count = decayed(e, now) + 1
	e.at = now
	return penaltyWeight * e.count * e.count
}

// score is the application-specific score of id (0 or negative).
func (p *penalties) score(id peer.ID) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.peers[id]
	if !ok {
		return 0
	}
	c := decayed(e, p.now())
	if c < 0.01 {
		delete(p.peers, id)
		return 0
	}
	return penaltyWeight * c * c
}

func (p *penalties) evictLocked(now time.Time) {
	var low peer.ID
	best := math.Inf(1)
	for id, e := range p.peers {
		if c := decayed(e, now); c < best {
			low, best = id, c
		}
	}
	delete(p.peers, low)
}

// Penalize lowers a peer's score for misbehaviour that gossipsub cannot see: a blob that breaks the
// protocol or its hash, an update that aggregation refuses, a manifest naming a blob over the cap.
// The penalty enters gossipsub's score as the application-specific term (visible in PeerScore,
// Scores and Peer after the next score snapshot), is logged with the reason and counted in
// ValidationStats as "penalty:<reason>". reason should be a short constant (a metric label).
func (m *Host) Penalize(id peer.ID, reason string) {
	if id == "" || id == m.self {
		return
	}
	app := m.pen.add(id)
	m.stats.addKey("penalty:" + reason)
	m.log.Warn("peer penalised", "peer", id, "reason", reason, "app_score", app)
}
