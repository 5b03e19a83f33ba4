package storage

import (
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Limits of the stored formats. They bound what a decoder will accept, so they are part of
// the on-disk format: raising them is safe, lowering them may reject existing data.
const (
	// chunkSize is the size of every blob and tensor chunk value but the last. Values are
	// stored inline in the LSM tree (badgerOptions says why), which takes values below
	// 1 MiB, and a transaction of an 8 MiB memtable carries two chunks.
	chunkSize = 512 << 10
	// maxRecord bounds manifests and small records: strictly below Badger's 1 MiB value
	// threshold, the largest value in-memory mode can hold.
	maxRecord = 1<<20 - 1
	// batchBytes is how much chunk data one write transaction carries before committing:
	// a few chunks per fsync, without buffering a whole multi-GB object.
	batchBytes = 4 << 20

	defaultMaxBlobSize       = 4 << 30
	defaultMaxCheckpointSize = 4 << 30
	// limitMaxObject caps the two options above: a blob manifest (4 bytes per chunk) must
	// stay under maxRecord (8 GiB -> 64 KiB), and so must counts derived from it.
	limitMaxObject = 8 << 30
)

// Option configures Open. Options validate their argument and Open reports the first error.
type Option func(*config) error

type config struct {
	logger            *slog.Logger
	inMemory          bool
	maxBlobSize       int64
	maxCheckpointSize int64
	minFree           int64
}

func defaultConfig() config {
	return config{
		logger:            slog.Default(),
		maxBlobSize:       defaultMaxBlobSize,
		maxCheckpointSize: defaultMaxCheckpointSize,
		minFree:           defaultMinFree,
	}
}

// newConfig applies opts over the defaults and reports the first invalid one.
func newConfig(opts []Option) (config, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return config{}, fmt.Errorf("%w: nil Option", ErrInvalid)
		}
		if err := o(&cfg); err != nil {
			return config{}, err
		}
	}
	return cfg, nil
}

// WithLogger sets the logger for the store and for Badger's warnings and errors.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger: nil logger", ErrInvalid)
		}
		c.logger = l
		return nil
	}
}

// WithInMemory keeps everything in RAM (tests). Open's dir must then be "".
func WithInMemory() Option {
	return func(c *config) error {
		c.inMemory = true
		return nil
	}
}

// WithMaxBlobSize caps the size of one blob (default 4 GiB, at most 8 GiB).
func WithMaxBlobSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 || n > limitMaxObject {
			return fmt.Errorf("%w: WithMaxBlobSize(%d): want 1..%d bytes", ErrInvalid, n, int64(limitMaxObject))
		}
		c.maxBlobSize = n
		return nil
	}
}

// WithMaxCheckpointSize caps the encoded tensor bytes of one checkpoint (default 4 GiB,
// at most 8 GiB).
func WithMaxCheckpointSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 || n > limitMaxObject {
			return fmt.Errorf("%w: WithMaxCheckpointSize(%d): want 1..%d bytes", ErrInvalid, n, int64(limitMaxObject))
		}
		c.maxCheckpointSize = n
		return nil
	}
}

// WithMinFreeSpace sets the free space (bytes) the store keeps on its file system: a write that would
// leave less fails with ErrNoSpace instead of reaching Badger, whose memory-mapped files crash the
// process when the disk is full (see space.go). Default 32 MiB; 0 disables the check (Linux only).
func WithMinFreeSpace(n int64) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: WithMinFreeSpace(%d): want >= 0 bytes", ErrInvalid, n)
		}
		c.minFree = n
		return nil
	}
}

// badgerOptions tunes Badger for small devices (Raspberry-Pi class: little RAM, slow
// flash). Each setting says what it replaces and why.
func badgerOptions(dir string, c config) badger.Options {
	o := badger.DefaultOptions(dir)
	if c.inMemory {
		o = badger.DefaultOptions("").WithInMemory(true)
	}
	o = o.
		// Badger's own logger writes to stderr at INFO; ours forwards warnings and errors
		// to slog with component=badger, and INFO only at slog debug level.
		WithLogger(badgerLogger{l: c.logger}).
		WithLoggingLevel(badger.WARNING).
		// Committed state must survive power loss: every commit (a manifest, a batch of
		// chunks, a peer record) is fsynced before it returns. Costs one fsync per commit.
		WithSyncWrites(true).
		// 8 MiB memtables instead of 64 MiB, two instead of five: at most 16 MiB of
		// memtable RAM. A transaction carries 15% of a memtable (1.2 MiB); commitOps splits
		// larger batches.
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		// Every value, 512 KiB chunks included, is stored inline in the LSM tree (Badger's
		// default would send values of 1 MiB and more to the value log; before, 4 KiB and
		// more went there). Why: Badger reclaims value-log space only for files whose
		// discard statistics say they are mostly dead, and those statistics are updated
		// only by compactions. A node writes a few KiB of keys and pointers per round, so
		// its memtable never filled, nothing was compacted, RunValueLogGC never found a
		// file to rewrite, and every deleted blob stayed on disk and, mapped, in RSS (the
		// 200-round soak: +520 KiB per round of disk and of RssFile). Inline, chunk bytes
		// fill the memtable, flushes and compactions happen every few dozen rounds, and a
		// compaction drops the bytes of deleted blobs and pruned checkpoints outright. The
		// cost is write amplification of the LSM levels on the (small) live data.
		WithValueThreshold(maxRecord + 1).
		// Only values above maxRecord could reach the value log (none are written); 16 MiB
		// files instead of 1 GiB bound its preallocated, mapped file should one be.
		WithValueLogFileSize(16 << 20).
		// Two compactors (the minimum Badger accepts besides zero) instead of four, and a
		// lower L0 stall threshold: fewer background goroutines competing with training.
		WithNumCompactors(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		// Tensor and blob bytes are float noise or already compressed; compression would
		// only cost CPU. Without compression or encryption Badger needs no block cache
		// (its docs: a cache then only adds overhead), so it is off: 0 instead of 256 MiB.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		// Table indexes and bloom filters are cached in 4 MiB instead of all kept in RAM.
		WithIndexCacheSize(4 << 20).
		// Badger's expvar metrics are process-global and unused here.
		WithMetricsEnabled(false).
		WithNumGoroutines(2)
	if c.inMemory {
		// In-memory mode has no value log: every value lives in the memtable, must be
		// smaller than ValueThreshold, and a transaction carries 15% of a memtable. 16 MiB
		// tables let a transaction carry four chunks; the 1 MiB threshold admits maxRecord.
		o = o.WithMemTableSize(16 << 20).WithValueThreshold(maxRecord + 1)
	}
	return o
}
