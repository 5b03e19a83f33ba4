package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlecs/mlecs/storage"
)

// nanTrainer is an edge whose updates carry a NaN (a broken or hostile trainer).
type nanTrainer struct{ *VectorTrainer }

func (t nanTrainer) LocalRound(ctx context.Context, round uint64, global []byte) ([]byte, error) {
	b, err := t.VectorTrainer.LocalRound(ctx, round, global)
	if err != nil {
		return nil, err
	}
	v, err := DecodeVector(b)
	if err != nil {
		return nil, err
	}
	v.Params[0] = float32(math.NaN())
	return EncodeVector(v), nil
}

// lockedBuffer collects a node's log lines (slog handlers write from many goroutines).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// TestNaNUpdateCostsScore: an edge that sends a NaN update has it refused by the anchor's (judged)
// aggregation, which logs the reason, counts it and lowers the edge's score as the anchor sees it;
// the honest edge's update still makes the round.
func TestNaNUpdateCostsScore(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped with -short")
	}
	c := newTestCluster(t)
	var logs lockedBuffer
	cfg := withQuorum(c.config(0, RoleAnchorCapable), 2)
	anchor := c.start(0, cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	c.start(1, withQuorum(c.config(1, RoleEdge), 2))
	badCfg := withQuorum(c.config(2, RoleEdge), 2)
	vt, err := NewVectorTrainer(badCfg.ParamDim, badCfg.Partition)
	if err != nil {
		t.Fatal(err)
	}
	bad := c.start(2, badCfg, WithTrainer(nanTrainer{vt}))
	refused := anchor.m.refused.WithLabelValues("update", RefuseNonFinite)
	waitFor(t, 30*time.Second, "the anchor to refuse a NaN update", func() bool { return counterValue(t, refused) >= 1 })
	var score float64
	waitFor(t, 10*time.Second, "the NaN sender's score, as the anchor sees it, to drop below 0", func() bool {
		for _, p := range anchor.host.Peers() {
			if p.ID == bad.ID() {
				score = p.Score
				return p.Score < 0
			}
		}
		return false
	})
	line := fmt.Sprintf("peer=%s", bad.ID())
	var logged bool
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "update refused by aggregation") && strings.Contains(l, line) && strings.Contains(l, "reason="+RefuseNonFinite) {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no log line refusing %s's update as %s", bad.ID(), RefuseNonFinite)
	}
	waitFor(t, 30*time.Second, "a round aggregated despite the NaN sender", func() bool { return counterValue(t, anchor.m.roundsDone) >= 1 })
	for _, p := range anchor.host.Peers() {
		if p.ID != bad.ID() && p.Score < 0 {
			t.Errorf("honest peer %s penalised: score %g", p.ID, p.Score)
		}
	}
	t.Logf("NaN sender's score at the anchor: %g; refusals: %v", score, counterValue(t, refused))
}

