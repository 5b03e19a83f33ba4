package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Checkpoint is a model state saved at one (Term, Round) of one Kind ("edge", "anchor",
// "global", ...). Checkpoints of a kind are ordered by (Term, Round): the highest is newest.
type Checkpoint struct {
	Kind    string
	Term    uint64
	Round   uint64
	Created time.Time // set by SaveCheckpoint when zero
	Meta    map[string]string
	Tensors []NamedTensor
}

// CheckpointInfo describes a stored checkpoint without loading its tensors.
type CheckpointInfo struct {
	Kind    string
	Term    uint64
	Round   uint64
	Created time.Time
	Meta    map[string]string
	Tensors int
	Bytes   int64  // encoded tensor bytes
	Problem string // non-empty if the manifest itself is unreadable
}

// SaveCheckpoint stores cp atomically: its tensors are written as chunks under a fresh save
// id, then one manifest with each tensor's SHA-256 is committed. Until that commit the
// previous checkpoint at the same (Kind, Term, Round), if any, stays intact and visible;
// after it, the new one replaces it.
func (s *Store) SaveCheckpoint(ctx context.Context, cp *Checkpoint) error {
	if cp == nil {
		return fmt.Errorf("%w: save checkpoint: nil", ErrInvalid)
	}
	if err := checkCheckpoint(cp, s.cfg.maxCheckpointSize); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	id := ckptID{kind: cp.Kind, term: cp.Term, round: cp.Round}
	save := s.newID()
	defer s.doneID(save)
	m := &ckptManifest{id: id, save: save, created: cp.Created, chunk: chunkSize, meta: cp.Meta}
	if m.created.IsZero() {
		m.created = time.Now().UTC()
	}
	err := s.writeCheckpoint(ctx, cp, m)
	var old *ckptManifest
	if err == nil {
		old, err = s.commitCkptManifest(m)
	}
	if err != nil {
		if _, derr := s.deletePrefix(context.Background(), ckptSavePrefix(id, save)); derr != nil {
			s.log.Warn("drop staged checkpoint chunks", "checkpoint", id, "err", derr)
		}
		return fmt.Errorf("save checkpoint %s: %w", id, err)
	}
	if old != nil && old.save != save {
		if _, err := s.deletePrefix(ctx, ckptSavePrefix(id, old.save)); err != nil {
			s.log.Warn("drop replaced checkpoint chunks; GC will retry", "checkpoint", id, "err", err)
		}
	}
	return nil
}

func (s *Store) writeCheckpoint(ctx context.Context, cp *Checkpoint, m *ckptManifest) error {
	w := s.newChunkWriter("checkpoint "+m.id.String(), s.cfg.maxCheckpointSize)
	m.tensors = make([]ckptTensor, len(cp.Tensors))
	for ti := range cp.Tensors {
		t := &cp.Tensors[ti]
		h := sha256.New()
		size := encodedTensorLen(t)
		n, err := w.write(ctx, newTensorReader(t), size,
			func(i uint32) []byte { return ckptChunkKey(m.id, m.save, uint32(ti), i) },
			func(p []byte) { h.Write(p) })
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		m.tensors[ti] = ckptTensor{name: t.Name, size: n}
		copy(m.tensors[ti].hash[:], h.Sum(nil))
	}
	return w.flush()
}

// commitCkptManifest publishes m and returns the manifest it replaced, if any.
func (s *Store) commitCkptManifest(m *ckptManifest) (*ckptManifest, error) {
	raw := m.encode()
	if len(raw) > maxRecord {
		return nil, fmt.Errorf("%w: manifest of %d bytes exceeds %d (too many tensors or too much meta)", ErrTooLarge, len(raw), maxRecord)
	}
	if err := s.injected("checkpoint manifest", 0); err != nil {
		return nil, err
	}
	if err := s.checkSpace("checkpoint manifest", int64(len(raw))); err != nil {
		return nil, err
	}
	var old *ckptManifest
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	err := s.do(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error {
			k := ckptManifestKey(m.id)
			prev, err := getValue(txn, k)
			switch {
			case err == nil:
				// A corrupt predecessor's chunks are left for GC.
				old, _ = decodeCkptManifest(prev)
			case !errors.Is(err, ErrNotFound):
				return err
			}
			return txn.Set(k, raw)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("commit manifest: %w", err)
	}
	return old, nil
}

// LoadCheckpoint loads and verifies one checkpoint.
func (s *Store) LoadCheckpoint(ctx context.Context, kind string, term, round uint64) (*Checkpoint, error) {
	if err := checkKind(kind); err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	id := ckptID{kind: kind, term: term, round: round}
	cp, err := s.loadCheckpoint(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", id, err)
	}
	return cp, nil
}

// LatestCheckpoint returns the newest checkpoint of kind that passes verification. Newer
// ones that fail (corrupt manifest, missing chunk, hash mismatch, undecodable tensor) are
// logged and skipped. ErrNotFound if there is none; ErrCorrupt if all are damaged.
func (s *Store) LatestCheckpoint(ctx context.Context, kind string) (*Checkpoint, error) {
	if err := checkKind(kind); err != nil {
		return nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	ids, err := s.checkpointIDs(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint %q: %w", kind, err)
	}
	var bad error
	for i := len(ids) - 1; i >= 0; i-- {
		cp, err := s.loadCheckpoint(ctx, ids[i])
		switch {
		case err == nil:
			return cp, nil
		case errors.Is(err, ErrCorrupt):
			s.log.Warn("skip damaged checkpoint, falling back to an older one", "checkpoint", ids[i], "err", err)
			bad = err
		case errors.Is(err, ErrNotFound):
			// Pruned or replaced since listed.
		default:
			return nil, fmt.Errorf("latest checkpoint %q: %w", kind, err)
		}
	}
	if bad != nil {
		return nil, fmt.Errorf("latest checkpoint %q: no intact checkpoint among %d; last failure: %w", kind, len(ids), bad)
	}
	return nil, fmt.Errorf("latest checkpoint %q: %w", kind, ErrNotFound)
}

// loadCheckpoint reads manifest and chunks in one read transaction, so a concurrent
// replace or prune cannot mix two saves.
func (s *Store) loadCheckpoint(ctx context.Context, id ckptID) (*Checkpoint, error) {
	var cp *Checkpoint
	err := s.view(func(txn *badger.Txn) error {
		raw, err := getValue(txn, ckptManifestKey(id))
		if err != nil {
			return err
		}
		m, err := decodeCkptManifest(raw)
		if err != nil {
			return err
		}
		if m.id != id {
			return fmt.Errorf("%w: manifest stored under %s names %s", ErrCorrupt, id, m.id)
		}
		cp = &Checkpoint{Kind: id.kind, Term: id.term, Round: id.round, Created: m.created, Meta: m.meta,
			Tensors: make([]NamedTensor, len(m.tensors))}
		for ti, mt := range m.tensors {
			if err := ctx.Err(); err != nil {
				return err
			}
			t, err := loadTensor(txn, m, uint32(ti), mt)
			if err != nil {
				return fmt.Errorf("tensor %q: %w", mt.name, err)
			}
			cp.Tensors[ti] = t
		}
		return nil
	})
	return cp, err
}

func loadTensor(txn *badger.Txn, m *ckptManifest, ti uint32, mt ckptTensor) (NamedTensor, error) {
	n := (mt.size + int64(m.chunk) - 1) / int64(m.chunk)
	// Grow from what is actually stored; the manifest's claim only bounds the start.
	buf := make([]byte, 0, min(mt.size, 64<<20))
	for i := int64(0); i < n; i++ {
		item, err := txn.Get(ckptChunkKey(m.id, m.save, ti, uint32(i)))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return NamedTensor{}, fmt.Errorf("%w: chunk %d of %d missing", ErrCorrupt, i, n)
		}
		if err != nil {
			return NamedTensor{}, err
		}
		want := min(int64(m.chunk), mt.size-i*int64(m.chunk))
		err = item.Value(func(v []byte) error {
			if int64(len(v)) != want {
				return fmt.Errorf("%w: chunk %d is %d bytes, want %d", ErrCorrupt, i, len(v), want)
			}
			buf = append(buf, v...)
			return nil
		})
		if err != nil {
			return NamedTensor{}, err
		}
	}
	if sha256.Sum256(buf) != mt.hash {
		return NamedTensor{}, fmt.Errorf("%w: SHA-256 mismatch", ErrCorrupt)
	}
	t, err := DecodeTensor(buf)
	if err != nil {
		return NamedTensor{}, err
	}
	if t.Name != mt.name {
		return NamedTensor{}, fmt.Errorf("%w: encoded name %q differs from manifest", ErrCorrupt, t.Name)
	}
	return t, nil
}

// checkpointIDs lists the committed checkpoints of kind, oldest first ("" = all kinds).
func (s *Store) checkpointIDs(ctx context.Context, kind string) ([]ckptID, error) {
	prefix := []byte(prefixCkptManifest)
	if kind != "" {
		prefix = ckptKindManifestPrefix(kind)
	}
	var ids []ckptID
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			id, rest, ok := parseCkptKey(it.Item().Key()[len(prefixCkptManifest):])
			if !ok || len(rest) != 0 {
				s.log.Warn("skip malformed checkpoint key", "key", keyString(it.Item().Key()))
				continue
			}
			ids = append(ids, id)
		}
		return nil
	})
	return ids, err
}

