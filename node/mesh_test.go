package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mlecs/mlecs/mesh"
	"github.com/mlecs/mlecs/mesh/wire"
)

// TestClusterElectionFailoverFencing: 8 nodes from one bootstrap address agree on one anchor and run
// rounds; killing the anchor yields a new one within lease + backoff; the old one, back with its
// persisted term, is fenced and follows the new anchor.
func TestClusterElectionFailoverFencing(t *testing.T) {
	if testing.Short() {
		t.Skip("8-node cluster: skipped with -short")
	}
	c := newTestCluster(t)
	roles := []Role{RoleAnchorCapable, RoleAnchorCapable, RoleAnchorCapable, RoleEdge, RoleEdge, RoleEdge, RoleEdge, RoleEdge}
	cfgs := map[int]Config{}
	start := time.Now()
	for i, r := range roles {
		cfgs[i] = c.config(i, r)
		c.start(i, cfgs[i])
	}
	var anchor string
	var term uint64
	took := waitFor(t, 20*time.Second, "8 nodes to agree on one anchor", func() bool {
		anchor, term = c.agreedAnchor()
		return anchor != ""
	})
	t.Logf("8 nodes agreed on anchor %s term %d %v after start (%v after the last node started)", anchor, term,
		time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))

	waitFor(t, 30*time.Second, "every node to reach round 2", func() bool {
		for _, n := range c.running() {
			if n.Status().Round < 2 {
				return false
			}
		}
		return true
	})

	old := -1
	for i, n := range c.running() {
		if n.ID().String() == anchor {
			old = i
		}
	}
	if old < 0 {
		t.Fatalf("anchor %s is not a running node:\n%s", anchor, c.describe())
	}
	if roles[old] == RoleEdge {
		t.Fatalf("an edge became anchor:\n%s", c.describe())
	}
	c.stop(old, true) // crash: no release heartbeat
	var newAnchor string
	var newTerm uint64
	failover := waitFor(t, 10*time.Second, "a new anchor after the crash", func() bool {
		newAnchor, newTerm = c.agreedAnchor()
		return newAnchor != "" && newAnchor != anchor
	})
	lease, backoff := cfgs[0].Lease.D(), cfgs[0].Backoff.D()
	t.Logf("anchor crash -> new anchor %s (term %d) agreed by all in %v (lease %v + backoff <= %v)",
		newAnchor, newTerm, failover.Round(time.Millisecond), lease, backoff)
	if newTerm <= term {
		t.Fatalf("new anchor's term %d is not above the old term %d", newTerm, term)
	}
	if limit := lease + backoff + 6*cfgs[0].Heartbeat.D(); failover > limit {
		t.Errorf("failover took %v, more than lease + backoff + 6 heartbeats = %v", failover, limit)
	}

	// The old anchor returns from its data dir with its old persisted term. It may have been the
	// bootstrap node, so it dials a live node to rejoin.
	for _, n := range c.running() {
		cfgs[old] = withBootstrap(cfgs[old], n.Status().ListenAddrs[0])
		break
	}
	back := c.start(old, cfgs[old])
	if back.ID().String() != anchor {
		t.Fatalf("restarted node has id %s, want %s", back.ID(), anchor)
	}
	if back.Status().Term != term {
		t.Fatalf("restarted node's persisted term %d, want %d", back.Status().Term, term)
	}
	// A claim of its old term is refused by every other node's policy...
	body, err := Body{Role: RoleAnchorCapable, LeaseMs: 1000}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	stale := &wire.Envelope{Kind: wire.KindAnchor, Term: term, Body: body}
	for i, n := range c.running() {
		if i == old {
			continue
		}
		if v := n.Check(peer.ID(back.ID()), stale); v != mesh.Reject {
			t.Errorf("node %d: stale claim of term %d got %v, want reject", i, term, v)
		}
	}
	// ...and actually gossiped, it changes nobody's anchor.
	h := back.host.(*mesh.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.WaitTopicPeers(ctx, wire.KindAnchor, 1); err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(ctx, &wire.Envelope{Kind: wire.KindAnchor, Term: term, Body: body}); err != nil {
		t.Logf("stale claim refused locally too (the returning node already learned term %d): %v", newTerm, err)
	}
	waitFor(t, 5*time.Second, "the returning node to follow the new anchor", func() bool {
		s := back.Status()
		return s.Anchor == newAnchor && s.Term == newTerm
	})
	time.Sleep(500 * time.Millisecond)
	if a, tm := c.agreedAnchor(); a != newAnchor || tm != newTerm {
		t.Fatalf("after the old anchor returned: agreed anchor %q term %d, want %s term %d\n%s", a, tm, newAnchor, newTerm, c.describe())
	}
	fenced := 0.0
	for i, n := range c.running() {
		if i != old {
			fenced += counterValue(t, n.m.refused.WithLabelValues("anchor", "fenced"))
		}
	}
	t.Logf("stale anchor messages fenced across the cluster: %v", fenced)

	// Rounds go on under the new anchor.
	r0 := back.Status().Round
	waitFor(t, 20*time.Second, "rounds to advance under the new anchor", func() bool {
		for _, n := range c.running() {
			if n.Status().Round < r0+1 {
				return false
			}
		}
		return true
	})
}

