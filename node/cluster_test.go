package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCluster runs in-process nodes on loopback with short intervals.
type testCluster struct {
	t     testing.TB
	dir   string
	psk   string
	boot  string
	mu    sync.Mutex
	nodes map[int]*runningNode
}

type runningNode struct {
	n      *Node
	cfg    Config
	cancel context.CancelFunc
	done   chan error
}

func newTestCluster(t testing.TB) *testCluster {
	dir := t.TempDir()
	psk := filepath.Join(dir, "net.psk")
	if err := GeneratePSK(psk); err != nil {
		t.Fatal(err)
	}
	c := &testCluster{t: t, dir: dir, psk: psk, nodes: map[int]*runningNode{}}
	t.Cleanup(c.stopAll)
	return c
}

func (c *testCluster) config(i int, role Role) Config {
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(c.dir, fmt.Sprintf("node-%d", i))
	cfg.PSKFile = c.psk
	cfg.Role = role
	cfg.Partition = i
	cfg.APIAddr = "127.0.0.1:0"
	cfg.RunID = "test"
	cfg.Heartbeat = Duration(200 * time.Millisecond)
	cfg.Lease = Duration(time.Second)
	cfg.Backoff = Duration(300 * time.Millisecond)
	cfg.RoundDeadline = Duration(time.Second)
	cfg.Quorum = 3
	cfg.MinRoundInterval = 0 // the cluster tests want rounds as fast as they go
	cfg.ParamDim = 16
	cfg.Modalities = []string{"image"}
	if c.boot != "" {
		cfg.Bootstrap = []string{c.boot}
	}
	return cfg
}

func testLogger(_ testing.TB, name string) *slog.Logger {
	if testing.Verbose() && os.Getenv("MLECS_TEST_LOGS") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start starts node i with cfg (opts after the test logger); the first node started becomes the
// bootstrap peer of later ones.
func (c *testCluster) start(i int, cfg Config, opts ...Option) *Node {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := New(ctx, cfg, append([]Option{WithLogger(testLogger(c.t, fmt.Sprint(i)))}, opts...)...)
	if err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	c.run(i, n, cfg)
	return n
}

// run runs a node made by New as node i of the cluster.
func (c *testCluster) run(i int, n *Node, cfg Config) {
	runCtx, stop := context.WithCancel(context.Background())
	rn := &runningNode{n: n, cfg: cfg, cancel: stop, done: make(chan error, 1)}
	go func() { rn.done <- n.Run(runCtx) }()
	c.mu.Lock()
	c.nodes[i] = rn
	c.mu.Unlock()
	if c.boot == "" {
		c.boot = n.Status().ListenAddrs[0]
	}
}

// stop stops node i; crash skips the graceful lease release.
func (c *testCluster) stop(i int, crash bool) {
	c.mu.Lock()
	rn := c.nodes[i]
	delete(c.nodes, i)
	c.mu.Unlock()
	if rn == nil {
		return
	}
	rn.n.noRelease.Store(crash)
	rn.cancel()
	select {
	case err := <-rn.done:
		if err != nil {
			c.t.Errorf("node %d run: %v", i, err)
		}
	case <-time.After(10 * time.Second):
		c.t.Errorf("node %d did not stop within 10s", i)
	}
}

func (c *testCluster) stopAll() {
	c.mu.Lock()
	ids := make([]int, 0, len(c.nodes))
	for i := range c.nodes {
		ids = append(ids, i)
	}
	c.mu.Unlock()
	for _, i := range ids {
		c.stop(i, false)
	}
}

func (c *testCluster) running() map[int]*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int]*Node{}
	for i, rn := range c.nodes {
		out[i] = rn.n
	}
	return out
}

// agreedAnchor returns the anchor every running node reports, or "" if they differ or have none.
func (c *testCluster) agreedAnchor() (string, uint64) {
	var anchor string
	var term uint64
	first := true
	for _, n := range c.running() {
		s := n.Status()
		if first {
			anchor, term, first = s.Anchor, s.Term, false
		}
		if s.Anchor == "" || s.Anchor != anchor || s.Term != term {
			return "", 0
		}
	}
	return anchor, term
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func (c *testCluster) describe() string {
	var b strings.Builder
	for i, n := range c.running() {
		s := n.Status()
		fmt.Fprintf(&b, "  node %d %s: role=%s anchor=%s term=%d round=%d phase=%s\n", i, s.PeerID, s.Role, s.Anchor, s.Term, s.Round, s.Phase)
	}
	return b.String()
}
