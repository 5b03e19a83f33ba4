package mesh

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mlecs/mlecs/mesh/wire"
)

// How peers find each other (all three run together):
//
//  1. Bootstrap: every host dials all its bootstrap addresses at start and
//     keeps redialling them with jittered exponential backoff whenever the
//     connection is down (backoff.go: 0.5 s .. 2 s while cut off from every
//     bootstrap peer, up to 30 s otherwise or when the peer drops us).
//  2. Peer-list exchange (/mlecs/peers/1.0.0): on every new connection, and
//     every discover interval for a few random neighbours, a host asks the
//     neighbour for its connected peers and their addresses, and dials those
//     it lacks (allowlist permitting) until it has WithMaxPeers connections.
//     Eight hosts started from one bootstrap address are thus fully connected
//     after one exchange round (each learns the others from the bootstrap).
//  3. Gossipsub peer exchange on PRUNE, and, with WithDHT(true), a private
//     Kademlia DHT (/mlecs prefix) that pubsub also uses to find topic peers.
const (
	bootTick        = 250 * time.Millisecond
	exchangeTimeout = 10 * time.Second
	dialTimeout     = 10 * time.Second
	maxExchanges    = 4 // concurrent peer-list exchanges
	exchangeFanout  = 3 // neighbours asked per periodic round
)

type bootState struct {
	ai       peer.AddrInfo
	inflight bool
	r        redial
}

type bootResult struct {
	i   int
	err error
}

// discoveryLoop owns the bootstrap backoff state; dials, exchanges and
// pings run in goroutines that report back (or need no state).
func (m *Host) discoveryLoop() {
	defer m.wg.Done()
	boot := make([]bootState, len(m.cfg.bootstrap))
	for i, ai := range m.cfg.bootstrap {
		boot[i] = bootState{ai: ai, r: newRedial()}
	}
	results := make(chan bootResult, len(boot))
	sem := make(chan struct{}, maxExchanges)
	tick := time.NewTicker(bootTick)
	defer tick.Stop()
	discover := time.NewTicker(m.cfg.discoverEach)
	defer discover.Stop()
	pinger := time.NewTicker(m.cfg.pingEach)
	defer pinger.Stop()

	m.bootstrapRound(boot, results)
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-tick.C:
			m.bootstrapRound(boot, results)
		case r := <-results:
			b := &boot[r.i]
			b.inflight = false
			if r.err != nil {
				b.r.failed(time.Now(), m.isolated(boot))
				m.log.Debug("bootstrap dial failed", "peer", b.ai.ID, "retry_in", b.r.wait, "err", r.err)
			} else {
				b.r.dialled(time.Now())
			}
		case p := <-m.exchanged:
			for i := range boot {
				if boot[i].ai.ID == p {
					boot[i].r.proven(time.Now())
				}
			}
		case p := <-m.connected:
			m.goExchange(sem, p)
		case <-discover.C:
			peers := m.h.Network().Peers()
			rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
			for _, p := range peers[:min(len(peers), exchangeFanout)] {
				m.goExchange(sem, p)
			}
		case <-pinger.C:
			m.pingAll()
		}
	}
}

// isolated reports whether no bootstrap peer is connected.
func (m *Host) isolated(boot []bootState) bool {
	for i := range boot {
		if m.h.Network().Connectedness(boot[i].ai.ID) == network.Connected {
			return false
		}
	}
	return true
}

// bootstrapRound dials every bootstrap peer that is down and due.
func (m *Host) bootstrapRound(boot []bootState, results chan<- bootResult) {
	now := time.Now()
	isolated := m.isolated(boot)
	for i := range boot {
		b := &boot[i]
		connected := m.h.Network().Connectedness(b.ai.ID) == network.Connected
		b.r.observe(now, connected)
		if b.inflight || connected || !b.r.due(now, isolated) {
			continue
		}
		b.inflight = true
		// While cut off, a dial hung on a dead route or resolver must not
		// hold the next attempt back for the full dial timeout.
		timeout := dialTimeout
		if isolated {
			timeout = bootIsolatedDialTimeout
		}
		m.wg.Add(1)
		go func(i int, ai peer.AddrInfo) {
			defer m.wg.Done()
			ctx, cancel := context.WithTimeout(m.ctx, timeout)
			defer cancel()
			// We back off ourselves; the swarm's own dial backoff (5 s and
			// growing) would hide a bootstrap peer that just came up.
			ctx = network.WithForceDirectDial(ctx, "mlecs bootstrap")
			err := m.Connect(ctx, ai)
			if err == nil {
				m.log.Info("connected to bootstrap peer", "peer", ai.ID)
			}
			results <- bootResult{i: i, err: err} // buffered: one slot per peer
		}(i, b.ai)
	}
}

