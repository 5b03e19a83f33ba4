package mesh

import (
	"context"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// mdnsService names the mesh's mDNS service; the private network key and
// the allowlist, not the name, decide who may connect.
const mdnsService = "_mlecs._udp"

// startMDNS announces the host on the local network and dials the mesh
// peers it finds there (allowlist and max peers permitting). Only with
// WithMDNS(true); tests never start it.
func (m *Host) startMDNS() (io.Closer, error) {
	svc := mdns.NewMdnsService(m.h, mdnsService, mdnsNotifee{m})
	if err := svc.Start(); err != nil {
		return nil, fmt.Errorf("mdns: %w", err)
	}
	return svc, nil
}

type mdnsNotifee struct{ m *Host }

func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	m := n.m
	if m.closed() || ai.ID == m.self || m.h.Network().Connectedness(ai.ID) == network.Connected ||
		len(m.h.Network().Peers()) >= m.cfg.maxPeers || !(allowGater{allowed: m.cfg.allowlist}).ok(ai.ID) {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.ctx, dialTimeout)
		defer cancel()
		if err := m.Connect(ctx, ai); err != nil {
			m.log.Debug("dial mDNS peer failed", "peer", ai.ID, "err", err)
		}
	}()
}
