package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mlecs/mlecs/mesh"
	"github.com/mlecs/mlecs/mesh/wire"
	"github.com/mlecs/mlecs/storage"
)

// meshHost is what the node uses of *mesh.Host.
type meshHost interface {
	ID() peer.ID
	Addrs() []ma.Multiaddr
	Subscribe(k wire.Kind) (<-chan mesh.Message, func(), error)
	Publish(ctx context.Context, env *wire.Envelope) error
	Peers() []mesh.PeerInfo
	Fetch(ctx context.Context, from peer.ID, h mesh.Hash, maxSize int64, sink mesh.Sink) (int64, error)
	// Penalize lowers a peer's score (application-specific term), logged and counted by reason.
	Penalize(id peer.ID, reason string)
	Close() error
}

// nodeStore is what the node uses of *storage.Store.
type nodeStore interface {
	PutBlobBytes(ctx context.Context, b []byte) (storage.Hash, error)
	ReadBlob(ctx context.Context, h storage.Hash) ([]byte, error)
	HasBlob(ctx context.Context, h storage.Hash) (bool, error)
	OpenBlob(ctx context.Context, h storage.Hash) (*storage.BlobReader, error)
	PutBlobExpect(ctx context.Context, want storage.Hash, r io.Reader, size int64) error
	PutState(ctx context.Context, key string, value []byte) error
	GetState(ctx context.Context, key string) ([]byte, error)
	SaveCheckpoint(ctx context.Context, cp *storage.Checkpoint) error
	LatestCheckpoint(ctx context.Context, kind string) (*storage.Checkpoint, error)
	LoadCheckpoint(ctx context.Context, kind string, term, round uint64) (*storage.Checkpoint, error)
	Prune(ctx context.Context, kind string, keep int) (int, error)
	DeleteCheckpoint(ctx context.Context, kind string, term, round uint64) error
	AppendMetric(ctx context.Context, m storage.MetricPoint) error
	PutPeer(ctx context.Context, p storage.PeerRecord) error
	ListBlobs(ctx context.Context) ([]storage.BlobInfo, error)
	DeleteBlob(ctx context.Context, h storage.Hash) error
	ListCheckpoints(ctx context.Context, kind string) ([]storage.CheckpointInfo, error)
	GC(ctx context.Context) (storage.GCStats, error)
	Close() error
}

// newMeshHost starts the libp2p side with the node as its policy and blob source.
// known are peers from the peer book, dialled like bootstrap peers so a restart can rejoin through them.
func newMeshHost(ctx context.Context, cfg Config, key crypto.PrivKey, known []peer.AddrInfo, log *slog.Logger, n *Node) (*mesh.Host, error) {
	opts := []mesh.Option{
		mesh.WithIdentity(key),
		mesh.WithListenAddrs(cfg.ListenAddrs...),
		mesh.WithBootstrap(cfg.Bootstrap...),
		mesh.WithRunID(cfg.RunID),
		mesh.WithLogger(log),
		mesh.WithPolicy(n),
		mesh.WithBlobSource(blobSource{n}),
		mesh.WithBootstrapPeers(known...),
		// Ping every heartbeat (at least 500 ms apart): latencies show soon after start, and a peer that
		// stops answering is disconnected after two missed 2 s pings, so `mlecs peers` is right within ~5 s.
		mesh.WithIntervals(10*time.Second, max(cfg.Heartbeat.D(), 500*time.Millisecond), time.Second),
		mesh.WithLiveness(2*time.Second, 2),
	}
	if cfg.PSKFile != "" {
		psk, err := LoadPSK(cfg.PSKFile)
		if err != nil {
			return nil, fmt.Errorf("%w: psk_file: %w", ErrConfig, err)
		}
		opts = append(opts, mesh.WithPSK(psk))
	} else {
		log.Warn("no psk_file: joining an open network; any peer that finds this one can connect")
		opts = append(opts, mesh.WithoutPSK())
	}
	if len(cfg.Allowlist) > 0 {
		ids := make([]peer.ID, 0, len(cfg.Allowlist))
		for _, s := range cfg.Allowlist {
			id, err := peer.Decode(s)
			if err != nil {
				return nil, fmt.Errorf("%w: allowlist: %q: %w", ErrConfig, s, err)
			}
			ids = append(ids, id)
		}
		opts = append(opts, mesh.WithAllowlist(ids...))
	}
	h, err := mesh.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("start mesh: %w", err)
	}
	return h, nil
}