// ListCheckpoints describes the checkpoints of kind ("" = every kind), ordered by kind,
// then oldest to newest. It reads manifests only; tensors are verified on load.
func (s *Store) ListCheckpoints(ctx context.Context, kind string) ([]CheckpointInfo, error) {
	if kind != "" {
		if err := checkKind(kind); err != nil {
			return nil, fmt.Errorf("list checkpoints: %w", err)
		}
	}
	prefix := []byte(prefixCkptManifest)
	if kind != "" {
		prefix = ckptKindManifestPrefix(kind)
	}
	var out []CheckpointInfo
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			id, _, ok := parseCkptKey(it.Item().Key()[len(prefixCkptManifest):])
			if !ok {
				continue
			}
			info := CheckpointInfo{Kind: id.kind, Term: id.term, Round: id.round}
			raw, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if m, err := decodeCkptManifest(raw); err != nil {
				info.Problem = err.Error()
			} else {
				info.Created, info.Meta, info.Tensors, info.Bytes = m.created, m.meta, len(m.tensors), m.bytes()
			}
			out = append(out, info)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list checkpoints %q: %w", kind, err)
	}
	return out, nil
}

// DeleteCheckpoint removes one checkpoint. ErrNotFound if it does not exist.
func (s *Store) DeleteCheckpoint(ctx context.Context, kind string, term, round uint64) error {
	if err := checkKind(kind); err != nil {
		return fmt.Errorf("delete checkpoint: %w", err)
	}
	id := ckptID{kind: kind, term: term, round: round}
	if err := s.deleteCheckpoint(ctx, id); err != nil {
		return fmt.Errorf("delete checkpoint %s: %w", id, err)
	}
	return nil
}