// TestVectorAggregateJudged: bad updates are refused with their reason and the rest aggregated.
func TestVectorAggregateJudged(t *testing.T) {
	tr, err := NewVectorTrainer(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	good := EncodeVector(Vector{Weight: 1, Params: []float32{1, 2}})
	nan := EncodeVector(Vector{Weight: 1, Params: []float32{float32(math.Inf(1)), 2}})
	zero := EncodeVector(Vector{Weight: 0, Params: []float32{1, 2}})
	out, refused, err := tr.AggregateJudged(context.Background(), 1, nil, [][]byte{nan, good, []byte("junk"), zero})
	if err != nil {
		t.Fatal(err)
	}
	want := []Refusal{{0, RefuseNonFinite}, {2, RefuseMalformed}, {3, RefuseInvalid}}
	if fmt.Sprint(refused) != fmt.Sprint(want) {
		t.Fatalf("refusals %v, want %v", refused, want)
	}
	if v, err := DecodeVector(out); err != nil || v.Params[0] != 1 || v.Params[1] != 2 {
		t.Fatalf("aggregate %v, %v; want the good update", v, err)
	}
	if _, refused, err := tr.AggregateJudged(context.Background(), 1, nil, [][]byte{nan}); err == nil || len(refused) != 1 {
		t.Fatalf("all refused: err %v, refusals %v; want an error and one refusal", err, refused)
	}
}

// TestArmDeadlineKeepsOneTimer: arming the round deadline (30 min) every round starts no goroutine
// that waits it out; the last timer still fires, and closing stops it.
func TestArmDeadlineKeepsOneTimer(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	n := &Node{cfg: DefaultConfig(), inbox: make(chan func(), 4), ctx: ctx, stop: stop, log: slog.New(slog.NewTextHandler(&lockedBuffer{}, nil))}
	n.cfg.RoundDeadline = Duration(30 * time.Minute)
	before := runtime.NumGoroutine()
	for r := range 200 {
		n.do(ActArmDeadline{Term: 1, Round: uint64(r)})
	}
	if d := runtime.NumGoroutine() - before; d > 5 {
		t.Fatalf("%d goroutines more after arming 200 round deadlines", d)
	}
	n.cfg.RoundDeadline = Duration(10 * time.Millisecond)
	n.do(ActArmDeadline{Term: 1, Round: 999})
	select {
	case <-n.inbox: // the deadline posted its event
	case <-time.After(5 * time.Second):
		t.Fatal("the re-armed deadline did not fire")
	}
	n.cfg.RoundDeadline = Duration(30 * time.Minute)
	n.do(ActArmDeadline{Term: 1, Round: 1000})
	n.closeAll()
	if n.deadline.Stop() {
		t.Fatal("closing left the round deadline armed")
	}
}

// failingStore fails SaveCheckpoint while fail is set.
type failingStore struct {
	nodeStore
	fail atomic.Bool
}

var errInjected = errors.New("injected disk failure")

func (s *failingStore) SaveCheckpoint(ctx context.Context, cp *storage.Checkpoint) error {
	if s.fail.Load() {
		return errInjected
	}
	return s.nodeStore.SaveCheckpoint(ctx, cp)
}

// TestCheckpointFailureHoldsRound: while an edge cannot save checkpoints it takes no round up (its
// status stays at what a restart would resume from); once the store works again the next manifest is
// taken up, and status and the newest checkpoint agree.
func TestCheckpointFailureHoldsRound(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped with -short")
	}
	c := newTestCluster(t)
	anchor := c.start(0, withQuorum(c.config(0, RoleAnchorCapable), 1))
	cfg := withQuorum(c.config(1, RoleEdge), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	edge, err := New(ctx, cfg, WithLogger(testLogger(t, "1")))
	if err != nil {
		t.Fatal(err)
	}
	fs := &failingStore{nodeStore: edge.store}
	fs.fail.Store(true)
	edge.store = fs // before Run: the loop is the only user from here on
	c.run(1, edge, cfg)
	waitFor(t, 30*time.Second, "the edge to fail a checkpoint", func() bool { return counterValue(t, edge.m.checkpointErrs) >= 1 })
	// The anchor keeps announcing rounds; the edge must not take any of them up.
	time.Sleep(time.Second)
	if s := edge.Status(); s.Round != 0 || s.Anchor != anchor.ID().String() {
		t.Fatalf("edge with a failing store shows round %d under anchor %q; want round 0 under %s", s.Round, s.Anchor, anchor.ID())
	}
	fs.fail.Store(false)
	waitFor(t, 30*time.Second, "the edge to take a round up once the store works", func() bool { return edge.Status().Round >= 1 })
	// Status first: the checkpoint read after it may be newer, never older.
	s := edge.Status()
	cp, err := fs.LatestCheckpoint(context.Background(), ckptKind)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Round < s.Round {
		t.Fatalf("status round %d is ahead of the newest checkpoint, round %d", s.Round, cp.Round)
	}
	t.Logf("anchor round %d; edge round %d after %v checkpoint failures", anchor.Status().Round, edge.Status().Round,
		counterValue(t, edge.m.checkpointErrs))
}

// TestFetchLimit: a declared size is the fetch limit; none, or one outside (0, MaxBlobBytes], falls
// back to the cap.
func TestFetchLimit(t *testing.T) {
	for _, tc := range []struct{ declared, want int64 }{
		{0, MaxBlobBytes}, {-5, MaxBlobBytes}, {1, 1}, {12345, 12345}, {MaxBlobBytes, MaxBlobBytes}, {MaxBlobBytes + 1, MaxBlobBytes},
	} {
		if got := fetchLimit(tc.declared); got != tc.want {
			t.Errorf("fetchLimit(%d) = %d, want %d", tc.declared, got, tc.want)
		}
	}
}