// Check is the node's mesh.Policy: fencing by term and sender rights, on top of the mesh's own checks.
// It runs on pubsub goroutines and reads only atomics.
func (n *Node) Check(from peer.ID, env *wire.Envelope) mesh.Verdict {
	body, err := DecodeBody(env.Kind, env.Body)
	if err != nil {
		n.m.refused.WithLabelValues(env.Kind.String(), "malformed").Inc()
		return mesh.Reject
	}
	fence := n.fence.Load()
	stale := env.Term < fence
	switch env.Kind {
	case wire.KindHeartbeat, wire.KindUpdate:
		// Liveness and updates from a node that has not yet heard the new term: drop without penalty.
		if stale {
			n.m.refused.WithLabelValues(env.Kind.String(), "stale-term").Inc()
			return mesh.Ignore
		}
	case wire.KindAnchor:
		if stale {
			n.m.refused.WithLabelValues(env.Kind.String(), "fenced").Inc()
			return mesh.Reject
		}
		if body.Role == RoleEdge {
			return mesh.Reject
		}
	case wire.KindRound:
		if stale {
			n.m.refused.WithLabelValues(env.Kind.String(), "fenced").Inc()
			return mesh.Reject
		}
		if a := n.anchorPtr.Load(); env.Term == fence && a != nil && *a != "" && *a != from.String() {
			n.m.refused.WithLabelValues(env.Kind.String(), "not-anchor").Inc()
			return mesh.Reject
		}
	}
	return mesh.Accept
}

// blobSource serves blobs from the node's store to peers.
type blobSource struct{ n *Node }

// OpenBlob implements mesh.BlobSource.
func (b blobSource) OpenBlob(ctx context.Context, h mesh.Hash) (io.ReadSeekCloser, int64, error) {
	if b.n.store == nil {
		return nil, 0, fmt.Errorf("blob %x: %w", h[:8], mesh.ErrBlobNotFound)
	}
	r, err := b.n.store.OpenBlob(ctx, storage.Hash(h))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, fmt.Errorf("blob %x: %w", h[:8], mesh.ErrBlobNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open blob %x: %w", h[:8], err)
	}
	return r, r.Size(), nil
}

// fetchLimit is the most bytes a fetch of a blob declared as `declared` bytes accepts: the declared
// size (a peer that sends more is refused on the blob header and penalised, blob-too-large), or
// MaxBlobBytes when the manifest declared none.
func fetchLimit(declared int64) int64 {
	if declared > 0 && declared <= MaxBlobBytes {
		return declared
	}
	return MaxBlobBytes
}

// fetchBlob pulls blob h (declared as `declared` bytes, 0 = unknown) from peer `from`, verified by the
// mesh against its hash, into the store.
func (n *Node) fetchBlob(ctx context.Context, from peer.ID, h storage.Hash, declared int64) (int64, error) {
	var sink mesh.MemorySink
	size, err := n.host.Fetch(ctx, from, mesh.Hash(h), fetchLimit(declared), &sink)
	if err != nil {
		return 0, err
	}
	b := sink.Bytes()
	if err := n.store.PutBlobExpect(ctx, h, bytes.NewReader(b), int64(len(b))); err != nil {
		return 0, fmt.Errorf("store fetched blob: %w", err)
	}
	return size, nil
}

// Blob checkpoints: kind "global", meta "blob" = the global model's blob hash.
const (
	ckptKind     = "global"
	ckptMetaBlob = "blob"
	ckptKeep     = 8
	stateTerm    = "term"
)

type checkpointRef struct {
	term, round uint64
	hash        storage.Hash
}

func (n *Node) saveCheckpoint(ctx context.Context, term, round uint64, h storage.Hash) error {
	cp := &storage.Checkpoint{Kind: ckptKind, Term: term, Round: round, Meta: map[string]string{ckptMetaBlob: h.String()}}
	if err := n.store.SaveCheckpoint(ctx, cp); err != nil {
		return fmt.Errorf("save checkpoint term %d round %d: %w", term, round, err)
	}
	if _, err := n.store.Prune(ctx, ckptKind, ckptKeep); err != nil {
		n.log.Warn("prune checkpoints", "err", err)
	}
	return nil
}

// latestCheckpoint returns the newest global checkpoint whose blob is present.
func (n *Node) latestCheckpoint(ctx context.Context) (checkpointRef, bool, error) {
	cp, err := n.store.LatestCheckpoint(ctx, ckptKind)
	if errors.Is(err, storage.ErrNotFound) {
		return checkpointRef{}, false, nil
	}
	if err != nil {
		return checkpointRef{}, false, fmt.Errorf("load checkpoint: %w", err)
	}
	h, err := storage.ParseHash(cp.Meta[ckptMetaBlob])
	if err != nil {
		return checkpointRef{}, false, fmt.Errorf("checkpoint term %d round %d: %w", cp.Term, cp.Round, err)
	}
	ok, err := n.store.HasBlob(ctx, h)
	if err != nil {
		return checkpointRef{}, false, fmt.Errorf("checkpoint blob: %w", err)
	}
	if !ok {
		n.log.Warn("newest checkpoint's blob is missing; starting from genesis", "round", cp.Round)
		return checkpointRef{}, false, nil
	}
	return checkpointRef{term: cp.Term, round: cp.Round, hash: h}, true, nil
}

// Learner checkpoints: a StatefulTrainer's state after a local round, at the round's (term, round), as
// files in DATA_DIR/learner (storage.FileCheckpoints) rather than in the Badger store, whose LSM tree
// kept the bytes of pruned learners for hundreds of rounds. A few are kept, so that one that is damaged
// or refused falls back to the one before.
const (
	LearnerKind = "learner"
	learnerKeep = 3
)

