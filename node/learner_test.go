package node

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
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
// after each; restarted on the same store, the node hands the newest one to the new trainer.
func TestLearnerStateSurvivesRestart(t *testing.T) {
	c := newTestCluster(t)
	cfg := c.config(0, RoleEdge)
	cfg.LearnerCheckpointEvery = 1
	cfg.RoundDeadline = Duration(300 * time.Millisecond) // local rounds come this often without an anchor
	first := newStatefulTrainer(t, nil)
	c.start(0, cfg, WithTrainer(first))
	waitFor(t, 20*time.Second, "two learner states saved", func() bool { _, saves, _ := first.snapshot(); return saves >= 2 })
	c.stop(0, false)

	st, err := storage.Open(filepath.Join(cfg.DataDir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := st.LatestCheckpoint(context.Background(), learnerKind)
	if cerr := st.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("no learner checkpoint after local rounds: %v", err)
	}
	saved, _ := strconv.Atoi(cp.Meta["rounds"])
	if saved < 1 {
		t.Fatalf("newest learner checkpoint holds %q rounds, want >= 1", cp.Meta["rounds"])
	}

	second := newStatefulTrainer(t, nil)
	n, err := New(context.Background(), cfg, WithLogger(testLogger(t, "0-reopened")), WithTrainer(second))
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
}

// TestLearnerCheckpointFallback: the node keeps the newest learnerKeep learner checkpoints; on start a
// damaged newest one and one the trainer refuses are logged and skipped for the next older one; with
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
	infos, err := n.store.ListCheckpoints(ctx, learnerKind)
	n.Close()
	if err != nil || len(infos) != learnerKeep || infos[0].Round != 3 {
		t.Fatalf("learner checkpoints after 5 saves: %+v, %v; want the newest %d (rounds 3..5)", infos, err, learnerKeep)
	}
	if _, round, err := storagetest.DamageNewestCheckpoint(filepath.Join(cfg.DataDir, "db"), learnerKind); err != nil || round != 5 {
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
	for _, want := range []string{"round=5 err=", "round=4 err=", "learner state restored"} {
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
