package storage

import (
	"context"
	"errors"
	"testing"
)

func TestVerify(t *testing.T) {
	ctx := context.Background()
	s := openDisk(t, "")
	for r := uint64(1); r <= 3; r++ {
		if err := s.SaveCheckpoint(ctx, testCheckpoint("global", 1, r, r, 300, 40)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCheckpoint(ctx, testCheckpoint("edge", 2, 1, 9, 10)); err != nil {
		t.Fatal(err)
	}
	good, err := s.PutBlobBytes(ctx, genBytes(1, 3*chunkSize/2))
	if err != nil {
		t.Fatal(err)
	}
	rotten, err := s.PutBlobBytes(ctx, genBytes(2, 1000))
	if err != nil {
		t.Fatal(err)
	}

	rep, err := s.Verify(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Damaged() != 0 || len(rep.Checkpoints) != 4 || rep.Blobs != 2 || rep.BlobBytes != 3*chunkSize/2+1000 {
		t.Fatalf("intact store: %d damaged, %d checkpoints, %d blobs of %d bytes", rep.Damaged(), len(rep.Checkpoints), rep.Blobs, rep.BlobBytes)
	}
	if c, ok := rep.Newest("global"); !ok || c.Round != 3 {
		t.Fatalf("newest global = %+v, %v; want round 3", c, ok)
	}

	// Newest global: damaged manifest. Round 2: one tensor chunk rotten. A blob: one chunk rotten.
	corruptValue(t, s, ckptManifestKey(ckptID{kind: "global", term: 1, round: 3}), flipByte(20))
	ms, err := s.readCkptManifest(ckptID{kind: "global", term: 1, round: 2})
	if err != nil {
		t.Fatal(err)
	}
	corruptValue(t, s, ckptChunkKey(ms.id, ms.save, 1, 0), flipByte(7))
	bm, err := s.readBlobManifest(rotten)
	if err != nil {
		t.Fatal(err)
	}
	corruptValue(t, s, blobChunkKey(bm.upload, 0), flipByte(500))

	rep, err = s.Verify(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Damaged() != 3 {
		t.Fatalf("%d damaged, want 3: %+v", rep.Damaged(), rep)
	}
	for _, c := range rep.Checkpoints {
		bad := c.Kind == "global" && (c.Round == 3 || c.Round == 2)
		if bad != (c.Err != nil) || (bad && !errors.Is(c.Err, ErrCorrupt)) {
			t.Errorf("%s round %d: err %v", c.Kind, c.Round, c.Err)
		}
	}
	if c, ok := rep.Newest("global"); !ok || c.Round != 1 {
		t.Fatalf("newest intact global = %+v, %v; want round 1", c, ok)
	}
	if len(rep.BadBlobs) != 1 || rep.BadBlobs[0].Hash != rotten || !errors.Is(rep.BadBlobs[0].Err, ErrCorrupt) || rep.Blobs != 1 {
		t.Fatalf("bad blobs %+v (%d good), want only %s", rep.BadBlobs, rep.Blobs, rotten)
	}
	_ = good
	// LatestCheckpoint agrees with Newest.
	cp, err := s.LatestCheckpoint(ctx, "global")
	if err != nil || cp.Round != 1 {
		t.Fatalf("LatestCheckpoint = %v, %v; want round 1", cp, err)
	}

	// A damaged blob manifest is reported by key (ListBlobs skips it).
	corruptValue(t, s, blobManifestKey(good), flipByte(3))
	rep, err = s.Verify(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.BadBlobs) != 2 || rep.Blobs != 0 {
		t.Fatalf("after manifest damage: bad %+v, %d good", rep.BadBlobs, rep.Blobs)
	}
	// Without blobs, only checkpoints are read.
	rep, err = s.Verify(ctx, false)
	if err != nil || len(rep.BadBlobs) != 0 || rep.Blobs != 0 || rep.Damaged() != 2 {
		t.Fatalf("checkpoints only: %+v, %v", rep, err)
	}
}

func (s *Store) readCkptManifest(id ckptID) (*ckptManifest, error) {
	var m *ckptManifest
	err := s.view(func(txn *badgerTxn) error {
		raw, err := getValue(txn, ckptManifestKey(id))
		if err != nil {
			return err
		}
		m, err = decodeCkptManifest(raw)
		return err
	})
	return m, err
}

func (s *Store) readBlobManifest(h Hash) (*blobManifest, error) {
	var m *blobManifest
	err := s.view(func(txn *badgerTxn) error {
		raw, err := getValue(txn, blobManifestKey(h))
		if err != nil {
			return err
		}
		m, err = decodeBlobManifest(raw)
		return err
	})
	return m, err
}
