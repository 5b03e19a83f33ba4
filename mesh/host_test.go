package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mlecs/mlecs/mesh/wire"
)

func TestOptionsValidate(t *testing.T) {
	ctx := timeout(t, 10*time.Second)
	cases := map[string]struct {
		opts []Option
		want error
	}{
		"no psk":          {[]Option{WithIdentity(testKey(t)), WithListenAddrs("/ip4/127.0.0.1/tcp/0")}, ErrInvalidOption},
		"short psk":       {[]Option{WithPSK([]byte("short"))}, ErrInvalidOption},
		"psk and no psk":  {[]Option{WithPSK(testPSK()), WithoutPSK(), WithIdentity(testKey(t)), WithListenAddrs("/ip4/127.0.0.1/tcp/0")}, ErrInvalidOption},
		"no identity":     {[]Option{WithPSK(testPSK()), WithListenAddrs("/ip4/127.0.0.1/tcp/0")}, ErrInvalidOption},
		"no listen addr":  {[]Option{WithPSK(testPSK()), WithIdentity(testKey(t))}, ErrInvalidOption},
		"udp listen":      {[]Option{WithListenAddrs("/ip4/127.0.0.1/udp/0/quic-v1")}, ErrInvalidOption},
		"bad multiaddr":   {[]Option{WithListenAddrs("nonsense")}, ErrInvalidOption},
		"bootstrap no id": {[]Option{WithBootstrap("/ip4/127.0.0.1/tcp/4001")}, ErrInvalidOption},
		"bad run id":      {[]Option{WithRunID("a/b")}, ErrInvalidOption},
		"bad intervals":   {[]Option{WithIntervals(0, time.Second, time.Second)}, ErrInvalidOption},
		"bad limits":      {[]Option{WithResourceLimits(ResourceLimits{})}, ErrInvalidOption},
		"bad liveness":    {[]Option{WithLiveness(time.Second, 0)}, ErrInvalidOption},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h, err := New(ctx, c.opts...)
			if err == nil {
				h.Close()
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// TestMDNSOption checks the option only: mDNS is never started in tests.
func TestMDNSOption(t *testing.T) {
	if defaultConfig().mdns {
		t.Fatal("mDNS is on by default")
	}
	c := defaultConfig()
	if err := WithMDNS(true)(&c); err != nil || !c.mdns {
		t.Fatalf("WithMDNS(true): %v, on=%v", err, c.mdns)
	}
	if err := WithMDNS(false)(&c); err != nil || c.mdns {
		t.Fatalf("WithMDNS(false): %v, on=%v", err, c.mdns)
	}
}

// Eight hosts started from one bootstrap address find each other (every
// host connected to all seven others) and a control message published by
// one reaches all.
func TestEightHostsDiscoverAndGossip(t *testing.T) {
	ctx := timeout(t, 45*time.Second)
	const n = 8
	hosts := []*Host{newTestHost(t, ctx)}
	boot := hosts[0].Addrs()[0].String()
	for range n - 1 {
		hosts = append(hosts, newTestHost(t, ctx, WithBootstrap(boot)))
	}
	for i, h := range hosts {
		eventually(t, ctx, fmt.Sprintf("host %d to connect to all others", i), func() bool {
			return len(h.ConnectedPeers()) == n-1
		})
	}
	subs := make([]<-chan Message, n)
	for i, h := range hosts {
		c, cancel, err := h.Subscribe(wire.KindRound)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
		subs[i] = c
	}
	pub := hosts[5]
	if err := pub.WaitTopicPeers(ctx, wire.KindRound, n-1); err != nil {
		t.Fatal(err)
	}
	env := &wire.Envelope{Kind: wire.KindRound, Term: 1, Round: 2, Body: []byte("round-manifest")}
	if err := pub.Publish(ctx, env); err != nil {
		t.Fatal(err)
	}
	for i, c := range subs {
		if hosts[i] == pub {
			continue
		}
		select {
		case m := <-c:
			if m.From != pub.ID() || string(m.Envelope.Body) != "round-manifest" || m.Envelope.Round != 2 || m.Envelope.RunID != testRun {
				t.Fatalf("host %d got %+v", i, m)
			}
		case <-ctx.Done():
			t.Fatalf("host %d did not receive the message", i)
		}
	}
	select {
	case m := <-subs[5]:
		t.Fatalf("publisher received its own message: %+v", m)
	default:
	}
}

func TestPSKRequired(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	a := newTestHost(t, ctx)
	other := make([]byte, PSKSize)
	copy(other, "another network key, 32 bytes!!")
	b := newTestHost(t, ctx, WithPSK(other))
	// A wrong key garbles the handshake, which may then stall rather than
	// fail: bound each attempt.
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := b.Connect(dctx, addrInfo(a)); err == nil {
		t.Fatal("host with another network key connected")
	}
	open := newTestHost(t, ctx, WithoutPSK(), func(c *config) error { c.psk = nil; return nil })
	dctx2, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	if err := open.Connect(dctx2, addrInfo(a)); err == nil {
		t.Fatal("host without a network key connected")
	}
	if n := len(a.ConnectedPeers()); n != 0 {
		t.Fatalf("a has %d peers, want 0", n)
	}
}

func TestAllowlist(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	friend := newTestHost(t, ctx)
	stranger := newTestHost(t, ctx)
	var logs lockedBuffer
	guarded := newTestHost(t, ctx, WithAllowlist(friend.ID()), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))

	if err := friend.Connect(ctx, addrInfo(guarded)); err != nil {
		t.Fatalf("allowed peer: %v", err)
	}
	// Inbound: the stranger holds the key but is not listed.
	_ = stranger.Connect(ctx, addrInfo(guarded))
	// Outbound: the guarded host refuses to dial it, even bypassing our check.
	if err := guarded.Connect(ctx, addrInfo(stranger)); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("dial stranger: %v, want ErrNotAllowed", err)
	}
	if err := guarded.Libp2p().Connect(ctx, addrInfo(stranger)); err == nil {
		t.Fatal("gater let the guarded host dial a stranger")
	}
	eventually(t, ctx, "stranger connection gone", func() bool {
		for _, p := range guarded.ConnectedPeers() {
			if p == stranger.ID() {
				return false
			}
		}
		return len(stranger.ConnectedPeers()) == 0
	})
	if ps := guarded.ConnectedPeers(); len(ps) != 1 || ps[0] != friend.ID() {
		t.Fatalf("guarded peers = %v, want only the friend", ps)
	}
	// The inbound refusal is logged with its reason and the peer.
	eventually(t, ctx, "the refusal logged", func() bool {
		l := logs.String()
		return strings.Contains(l, "not on the allowlist") && strings.Contains(l, stranger.ID().String())
	})
}

// lockedBuffer is a log sink safe for the host's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestPeerInfo(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	a := newTestHost(t, ctx)
	b := newTestHost(t, ctx, WithBootstrap(a.Addrs()[0].String()))
	eventually(t, ctx, "latency measured", func() bool {
		info, ok := b.Peer(a.ID())
		return ok && info.Connected && info.Latency > 0 && info.BytesIn > 0 && info.BytesOut > 0 && !info.LastSeen.IsZero()
	})
	eventually(t, ctx, "score known", func() bool {
		_, ok := b.PeerScore(a.ID())
		return ok
	})
	peers := b.Peers()
	if len(peers) != 1 || peers[0].ID != a.ID() || len(peers[0].Addrs) == 0 {
		t.Fatalf("peers = %+v", peers)
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	ctx := timeout(t, 10*time.Second)
	h, err := New(ctx, baseOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	c, cancel, err := h.Subscribe(wire.KindAnchor)
	if err != nil {
		t.Fatal(err)
	}
	c2, cancel2, err := h.Subscribe(wire.KindAnchor)
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	cancel2() // idempotent
	if _, ok := <-c2; ok {
		t.Fatal("cancelled subscription still open")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-c; ok {
		t.Fatal("subscription open after Close")
	}
	cancel() // after Close: must not block
	if err := h.Publish(ctx, &wire.Envelope{Kind: wire.KindAnchor}); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// With the DHT on and the peer-list exchange off, two hosts that only know
// the bootstrap find each other through the private DHT (pubsub's
// rendezvous on our topics, and Kademlia lookups).
func TestDHTDiscovery(t *testing.T) {
	ctx := timeout(t, 30*time.Second)
	a := newTestHost(t, ctx, WithDHT(true), WithPeerListExchange(false))
	boot := a.Addrs()[0].String()
	b := newTestHost(t, ctx, WithDHT(true), WithBootstrap(boot), WithPeerListExchange(false))
	c := newTestHost(t, ctx, WithDHT(true), WithBootstrap(boot), WithPeerListExchange(false))
	eventually(t, ctx, "b and c to find each other", func() bool {
		ai, err := b.kad.FindPeer(ctx, c.ID())
		return err == nil && ai.ID == c.ID() && len(ai.Addrs) > 0
	})
	for _, p := range a.Libp2p().Mux().Protocols() {
		if strings.HasPrefix(string(p), "/ipfs/kad") {
			t.Fatalf("public DHT protocol %s served", p)
		}
	}
	if !slices.Contains(a.Libp2p().Mux().Protocols(), protocol.ID("/mlecs/kad/1.0.0")) {
		t.Fatalf("private DHT protocol not served: %v", a.Libp2p().Mux().Protocols())
	}
}

// A host keeps redialling its bootstrap peer: it connects once the peer
// comes up late, and again after the peer restarts.
func TestBootstrapReconnects(t *testing.T) {
	ctx := timeout(t, 40*time.Second)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", l.Addr().(*net.TCPAddr).Port)
	l.Close()
	key := testKey(t)
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b := newTestHost(t, ctx, WithBootstrap(addr+"/p2p/"+id.String()))
	time.Sleep(time.Second) // b fails a few dials and backs off
	startBoot := func() *Host {
		h, err := New(ctx, append(baseOpts(t), WithIdentity(key), func(c *config) error {
			c.listenAddrs = nil
			return WithListenAddrs(addr)(c)
		})...)
		if err != nil {
			t.Fatalf("start bootstrap host: %v", err)
		}
		return h
	}
	a := startBoot()
	eventually(t, ctx, "b to reach the late bootstrap peer", func() bool {
		return slices.Contains(b.ConnectedPeers(), id)
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "b to notice the bootstrap peer is gone", func() bool {
		return !slices.Contains(b.ConnectedPeers(), id)
	})
	a = startBoot()
	defer a.Close()
	eventually(t, ctx, "b to reconnect after the restart", func() bool {
		return slices.Contains(b.ConnectedPeers(), id)
	})
}