// deleteCheckpoint removes the manifest first, so a crash between the two steps leaves
// only unreferenced chunks (for GC), never a manifest with missing chunks.
func (s *Store) deleteCheckpoint(ctx context.Context, id ckptID) error {
	var m *ckptManifest
	s.commitMu.Lock()
	err := s.do(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error {
			raw, err := getValue(txn, ckptManifestKey(id))
			if err != nil {
				return err
			}
			m, _ = decodeCkptManifest(raw)
			return txn.Delete(ckptManifestKey(id))
		})
	})
	s.commitMu.Unlock()
	if err != nil {
		return err
	}
	if m != nil {
		if _, err := s.deletePrefix(ctx, ckptSavePrefix(id, m.save)); err != nil {
			s.log.Warn("delete checkpoint chunks; GC will retry", "checkpoint", id, "err", err)
		}
	}
	return nil
}

// Prune keeps the newest keep checkpoints of kind and deletes the older ones, except that
// the newest checkpoint that passes verification is always kept, so pruning can never
// leave LatestCheckpoint without a good state. It returns how many were deleted.
func (s *Store) Prune(ctx context.Context, kind string, keep int) (int, error) {
	if err := checkKind(kind); err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	if keep < 1 {
		return 0, fmt.Errorf("%w: prune %q: keep %d, want at least 1", ErrInvalid, kind, keep)
	}
	ids, err := s.checkpointIDs(ctx, kind)
	if err != nil {
		return 0, fmt.Errorf("prune %q: %w", kind, err)
	}
	if len(ids) <= keep {
		return 0, nil
	}
	// Find the newest intact one; usually the newest, so this costs one verified load.
	good := -1
	for i := len(ids) - 1; i >= 0 && good < 0; i-- {
		_, err := s.loadCheckpoint(ctx, ids[i])
		switch {
		case err == nil:
			good = i
		case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound):
		default:
			return 0, fmt.Errorf("prune %q: verify %s: %w", kind, ids[i], err)
		}
	}
	n := 0
	for i, id := range ids[:len(ids)-keep] {
		if i == good {
			continue
		}
		if err := s.deleteCheckpoint(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			return n, fmt.Errorf("prune %q: delete %s: %w", kind, id, err)
		}
		n++
	}
	return n, nil
}
