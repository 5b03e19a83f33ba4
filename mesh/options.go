package mesh

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mlecs/mlecs/mesh/wire"
)

// PSKSize is the length of a private-network key (libp2p pnet, XSalsa20).
const PSKSize = 32

// Option configures a Host. Options validate their arguments and New fails
// with the first error.
type Option func(*config) error

// config holds every setting New needs; it is never changed after New.
type config struct {
	identity     crypto.PrivKey
	listenAddrs  []ma.Multiaddr
	psk          []byte
	noPSK        bool
	allowlist    map[peer.ID]struct{}
	bootstrap    []peer.AddrInfo
	dht          bool
	noPeerList   bool
	mdns         bool
	runID        string
	logger       *slog.Logger
	limits       ResourceLimits
	policy       Policy
	blobs        BlobSource
	maxPeers     int
	discoverEach time.Duration
	pingEach     time.Duration
	pingTimeout  time.Duration
	pingFails    int
	scoreEach    time.Duration
	maxAge       time.Duration
	maxSkew      time.Duration
	blobTimeout  time.Duration
}

func defaultConfig() config {
	return config{
		runID:        "default",
		logger:       slog.New(slog.DiscardHandler),
		limits:       DefaultResourceLimits(),
		maxPeers:     64,
		discoverEach: 10 * time.Second,
		pingEach:     2 * time.Second,
		pingTimeout:  defaultPingTimeout,
		pingFails:    defaultPingFails,
		scoreEach:    time.Second,
		maxAge:       5 * time.Minute,
		maxSkew:      time.Minute,
		blobTimeout:  30 * time.Second,
	}
}

func (c *config) validate() error {
	if c.psk == nil && !c.noPSK {
		return fmt.Errorf("%w: a private-network key is required (WithPSK), or WithoutPSK for tests", ErrInvalidOption)
	}
	if c.psk != nil && c.noPSK {
		return fmt.Errorf("%w: WithPSK and WithoutPSK both given", ErrInvalidOption)
	}
	if c.identity == nil {
		return fmt.Errorf("%w: an identity is required (WithIdentity)", ErrInvalidOption)
	}
	if len(c.listenAddrs) == 0 {
		return fmt.Errorf("%w: at least one listen address is required (WithListenAddrs)", ErrInvalidOption)
	}
	return nil
}

// WithIdentity sets the host's private key; its peer id follows from it.
// Ed25519 keys keep signatures and peer ids small.
func WithIdentity(k crypto.PrivKey) Option {
	return func(c *config) error {
		if k == nil {
			return fmt.Errorf("%w: nil identity", ErrInvalidOption)
		}
		c.identity = k
		return nil
	}
}

// WithListenAddrs sets the TCP multiaddrs to listen on, e.g.
// "/ip4/0.0.0.0/tcp/4001" ("/ip4/127.0.0.1/tcp/0" in tests).
func WithListenAddrs(addrs ...string) Option {
	return func(c *config) error {
		if len(addrs) == 0 {
			return fmt.Errorf("%w: no listen address", ErrInvalidOption)
		}
		for _, s := range addrs {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				return fmt.Errorf("%w: listen address %q: %w", ErrInvalidOption, s, err)
			}
			if _, err := a.ValueForProtocol(ma.P_TCP); err != nil {
				return fmt.Errorf("%w: listen address %q is not TCP (the only transport)", ErrInvalidOption, s)
			}
			c.listenAddrs = append(c.listenAddrs, a)
		}
		return nil
	}
}

// WithPSK makes the host join the private network keyed by psk (32 bytes):
// peers without the same key cannot complete a connection.
func WithPSK(psk []byte) Option {
	return func(c *config) error {
		if len(psk) != PSKSize {
			return fmt.Errorf("%w: network key is %d bytes, want %d", ErrInvalidOption, len(psk), PSKSize)
		}
		c.psk = append([]byte(nil), psk...)
		return nil
	}
}

// WithoutPSK explicitly runs the host on the open network (no network key).
// Only tests and benchmarks should use it.
func WithoutPSK() Option {
	return func(c *config) error { c.noPSK = true; return nil }
}

// WithAllowlist restricts connections, in both directions, to the given
// peers. An empty list allows every peer that holds the network key.
func WithAllowlist(ids ...peer.ID) Option {
	return func(c *config) error {
		for _, id := range ids {
			if err := id.Validate(); err != nil {
				return fmt.Errorf("%w: allowlist entry %q: %w", ErrInvalidOption, id, err)
			}
			if c.allowlist == nil {
				c.allowlist = make(map[peer.ID]struct{})
			}
			c.allowlist[id] = struct{}{}
		}
		return nil
	}
}

// WithBootstrap sets the peers to connect to at start and to keep
// reconnecting to; each address must end in /p2p/<peer id>.
func WithBootstrap(addrs ...string) Option {
	return func(c *config) error {
		for _, s := range addrs {
			ai, err := peer.AddrInfoFromString(s)
			if err != nil {
				return fmt.Errorf("%w: bootstrap address %q (need .../p2p/<peer id>): %w", ErrInvalidOption, s, err)
			}
			c.bootstrap = mergeAddrInfo(c.bootstrap, *ai)
		}
		return nil
	}
}