// TestGracefulLeaveReelectsAtOnce: an anchor that leaves gracefully releases its lease, so the next
// anchor is elected within the backoff instead of waiting a whole lease.
func TestGracefulLeaveReelectsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped with -short")
	}
	c := newTestCluster(t)
	for i, r := range []Role{RoleAnchorCapable, RoleAnchorCapable, RoleEdge} {
		cfg := c.config(i, r)
		cfg.Lease = Duration(3 * time.Second) // long lease: only the release makes failover fast
		c.start(i, cfg)
	}
	var anchor string
	waitFor(t, 20*time.Second, "an anchor", func() bool { anchor, _ = c.agreedAnchor(); return anchor != "" })
	for i, n := range c.running() {
		if n.ID().String() == anchor {
			c.stop(i, false)
		}
	}
	took := waitFor(t, 10*time.Second, "a new anchor after the release", func() bool {
		a, _ := c.agreedAnchor()
		return a != "" && a != anchor
	})
	t.Logf("graceful leave -> new anchor in %v (lease 3s)", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("re-election after a release took %v; it should not wait for the 3s lease", took)
	}
}

// TestRestartResumesFromBadger: a node stopped after some rounds comes back with its term and newest
// global round from Badger, then catches up with the mesh.
func TestRestartResumesFromBadger(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped with -short")
	}
	c := newTestCluster(t)
	cfgs := map[int]Config{}
	for i, r := range []Role{RoleAnchorCapable, RoleEdge, RoleEdge} {
		cfgs[i] = c.config(i, r)
		cfgs[i] = withQuorum(cfgs[i], 2)
		c.start(i, cfgs[i])
	}
	waitFor(t, 30*time.Second, "round 3 everywhere", func() bool {
		for _, n := range c.running() {
			if n.Status().Round < 3 {
				return false
			}
		}
		return true
	})
	before := c.running()[2].Status()
	c.stop(2, false)

	n, err := New(context.Background(), cfgs[2], WithLogger(testLogger(t, "2-reopened")))
	if err != nil {
		t.Fatal(err)
	}
	got := n.Status()
	n.Close()
	if got.Round < before.Round || got.Term != before.Term || got.Global == "" {
		t.Fatalf("reopened: round %d term %d global %q; before stop: round %d term %d", got.Round, got.Term, got.Global, before.Round, before.Term)
	}
	t.Logf("restarted edge resumed from Badger at round %d term %d", got.Round, got.Term)

	back := c.start(2, cfgs[2])
	waitFor(t, 20*time.Second, "the restarted node to catch up", func() bool {
		return back.Status().Round > got.Round
	})
}

func withQuorum(c Config, q int) Config { c.Quorum = q; return c }

func withBootstrap(c Config, addr string) Config { c.Bootstrap = []string{addr}; return c }

