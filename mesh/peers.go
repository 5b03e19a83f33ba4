package mesh

import (
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// PeerInfo is what the mesh knows about a peer. Roles and modalities come
// from heartbeats, which are the node's business.
type PeerInfo struct {
	ID           peer.ID
	Addrs        []ma.Multiaddr // known addresses (peerstore)
	Connected    bool
	Latency      time.Duration // ping EWMA; 0 when never measured
	Score        float64       // gossipsub score (last snapshot)
	Scored       bool          // whether Score is known
	BytesIn      int64         // all libp2p stream bytes received from the peer
	BytesOut     int64         // all libp2p stream bytes sent to the peer
	BlobBytesIn  int64         // blob payload bytes fetched from the peer
	BlobBytesOut int64         // blob payload bytes served to the peer
	LastSeen     time.Time     // last connect/disconnect or valid message
	AgentVersion string        // from identify, if known
}

// peerBook holds per-peer facts the libp2p stack does not keep. It is
// touched from notifiee callbacks, validators and blob streams, so it
// takes a lock instead of owning a goroutine.
type peerBook struct {
	mu    sync.Mutex
	peers map[peer.ID]*peerFacts
}

type peerFacts struct {
	lastSeen        time.Time
	blobIn, blobOut int64
}

func newPeerBook() *peerBook { return &peerBook{peers: make(map[peer.ID]*peerFacts)} }

func (b *peerBook) get(id peer.ID) *peerFacts {
	f, ok := b.peers[id]
	if !ok {
		f = &peerFacts{}
		b.peers[id] = f
	}
	return f
}

func (b *peerBook) seen(id peer.ID, t time.Time) {
	b.mu.Lock()
	if f := b.get(id); t.After(f.lastSeen) {
		f.lastSeen = t
	}
	b.mu.Unlock()
}

func (b *peerBook) addBlob(id peer.ID, in, out int64) {
	b.mu.Lock()
	f := b.get(id)
	f.blobIn += in
	f.blobOut += out
	f.lastSeen = time.Now()
	b.mu.Unlock()
}

func (b *peerBook) facts(id peer.ID) (peerFacts, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.peers[id]
	if !ok {
		return peerFacts{}, false
	}
	return *f, true
}

func (b *peerBook) ids() []peer.ID {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]peer.ID, 0, len(b.peers))
	for id := range b.peers {
		out = append(out, id)
	}
	return out
}

// notifiee records connection events and wakes discovery on new peers.
func (m *Host) notifiee() network.Notifiee {
	return &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			m.book.seen(c.RemotePeer(), time.Now())
			select {
			case m.connected <- c.RemotePeer():
			default: // discovery is busy; its periodic round will catch up
			}
		},
		DisconnectedF: func(n network.Network, c network.Conn) {
			m.book.seen(c.RemotePeer(), time.Now())
			if n.Connectedness(c.RemotePeer()) != network.Connected {
				m.live.forget(c.RemotePeer())
			}
		},
	}
}

// Peer returns what the mesh knows about one peer; ok is false if the peer
// was never connected nor heard from.
func (m *Host) Peer(id peer.ID) (PeerInfo, bool) {
	f, known := m.book.facts(id)
	connected := m.h.Network().Connectedness(id) == network.Connected
	if !known && !connected {
		return PeerInfo{}, false
	}
	bw := m.bw.GetBandwidthForPeer(id)
	info := PeerInfo{
		ID:           id,
		Addrs:        m.h.Peerstore().Addrs(id),
		Connected:    connected,
		Latency:      m.h.Peerstore().LatencyEWMA(id),
		BytesIn:      int64(bw.TotalIn),
		BytesOut:     int64(bw.TotalOut),
		BlobBytesIn:  f.blobIn,
		BlobBytesOut: f.blobOut,
		LastSeen:     f.lastSeen,
	}
	info.Score, info.Scored = m.PeerScore(id)
	if av, err := m.h.Peerstore().Get(id, "AgentVersion"); err == nil {
		info.AgentVersion, _ = av.(string)
	}
	return info, true
}

// Peers returns every peer that is connected or was seen, sorted by id.
func (m *Host) Peers() []PeerInfo {
	ids := m.book.ids()
	for _, id := range m.h.Network().Peers() {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]PeerInfo, 0, len(ids))
	for _, id := range ids {
		if id == m.h.ID() {
			continue
		}
		if info, ok := m.Peer(id); ok {
			out = append(out, info)
		}
	}
	return out
}

// ConnectedPeers returns the ids of the peers with an open connection.
func (m *Host) ConnectedPeers() []peer.ID { return m.h.Network().Peers() }
