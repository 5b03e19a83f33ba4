package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// CheckpointCheck is the verification of one stored checkpoint: its description (from the manifest,
// when readable) and Err, nil when the manifest and every tensor verified.
type CheckpointCheck struct {
	CheckpointInfo
	Err error
}

// BlobCheck is one blob that failed verification. Hash is zero when the manifest itself is unreadable;
// Key then names the damaged record.
type BlobCheck struct {
	Key  string
	Hash Hash
	Err  error
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Checkpoints []CheckpointCheck // every checkpoint, ordered by kind, then oldest to newest
	Blobs       int               // blobs that verified
	BlobBytes   int64             // their total size
	BadBlobs    []BlobCheck
}

// Damaged counts the checkpoints and blobs that failed.
func (r VerifyReport) Damaged() int {
	n := len(r.BadBlobs)
	for _, c := range r.Checkpoints {
		if c.Err != nil {
			n++
		}
	}
	return n
}

// Newest returns the newest checkpoint of kind that verified: the one LatestCheckpoint returns.
func (r VerifyReport) Newest(kind string) (CheckpointCheck, bool) {
	for i := len(r.Checkpoints) - 1; i >= 0; i-- {
		if c := r.Checkpoints[i]; c.Kind == kind && c.Err == nil {
			return c, true
		}
	}
	return CheckpointCheck{}, false
}

// Verify reads back every checkpoint (manifest checksum, each tensor's SHA-256 and decoding) and, when
// blobs is true, every blob (manifest checksum, each chunk's CRC-32C and the whole blob's SHA-256).
// Damage is reported in the result, not as an error; an error means the check itself could not run.
// It reads everything once, so it takes as long as reading the store.
func (s *Store) Verify(ctx context.Context, blobs bool) (VerifyReport, error) {
	var rep VerifyReport
	infos, err := s.ListCheckpoints(ctx, "")
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	for _, info := range infos {
		c := CheckpointCheck{CheckpointInfo: info}
		if info.Problem != "" {
			c.Err = fmt.Errorf("%w: manifest: %s", ErrCorrupt, info.Problem)
		} else {
			_, err := s.loadCheckpoint(ctx, ckptID{kind: info.Kind, term: info.Term, round: info.Round})
			switch {
			case errors.Is(err, ErrNotFound):
				continue // pruned or replaced since listed
			case errors.Is(err, ErrCorrupt):
				c.Err = err
			case err != nil:
				return rep, fmt.Errorf("verify checkpoint %s/term=%d/round=%d: %w", info.Kind, info.Term, info.Round, err)
			}
		}
		rep.Checkpoints = append(rep.Checkpoints, c)
	}
	if !blobs {
		return rep, nil
	}
	hashes, bad, err := s.blobManifests(ctx)
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	rep.BadBlobs = bad
	for _, h := range hashes {
		n, err := s.verifyBlob(ctx, h)
		switch {
		case errors.Is(err, ErrNotFound):
		case errors.Is(err, ErrCorrupt):
			rep.BadBlobs = append(rep.BadBlobs, BlobCheck{Key: keyString(blobManifestKey(h)), Hash: h, Err: err})
		case err != nil:
			return rep, fmt.Errorf("verify blob %s: %w", h, err)
		default:
			rep.Blobs++
			rep.BlobBytes += n
		}
	}
	return rep, nil
}

// blobManifests lists the hashes of readable blob manifests and the records of unreadable ones
// (which ListBlobs skips).
func (s *Store) blobManifests(ctx context.Context) ([]Hash, []BlobCheck, error) {
	var hashes []Hash
	var bad []BlobCheck
	err := s.scanBlobManifests(ctx, func(key []byte, m *blobManifest, err error) {
		if err != nil {
			bad = append(bad, BlobCheck{Key: keyString(key), Err: err})
			return
		}
		hashes = append(hashes, m.hash)
	})
	return hashes, bad, err
}

// verifyBlob reads blob h through a BlobReader, which checks every chunk's CRC and, at the end, the
// SHA-256 of the whole; it returns the blob's size.
func (s *Store) verifyBlob(ctx context.Context, h Hash) (int64, error) {
	r, err := s.OpenBlob(ctx, h)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	buf := make([]byte, chunkSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := r.Read(buf)
		n += int64(k)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
