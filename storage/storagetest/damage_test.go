package storagetest_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/storage"
	"github.com/mlecs/mlecs/storage/storagetest"
)

func TestDamageNewestCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *storage.Store {
		s, err := storage.Open(dir, storage.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	for _, r := range []uint64{3, 4, 10} {
		if err := s.SaveCheckpoint(ctx, &storage.Checkpoint{Kind: "global", Term: 2, Round: r, Meta: map[string]string{"blob": "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCheckpoint(ctx, &storage.Checkpoint{Kind: "other", Term: 9, Round: 99}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := storagetest.DamageNewestCheckpoint(dir, "none"); !errors.Is(err, storagetest.ErrNoCheckpoint) {
		t.Fatalf("kind without checkpoints: %v, want ErrNoCheckpoint", err)
	}
	term, round, err := storagetest.DamageNewestCheckpoint(dir, "global")
	if err != nil || term != 2 || round != 10 {
		t.Fatalf("damaged term %d round %d, %v; want 2, 10", term, round, err)
	}
	s = open()
	defer s.Close()
	if _, err := s.LoadCheckpoint(ctx, "global", 2, 10); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("load damaged: %v, want ErrCorrupt", err)
	}
	cp, err := s.LatestCheckpoint(ctx, "global")
	if err != nil || cp.Round != 4 {
		t.Fatalf("latest after damage: %v, %v; want round 4", cp, err)
	}
	if cp, err := s.LatestCheckpoint(ctx, "other"); err != nil || cp.Round != 99 {
		t.Fatalf("other kind touched: %v, %v", cp, err)
	}
}

func TestDamageNeedsAStore(t *testing.T) {
	if _, _, err := storagetest.DamageNewestCheckpoint(t.TempDir(), "global"); err == nil {
		t.Fatal("damaged an empty directory")
	}
}

func TestDamageNewestFileCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fc, err := storage.OpenFileCheckpoints(dir, "learner", storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := storagetest.DamageNewestFileCheckpoint(dir, "learner"); !errors.Is(err, storagetest.ErrNoCheckpoint) {
		t.Fatalf("directory without checkpoints: %v, want ErrNoCheckpoint", err)
	}
	for _, tr := range [][2]uint64{{1, 9}, {2, 3}, {1, 10}} {
		cp := &storage.Checkpoint{Kind: "learner", Term: tr[0], Round: tr[1],
			Tensors: []storage.NamedTensor{{Name: "w", Shape: []int{64}, Data: make([]float32, 64)}}}
		if err := fc.Save(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	term, round, err := storagetest.DamageNewestFileCheckpoint(dir, "learner")
	if err != nil || term != 2 || round != 3 {
		t.Fatalf("damaged term %d round %d, %v; want 2, 3", term, round, err)
	}
	if _, err := fc.Load(ctx, 2, 3); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("load damaged: %v, want ErrCorrupt", err)
	}
	if _, err := fc.Load(ctx, 1, 10); err != nil {
		t.Fatalf("older file: %v", err)
	}
	if _, _, err := storagetest.DamageNewestFileCheckpoint(filepath.Join(dir, "none"), "learner"); err == nil {
		t.Fatal("damaged a missing directory")
	}
}
