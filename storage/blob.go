package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// BlobInfo describes a committed blob.
type BlobInfo struct {
	Hash    Hash
	Size    int64
	Created time.Time
}

// blobManifest is committed last: a blob exists exactly when its manifest does.
type blobManifest struct {
	hash    Hash
	size    int64
	chunk   uint32 // chunk size used when written
	upload  uint64 // id naming the chunk keys
	created time.Time
	// CRC-32C of each chunk, so ranged reads (resumed transfers) verify what they return.
	// SHA-256 per chunk would double the hashing cost of every write and full read on
	// devices without SHA instructions; the blob's SHA-256 remains its identity.
	chunks []uint32
}

const blobManifestMagic, blobManifestVersion = "MLBM", 1

// castagnoli is the read-only CRC-32C table (hardware-accelerated on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (m *blobManifest) encode() []byte {
	e := encoder{b: make([]byte, 0, 64+len(m.chunks)*4)}
	e.raw([]byte(blobManifestMagic))
	e.u8(blobManifestVersion)
	e.raw(m.hash[:])
	e.u64(uint64(m.size))
	e.u32(m.chunk)
	e.u64(m.upload)
	e.time(m.created)
	e.u32(uint32(len(m.chunks)))
	for _, c := range m.chunks {
		e.u32(c)
	}
	return e.seal()
}

func decodeBlobManifest(b []byte) (*blobManifest, error) {
	body, err := unseal("blob manifest", b)
	if err != nil {
		return nil, err
	}
	return decodeBlobManifestBody(body)
}

