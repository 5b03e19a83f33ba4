package model

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
	"github.com/mlecs/mlecs/training/dataset/importer"
	"github.com/mlecs/mlecs/training/nn"
)

// loadingBatch is the batch of the single-node runs in docs/results-single-node.md.
const loadingBatch = 32

// BenchmarkLoadingShareHAR compares, on the train split of two real HAR subjects (phone + watch), the
// time to featurise it from disk (both subjects are train subjects by default) with the time of one training epoch of the tiny preset.
func BenchmarkLoadingShareHAR(b *testing.B) {
	ds := subset.HAR(b, filepath.Join(b.TempDir(), "har"), importer.HARSubjects("s01", "s02"))
	benchLoadingShare(b, ds)
}

// BenchmarkLoadingShareEmoji does the same on 256 train emoji (Twemoji, Noto, keywords), taken at an even
// stride over the train split so that every group is represented.
func BenchmarkLoadingShareEmoji(b *testing.B) {
	ds := subset.Emoji(b, filepath.Join(b.TempDir(), "emoji"))
	train := ds.Split(dataset.SplitTrain)
	const n = 256
	if len(train) < n {
		b.Fatalf("emoji train split has %d samples, want at least %d", len(train), n)
	}
	picked := make([]dataset.Sample, n)
	for i := range picked {
		picked[i] = train[i*len(train)/n]
	}
	sub := *ds
	sub.Samples = picked
	benchLoadingShare(b, &sub)
}

// benchLoadingShare measures per iteration, on ds's train split:
//   - featurise: Session.Examples, i.e. read every input from disk, decode, normalise and tokenise: the
//     one-off cost before Train, and what every epoch would cost if the loop did not keep the examples;
//   - cache build: dataset.BuildCache alone (the featurisation part of the above), with the default
//     workers and with one (load-share-1worker: featurising on one core while training uses both);
//   - cached read: one pass over every tensor and text of that cache, what an epoch costs when it
//     re-reads the cache instead of featurising;
//   - epoch: one Train epoch (batch 32) over the same examples; the optimiser steps only, taken from the
//     Progress callback, so the per-epoch checkpoint write (fixed, amortised over a bigger split) does not
//     inflate the denominator.
//
// load-share = featurise / epoch and cached-load-share = cached read / epoch; the target of issue 3 is
// load-share < 0.1.
func benchLoadingShare(b *testing.B, ds *dataset.Dataset) {
	ctx := context.Background()
	pool := nn.NewPool(2)
	defer pool.Close()
	dir := b.TempDir()
	bpe := filepath.Join(datatest.SharedData(b), "gpt2-bpe")
	// The base's weights do not change the cost of a step: one pretraining step is enough for a base.
	if _, err := Pretrain(ctx, ds, filepath.Join(dir, "base"), PretrainOptions{Preset: "tiny", Steps: 1, Batch: 8, LR: 1e-3,
		Seed: 1, BPEDir: bpe, Pool: pool}); err != nil {
		b.Fatal(err)
	}
	sess, err := Setup(ctx, ds, filepath.Join(dir, "m"), SetupOptions{Preset: "tiny", Base: filepath.Join(dir, "base"),
		CCL: true, CCLWeight: 0.1, CCLTau: 0.1, MaxBatch: loadingBatch, Seed: 1, Features: dataset.DefaultConfig(), Pool: pool})
	if err != nil {
		b.Fatal(err)
	}
	f, err := sess.Featurizer(ds)
	if err != nil {
		b.Fatal(err)
	}
	samples := ds.Split(dataset.SplitTrain)

	var feat, build, build1, read, epoch, ckpt time.Duration
	var n int
	var sink float32
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		train, err := sess.Examples(ctx, ds, dataset.SplitTrain)
		if err != nil {
			b.Fatal(err)
		}
		feat += time.Since(t0)
		n = len(train)

		t0 = time.Now()
		c, err := dataset.BuildCache(ctx, f, samples, 0)
		if err != nil {
			b.Fatal(err)
		}
		build += time.Since(t0)

		t0 = time.Now()
		if _, err := dataset.BuildCache(ctx, f, samples, 1); err != nil {
			b.Fatal(err)
		}
		build1 += time.Since(t0)

		t0 = time.Now()
		sink += readCache(c, ds)
		read += time.Since(t0)

		var lastStep time.Time
		t0 = time.Now()
		if _, err := Train(ctx, sess.Model, train, filepath.Join(dir, "m"), TrainOptions{Epochs: 1, Batch: loadingBatch,
			LR: 3e-3, WeightDecay: 0.01, Clip: 1, Seed: 1, Progress: func(Progress) { lastStep = time.Now() }}); err != nil {
			b.Fatal(err)
		}
		epoch += lastStep.Sub(t0)
		ckpt += time.Since(lastStep)
	}
	b.StopTimer()
	if sink != sink { // NaN: keeps the cached reads from being optimised away
		b.Fatal("cached features hold NaN")
	}
	iters := float64(b.N)
	samplesPerSec := func(d time.Duration) float64 { return iters * float64(n) / d.Seconds() }
	b.ReportMetric(float64(n), "train-samples")
	b.ReportMetric(feat.Seconds()/epoch.Seconds(), "load-share")
	b.ReportMetric(build1.Seconds()/epoch.Seconds(), "load-share-1worker")
	b.ReportMetric(read.Seconds()/epoch.Seconds(), "cached-load-share")
	b.ReportMetric(samplesPerSec(feat), "featurise-samples/s")
	b.ReportMetric(samplesPerSec(build), "cache-build-samples/s")
	b.ReportMetric(samplesPerSec(build1), "cache-build-1worker-samples/s")
	b.ReportMetric(samplesPerSec(read), "cached-read-samples/s")
	b.ReportMetric(samplesPerSec(epoch), "train-samples/s")
	b.ReportMetric(epoch.Seconds()/iters, "epoch-s")
	b.ReportMetric(ckpt.Seconds()/iters, "checkpoint-s")
	b.Logf("%d train samples: featurise %v, cache build %v (1 worker %v), cached read %v, epoch steps %v, checkpoint %v (totals over %d iterations)",
		n, feat, build, build1, read, epoch, ckpt, b.N)
}

// readCache touches every tensor and text of the cache once, as an epoch reading it would.
func readCache(c *dataset.Cache, ds *dataset.Dataset) float32 {
	var sum float32
	names := ds.ModalityNames()
	for i := range c.Len() {
		for _, name := range names {
			if x, ok := c.Tensor(i, name); ok {
				for _, v := range x {
					sum += v
				}
			}
			if t, ok := c.Text(i, name); ok {
				sum += float32(len(t))
			}
		}
	}
	return sum
}