// goExchange runs one peer-list exchange with p unless too many run.
func (m *Host) goExchange(sem chan struct{}, p peer.ID) {
	if m.cfg.noPeerList {
		return
	}
	select {
	case sem <- struct{}{}:
	default:
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() { <-sem }()
		if err := m.exchangePeers(p); err != nil {
			if m.ctx.Err() == nil {
				m.log.Debug("peer exchange failed", "peer", p, "err", err)
			}
			return
		}
		select { // the peer answered: its connection is proven (bootstrap backoff)
		case m.exchanged <- p:
		default:
		}
	}()
}

// exchangePeers asks p for its peers and dials the ones we lack.
func (m *Host) exchangePeers(p peer.ID) error {
	ctx, cancel := context.WithTimeout(m.ctx, exchangeTimeout)
	defer cancel()
	s, err := m.h.NewStream(ctx, p, PeerListProtocol)
	if err != nil {
		return fmt.Errorf("open peer-list stream: %w", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(exchangeTimeout))
	_ = s.CloseWrite() // the request is the stream itself
	b, err := io.ReadAll(io.LimitReader(s, wire.MaxPeerList+1))
	if err != nil {
		return fmt.Errorf("read peer list: %w", err)
	}
	if len(b) > wire.MaxPeerList {
		return fmt.Errorf("%w: over %d bytes", ErrBadPeerList, wire.MaxPeerList)
	}
	recs, err := wire.DecodePeerList(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPeerList, err)
	}
	infos, err := parsePeerRecords(recs)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	budget := m.cfg.maxPeers - len(m.h.Network().Peers())
	for _, ai := range infos {
		if budget <= 0 {
			break
		}
		if ai.ID == m.h.ID() || m.h.Network().Connectedness(ai.ID) == network.Connected ||
			!(allowGater{allowed: m.cfg.allowlist}).ok(ai.ID) {
			continue
		}
		budget--
		m.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		wg.Add(1)
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			dctx, dcancel := context.WithTimeout(m.ctx, dialTimeout)
			defer dcancel()
			if err := m.h.Connect(dctx, ai); err != nil {
				m.log.Debug("dial learned peer failed", "peer", ai.ID, "via", p, "err", err)
			}
		}(ai)
	}
	wg.Wait()
	return nil
}

// parsePeerRecords turns wire records into addr infos; any unparsable id
// or address makes the whole list invalid (a correct peer never sends one).
func parsePeerRecords(recs []wire.PeerRecord) ([]peer.AddrInfo, error) {
	out := make([]peer.AddrInfo, 0, len(recs))
	for i, r := range recs {
		id, err := peer.IDFromBytes(r.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: peer %d id: %w", ErrBadPeerList, i, err)
		}
		ai := peer.AddrInfo{ID: id}
		for j, a := range r.Addrs {
			addr, err := ma.NewMultiaddrBytes(a)
			if err != nil {
				return nil, fmt.Errorf("%w: peer %d addr %d: %w", ErrBadPeerList, i, j, err)
			}
			ai.Addrs = append(ai.Addrs, addr)
		}
		out = append(out, ai)
	}
	return out, nil
}

// servePeerList answers with our connected peers (not the asker) and their
// known addresses, within the wire caps.
func (m *Host) servePeerList(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(exchangeTimeout))
	asker := s.Conn().RemotePeer()
	peers := m.h.Network().Peers()
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	recs := make([]wire.PeerRecord, 0, min(len(peers), wire.MaxPeerListPeers))
	for _, p := range peers {
		if len(recs) == wire.MaxPeerListPeers {
			break
		}
		if p == asker {
			continue
		}
		rec := wire.PeerRecord{ID: []byte(p)}
		for _, a := range m.h.Peerstore().Addrs(p) {
			if len(rec.Addrs) == wire.MaxPeerAddrs {
				break
			}
			if b := a.Bytes(); len(b) > 0 && len(b) <= wire.MaxAddrBytes {
				rec.Addrs = append(rec.Addrs, b)
			}
		}
		if len(rec.Addrs) > 0 && len(rec.ID) <= wire.MaxPeerIDBytes {
			recs = append(recs, rec)
		}
	}
	b, err := wire.EncodePeerList(nil, recs)
	if err != nil {
		m.log.Warn("encode peer list", "err", err)
		_ = s.Reset()
		return
	}
	if _, err := s.Write(b); err != nil {
		_ = s.Reset()
	}
}

// startDHT starts a private Kademlia DHT in server mode with our prefix.
func (m *Host) startDHT(ctx context.Context) error {
	kad, err := dht.New(m.h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(DHTPrefix),
		dht.BootstrapPeers(m.cfg.bootstrap...),
	)
	if err != nil {
		return fmt.Errorf("dht: %w", err)
	}
	m.kad = kad
	if err := kad.Bootstrap(ctx); err != nil {
		return fmt.Errorf("dht bootstrap: %w", err)
	}
	return nil
}