// decodeBlobManifestBody decodes a manifest whose checksum has been verified.
func decodeBlobManifestBody(body []byte) (*blobManifest, error) {
	d := decoder{what: "blob manifest", b: body}
	d.header(blobManifestMagic, blobManifestVersion)
	m := &blobManifest{hash: d.hash("hash")}
	size := d.u64("size")
	m.chunk = d.u32("chunk size")
	m.upload = d.u64("upload id")
	m.created = d.time("created")
	n := d.u32("chunk count")
	if d.err == nil {
		switch {
		case size > limitMaxObject:
			d.fail("size", "%d exceeds limit %d", size, int64(limitMaxObject))
		case m.chunk == 0 || m.chunk > maxRecord:
			d.fail("chunk size", "%d outside 1..%d", m.chunk, maxRecord)
		case uint64(n) != (size+uint64(m.chunk)-1)/uint64(m.chunk):
			d.fail("chunk count", "%d chunks cannot hold %d bytes of %d-byte chunks", n, size, m.chunk)
		}
	}
	m.size = int64(size)
	cnt := d.count("chunk count", uint64(n), limitMaxObject/chunkSize+1, 4)
	m.chunks = make([]uint32, cnt)
	for i := range m.chunks {
		m.chunks[i] = d.u32("chunk crc")
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// chunkLen is the length of chunk i.
func (m *blobManifest) chunkLen(i int) int {
	if i == len(m.chunks)-1 {
		return int(m.size - int64(i)*int64(m.chunk))
	}
	return int(m.chunk)
}

// PutBlob stores the bytes of r and returns their SHA-256. size is the exact length, or
// negative if unknown (r is then read to EOF); with a known size exactly size bytes are read
// and a shorter input is an error. r is streamed in 512 KiB chunks; nothing is
// visible until every chunk and the manifest are committed. Storing an existing blob again
// is cheap to commit and returns the same hash.
func (s *Store) PutBlob(ctx context.Context, r io.Reader, size int64) (Hash, error) {
	return s.putBlob(ctx, r, size, nil)
}

// PutBlobExpect is PutBlob for content fetched by hash: if the bytes do not hash to want,
// nothing is committed and the error wraps ErrCorrupt.
func (s *Store) PutBlobExpect(ctx context.Context, want Hash, r io.Reader, size int64) error {
	_, err := s.putBlob(ctx, r, size, &want)
	return err
}

// PutBlobBytes stores b and returns its SHA-256.
func (s *Store) PutBlobBytes(ctx context.Context, b []byte) (Hash, error) {
	return s.putBlob(ctx, bytes.NewReader(b), int64(len(b)), nil)
}

func (s *Store) putBlob(ctx context.Context, r io.Reader, size int64, want *Hash) (Hash, error) {
	if size > s.cfg.maxBlobSize {
		return Hash{}, fmt.Errorf("put blob: %w: %d bytes exceeds the %d-byte blob cap", ErrTooLarge, size, s.cfg.maxBlobSize)
	}
	id := s.newID()
	defer s.doneID(id)
	m := &blobManifest{chunk: chunkSize, upload: id, created: time.Now().UTC()}
	full := sha256.New()
	w := s.newChunkWriter("blob", s.cfg.maxBlobSize)
	n, err := w.write(ctx, r, size,
		func(i uint32) []byte { return blobChunkKey(id, i) },
		func(p []byte) {
			full.Write(p)
			m.chunks = append(m.chunks, crc32.Checksum(p, castagnoli))
		})
	if err == nil {
		err = w.flush()
	}
	if err == nil {
		m.size = n
		copy(m.hash[:], full.Sum(nil))
		if want != nil && m.hash != *want {
			err = fmt.Errorf("%w: content hashes to %s, want %s", ErrCorrupt, m.hash, *want)
		}
	}
	if err == nil {
		var dup bool
		dup, err = s.commitBlobManifest(m)
		if err == nil && !dup {
			return m.hash, nil
		}
	}
	// Failed or duplicate: the staged chunks are unreferenced; drop them now (GC would too).
	if _, derr := s.deletePrefix(context.Background(), blobDataPrefix(id)); derr != nil {
		s.log.Warn("drop staged blob chunks", "upload", id, "err", derr)
	}
	if err != nil {
		return Hash{}, fmt.Errorf("put blob: %w", err)
	}
	return m.hash, nil
}

// commitBlobManifest makes the blob visible; dup reports it already existed.
func (s *Store) commitBlobManifest(m *blobManifest) (dup bool, err error) {
	if err := s.checkSpace("blob manifest", int64(len(blobManifestKey(m.hash))+len(m.encode()))); err != nil {
		return false, err
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	err = s.do(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error {
			k := blobManifestKey(m.hash)
			if _, err := txn.Get(k); err == nil {
				dup = true
				return nil
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			return txn.Set(k, m.encode())
		})
	})
	if err != nil {
		return false, fmt.Errorf("commit manifest of %s: %w", m.hash, err)
	}
	return dup, nil
}

// HasBlob reports whether a blob with hash h is committed (without verifying its bytes).
func (s *Store) HasBlob(ctx context.Context, h Hash) (bool, error) {
	if err := ctxErr(ctx, "has blob"); err != nil {
		return false, err
	}
	var ok bool
	err := s.view(func(txn *badger.Txn) error {
		_, err := txn.Get(blobManifestKey(h))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		ok = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("has blob %s: %w", h, err)
	}
	return ok, nil
}

// DeleteBlob removes a blob. Readers already open on it fail with ErrNotFound.
func (s *Store) DeleteBlob(ctx context.Context, h Hash) error {
	if err := ctxErr(ctx, "delete blob"); err != nil {
		return err
	}
	var upload uint64
	s.commitMu.Lock()
	err := s.do(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error {
			raw, err := getValue(txn, blobManifestKey(h))
			if err != nil {
				return err
			}
			// A corrupt manifest is still deleted; its chunks become orphans for GC.
			if m, err := decodeBlobManifest(raw); err == nil {
				upload = m.upload
			}
			return txn.Delete(blobManifestKey(h))
		})
	})
	s.commitMu.Unlock()
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", h, err)
	}
	if upload != 0 {
		if _, err := s.deletePrefix(ctx, blobDataPrefix(upload)); err != nil {
			s.log.Warn("delete blob chunks; GC will retry", "blob", h, "err", err)
		}
	}
	return nil
}

// ListBlobs returns every committed blob, ordered by hash. Blobs whose manifest is corrupt
// are logged and skipped.
func (s *Store) ListBlobs(ctx context.Context) ([]BlobInfo, error) {
	var out []BlobInfo
	err := s.scanBlobManifests(ctx, func(key []byte, m *blobManifest, err error) {
		if err != nil {
			s.log.Warn("skip corrupt blob manifest", "key", keyString(key), "err", err)
			return
		}
		out = append(out, BlobInfo{Hash: m.hash, Size: m.size, Created: m.created})
	})
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	return out, nil
}

// scanBlobManifests calls fn for every blob manifest record in key order with the decoded manifest, or
// with why it is unreadable (a manifest stored under another blob's key counts as corrupt).
func (s *Store) scanBlobManifests(ctx context.Context, fn func(key []byte, m *blobManifest, err error)) error {
	return s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixBlobManifest), PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			raw, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			key := it.Item().Key()
			m, err := decodeBlobManifest(raw)
			if err == nil && string(blobManifestKey(m.hash)) != string(key) {
				err = fmt.Errorf("%w: blob manifest names %s, stored under another key", ErrCorrupt, m.hash)
			}
			fn(key, m, err)
		}
		return nil
	})
}
