package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/dgraph-io/badger/v4"
)

// BlobReader reads one committed blob. It implements io.ReadSeeker and io.ReaderAt, so a
// transfer can resume from any offset. Every chunk is checked against its CRC-32C in the
// manifest before its bytes are returned; a read that covers the whole blob from offset 0
// also checks the blob's hash and returns ErrCorrupt instead of io.EOF on mismatch.
// Read and Seek are not safe for concurrent use; ReadAt is.
type BlobReader struct {
	s   *Store
	m   *blobManifest
	off int64

	cur int    // index of the chunk in buf, -1 if none
	buf []byte // verified bytes of chunk cur

	full   hash.Hash // running hash of bytes [0, hashed)
	hashed int64
	closed bool
}

// OpenBlob opens the blob with hash h. ErrNotFound if it is not committed.
func (s *Store) OpenBlob(ctx context.Context, h Hash) (*BlobReader, error) {
	if err := ctxErr(ctx, "open blob"); err != nil {
		return nil, err
	}
	var m *blobManifest
	err := s.view(func(txn *badger.Txn) error {
		raw, err := getValue(txn, blobManifestKey(h))
		if err != nil {
			return err
		}
		m, err = decodeBlobManifest(raw)
		if err == nil && m.hash != h {
			err = fmt.Errorf("%w: manifest stored under %s names %s", ErrCorrupt, h, m.hash)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", h, err)
	}
	return &BlobReader{s: s, m: m, cur: -1, full: sha256.New()}, nil
}

// Size returns the blob's length in bytes.
func (r *BlobReader) Size() int64 { return r.m.size }

// Hash returns the blob's SHA-256.
func (r *BlobReader) Hash() Hash { return r.m.hash }

// Close releases the reader; later reads fail.
func (r *BlobReader) Close() error {
	r.closed = true
	r.buf = nil
	return nil
}

// Seek implements io.Seeker.
func (r *BlobReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.m.size + offset
	default:
		return r.off, fmt.Errorf("%w: seek blob %s: whence %d", ErrInvalid, r.m.hash, whence)
	}
	if abs < 0 {
		return r.off, fmt.Errorf("%w: seek blob %s: negative offset %d", ErrInvalid, r.m.hash, abs)
	}
	r.off = abs
	return abs, nil
}

// Read implements io.Reader.
func (r *BlobReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("read blob %s: reader closed", r.m.hash)
	}
	if r.off >= r.m.size {
		if err := r.checkFull(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	i := int(r.off / int64(r.m.chunk))
	if i != r.cur {
		b, err := r.s.readBlobChunk(r.m, i, r.buf[:0])
		if err != nil {
			r.cur = -1
			return 0, err
		}
		r.buf, r.cur = b, i
	}
	n := copy(p, r.buf[r.off-int64(i)*int64(r.m.chunk):])
	r.track(p[:n])
	r.off += int64(n)
	return n, nil
}

// track feeds the running whole-blob hash with bytes just returned at r.off, when they
// continue (or overlap) the hashed prefix. A forward seek past it ends whole-blob checking
// for this reader; per-chunk checks still apply.
func (r *BlobReader) track(p []byte) {
	end := r.off + int64(len(p))
	if r.off <= r.hashed && end > r.hashed {
		r.full.Write(p[r.hashed-r.off:])
		r.hashed = end
	}
}

func (r *BlobReader) checkFull() error {
	if r.hashed != r.m.size || r.full == nil {
		return nil
	}
	var got Hash
	copy(got[:], r.full.Sum(nil))
	r.full = nil // checked once
	if got != r.m.hash {
		return fmt.Errorf("read blob %s: %w: content hashes to %s", r.m.hash, ErrCorrupt, got)
	}
	return nil
}

// ReadAt implements io.ReaderAt. It is safe for concurrent use.
func (r *BlobReader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("read blob %s: reader closed", r.m.hash)
	}
	if off < 0 {
		return 0, fmt.Errorf("%w: read blob %s at negative offset %d", ErrInvalid, r.m.hash, off)
	}
	n := 0
	var buf []byte
	for n < len(p) {
		if off >= r.m.size {
			return n, io.EOF
		}
		i := int(off / int64(r.m.chunk))
		b, err := r.s.readBlobChunk(r.m, i, buf[:0])
		if err != nil {
			return n, err
		}
		buf = b
		c := copy(p[n:], b[off-int64(i)*int64(r.m.chunk):])
		n += c
		off += int64(c)
	}
	return n, nil
}

// readBlobChunk loads chunk i into dst and verifies its length and hash.
func (s *Store) readBlobChunk(m *blobManifest, i int, dst []byte) ([]byte, error) {
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(blobChunkKey(m.upload, uint32(i)))
		if err != nil {
			return err
		}
		dst, err = item.ValueCopy(dst)
		return err
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, fmt.Errorf("read blob %s chunk %d: %w (deleted while reading, or lost)", m.hash, i, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("read blob %s chunk %d: %w", m.hash, i, err)
	case len(dst) != m.chunkLen(i):
		return nil, fmt.Errorf("read blob %s chunk %d: %w: %d bytes, want %d", m.hash, i, ErrCorrupt, len(dst), m.chunkLen(i))
	case crc32.Checksum(dst, castagnoli) != m.chunks[i]:
		return nil, fmt.Errorf("read blob %s chunk %d: %w: chunk checksum mismatch", m.hash, i, ErrCorrupt)
	}
	return dst, nil
}

// ReadBlob returns a whole blob, verified. For large blobs prefer OpenBlob.
func (s *Store) ReadBlob(ctx context.Context, h Hash) ([]byte, error) {
	r, err := s.OpenBlob(ctx, h)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([]byte, 0, min(r.Size(), 64<<20))
	for {
		if err := ctxErr(ctx, "read blob"); err != nil {
			return nil, err
		}
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

var (
	_ io.ReadSeeker = (*BlobReader)(nil)
	_ io.ReaderAt   = (*BlobReader)(nil)
)
