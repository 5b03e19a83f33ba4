package storage

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
)

// TestNoSpaceKeepsPreviousCheckpoint runs the store with a reserve larger than any disk, which is what a
// full disk looks like to it: every write of new data fails with ErrNoSpace before reaching Badger,
// the previous checkpoint stays the newest intact one, and deletes still work.
func TestNoSpaceKeepsPreviousCheckpoint(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the free-space reserve is enforced on Linux only")
	}
	ctx := context.Background()
	dir := t.TempDir()
	s := openDisk(t, dir)
	if err := s.SaveCheckpoint(ctx, testCheckpoint("global", 1, 1, 1, 1000)); err != nil {
		t.Fatal(err)
	}
	h, err := s.PutBlobBytes(ctx, genBytes(3, 2*chunkSize))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	full, err := Open(dir, WithLogger(slog.New(slog.DiscardHandler)), WithMinFreeSpace(1<<60))
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	writes := map[string]error{
		"checkpoint": full.SaveCheckpoint(ctx, testCheckpoint("global", 1, 2, 2, 1000)),
		"meta-only checkpoint": full.SaveCheckpoint(ctx, &Checkpoint{Kind: "global", Term: 1, Round: 3,
			Meta: map[string]string{"blob": h.String()}}),
		"state":  full.PutState(ctx, "term", []byte{1}),
		"metric": full.AppendMetric(ctx, MetricPoint{Name: "loss", Round: 2, Value: 1}),
	}
	_, writes["blob"] = full.PutBlobBytes(ctx, genBytes(4, 100))
	for what, err := range writes {
		if !errors.Is(err, ErrNoSpace) {
			t.Errorf("%s on a full disk: %v, want ErrNoSpace", what, err)
		}
	}
	cp, err := full.LatestCheckpoint(ctx, "global")
	if err != nil || cp.Round != 1 {
		t.Fatalf("latest checkpoint on a full disk: %v, %v; want round 1", cp, err)
	}
	rep, err := full.Verify(ctx, true)
	if err != nil || rep.Damaged() != 0 || len(rep.Checkpoints) != 1 || rep.Blobs != 1 {
		t.Fatalf("verify after refused writes: %+v, %v", rep, err)
	}
	// Deletes free space, so they are not refused.
	if err := full.DeleteBlob(ctx, h); err != nil {
		t.Fatalf("delete on a full disk: %v", err)
	}
	if _, err := full.GC(ctx); err != nil {
		t.Fatalf("gc on a full disk: %v", err)
	}
}

func TestWithMinFreeSpace(t *testing.T) {
	if _, err := Open(t.TempDir(), WithMinFreeSpace(-1)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative reserve: %v, want ErrInvalid", err)
	}
	// 0 disables the check: the same impossible reserve is then no obstacle.
	s := openDisk(t, "", WithMinFreeSpace(0))
	if err := s.PutState(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}