// TestControlAPIShape checks the JSON field names that other tools rely on (DESIGN.md section 6).
func TestControlAPIShape(t *testing.T) {
	c := newTestCluster(t)
	a := c.start(0, c.config(0, RoleAnchorCapable))
	c.start(1, c.config(1, RoleEdge))
	waitFor(t, 20*time.Second, "an anchor and a heard peer", func() bool {
		anchor, _ := c.agreedAnchor()
		ps := a.Peers()
		return anchor != "" && len(ps) == 1 && ps[0].Role != ""
	})
	get := func(path string) []byte {
		resp, err := http.Get("http://" + a.APIAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: HTTP %d", path, resp.StatusCode)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var st map[string]any
	if err := json.Unmarshal(get("/v1/status"), &st); err != nil {
		t.Fatal(err)
	}
	for key, kind := range map[string]string{"peer_id": "string", "pid": "number", "role": "string", "anchor": "string",
		"term": "number", "round": "number", "uptime_s": "number", "run_id": "string", "listen_addrs": "array",
		"peak_rss_bytes": "number", "peak_anon_rss_bytes": "number"} {
		checkKind(t, "status", st, key, kind)
	}
	// The process's VmHWM: this test process holds two nodes, so well above a megabyte (0 would mean
	// /proc/self/status was not read).
	if v, _ := st["peak_rss_bytes"].(float64); v < 1<<20 {
		t.Errorf("status: peak_rss_bytes %v, want the process's VmHWM (> 1 MiB)", v)
	}
	// RssAnon never exceeds the resident set, so its sampled peak cannot exceed VmHWM.
	anon, _ := st["peak_anon_rss_bytes"].(float64)
	if hwm, _ := st["peak_rss_bytes"].(float64); anon < 1<<20 || anon > hwm {
		t.Errorf("status: peak_anon_rss_bytes %v, want the sampled RssAnon peak (> 1 MiB, at most VmHWM %v)", anon, hwm)
	}
	var ps []map[string]any
	if err := json.Unmarshal(get("/v1/peers"), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 {
		t.Fatalf("peers: %d entries, want 1", len(ps))
	}
	for key, kind := range map[string]string{"peer_id": "string", "addrs": "array", "role": "string", "modalities": "array",
		"last_seen": "string", "latency_ms": "number", "score": "number", "bytes_in": "number", "bytes_out": "number"} {
		checkKind(t, "peers[0]", ps[0], key, kind)
	}
	if _, err := time.Parse(time.RFC3339Nano, ps[0]["last_seen"].(string)); err != nil {
		t.Errorf("last_seen: %v", err)
	}
	metrics := string(get("/metrics"))
	for _, m := range []string{"mlecs_term", "mlecs_round", "mlecs_is_anchor", "mlecs_peak_rss_bytes", "mlecs_peak_anon_rss_bytes", "mlecs_checkpoint_errors_total", "go_goroutines"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	// The client used by the commands decodes the same JSON.
	s, err := Client{Addr: a.APIAddr()}.Status(context.Background())
	if err != nil || s.PeerID != a.ID().String() {
		t.Fatalf("client status: %+v %v", s, err)
	}
}

func checkKind(t *testing.T, what string, m map[string]any, key, kind string) {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Errorf("%s: missing %q", what, key)
		return
	}
	got := "other"
	switch v.(type) {
	case string:
		got = "string"
	case float64:
		got = "number"
	case []any:
		got = "array"
	}
	if got != kind {
		t.Errorf("%s: %q is %s (%v), want %s", what, key, got, v, kind)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestPinnedAnchorPreempts: a pinned anchor wins while alive; when it dies an anchor-capable node takes
// over; when it returns it preempts with a higher term. A node joining late catches up on the global.
func TestPinnedAnchorPreempts(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped with -short")
	}
	c := newTestCluster(t)
	cfgs := map[int]Config{}
	for i, r := range []Role{RoleAnchorCapable, RoleAnchor, RoleEdge} {
		cfgs[i] = withQuorum(c.config(i, r), 1)
		c.start(i, cfgs[i])
	}
	pinned := c.running()[1].ID().String()
	waitFor(t, 20*time.Second, "the pinned anchor to lead", func() bool { a, _ := c.agreedAnchor(); return a == pinned })
	waitFor(t, 20*time.Second, "round 3", func() bool { return c.running()[0].Status().Round >= 3 })

	c.stop(1, true)
	var term uint64
	waitFor(t, 10*time.Second, "the anchor-capable node to take over", func() bool {
		var a string
		a, term = c.agreedAnchor()
		return a == c.running()[0].ID().String()
	})
	cfgs[1] = withBootstrap(cfgs[1], c.running()[0].Status().ListenAddrs[0])
	c.start(1, cfgs[1])
	took := waitFor(t, 10*time.Second, "the returning pinned anchor to preempt", func() bool {
		a, tm := c.agreedAnchor()
		return a == pinned && tm > term
	})
	t.Logf("pinned anchor back in charge %v after its restart", took.Round(time.Millisecond))

	late := c.start(3, withBootstrap(withQuorum(c.config(3, RoleEdge), 1), c.running()[0].Status().ListenAddrs[0]))
	target := c.running()[1].Status().Round
	took = waitFor(t, 15*time.Second, "the late joiner to catch up", func() bool { return late.Status().Round >= target })
	t.Logf("late joiner reached round %d in %v", target, took.Round(time.Millisecond))
}

// TestMeshFedAvgConverges: rounds move real blobs over the mesh (globals to edges, updates to the
// anchor) and the anchor's global converges to the sample-weighted mean of the edges' targets.
func TestMeshFedAvgConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped with -short")
	}
	c := newTestCluster(t)
	const edges = 3
	want := make([]float64, 16)
	var total float64
	for i := range edges + 1 {
		role := RoleEdge
		if i == 0 {
			role = RoleAnchorCapable
		}
		cfg := withQuorum(c.config(i, role), edges)
		cfg.RoundDeadline = Duration(3 * time.Second)
		c.start(i, cfg)
		if i > 0 {
			tr, err := NewVectorTrainer(cfg.ParamDim, cfg.Partition)
			if err != nil {
				t.Fatal(err)
			}
			for j, x := range tr.Target {
				want[j] += float64(tr.Samples) * float64(x)
			}
			total += float64(tr.Samples)
		}
	}
	for j := range want {
		want[j] /= total
	}
	a := c.running()[0]
	var d, norm float64
	distance := func() bool {
		g, err := a.readBlob(context.Background(), a.Status().Global)
		if err != nil {
			return false
		}
		v, err := DecodeVector(g)
		if err != nil {
			t.Fatal(err)
		}
		d, norm = 0, 0
		for j, x := range v.Params {
			d += (float64(x) - want[j]) * (float64(x) - want[j])
			norm += want[j] * want[j]
		}
		return d <= 1e-9*norm
	}
	// Each round with all three updates shrinks the error by (1-0.2)^5; a round that closed at the
	// deadline with fewer (possible on a loaded machine) perturbs it, so poll rather than fix a round.
	waitFor(t, 60*time.Second, "the global to reach the weighted mean of the edges' targets", distance)
	fetched := 0.0
	for _, n := range c.running() {
		f := counterValue(t, n.m.blobFetched)
		if f == 0 {
			t.Errorf("node %s fetched no blob bytes", n.ID())
		}
		fetched += f
	}
	t.Logf("round %d: squared distance to the weighted mean %.3g (norm %.3g); %v blob bytes fetched over the mesh",
		a.Status().Round, d, norm, fetched)
}

// TestNoAnchorKeepsTrainingLocally: a node with no anchor to follow still trains local rounds.
func TestNoAnchorKeepsTrainingLocally(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config(0, RoleEdge)
	cfg.RoundDeadline = Duration(300 * time.Millisecond)
	n := c.start(0, cfg)
	waitFor(t, 10*time.Second, "two local rounds without an anchor", func() bool {
		return counterValue(t, n.m.localRounds) >= 2
	})
	if s := n.Status(); s.Anchor != "" {
		t.Fatalf("an edge alone found anchor %q", s.Anchor)
	}
}
