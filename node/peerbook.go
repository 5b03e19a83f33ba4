package node

import (
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mlecs/mlecs/storage"
)

// The peer book (storage) remembers the peers heard recently, so that a restarted node can rejoin
// through any of them, not only through its configured bootstrap addresses (which may be down).

const (
	peerBookEvery    = 5 * time.Second // how often live peers are written
	peerBookRedial   = 8               // most recently seen peers dialled at start
	peerBookMaxAddrs = 8
)

// savePeers writes the live peers to the peer book; called from the loop.
func (n *Node) savePeers(ctx context.Context, now time.Time) {
	if now.Sub(n.peersSaved) < peerBookEvery {
		return
	}
	n.peersSaved = now
	addrs := map[peer.ID][]string{}
	for _, p := range n.host.Peers() {
		addrs[p.ID] = addrStrings(p.Addrs)
	}
	for id, v := range n.peers {
		if now.Sub(v.lastSeen) >= n.cfg.Lease.D() {
			continue
		}
		as := addrs[id]
		if len(as) > peerBookMaxAddrs {
			as = as[:peerBookMaxAddrs]
		}
		rec := storage.PeerRecord{ID: id.String(), Addrs: as, Role: string(v.role), Modalities: v.modalities, LastSeen: v.lastSeen}
		if err := n.store.PutPeer(ctx, rec); err != nil {
			n.log.Debug("peer book write", "peer", id, "err", err)
		}
	}
}

// knownPeers returns the most recently seen peers of the peer book with their addresses.
func knownPeers(ctx context.Context, st interface {
	Peers(context.Context) ([]storage.PeerRecord, error)
}, self peer.ID) []peer.AddrInfo {
	recs, err := st.Peers(ctx)
	if err != nil {
		return nil
	}
	slices.SortFunc(recs, func(a, b storage.PeerRecord) int { return b.LastSeen.Compare(a.LastSeen) })
	var out []peer.AddrInfo
	for _, r := range recs {
		id, err := peer.Decode(r.ID)
		if err != nil || id == self || len(r.Addrs) == 0 {
			continue
		}
		ai := peer.AddrInfo{ID: id}
		for _, s := range r.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				ai.Addrs = append(ai.Addrs, a)
			}
		}
		if len(ai.Addrs) > 0 {
			out = append(out, ai)
		}
		if len(out) == peerBookRedial {
			break
		}
	}
	return out
}
