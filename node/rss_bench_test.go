package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// idleFor is how long the daemons idle (heartbeats, pings, peer exchange, no training work to speak
// of) before memory is read.
const idleFor = 3 * time.Second

// BenchmarkIdleDaemonRSS runs a 3-node loopback mesh at the default intervals, lets it idle and reports
// resident memory:
//
//   - process-rss-MB: VmRSS of this test process holding all three nodes in-process (an upper bound
//     for three daemons sharing one Go runtime);
//
//   - daemon-rss-MB: VmRSS of one real daemon, when MLECS_BIN names a built mlecs binary: it is started
//     as the third node (`mlecs node start`, flags only) next to two in-process nodes.
//
//     go build -o /tmp/mlecs ./cmd/mlecs && MLECS_BIN=/tmp/mlecs go test ./node/ -run '^$' -bench IdleDaemonRSS -benchtime 1x
func BenchmarkIdleDaemonRSS(b *testing.B) {
	for b.Loop() {
		c := newTestCluster(b)
		bin := os.Getenv("MLECS_BIN")
		nodes := 3
		if bin != "" {
			nodes = 2
		}
		for i := range nodes {
			role := RoleEdge
			if i == 0 {
				role = RoleAnchorCapable
			}
			cfg := c.config(i, role)
			d := DefaultConfig()
			cfg.Heartbeat, cfg.Lease, cfg.Backoff, cfg.RoundDeadline = d.Heartbeat, d.Lease, d.Backoff, d.RoundDeadline
			cfg.MinRoundInterval, cfg.Quorum = d.MinRoundInterval, 2
			c.start(i, cfg)
		}
		var child *exec.Cmd
		if bin != "" {
			child = startDaemon(b, bin, c)
		}
		idle(b, c, 2)
		time.Sleep(idleFor)
		rss, err := vmRSS("/proc/self/status")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rss)/(1<<20), "process-rss-MB")
		if child != nil {
			rss, err := vmRSS(fmt.Sprintf("/proc/%d/status", child.Process.Pid))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(rss)/(1<<20), "daemon-rss-MB")
		}
		c.stopAll()
	}
}

// startDaemon starts the binary as node 2 bootstrapping from node 0; it is killed at cleanup.
func startDaemon(b *testing.B, bin string, c *testCluster) *exec.Cmd {
	b.Helper()
	dir := filepath.Join(c.dir, "daemon")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "node", "start", "--data-dir", dir, "--psk", c.psk,
		"--api", "127.0.0.1:0", "--run-id", "test", "--listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", c.boot, "--role", "edge", "--param-dim", "16", "--partition", "2", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatalf("start %s: %v", bin, err)
	}
	b.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	return cmd
}

// idle waits (bounded) until every in-process node is connected to `want` peers.
func idle(b *testing.B, c *testCluster, want int) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, n := range c.running() {
			connected := 0
			for _, p := range n.Peers() {
				if p.Connected {
					connected++
				}
			}
			if connected < want {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("mesh not formed within 30s:\n%s", c.describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vmRSS reads the resident set size (bytes) from a /proc/PID/status file.
func vmRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in %s", path)
}

func TestVMRSSSelf(t *testing.T) {
	rss, err := vmRSS("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if rss < 1<<20 || rss > 64<<30 {
		t.Fatalf("implausible VmRSS %d bytes", rss)
	}
}