// LearnerDir is where a node with data dir dataDir keeps its learner checkpoint files.
func LearnerDir(dataDir string) string { return filepath.Join(dataDir, "learner") }

var errNoLearnerDir = errors.New("learner checkpoint directory not open (see the start log)")

// saveLearner checkpoints the learner state of a StatefulTrainer after the local round (term, round).
// A failure is logged, not returned: the round's update is good, and the older learner checkpoint
// stays intact, so a restart would only continue from an older learner.
func (n *Node) saveLearner(ctx context.Context, st StatefulTrainer, term, round uint64) {
	s, err := st.SaveState(ctx)
	if err == nil && n.learners == nil {
		err = errNoLearnerDir
	}
	if err == nil {
		err = n.learners.Save(ctx, &storage.Checkpoint{Kind: LearnerKind, Term: term, Round: round, Meta: s.Meta, Tensors: s.Tensors})
	}
	if err != nil {
		lvl := slog.LevelError
		if ctx.Err() != nil {
			lvl = slog.LevelWarn // superseded or stopping
		}
		n.log.Log(context.Background(), lvl, "learner state not saved; a restart resumes an older learner", "term", term, "round", round, "err", err)
		return
	}
	n.log.Info("learner state saved", "term", term, "round", round, "tensors", len(s.Tensors))
	if _, err := n.learners.Prune(ctx, learnerKeep); err != nil {
		n.log.Warn("prune learner checkpoints", "err", err)
	}
}

// restoreLearner opens the learner checkpoint files and hands the newest usable one to a
// StatefulTrainer. One storage finds damaged or the trainer refuses is logged and the next older one
// is tried; with none usable the learner stays as built (fresh). It never stops the node from starting.
func (n *Node) restoreLearner(ctx context.Context) {
	n.dropStoreLearners(ctx)
	st, ok := n.trainer.(StatefulTrainer)
	if !ok || n.cfg.LearnerCheckpointEvery == 0 {
		return
	}
	lc, err := storage.OpenFileCheckpoints(LearnerDir(n.cfg.DataDir), LearnerKind, storage.WithLogger(n.log))
	if err != nil {
		n.log.Error("learner checkpoints unavailable; the learner starts fresh and will not be saved", "err", err)
		return
	}
	n.learners = lc
	infos, err := lc.List(ctx)
	if err != nil {
		n.log.Error("learner checkpoints unreadable; the learner starts fresh", "err", err)
		return
	}
	for i := len(infos) - 1; i >= 0; i-- { // listed oldest first
		ci := infos[i]
		cp, err := lc.Load(ctx, ci.Term, ci.Round)
		if err == nil {
			err = st.RestoreState(ctx, TrainerState{Meta: cp.Meta, Tensors: cp.Tensors})
		}
		if err != nil {
			n.log.Warn("learner checkpoint unusable; trying an older one", "term", ci.Term, "round", ci.Round, "err", err)
			continue
		}
		n.log.Info("learner state restored", "term", ci.Term, "round", ci.Round, "file", ci.Path)
		return
	}
	if len(infos) > 0 {
		n.log.Error("no usable learner checkpoint; the learner starts fresh", "checkpoints", len(infos))
	}
}

// dropStoreLearners deletes the learner checkpoints an earlier version kept in the Badger store: they
// are no longer read, and only hold disk space. A failure is logged; the next start retries.
func (n *Node) dropStoreLearners(ctx context.Context) {
	infos, err := n.store.ListCheckpoints(ctx, LearnerKind)
	if err != nil || len(infos) == 0 {
		if err != nil {
			n.log.Warn("list old learner checkpoints in the store", "err", err)
		}
		return
	}
	for _, ci := range infos {
		if err := n.store.DeleteCheckpoint(ctx, LearnerKind, ci.Term, ci.Round); err != nil && !errors.Is(err, storage.ErrNotFound) {
			n.log.Warn("delete old learner checkpoint in the store", "term", ci.Term, "round", ci.Round, "err", err)
			return
		}
	}
	n.log.Info("deleted the learner checkpoints an earlier version kept in the store; learner state is kept in files now",
		"deleted", len(infos), "dir", LearnerDir(n.cfg.DataDir))
}

func (n *Node) saveTerm(ctx context.Context, term uint64) error {
	return n.store.PutState(ctx, stateTerm, binary.BigEndian.AppendUint64(nil, term))
}

func (n *Node) loadTerm(ctx context.Context) (uint64, error) {
	b, err := n.store.GetState(ctx, stateTerm)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load term: %w", err)
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("load term: %w: %d bytes", storage.ErrCorrupt, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func (n *Node) recordMetric(name string, round uint64, v float64) {
	if err := n.store.AppendMetric(n.ctx, storage.MetricPoint{Name: name, Round: round, Value: v}); err != nil {
		n.log.Debug("metric not recorded", "name", name, "err", err)
	}
}

// addrStrings renders multiaddrs.
func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}
