package storage

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// Chunks without a manifest (what a crash mid-write leaves) are removed by GC; committed
// data and writes still in progress are not.
func TestGCRemovesOrphans(t *testing.T) {
	s := openDisk(t, "")
	ctx := t.Context()
	h, err := s.PutBlobBytes(ctx, genBytes(1, 2*chunkSize))
	if err != nil {
		t.Fatal(err)
	}
	cp := testCheckpoint("edge", 1, 1, 1, 200_000)
	if err := s.SaveCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	blobKeys, ckptKeys := countKeys(t, s, []byte(prefixBlobData)), countKeys(t, s, []byte(prefixCkptData))

	// Crash leftovers: chunks under ids no manifest names.
	orphan := []op{
		{key: blobChunkKey(77, 0), val: []byte("partial")},
		{key: blobChunkKey(77, 1), val: []byte("partial")},
		{key: ckptChunkKey(ckptID{"edge", 1, 2}, 99, 0, 0), val: []byte("partial")},
		{key: ckptChunkKey(ckptID{"edge", 1, 1}, 98, 0, 0), val: []byte("superseded")},
	}
	// A write in progress: its id is active.
	busy := s.newID()
	orphan = append(orphan, op{key: blobChunkKey(busy, 0), val: []byte("in flight")})
	if err := s.commitOps(orphan); err != nil {
		t.Fatal(err)
	}
	st, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.OrphanBlobUploads != 1 || st.OrphanCheckpointSaves != 2 || st.KeysDeleted != 4 {
		t.Fatalf("GC stats %+v, want 1 blob upload, 2 checkpoint saves, 4 keys", st)
	}
	if got := countKeys(t, s, []byte(prefixBlobData)); got != blobKeys+1 {
		t.Fatalf("%d blob chunk keys, want %d committed + 1 in flight", got, blobKeys)
	}
	s.doneID(busy)
	if st, err := s.GC(ctx); err != nil || st.OrphanBlobUploads != 1 {
		t.Fatalf("GC after the write ended: %+v, %v", st, err)
	}
	if got := countKeys(t, s, []byte(prefixCkptData)); got != ckptKeys {
		t.Fatalf("%d checkpoint chunk keys, want %d", got, ckptKeys)
	}
	if _, err := s.ReadBlob(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LatestCheckpoint(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
}

// Many goroutines use one store at once; GC runs alongside. Run with -race.
func TestConcurrentUse(t *testing.T) {
	s := openDisk(t, "")
	ctx := t.Context()
	const workers = 4
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	var wg sync.WaitGroup
	hashes := make([][]Hash, workers)
	for w := range workers {
		wg.Go(func() {
			kind := fmt.Sprintf("edge-%d", w)
			for r := range rounds {
				data := genBytes(uint64(w*100+r), int64(chunkSize/2+w*1000+r))
				h, err := s.PutBlobBytes(ctx, data)
				if err != nil {
					t.Error(err)
					return
				}
				hashes[w] = append(hashes[w], h)
				if err := s.SaveCheckpoint(ctx, testCheckpoint(kind, 1, uint64(r), uint64(r), 50_000)); err != nil {
					t.Error(err)
					return
				}
				// Every worker also writes the shared "global" slot; last writer wins.
				if err := s.SaveCheckpoint(ctx, testCheckpoint("global", 1, 1, uint64(w), 1000)); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.LatestCheckpoint(ctx, kind); err != nil {
					t.Error(err)
				}
				if err := s.PutPeer(ctx, PeerRecord{ID: kind, Role: "edge"}); err != nil {
					t.Error(err)
				}
				if err := s.AppendMetric(ctx, MetricPoint{Round: uint64(r), Name: "loss", Value: float64(w)}); err != nil {
					t.Error(err)
				}
				if _, err := s.Prune(ctx, kind, 2); err != nil {
					t.Error(err)
				}
			}
		})
	}
	stop := make(chan struct{})
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.GC(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-gcDone
	for w := range workers {
		for r, h := range hashes[w] {
			got, err := s.ReadBlob(ctx, h)
			if err != nil || !bytes.Equal(got, genBytes(uint64(w*100+r), int64(chunkSize/2+w*1000+r))) {
				t.Fatalf("worker %d blob %d: %v", w, r, err)
			}
		}
		cp, err := s.LatestCheckpoint(ctx, fmt.Sprintf("edge-%d", w))
		if err != nil || cp.Round != uint64(rounds-1) {
			t.Fatalf("worker %d latest: %v, %v", w, cp, err)
		}
	}
	if _, err := s.LatestCheckpoint(ctx, "global"); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Metrics(ctx, "loss"); len(m) != workers*rounds {
		t.Fatalf("%d metric points, want %d", len(m), workers*rounds)
	}
	// Nothing orphaned once all writers are done.
	if st, err := s.GC(ctx); err != nil || st.OrphanBlobUploads+st.OrphanCheckpointSaves != 0 {
		t.Fatalf("final GC: %+v, %v", st, err)
	}
}
