package node

import (
	"context"
	"errors"
	"time"

	"github.com/mlecs/mlecs/storage"
)

// Every round leaves blobs behind (updates, globals). Old ones that no retained checkpoint names and
// that the current round does not use are deleted, so a long-running node does not grow without bound.

const pruneEvery = time.Minute

// gcEvery rate-limits storage GC (orphan chunk data of interrupted writes, then Badger's value-log
// GC): it scans every chunk key, so it runs after a prune pass at most this often.
const gcEvery = 10 * time.Minute

// blobRetention is how old an unreferenced blob must be before it is deleted: far longer than a round
// unless the config sets it (blob_retention).
func (n *Node) blobRetention() time.Duration {
	if r := n.cfg.BlobRetention.D(); r > 0 {
		return r
	}
	return max(5*time.Minute, 10*n.cfg.RoundDeadline.D())
}

// maybePrune starts a prune pass on a worker when one is due; called from the loop.
func (n *Node) maybePrune(now time.Time) {
	if now.Sub(n.pruned) < pruneEvery {
		return
	}
	n.pruned = now
	keep := map[string]bool{n.rs.Global: true, n.lastUpdate: true}
	for _, u := range n.rs.Updates {
		keep[u.Hash] = true
	}
	cutoff := now.Add(-n.blobRetention())
	gc := now.Sub(n.gcAt) >= gcEvery
	if gc {
		n.gcAt = now
	}
	n.goWork(func() {
		deleted, err := n.pruneBlobs(n.ctx, keep, cutoff)
		if err != nil && n.ctx.Err() == nil {
			n.log.Warn("blob prune", "err", err)
		}
		if deleted > 0 {
			n.log.Debug("blobs pruned", "deleted", deleted)
		}
		if gc {
			st, err := n.store.GC(n.ctx)
			if err != nil && n.ctx.Err() == nil {
				n.log.Warn("storage gc", "err", err)
			}
			n.log.Debug("storage gc", "orphan_uploads", st.OrphanBlobUploads, "orphan_saves", st.OrphanCheckpointSaves,
				"keys", st.KeysDeleted, "value_log_rewrites", st.ValueLogRewrites)
		}
	})
}

func (n *Node) pruneBlobs(ctx context.Context, keep map[string]bool, cutoff time.Time) (int, error) {
	cps, err := n.store.ListCheckpoints(ctx, ckptKind)
	if err != nil {
		return 0, err
	}
	for _, cp := range cps {
		keep[cp.Meta[ckptMetaBlob]] = true
	}
	blobs, err := n.store.ListBlobs(ctx)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, b := range blobs {
		if keep[b.Hash.String()] || b.Created.After(cutoff) {
			continue
		}
		if err := n.store.DeleteBlob(ctx, b.Hash); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}
