package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mlecs/mlecs/mesh/wire"
)

// Host is one mesh node's libp2p side: a TCP+Noise+yamux host in a private
// network, the gossipsub control plane, the blob protocol and discovery.
// All methods are safe for concurrent use.
type Host struct {
	cfg  config
	log  *slog.Logger
	h    host.Host
	self peer.ID // h.ID(), kept for the validators
	ps   *pubsub.PubSub
	kad  *dht.IpfsDHT // nil unless WithDHT(true)
	mdns io.Closer    // nil unless WithMDNS(true)
	bw   *metrics.BandwidthCounter

	topics map[wire.Kind]*topicState // fixed after New
	guard  *replayGuard
	book   *peerBook
	stats  *validationStats
	pen    *penalties
	live   *liveness
	scores atomic.Pointer[map[peer.ID]float64]
	policy atomic.Pointer[policyBox]
	blobs  atomic.Pointer[blobSourceBox]
	seq    atomic.Uint64

	connected chan peer.ID // new connections, for discovery's peer exchange
	exchanged chan peer.ID // peers that answered a peer-list exchange

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// policyBox and blobSourceBox let an interface value (possibly nil) live in
// an atomic.Pointer.
type policyBox struct{ p Policy }
type blobSourceBox struct{ s BlobSource }

// New starts a host. It listens, joins the run's control topics, serves the
// blob and peer-list protocols and starts connecting to the bootstrap peers
// in the background. ctx bounds only the start-up; Close stops the host.
func New(ctx context.Context, opts ...Option) (*Host, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Host{
		cfg:       cfg,
		log:       cfg.logger.With("component", "mesh"),
		bw:        metrics.NewBandwidthCounter(),
		topics:    make(map[wire.Kind]*topicState),
		guard:     newReplayGuard(replayWindow, maxTrackedSenders),
		book:      newPeerBook(),
		stats:     newValidationStats(),
		pen:       newPenalties(time.Now),
		live:      newLiveness(),
		connected: make(chan peer.ID, 64),
		exchanged: make(chan peer.ID, 64),
	}
	// Sequence numbers start at the wall clock so that a restarted node
	// continues above the numbers it used before (replay protection).
	m.seq.Store(uint64(time.Now().UnixNano()))
	m.policy.Store(&policyBox{cfg.policy})
	m.blobs.Store(&blobSourceBox{cfg.blobs})
	m.ctx, m.cancel = context.WithCancel(context.Background())

	if err := m.start(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Host) start(ctx context.Context) error {
	h, err := newLibp2pHost(&m.cfg, m.bw)
	if err != nil {
		return err
	}
	m.h = h
	m.self = h.ID()
	// A shared bootstrap list may name this host itself; never dial self.
	boot := make([]peer.AddrInfo, 0, len(m.cfg.bootstrap))
	for _, ai := range m.cfg.bootstrap {
		if ai.ID == m.self {
			continue
		}
		h.ConnManager().Protect(ai.ID, "mlecs-bootstrap")
		boot = append(boot, ai)
	}
	m.cfg.bootstrap = boot
	m.h.Network().Notify(m.notifiee())
	m.h.SetStreamHandler(BlobProtocol, m.serveBlob)
	m.h.SetStreamHandler(PeerListProtocol, m.servePeerList)

	if m.cfg.dht {
		if err := m.startDHT(ctx); err != nil {
			return err
		}
	}
	if err := m.startPubSub(); err != nil {
		return err
	}
	if m.cfg.mdns {
		svc, err := m.startMDNS()
		if err != nil {
			return err
		}
		m.mdns = svc
	}
	m.wg.Add(1)
	go m.discoveryLoop()
	m.log.Info("mesh host started", "peer", m.h.ID(), "addrs", m.h.Addrs(), "run", m.cfg.runID,
		"psk", m.cfg.psk != nil, "allowlist", len(m.cfg.allowlist), "bootstrap", len(m.cfg.bootstrap), "dht", m.cfg.dht,
		"mdns", m.cfg.mdns)
	return nil
}

// newLibp2pHost builds the libp2p host: TCP only (a private network needs
// it, and it keeps the binary small), Noise, yamux, our gater and limits.
func newLibp2pHost(c *config, bw *metrics.BandwidthCounter) (host.Host, error) {
	rm, err := newResourceManager(c.limits)
	if err != nil {
		return nil, err
	}
	cm, err := connmgr.NewConnManager(c.maxPeers, 2*c.maxPeers+len(c.bootstrap), connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(c.identity),
		libp2p.ListenAddrs(c.listenAddrs...),
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.BandwidthReporter(bw),
		libp2p.ConnectionGater(allowGater{allowed: c.allowlist, log: c.logger.With("component", "mesh")}),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(true),
	}
	if c.psk != nil {
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(c.psk)))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	return h, nil
}

// Close stops discovery, the control plane and the host; subscription
// channels are closed. It is safe to call more than once.
func (m *Host) Close() error {
	var err error
	m.once.Do(func() {
		m.cancel()
		if m.mdns != nil {
			err = errors.Join(err, m.mdns.Close())
		}
		m.wg.Wait()
		if m.kad != nil {
			err = errors.Join(err, m.kad.Close())
		}
		if m.h != nil {
			err = errors.Join(err, m.h.Close())
		}
	})
	if err != nil {
		return fmt.Errorf("close mesh host: %w", err)
	}
	return nil
}

// ID returns the host's peer id.
func (m *Host) ID() peer.ID { return m.h.ID() }

// RunID returns the run whose topics the host serves.
func (m *Host) RunID() string { return m.cfg.runID }

// Addrs returns the host's listen addresses, each with /p2p/<id> appended,
// ready to be given to another host's WithBootstrap.
func (m *Host) Addrs() []ma.Multiaddr {
	ais, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: m.h.ID(), Addrs: m.h.Addrs()})
	if err != nil {
		return nil
	}
	return ais
}

// Libp2p exposes the underlying libp2p host for wiring that the mesh does
// not cover (metrics, debugging). Callers must not close it.
func (m *Host) Libp2p() host.Host { return m.h }

// Connect dials a peer (it must pass the allowlist) and waits for the
// connection or ctx.
func (m *Host) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if !(allowGater{allowed: m.cfg.allowlist}).ok(ai.ID) {
		return fmt.Errorf("connect %s: %w", ai.ID, ErrNotAllowed)
	}
	if err := m.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("connect %s: %w", ai.ID, err)
	}
	return nil
}

// SetPolicy replaces the message policy consulted after the mesh's own
// checks; nil accepts every well-formed, fresh message. The node usually
// sets it once its state machine exists, after New.
func (m *Host) SetPolicy(p Policy) { m.policy.Store(&policyBox{p}) }

func (m *Host) closed() bool { return m.ctx.Err() != nil }
