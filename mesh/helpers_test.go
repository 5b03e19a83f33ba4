package mesh

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

const testRun = "test-run"

func testPSK() []byte { return bytes.Repeat([]byte{0x42}, PSKSize) }

func testKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// baseOpts are loopback-only, fast-interval options; later options win.
func baseOpts(t testing.TB) []Option {
	return []Option{
		WithIdentity(testKey(t)),
		WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		WithPSK(testPSK()),
		WithRunID(testRun),
		WithLogger(testLogger(t)),
		WithIntervals(300*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond),
	}
}

func newTestHost(t testing.TB, ctx context.Context, opts ...Option) *Host {
	t.Helper()
	h, err := New(ctx, append(baseOpts(t), opts...)...)
	if err != nil {
		t.Fatalf("new host: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func addrInfo(h *Host) peer.AddrInfo {
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Libp2p().Addrs()}
}

// eventually polls cond every 20ms until it holds or ctx ends.
func eventually(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tk.C:
		}
	}
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
