package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// GCStats reports what GC removed.
type GCStats struct {
	OrphanBlobUploads     int // interrupted or superseded blob writes removed
	OrphanCheckpointSaves int // interrupted or superseded checkpoint writes removed
	KeysDeleted           int
	ValueLogRewrites      int // value-log files rewritten to reclaim space
}

// GC removes chunk data that no manifest references (left by a crash, a failed write, or a
// delete interrupted half-way), then lets Badger reclaim value-log space. Writes in
// progress in this process are left alone, so GC may run at any time; call it at startup
// and after pruning.
func (s *Store) GC(ctx context.Context) (GCStats, error) {
	var st GCStats
	blobs, saves, err := s.orphans(ctx)
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	for _, id := range blobs {
		n, err := s.deletePrefix(ctx, blobDataPrefix(id))
		st.KeysDeleted += n
		if err != nil {
			return st, fmt.Errorf("gc: delete orphan blob upload %x: %w", id, err)
		}
		st.OrphanBlobUploads++
	}
	for _, p := range saves {
		n, err := s.deletePrefix(ctx, p)
		st.KeysDeleted += n
		if err != nil {
			return st, fmt.Errorf("gc: delete orphan checkpoint save %s: %w", keyString(p), err)
		}
		st.OrphanCheckpointSaves++
	}
	if len(blobs)+len(saves) > 0 {
		s.log.Info("removed orphan chunk data", "blob_uploads", len(blobs), "checkpoint_saves", len(saves), "keys", st.KeysDeleted)
	}
	if s.cfg.inMemory {
		return st, nil
	}
	// Each successful call rewrites one value-log file; stop when nothing is worth it.
	for st.ValueLogRewrites < 64 {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("gc: %w", err)
		}
		err := s.do(func(db *badger.DB) error { return db.RunValueLogGC(0.5) })
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("gc: value log: %w", err)
		}
		st.ValueLogRewrites++
	}
	return st, nil
}

// orphans finds chunk groups (blob upload ids, checkpoint save prefixes) that no manifest
// references and no write in progress owns.
//
// Race with a concurrent write: a write registers its id before its first chunk and
// unregisters only after its manifest commit. Candidates come from one snapshot; then, with
// the active set locked, we drop active ids and re-read the manifests in a fresh snapshot,
// which sees every write that finished before we looked at the active set.
func (s *Store) orphans(ctx context.Context) (blobs []uint64, saves [][]byte, err error) {
	blobCand, saveCand, err := s.scanChunkGroups(ctx)
	if err != nil || len(blobCand)+len(saveCand) == 0 {
		return nil, nil, err
	}
	s.activeMu.Lock()
	defer s.activeMu.Unlock()
	refBlobs, refSaves, err := s.referencedIDs(ctx)
	if err != nil {
		return nil, nil, err
	}
	for id := range blobCand {
		if _, busy := s.active[id]; !busy && !refBlobs[id] {
			blobs = append(blobs, id)
		}
	}
	for p, save := range saveCand {
		if _, busy := s.active[save]; !busy && !refSaves[p] {
			saves = append(saves, []byte(p))
		}
	}
	return blobs, saves, nil
}

// scanChunkGroups lists the chunk groups present: blob upload ids, and checkpoint save
// prefixes (kind, term, round, save id) mapped to their save id.
func (s *Store) scanChunkGroups(ctx context.Context) (map[uint64]bool, map[string]uint64, error) {
	blobs := map[uint64]bool{}
	saves := map[string]uint64{}
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixBlobData)})
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().Key()[len(prefixBlobData):]; len(k) >= 8 {
				blobs[binary.BigEndian.Uint64(k)] = true
			}
		}
		it.Close()
		it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixCkptData)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			id, rest, ok := parseCkptKey(k[len(prefixCkptData):])
			if !ok || len(rest) < 8 {
				continue
			}
			save := binary.BigEndian.Uint64(rest)
			saves[string(ckptSavePrefix(id, save))] = save
		}
		return ctx.Err()
	})
	return blobs, saves, err
}

// referencedIDs reads every manifest: blob upload ids and checkpoint save prefixes in use.
func (s *Store) referencedIDs(ctx context.Context) (map[uint64]bool, map[string]bool, error) {
	blobs := map[uint64]bool{}
	saves := map[string]bool{}
	err := s.scanPrefix(ctx, []byte(prefixBlobManifest), func(k, v []byte) error {
		if m, err := decodeBlobManifest(v); err == nil {
			blobs[m.upload] = true
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	err = s.scanPrefix(ctx, []byte(prefixCkptManifest), func(k, v []byte) error {
		if m, err := decodeCkptManifest(v); err == nil {
			saves[string(ckptSavePrefix(m.id, m.save))] = true
		}
		return nil
	})
	return blobs, saves, err
}
