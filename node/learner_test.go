package node

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlecs/mlecs/storage"
	"github.com/mlecs/mlecs/storage/storagetest"
)

// statefulTrainer is a VectorTrainer whose learner state is the number of rounds it trained.
type statefulTrainer struct {
	*VectorTrainer
	refuse func(rounds int) bool // RestoreState refuses these

	mu       sync.Mutex
	rounds   int
	saves    int
	restored []TrainerState // every state RestoreState was handed, refused ones too
}

func newStatefulTrainer(t *testing.T, refuse func(int) bool) *statefulTrainer {
	vt, err := NewVectorTrainer(4, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &statefulTrainer{VectorTrainer: vt, refuse: refuse}
}

func (s *statefulTrainer) LocalRound(ctx context.Context, round uint64, global []byte) ([]byte, error) {
	s.mu.Lock()
	s.rounds++
	s.mu.Unlock()
	return s.VectorTrainer.LocalRound(ctx, round, global)
}

func (s *statefulTrainer) SaveState(context.Context) (TrainerState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	return TrainerState{Meta: map[string]string{"rounds": strconv.Itoa(s.rounds)},
		Tensors: []storage.NamedTensor{{Name: "w", Shape: []int{1}, Data: []float32{float32(s.rounds)}}}}, nil
}

func (s *statefulTrainer) RestoreState(_ context.Context, st TrainerState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restored = append(s.restored, st)
	r, err := strconv.Atoi(st.Meta["rounds"])
	if err != nil || len(st.Tensors) != 1 || st.Tensors[0].Data[0] != float32(r) {
		return fmt.Errorf("state %v does not fit", st.Meta)
	}
	if s.refuse != nil && s.refuse(r) {
		return fmt.Errorf("state of round count %d refused", r)
	}
	s.rounds = r
	return nil
}

func (s *statefulTrainer) snapshot() (rounds, saves int, restored []TrainerState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rounds, s.saves, append([]TrainerState(nil), s.restored...)
}

// TestLearnerStateSurvivesRestart: an edge training local rounds checkpoints its trainer's learner state
// after each, as files in DATA_DIR/learner; restarted on the same data dir, the node hands the newest one
// to the new trainer. Learner checkpoints an earlier version kept in the Badger store are deleted.
func TestLearnerStateSurvivesRestart(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config(0, RoleEdge)
	cfg.LearnerCheckpointEvery = 1
	cfg.RoundDeadline = Duration(300 * time.Millisecond) // local rounds come this often without an anchor
	first := newStatefulTrainer(t, nil)
	c.start(0, cfg, WithTrainer(first))
	waitFor(t, 20*time.Second, "two learner states saved", func() bool { _, saves, _ := first.snapshot(); return saves >= 2 })
	c.stop(0, true)

	cp := newestLearnerFile(t, cfg.DataDir)
	saved, _ := strconv.Atoi(cp.Meta["rounds"])
	if saved < 1 {
		t.Fatalf("newest learner checkpoint holds %q rounds, want >= 1", cp.Meta["rounds"])
	}
	// What an earlier version left: a learner checkpoint in the Badger store.
	st, err := storage.Open(filepath.Join(cfg.DataDir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCheckpoint(context.Background(), &storage.Checkpoint{Kind: LearnerKind, Term: 9, Round: 99}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	second := newStatefulTrainer(t, nil)
	var logs lockedBuffer
	n, err := New(context.Background(), cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithTrainer(second))
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	rounds, _, restored := second.snapshot()
	want := TrainerState{Meta: cp.Meta, Tensors: cp.Tensors}
	if len(restored) != 1 || !reflect.DeepEqual(restored[0], want) || rounds != saved {
		t.Fatalf("restart handed the trainer %+v (it now counts %d rounds); want the newest checkpoint %+v", restored, rounds, want)
	}
	t.Logf("restarted learner continues at %d rounds", rounds)

	st, err = storage.Open(filepath.Join(cfg.DataDir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := st.ListCheckpoints(context.Background(), LearnerKind)
	if cerr := st.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil || len(old) != 0 {
		t.Fatalf("learner checkpoints left in the store: %+v, %v", old, err)
	}
	if !strings.Contains(logs.String(), "deleted the learner checkpoints an earlier version kept in the store") {
		t.Errorf("start log does not report the deleted store checkpoints:\n%s", logs.String())
	}
}

// newestLearnerFile loads the newest learner checkpoint file of a stopped node's data dir.
func newestLearnerFile(t *testing.T, dataDir string) *storage.Checkpoint {
	t.Helper()
	lc, err := storage.OpenFileCheckpoints(LearnerDir(dataDir), LearnerKind, storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := lc.List(context.Background())
	if err != nil || len(infos) == 0 {
		t.Fatalf("no learner checkpoint file in %s: %+v, %v", LearnerDir(dataDir), infos, err)
	}
	cp, err := lc.Load(context.Background(), infos[len(infos)-1].Term, infos[len(infos)-1].Round)
	if err != nil {
		t.Fatalf("newest learner checkpoint file: %v", err)
	}
	return cp
}

// learnerChildEnv, set to a data dir, makes the re-executed test binary the node that
// TestLearnerStateSurvivesKill kills.
const learnerChildEnv = "MLECS_NODE_LEARNER_CHILD"

// learnerKillConfig is the edge of TestLearnerStateSurvivesKill: alone, it trains a local round every
// 200 ms (round 0 of term 0 each time) and checkpoints its learner after each.
func learnerKillConfig(dataDir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.APIAddr, cfg.RunID, cfg.ParamDim = dataDir, "127.0.0.1:0", "test", 4
	cfg.Heartbeat, cfg.Lease, cfg.Backoff = Duration(100*time.Millisecond), Duration(time.Second), Duration(100*time.Millisecond)
	cfg.RoundDeadline, cfg.MinRoundInterval, cfg.LearnerCheckpointEvery = Duration(200*time.Millisecond), 0, 1
	return cfg
}

// TestLearnerKillChild is the node process of TestLearnerStateSurvivesKill; it does nothing when run
// directly. It runs until it is killed.
func TestLearnerKillChild(t *testing.T) {
	dir := os.Getenv(learnerChildEnv)
	if dir == "" {
		t.Skip("helper process for TestLearnerStateSurvivesKill")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	n, err := New(context.Background(), learnerKillConfig(dir), WithLogger(log), WithTrainer(newStatefulTrainer(t, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestLearnerStateSurvivesKill runs an edge in a child process, SIGKILLs it at a random moment after a
// few learner checkpoints (possibly in the middle of a save), and restarts it on the same data dir: the
// learner is restored from the newest checkpoint file, and a partial file the kill left is removed.
func TestLearnerStateSurvivesKill(t *testing.T) {
	if os.Getenv(learnerChildEnv) != "" {
		t.Skip("running as the child")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLearnerKillChild$", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), learnerChildEnv+"="+dir)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	files := func() (ckpts, temps int) {
		es, _ := os.ReadDir(LearnerDir(dir))
		for _, e := range es {
			switch {
			case strings.HasSuffix(e.Name(), ".ckpt"):
				ckpts++
			case strings.HasPrefix(e.Name(), ".tmp-"):
				temps++
			}
		}
		return ckpts, temps
	}
	// Alone, the edge trains round 0 of term 0 again and again: each save replaces the one file.
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(stderr.String(), `msg="learner state saved"`) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the child saved its learner fewer than 3 times in 30 s; its log:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond) // lands anywhere in a round
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child was not killed: %v\n%s", err, stderr.String())
	}
	saves := strings.Count(stderr.String(), `msg="learner state saved"`)
	_, temps := files()

	tr := newStatefulTrainer(t, nil)
	var logs lockedBuffer
	n, err := New(context.Background(), learnerKillConfig(dir), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithTrainer(tr))
	if err != nil {
		t.Fatalf("restart after kill -9: %v", err)
	}
	n.Close()
	cp := newestLearnerFile(t, dir)
	want, _ := strconv.Atoi(cp.Meta["rounds"])
	rounds, _, restored := tr.snapshot()
	if len(restored) != 1 || rounds != want || want < saves {
		t.Fatalf("after the kill the learner was handed %+v and counts %d rounds; want the newest file's %d (the child logged %d saves)",
			restored, rounds, want, saves)
	}
	if ckpts, left := files(); left != 0 || ckpts > learnerKeep+1 {
		t.Fatalf("after the restart: %d checkpoint files, %d temporary files", ckpts, left)
	}
	if temps > 0 && !strings.Contains(logs.String(), "removed a partial checkpoint file left by a crash") {
		t.Errorf("the kill left a temporary file, but the restart did not report removing it:\n%s", logs.String())
	}
	t.Logf("killed after %d saves (%d temporary file left); restored the learner at %d rounds", saves, temps, rounds)
}

// TestLearnerCheckpointFallback: the node keeps the newest learnerKeep learner checkpoint files; on start
// a damaged newest one and one the trainer refuses are logged and skipped for the next older one; with
// none usable the learner starts fresh, and the node starts either way.
func TestLearnerCheckpointFallback(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config(1, RoleEdge)
	cfg.LearnerCheckpointEvery = 1
	ctx := context.Background()
	trainer := newStatefulTrainer(t, nil)
	n, err := New(ctx, cfg, WithLogger(testLogger(t, "1")), WithTrainer(trainer))
	if err != nil {
		t.Fatal(err)
	}
	for r := uint64(1); r <= 5; r++ {
		if _, err := trainer.LocalRound(ctx, r, EncodeVector(Vector{Params: make([]float32, 4)})); err != nil {
			t.Fatal(err)
		}
		n.saveLearner(ctx, trainer, 1, r)
	}
	infos, err := n.learners.List(ctx)
	n.Close()
	if err != nil || len(infos) != learnerKeep || infos[0].Round != 3 {
		t.Fatalf("learner checkpoints after 5 saves: %+v, %v; want the newest %d (rounds 3..5)", infos, err, learnerKeep)
	}
	if _, round, err := storagetest.DamageNewestFileCheckpoint(LearnerDir(cfg.DataDir), LearnerKind); err != nil || round != 5 {
		t.Fatalf("damage newest learner checkpoint: round %d, %v", round, err)
	}

	restart := func(refuse func(int) bool) (*statefulTrainer, string) {
		t.Helper()
		var logs lockedBuffer
		tr := newStatefulTrainer(t, refuse)
		n, err := New(ctx, cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithTrainer(tr))
		if err != nil {
			t.Fatalf("node did not start: %v", err)
		}
		n.Close()
		return tr, logs.String()
	}
	// Round 5 is damaged, the trainer refuses round 4's state: round 3's is restored.
	tr, logs := restart(func(r int) bool { return r == 4 })
	rounds, _, restored := tr.snapshot()
	if rounds != 3 || len(restored) != 2 || restored[0].Meta["rounds"] != "4" {
		t.Fatalf("learner at %d rounds after restoring %+v; want round 4 refused, then 3 restored", rounds, restored)
	}
	for _, want := range []string{"round=5 err=", "checksum mismatch", "round=4 err=", "learner state restored"} {
		if !strings.Contains(logs, want) {
			t.Errorf("start log lacks %q:\n%s", want, logs)
		}
	}
	// Nothing usable: the learner starts fresh, the node starts, and says so.
	tr, logs = restart(func(int) bool { return true })
	if rounds, _, restored := tr.snapshot(); rounds != 0 || len(restored) != 2 {
		t.Fatalf("learner at %d rounds after %d refused states; want a fresh learner after 2", rounds, len(restored))
	}
	if !strings.Contains(logs, "level=ERROR msg=\"no usable learner checkpoint") {
		t.Errorf("start log does not report the fresh learner:\n%s", logs)
	}
}
