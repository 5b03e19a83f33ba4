package mesh

import (
	"fmt"
	"maps"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"github.com/mlecs/mlecs/mesh/wire"
)

// blobWindow is the yamux receive window a blob stream may grow to.
const blobWindow = 16 << 20

// ResourceLimits are the resource-manager limits the mesh cares about; the
// rest come from libp2p's defaults scaled to MaxMemory.
type ResourceLimits struct {
	MaxMemory             int64 // bytes all scopes together may reserve
	MaxConns              int   // open connections, all peers
	MaxStreamsPerPeer     int   // open streams with one peer, all protocols
	MaxBlobStreamsPerPeer int   // concurrent blob transfers with one peer, each direction
	MaxBlobStreams        int   // concurrent blob transfers, all peers, each direction
}

// DefaultResourceLimits suits a small device: 256 MiB, 256 connections,
// 4 blob transfers per peer and 32 in total each way.
func DefaultResourceLimits() ResourceLimits {
	return ResourceLimits{
		MaxMemory:             256 << 20,
		MaxConns:              256,
		MaxStreamsPerPeer:     256,
		MaxBlobStreamsPerPeer: 4,
		MaxBlobStreams:        32,
	}
}

func (l ResourceLimits) validate() error {
	if l.MaxMemory < 16<<20 || l.MaxConns < 1 || l.MaxStreamsPerPeer < 8 || l.MaxBlobStreamsPerPeer < 1 || l.MaxBlobStreams < l.MaxBlobStreamsPerPeer {
		return fmt.Errorf("%w: resource limits %+v (need memory >= 16 MiB, conns >= 1, streams/peer >= 8, 1 <= blob/peer <= blob total)", ErrInvalidOption, l)
	}
	return nil
}

// newResourceManager builds a fixed limiter from libp2p's default scaling
// config, our totals and a per-peer / total cap on the blob protocol.
func newResourceManager(l ResourceLimits) (network.ResourceManager, error) {
	cfg := rcmgr.DefaultLimits
	// Clone the maps so that the package-level default is never mutated.
	cfg.ServiceLimits = maps.Clone(cfg.ServiceLimits)
	cfg.ServicePeerLimits = maps.Clone(cfg.ServicePeerLimits)
	cfg.ProtocolLimits = maps.Clone(cfg.ProtocolLimits)
	cfg.ProtocolPeerLimits = maps.Clone(cfg.ProtocolPeerLimits)
	cfg.PeerLimits = maps.Clone(cfg.PeerLimits)
	libp2p.SetDefaultServiceLimits(&cfg)
	// Each blob stream may use our frame buffers plus a yamux receive
	// window grown to blobWindow; without that room yamux stays at its
	// 256 KiB initial window and loopback throughput collapses.
	perStream := int64(blobWindow + 2*wire.MaxFrame)
	blobLimit := func(n int) rcmgr.BaseLimit {
		return rcmgr.BaseLimit{StreamsInbound: n, StreamsOutbound: n, Streams: 2 * n, Memory: int64(n) * perStream}
	}
	cfg.AddProtocolLimit(BlobProtocol, blobLimit(l.MaxBlobStreams), rcmgr.BaseLimitIncrease{})
	cfg.AddProtocolPeerLimit(BlobProtocol, blobLimit(l.MaxBlobStreamsPerPeer), rcmgr.BaseLimitIncrease{})
	cfg.AddServiceLimit(blobService, blobLimit(l.MaxBlobStreams), rcmgr.BaseLimitIncrease{})
	cfg.AddServicePeerLimit(blobService, blobLimit(l.MaxBlobStreamsPerPeer), rcmgr.BaseLimitIncrease{})
	concrete := cfg.Scale(l.MaxMemory, 4*l.MaxConns)
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns: rcmgr.LimitVal(l.MaxConns), ConnsInbound: rcmgr.LimitVal(l.MaxConns), ConnsOutbound: rcmgr.LimitVal(l.MaxConns),
		},
		PeerDefault: rcmgr.ResourceLimits{
			Streams:         rcmgr.LimitVal(l.MaxStreamsPerPeer),
			StreamsInbound:  rcmgr.LimitVal(l.MaxStreamsPerPeer),
			StreamsOutbound: rcmgr.LimitVal(l.MaxStreamsPerPeer),
		},
	}
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(concrete)))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return mgr, nil
}
