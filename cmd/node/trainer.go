package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/node/fedtrainer"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/payload"
)

// trainerFor builds the ML-ECS trainer of cfg's role from its dataset and base. The returned func
// releases the compute pool once the node has stopped.
func trainerFor(ctx context.Context, cfg node.Config, log *slog.Logger) (node.Trainer, func(), error) {
	id, err := peerID(cfg)
	if err != nil {
		return nil, nil, err
	}
	codec, err := payload.ParseCodec(cfg.Codec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: codec: %w", node.ErrConfig, err)
	}
	pool := nn.NewPool(cfg.Threads)
	log = log.With("component", "trainer")
	b, err := fedtrainer.NewBuilder(fedtrainer.Spec{Dataset: cfg.Dataset, Base: cfg.Base, Preset: cfg.Preset, Method: cfg.Method,
		Modalities: cfg.Modalities, ID: id.String(), RunID: cfg.RunID, Steps: cfg.Steps, PublicSteps: cfg.PublicSteps,
		AnchorSteps: cfg.AnchorSteps, Predictions: 0, Batch: cfg.Batch, LR: cfg.LR, PublicFraction: cfg.PublicFraction,
		Seed: cfg.Seed, WordHead: cfg.WordHead, WorkDir: filepath.Join(cfg.DataDir, "model"), Pool: pool, Log: log})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	hooks := fedtrainer.Hooks{
		Edge: func(_ context.Context, r fedtrainer.EdgeReport) error {
			log.Info("edge round trained", "round", r.Round, "loss", r.Update.Metrics["loss"],
				"public_loss", r.Update.Metrics["public_loss"], "down_bytes", r.Down.Bytes, "up_bytes", r.Up.Bytes,
				"peak_rss_mb", node.PeakRSS()>>20)
			return nil
		},
		Anchor: func(_ context.Context, r fedtrainer.AnchorReport) error {
			log.Info("anchor round aggregated", "round", r.Round, "updates", len(r.Updates), "rejected", r.Rejected,
				"next_bytes", r.Next.Bytes, "peak_rss_mb", node.PeakRSS()>>20)
			return nil
		},
	}
	t, err := fedtrainer.ForRole(ctx, string(cfg.Role), b, hooks, fedtrainer.WithCodec(codec),
		fedtrainer.WithRunID(cfg.RunID), fedtrainer.WithComputeLock(&sync.Mutex{}))
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("trainer (%s, dataset %s): %w", cfg.Role, cfg.Dataset, err)
	}
	log.Info("trainer ready", "role", cfg.Role, "method", cfg.Method, "preset", cfg.Preset, "peak_rss_mb", node.PeakRSS()>>20)
	return t, pool.Close, nil
}

// peerID is the node's peer id (the edge id in its updates), from its key file; a missing default key
// is created here, as the node would.
func peerID(cfg node.Config) (peer.ID, error) {
	path := cfg.KeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "node.key")
	}
	k, err := node.LoadKey(path)
	if err == nil {
		return peer.IDFromPrivateKey(k)
	}
	if !errors.Is(err, fs.ErrNotExist) || cfg.KeyFile != "" {
		return "", err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	return node.GenerateKey(path)
}