// WithBootstrapPeers is WithBootstrap for already parsed addresses.
func WithBootstrapPeers(ais ...peer.AddrInfo) Option {
	return func(c *config) error {
		for _, ai := range ais {
			if err := ai.ID.Validate(); err != nil || len(ai.Addrs) == 0 {
				return fmt.Errorf("%w: bootstrap peer %v needs an id and an address", ErrInvalidOption, ai)
			}
			c.bootstrap = mergeAddrInfo(c.bootstrap, ai)
		}
		return nil
	}
}

func mergeAddrInfo(list []peer.AddrInfo, ai peer.AddrInfo) []peer.AddrInfo {
	for i := range list {
		if list[i].ID == ai.ID {
			list[i].Addrs = append(list[i].Addrs, ai.Addrs...)
			return list
		}
	}
	return append(list, ai)
}

// WithDHT enables a private Kademlia DHT (protocol prefix /mlecs) used to
// find peers beyond the bootstrap set.
func WithDHT(on bool) Option { return func(c *config) error { c.dht = on; return nil } }

// WithPeerListExchange turns the /mlecs/peers/1.0.0 peer-list exchange on
// (default) or off; off leaves discovery to bootstrap, gossipsub PX and
// the DHT.
func WithPeerListExchange(on bool) Option {
	return func(c *config) error { c.noPeerList = !on; return nil }
}

// WithMDNS enables local-network discovery by mDNS (service _mlecs._udp):
// found peers are dialled, allowlist and WithMaxPeers permitting. It is off
// by default and must never be used in tests.
func WithMDNS(on bool) Option { return func(c *config) error { c.mdns = on; return nil } }

// WithRunID sets the run whose control topics the host joins
// ("mlecs/<run>/<kind>"); messages of other runs are rejected.
func WithRunID(id string) Option {
	return func(c *config) error {
		if !wire.ValidRunID(id) {
			return fmt.Errorf("%w: run id %q: 1..%d bytes of [A-Za-z0-9._-]", ErrInvalidOption, id, wire.MaxRunID)
		}
		c.runID = id
		return nil
	}
}

// WithLogger sets the structured logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// WithResourceLimits sets the libp2p resource-manager limits.
func WithResourceLimits(l ResourceLimits) Option {
	return func(c *config) error {
		if err := l.validate(); err != nil {
			return err
		}
		c.limits = l
		return nil
	}
}

// WithPolicy sets the consumer's message policy (see Host.SetPolicy).
func WithPolicy(p Policy) Option {
	return func(c *config) error { c.policy = p; return nil }
}

// WithBlobSource sets where the blob protocol serves blobs from; without
// it the host serves nothing.
func WithBlobSource(s BlobSource) Option {
	return func(c *config) error { c.blobs = s; return nil }
}

// WithMaxPeers bounds how many peers discovery dials on its own (bootstrap
// peers are always dialled).
func WithMaxPeers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max peers %d < 1", ErrInvalidOption, n)
		}
		c.maxPeers = n
		return nil
	}
}

// WithIntervals sets how often the host exchanges peer lists (discover),
// pings peers (ping) and refreshes its peer-score snapshot (score).
func WithIntervals(discover, ping, score time.Duration) Option {
	return func(c *config) error {
		if discover < 10*time.Millisecond || ping < 10*time.Millisecond || score < 10*time.Millisecond {
			return fmt.Errorf("%w: intervals %v/%v/%v must be >= 10ms", ErrInvalidOption, discover, ping, score)
		}
		c.discoverEach, c.pingEach, c.scoreEach = discover, ping, score
		return nil
	}
}

// WithLiveness sets when a silent peer is disconnected: after fails pings
// in a row (one every ping interval, see WithIntervals) each got no answer
// within timeout. Defaults: 2 s, 2.
func WithLiveness(timeout time.Duration, fails int) Option {
	return func(c *config) error {
		if timeout < 10*time.Millisecond || fails < 1 {
			return fmt.Errorf("%w: liveness timeout %v must be >= 10ms and failures %d >= 1", ErrInvalidOption, timeout, fails)
		}
		c.pingTimeout, c.pingFails = timeout, fails
		return nil
	}
}

// WithMessageAge sets how old (maxAge) or how far in the future (maxSkew),
// by the sender's SentAt, a control message may be before it is ignored.
func WithMessageAge(maxAge, maxSkew time.Duration) Option {
	return func(c *config) error {
		if maxAge <= 0 || maxSkew <= 0 {
			return fmt.Errorf("%w: message age %v / skew %v must be > 0", ErrInvalidOption, maxAge, maxSkew)
		}
		c.maxAge, c.maxSkew = maxAge, maxSkew
		return nil
	}
}

// WithBlobTimeout sets the idle deadline of a blob stream: a transfer fails
// when no frame moves for this long.
func WithBlobTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: blob timeout %v must be > 0", ErrInvalidOption, d)
		}
		c.blobTimeout = d
		return nil
	}
}
