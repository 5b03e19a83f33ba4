package experiment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/node/fedtrainer"
	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/payload"
)

// Mesh timings: short enough that a pinned anchor claims within a second, long enough that heartbeats
// survive a machine saturated by training.
const (
	meshHeartbeat = 500 * time.Millisecond
	meshLease     = 5 * time.Second
	meshBackoff   = 500 * time.Millisecond
	startTimeout  = 30 * time.Second
	stopTimeout   = 15 * time.Second
	// attackMaxBytes bounds the decode of an attacker's own update (fedtrainer's default limit).
	attackMaxBytes = 1 << 30
)

// runMesh runs the rounds of a communicating method over real nodes: one pinned anchor and one edge
// node per slot, on loopback with a fresh PSK and an allowlist of exactly these peers, quorum = every
// edge. The trainers share a compute lock, so learners take turns on the cores as in the in-memory
// simulation; the hooks evaluate after every round. It returns when the anchor has closed the last round.
func runMesh(ctx context.Context, c RunConfig, w *world, work, runID string, a *federated.Anchor, as *seedSession, slots []edgeSlot, rec *recorder) (*MeshStat, error) {
	dir := filepath.Join(work, "mesh", runID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mesh dir: %w", err)
	}
	psk := filepath.Join(dir, "net.psk")
	if err := node.GeneratePSK(psk); err != nil {
		return nil, fmt.Errorf("mesh psk: %w", err)
	}
	n := len(slots) + 1 // node 0 is the anchor
	keys, ids := make([]string, n), make([]string, n)
	for i := range n {
		keys[i] = filepath.Join(dir, fmt.Sprintf("node-%d.key", i))
		id, err := node.GenerateKey(keys[i])
		if err != nil {
			return nil, fmt.Errorf("mesh key %d: %w", i, err)
		}
		ids[i] = id.String()
	}
	codec, err := payload.ParseCodec(c.Codec)
	if err != nil {
		return nil, err
	}
	opts := []fedtrainer.Option{fedtrainer.WithCodec(codec), fedtrainer.WithComputeLock(&sync.Mutex{}),
		fedtrainer.WithMaxRounds(uint64(c.Rounds)), fedtrainer.WithRunID(runID)}
	done := make(chan struct{})
	var lastGlobal int64
	attackers := map[string]bool{}
	for j, sl := range slots {
		if c.isAttacker(j) {
			attackers[sl.e.ID()] = true
		}
	}
	rejected := 0
	at, err := fedtrainer.NewAnchor(a, func(ctx context.Context, rep fedtrainer.AnchorReport) error {
		if len(rep.Updates) != len(slots) {
			return fmt.Errorf("round %d: %d updates decoded, want %d", rep.Round, len(rep.Updates), len(slots))
		}
		// Honest runs must aggregate every update. Under attack, or with robust caps that may catch an
		// honest outlier, rejections are what is measured: they are reported, not fatal.
		if res := a.LastAggregation(); res != nil && len(res.Rejected) > 0 {
			if c.Attack == AttackNone && c.Robust == RobustNone {
				return fmt.Errorf("round %d: %d of %d updates rejected: %v", rep.Round, len(res.Rejected), len(slots), res.Rejected[0].Err)
			}
			for _, r := range res.Rejected {
				rejected++
				fmt.Fprintf(c.Progress, "%s round %d: aggregation rejected %s (attacker %v): %v\n", runID, rep.Round, r.Edge, attackers[r.Edge], r.Err)
			}
		}
		ev, err := evaluate(ctx, as, a.Model(), w.li)
		if err != nil {
			return err
		}
		if err := rec.closeRound(int(rep.Round), &ev); err != nil {
			return err
		}
		if rep.Round == uint64(c.Rounds) {
			lastGlobal = rep.Next.Bytes
			close(done)
		}
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	cfg := func(i int, role node.Role, mods []string, boot string) node.Config {
		cfg := node.DefaultConfig()
		cfg.DataDir = filepath.Join(dir, fmt.Sprintf("node-%d", i))
		cfg.KeyFile, cfg.PSKFile, cfg.Allowlist = keys[i], psk, slices.Clone(ids)
		cfg.Role, cfg.Modalities, cfg.Partition = role, slices.Clone(mods), i
		cfg.APIAddr, cfg.RunID = "127.0.0.1:0", runID
		cfg.Heartbeat, cfg.Lease, cfg.Backoff = node.Duration(meshHeartbeat), node.Duration(meshLease), node.Duration(meshBackoff)
		cfg.Quorum, cfg.RoundDeadline, cfg.MinRoundInterval = len(slots), node.Duration(c.RoundDeadline), 0
		cfg.BlobRetention = node.Duration(c.BlobRetention)
		cfg.LearnerCheckpointEvery = c.LearnerCheckpointEvery
		if boot != "" {
			cfg.Bootstrap = []string{boot}
		}
		return cfg
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (defers run last-in first-out)
	errc := make(chan error, n)
	var nodes []*node.Node
	start := func(cfg node.Config, t node.Trainer) (*node.Node, error) {
		sctx, scancel := context.WithTimeout(ctx, startTimeout)
		defer scancel()
		nd, err := node.New(sctx, cfg, node.WithTrainer(t), node.WithLogger(c.Log.With("node", cfg.Partition)))
		if err != nil {
			return nil, fmt.Errorf("start node %d: %w", cfg.Partition, err)
		}
		nodes = append(nodes, nd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nd.Run(runCtx); err != nil {
				errc <- fmt.Errorf("node %d: %w", cfg.Partition, err)
			}
		}()
		return nd, nil
	}
	an, err := start(cfg(0, node.RoleAnchor, w.mods, ""), watched{at, rec})
	if err != nil {
		return nil, err
	}
	boot := an.Status().ListenAddrs[0]
	for j, sl := range slots {
		et, err := fedtrainer.NewEdge(sl.e, func(ctx context.Context, rep fedtrainer.EdgeReport) error {
			ev, err := evaluateEdge(ctx, sl, w.li)
			if err != nil {
				return err
			}
			return rec.edge(int(rep.Round), EdgeRound{Node: sl.e.ID(), Modalities: sl.mods, Eval: ev, Up: rep.Up.Sizes, Down: rep.Down.Sizes})
		}, opts...)
		if err != nil {
			return nil, err
		}
		var tr node.Trainer = et
		if c.isAttacker(j) {
			tr = poisoner{Trainer: et, attack: c.Attack, scale: float32(c.AttackScale), codec: codec, maxBytes: attackMaxBytes}
		}
		var wt node.Trainer = watched{tr, rec}
		if st, ok := tr.(node.StatefulTrainer); ok && c.LearnerCheckpointEvery > 0 {
			wt = statefulWatched{watched{tr, rec}, st}
		}
		if _, err := start(cfg(j+1, node.RoleEdge, sl.mods, boot), wt); err != nil {
			return nil, err
		}
	}
	rec.restart()
	select {
	case <-done:
	case err := <-rec.failed:
		return nil, fmt.Errorf("mesh run %s: %w", runID, err)
	case err := <-errc:
		return nil, fmt.Errorf("mesh run %s: %w", runID, err)
	case <-ctx.Done():
		return nil, fmt.Errorf("mesh run %s: %w", runID, ctx.Err())
	}
	cancel()
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(stopTimeout):
		return nil, fmt.Errorf("mesh run %s: nodes did not stop within %v", runID, stopTimeout)
	}
	ms := &MeshStat{LastGlobalBytes: lastGlobal, Rejected: rejected}
	for i, nd := range nodes {
		v, err := fetchedBytes(nd)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			ms.AnchorFetched = v
		} else {
			ms.EdgeFetched += v
		}
	}
	return ms, nil
}

// fetchedBytes reads the node's own count of blob bytes fetched from peers.
func fetchedBytes(nd *node.Node) (int64, error) {
	mfs, err := nd.Registry().Gather()
	if err != nil {
		return 0, fmt.Errorf("node metrics: %w", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "mlecs_blob_fetched_bytes_total" && len(mf.GetMetric()) == 1 {
			return int64(mf.GetMetric()[0].GetCounter().GetValue()), nil
		}
	}
	return 0, fmt.Errorf("node metrics: no mlecs_blob_fetched_bytes_total")
}

// watched reports a trainer's real failures to the recorder, so a run stops at once instead of waiting
// for a round deadline. Waiting for the anchor's first global and refusing rounds past the last are
// part of normal operation.
type watched struct {
	node.Trainer
	rec *recorder
}

// statefulWatched is a watched StatefulTrainer: the node sees the learner state through the wrapper.
type statefulWatched struct {
	watched
	node.StatefulTrainer
}

func (t watched) check(ctx context.Context, err error) error {
	if err != nil && ctx.Err() == nil && !errors.Is(err, fedtrainer.ErrNoGlobal) && !errors.Is(err, fedtrainer.ErrDone) &&
		!errors.Is(err, fedtrainer.ErrRole) {
		t.rec.fail(err)
	}
	return err
}

func (t watched) LocalRound(ctx context.Context, round uint64, global []byte) ([]byte, error) {
	b, err := t.Trainer.LocalRound(ctx, round, global)
	return b, t.check(ctx, err)
}

func (t watched) Aggregate(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, error) {
	b, err := t.Trainer.Aggregate(ctx, round, global, updates)
	return b, t.check(ctx, err)
}

// AggregateJudged passes the wrapped trainer's refusals on (node.JudgedAggregator), so the run's nodes
// penalise refused senders as the daemon does.
func (t watched) AggregateJudged(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, []node.Refusal, error) {
	j, ok := t.Trainer.(node.JudgedAggregator)
	if !ok {
		b, err := t.Aggregate(ctx, round, global, updates)
		return b, nil, err
	}
	b, refused, err := j.AggregateJudged(ctx, round, global, updates)
	return b, refused, t.check(ctx, err)
}
