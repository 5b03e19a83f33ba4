package mesh

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// blackhole is a loopback TCP proxy that can go silent: once frozen it
// keeps both sockets open but forwards nothing, like a peer whose process
// is stopped (SIGSTOP) or whose network drops every packet.
type blackhole struct {
	l      net.Listener
	mu     sync.Mutex
	frozen chan struct{} // closed by freeze
	done   chan struct{} // closed by stop: release everything
	conns  []net.Conn
	once   sync.Once
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{l: l, frozen: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(b.stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			b.mu.Lock()
			b.conns = append(b.conns, c, u)
			b.mu.Unlock()
			go b.pipe(c, u)
			go b.pipe(u, c)
		}
	}()
	return b
}

func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-b.frozen:
			<-b.done // hold the connection open, silent
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (b *blackhole) freeze() { close(b.frozen) }

func (b *blackhole) stop() {
	b.once.Do(func() {
		close(b.done)
		b.l.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
	})
}

// TestSilentPeerIsDisconnected: a peer that stops answering while its TCP
// connection stays open is reported disconnected within a few seconds.
func TestSilentPeerIsDisconnected(t *testing.T) {
	ctx := timeout(t, 30*time.Second)
	live := []Option{WithIntervals(time.Hour, 200*time.Millisecond, 100*time.Millisecond), WithLiveness(500*time.Millisecond, 2)}
	a := newTestHost(t, ctx, live...)
	b := newTestHost(t, ctx, live...)
	var target string
	for _, addr := range b.Libp2p().Addrs() {
		if ip, err := addr.ValueForProtocol(ma.P_IP4); err == nil {
			port, _ := addr.ValueForProtocol(ma.P_TCP)
			target = net.JoinHostPort(ip, port)
		}
	}
	bh := newBlackhole(t, target)
	proxied, err := ma.NewMultiaddr("/ip4/127.0.0.1/tcp/" + portOf(bh.l.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	// Only the proxied address is known: nothing can route around the cut.
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: []ma.Multiaddr{proxied}}); err != nil {
		t.Fatal(err)
	}
	a.Libp2p().Peerstore().ClearAddrs(b.ID())
	eventually(t, ctx, "a ping to succeed", func() bool {
		info, _ := a.Peer(b.ID())
		return info.Latency > 0
	})
	bh.freeze()
	cut := time.Now()
	eventually(t, ctx, "the silent peer to be shown disconnected", func() bool {
		info, _ := a.Peer(b.ID())
		return !info.Connected
	})
	took := time.Since(cut)
	// 2 failed pings of 500 ms, one interval (200 ms) apart at most, plus
	// scheduling slack on a loaded machine.
	if took > 5*time.Second {
		t.Fatalf("disconnected only after %v", took)
	}
	t.Logf("silent peer disconnected %v after the cut", took.Round(time.Millisecond))
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

func TestWithLivenessValidates(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		fails   int
	}{{0, 2}, {time.Second, 0}, {time.Millisecond, 3}} {
		var c config
		if err := WithLiveness(tc.timeout, tc.fails)(&c); err == nil {
			t.Errorf("WithLiveness(%v, %d) accepted", tc.timeout, tc.fails)
		}
	}
	var c config
	if err := WithLiveness(time.Second, 3)(&c); err != nil || c.pingTimeout != time.Second || c.pingFails != 3 {
		t.Fatalf("WithLiveness(1s, 3): %v, %+v", err, c)
	}
}
