package node

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlecs/mlecs/mesh"
	"github.com/mlecs/mlecs/mesh/wire"
)

func TestPolicyCheck(t *testing.T) {
	n := &Node{m: newNodeMetrics(prometheus.NewRegistry())}
	n.fence.Store(5)
	const anchor = "anchor-id-bytes"
	anchorStr := peer.ID(anchor).String()
	n.anchorPtr.Store(&anchorStr)
	enc := func(b Body) []byte {
		out, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hb := enc(Body{Role: RoleEdge})
	claim := enc(Body{Role: RoleAnchorCapable, LeaseMs: 1000})
	round := enc(Body{Global: hA})
	upd := enc(Body{Update: hB})
	tests := []struct {
		name string
		from string
		kind wire.Kind
		term uint64
		body []byte
		want mesh.Verdict
	}{
		{"current heartbeat", "x", wire.KindHeartbeat, 5, hb, mesh.Accept},
		{"stale heartbeat ignored", "x", wire.KindHeartbeat, 4, hb, mesh.Ignore},
		{"malformed rejected", "x", wire.KindHeartbeat, 5, []byte("{"), mesh.Reject},
		{"current claim", "y", wire.KindAnchor, 5, claim, mesh.Accept},
		{"newer claim", "y", wire.KindAnchor, 6, claim, mesh.Accept},
		{"stale claim fenced", "y", wire.KindAnchor, 4, claim, mesh.Reject},
		{"manifest from anchor", anchor, wire.KindRound, 5, round, mesh.Accept},
		{"manifest from another node", "z", wire.KindRound, 5, round, mesh.Reject},
		{"manifest of newer term", "z", wire.KindRound, 6, round, mesh.Accept},
		{"stale manifest fenced", anchor, wire.KindRound, 4, round, mesh.Reject},
		{"current update", "e", wire.KindUpdate, 5, upd, mesh.Accept},
		{"stale update ignored", "e", wire.KindUpdate, 3, upd, mesh.Ignore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := &wire.Envelope{Kind: tc.kind, Term: tc.term, Body: tc.body}
			if got := n.Check(peer.ID(tc.from), env); got != tc.want {
				t.Fatalf("verdict %v, want %v", got, tc.want)
			}
		})
	}
}
