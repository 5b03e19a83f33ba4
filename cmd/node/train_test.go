package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/node/fedtrainer"
	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
)

// smallEmoji writes every k-th train sample (up to nTrain) and nTest test samples of the real emoji
// dataset into a dataset of its own (files hard-linked), so the daemons featurise little.
func smallEmoji(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	full := subset.Emoji(t, filepath.Join(t.TempDir(), "emoji"))
	out := filepath.Join(t.TempDir(), "small")
	w, err := dataset.Create(out, full.Header())
	if err != nil {
		t.Fatal(err)
	}
	train, test := full.Split(dataset.SplitTrain), full.Split(dataset.SplitTest)
	var keep []dataset.Sample
	for i := range nTrain {
		keep = append(keep, train[i*len(train)/nTrain])
	}
	keep = append(keep, test[:nTest]...)
	for _, s := range keep {
		for _, in := range s.Inputs {
			if in.Path == "" {
				continue
			}
			dst := filepath.Join(w.Dir(), filepath.FromSlash(in.Path))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(full.Path(in), dst); err != nil {
				t.Fatal(err)
			}
		}
		s.Line = 0
		if err := w.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshot copies every parameter group of an edge learner's model.
func snapshot(t *testing.T, e *fedtrainer.Edge) [][]float32 {
	t.Helper()
	m, err := e.Learner().Model()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for _, g := range m.Groups() {
		out = append(out, slices.Clone(g.Params))
	}
	return out
}

// TestDaemonsTrainMLECS starts three daemons in-process on loopback with trainers built from their
// configs as `mlecs node start` builds them (real emoji subset, tiny preset, a freshly pretrained base):
// a pinned anchor, an edge and an anchor-capable node. Rounds of ML-ECS must complete on both edges;
// after the pinned anchor leaves, the anchor-capable node must build its anchor learner and keep
// closing rounds; the edge's model must have changed.
func TestDaemonsTrainMLECS(t *testing.T) {
	if testing.Short() {
		t.Skip("trains real models (~30-60 s)")
	}
	data := smallEmoji(t, 160, 8)
	ds, err := dataset.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), "base")
	pool := nn.NewPool(1)
	if _, err := model.Pretrain(context.Background(), ds, base, model.PretrainOptions{Preset: "tiny", Steps: 3, Batch: 8, LR: 3e-3,
		Seed: 1, BPEDir: filepath.Join(datatest.SharedData(t), "gpt2-bpe"), Pool: pool}); err != nil {
		t.Fatal(err)
	}
	pool.Close()

	dir := t.TempDir()
	psk := filepath.Join(dir, "net.psk")
	if err := node.GeneratePSK(psk); err != nil {
		t.Fatal(err)
	}
	roles := []node.Role{node.RoleAnchor, node.RoleEdge, node.RoleAnchorCapable}
	mods := [][]string{nil, {"twemoji", "keywords"}, {"noto", "keywords"}}
	keys, ids := make([]string, len(roles)), make([]string, len(roles))
	for i := range roles {
		keys[i] = filepath.Join(dir, fmt.Sprintf("node-%d.key", i))
		id, err := node.GenerateKey(keys[i])
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id.String()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	type running struct {
		n      *node.Node
		tr     node.Trainer
		cancel context.CancelFunc
		done   chan error
	}
	nodes := make([]*running, len(roles))
	stop := func(r *running) {
		if r == nil || r.cancel == nil {
			return
		}
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("node stopped with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("node did not stop within 20 s")
		}
		r.cancel = nil
	}
	t.Cleanup(func() {
		for _, r := range nodes {
			stop(r)
		}
	})
	boot := ""
	var initial [][]float32 // the edge's parameters before its first round
	for i, role := range roles {
		cfg := node.DefaultConfig()
		cfg.DataDir, cfg.KeyFile, cfg.PSKFile, cfg.Allowlist = filepath.Join(dir, fmt.Sprintf("node-%d", i)), keys[i], psk, ids
		cfg.Role, cfg.Modalities, cfg.APIAddr, cfg.RunID = role, mods[i], "127.0.0.1:0", "fedtest"
		cfg.Heartbeat, cfg.Lease, cfg.Backoff = node.Duration(200*time.Millisecond), node.Duration(time.Second), node.Duration(300*time.Millisecond)
		cfg.Quorum, cfg.RoundDeadline, cfg.MinRoundInterval = 2, node.Duration(4*time.Second), 0
		cfg.Dataset, cfg.Base = data, base
		cfg.Steps, cfg.PublicSteps, cfg.AnchorSteps, cfg.Batch, cfg.PublicFraction, cfg.Threads = 2, 1, 1, 4, 0.2, 1
		if boot != "" {
			cfg.Bootstrap = []string{boot}
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		tr, closeFn, err := trainerFor(ctx, cfg, log.With("node", i))
		if err != nil {
			cancel()
			t.Fatalf("node %d (%s): %v", i, role, err)
		}
		t.Cleanup(closeFn)
		if e, ok := tr.(*fedtrainer.Edge); ok {
			initial = snapshot(t, e)
		}
		n, err := node.New(ctx, cfg, node.WithTrainer(tr), node.WithLogger(log.With("node", i)))
		if err != nil {
			cancel()
			t.Fatalf("node %d: %v", i, err)
		}
		r := &running{n: n, tr: tr, cancel: cancel, done: make(chan error, 1)}
		go func() { r.done <- n.Run(ctx) }()
		nodes[i] = r
		if boot == "" {
			boot = n.Status().ListenAddrs[0]
		}
	}
	edge, ok := nodes[1].tr.(*fedtrainer.Edge)
	if !ok {
		t.Fatalf("edge trainer is %T", nodes[1].tr)
	}
	combined, ok := nodes[2].tr.(*fedtrainer.Combined)
	if !ok {
		t.Fatalf("anchor-capable trainer is %T", nodes[2].tr)
	}
	waitFor := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) {
				for i, r := range nodes {
					if r.cancel != nil {
						st := r.n.Status()
						t.Logf("node %d: anchor %s term %d round %d phase %s", i, st.Anchor, st.Term, st.Round, st.Phase)
					}
				}
				t.Fatalf("timed out after %v waiting for %s", limit, what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	start := time.Now()
	waitFor("2 rounds of ML-ECS on both edges", 40*time.Second, func() bool {
		return nodes[1].n.Status().Round >= 2 && nodes[2].n.Status().Round >= 2 && edge.Learner().Round() >= 2
	})
	t.Logf("2 rounds in %v", time.Since(start).Round(time.Millisecond))

	// The pinned anchor leaves (releasing its lease): the anchor-capable node is elected, builds its
	// anchor learner from the newest global and closes rounds on the edge's updates.
	r0 := nodes[1].n.Status().Round
	stop(nodes[0])
	start = time.Now()
	waitFor("a round closed by the elected anchor-capable node", 30*time.Second, func() bool {
		return nodes[1].n.Status().Round > r0 && nodes[2].n.Status().Anchor == ids[2]
	})
	t.Logf("failover round %d -> %d in %v", r0, nodes[1].n.Status().Round, time.Since(start).Round(time.Millisecond))
	if combined.Anchor() == nil {
		t.Fatal("the elected anchor-capable node closed a round without its anchor learner")
	}
	stop(nodes[1]) // the learner is read only once its node has stopped
	stop(nodes[2])
	after := snapshot(t, edge)
	changed := 0
	for k := range after {
		if !slices.Equal(initial[k], after[k]) {
			changed++
		}
	}
	if changed == 0 {
		t.Fatalf("no parameter group of the edge's model changed after %d rounds", edge.Learner().Round())
	}
	t.Logf("edge trained %d rounds; %d of %d parameter groups changed", edge.Learner().Round(), changed, len(after))
}
