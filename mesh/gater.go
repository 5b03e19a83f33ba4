package mesh

import (
	"log/slog"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// allowGater refuses every connection, inbound or outbound, with a peer not
// on the allowlist. The list is fixed at construction, so no locking.
type allowGater struct {
	allowed map[peer.ID]struct{} // nil = everyone holding the network key
	log     *slog.Logger         // nil: refusals are not logged (the ok checks of discovery and Connect)
}

func (g allowGater) ok(p peer.ID) bool {
	if g.allowed == nil {
		return true
	}
	_, ok := g.allowed[p]
	return ok
}

func (g allowGater) InterceptPeerDial(p peer.ID) bool                 { return g.ok(p) }
func (g allowGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.ok(p) }

// InterceptAccept cannot know the peer yet: the check happens once the
// Noise handshake has authenticated it, in InterceptSecured.
func (g allowGater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g allowGater) InterceptSecured(dir network.Direction, p peer.ID, addrs network.ConnMultiaddrs) bool {
	if g.ok(p) {
		return true
	}
	if g.log != nil {
		// A refused peer redials with backoff (30 s at most between attempts), so this stays rare.
		g.log.Warn("connection refused: peer not on the allowlist", "peer", p, "direction", dir, "remote", addrs.RemoteMultiaddr())
	}
	return false
}

func (g allowGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
