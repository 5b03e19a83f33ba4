package node

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mlecs/mlecs/storage"
)

func TestPruneBlobsKeepsReferenced(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(t.TempDir(), storage.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := &Node{store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	put := func(s string) storage.Hash {
		h, err := st.PutBlobBytes(ctx, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	ckpt, current, stale := put("checkpointed global"), put("current update"), put("old update")
	if err := n.saveCheckpoint(ctx, 1, 4, ckpt); err != nil {
		t.Fatal(err)
	}
	deleted, err := n.pruneBlobs(ctx, map[string]bool{current.String(): true}, time.Now().Add(time.Hour))
	if err != nil || deleted != 1 {
		t.Fatalf("pruned %d, %v; want 1", deleted, err)
	}
	for h, want := range map[storage.Hash]bool{ckpt: true, current: true, stale: false} {
		if ok, _ := st.HasBlob(ctx, h); ok != want {
			t.Errorf("blob %s present=%v, want %v", h.String()[:8], ok, want)
		}
	}
	// Nothing younger than the cutoff is touched.
	fresh := put("fresh")
	if deleted, _ := n.pruneBlobs(ctx, map[string]bool{}, time.Now().Add(-time.Hour)); deleted != 0 {
		t.Fatalf("pruned %d young blobs", deleted)
	}
	if ok, _ := st.HasBlob(ctx, fresh); !ok {
		t.Fatal("fresh blob deleted")
	}
}
