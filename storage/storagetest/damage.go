// Package storagetest damages a stopped node's store on purpose, so that tests (Go tests and the
// docker testnet's tools) can check that damage is detected and that the node falls back to an
// intact state. It writes through Badger directly, below package storage, the way bit rot or a
// buggy writer would: Badger's own checksums stay valid and only storage's checks can notice.
// It relies on the key layout documented in package storage (doc.go). Checkpoint files
// (storage.FileCheckpoints) it damages in place. Never use it on real data.
package storagetest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/mlecs/mlecs/storage"
)

// ErrNoCheckpoint is returned when the store holds no checkpoint of the kind.
var ErrNoCheckpoint = errors.New("storagetest: no checkpoint")

// ckptManifestPrefix is storage's "c/m/<kind>\x00"; then big-endian term and round.
func ckptManifestPrefix(kind string) []byte { return append([]byte("c/m/"+kind), 0) }

// open opens the Badger directory of a stopped store (the storage lock file must be free: Badger's
// own directory lock refuses a store that a node has open).
func open(dir string) (*badger.DB, error) {
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return nil, fmt.Errorf("storagetest: %s holds no store: %w", dir, err)
	}
	// The sizes that shape files on disk match storage's (options.go); logging is off.
	o := badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true).WithMemTableSize(8 << 20).
		WithNumMemtables(2).WithValueThreshold(4 << 10).WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).WithCompression(options.None).WithBlockCacheSize(0).WithIndexCacheSize(4 << 20).
		WithMetricsEnabled(false)
	db, err := badger.Open(o)
	if err != nil {
		return nil, fmt.Errorf("storagetest: open %s: %w", dir, err)
	}
	return db, nil
}

// DamageNewestCheckpoint flips one byte in the middle of the manifest of the newest checkpoint of kind
// in the stopped store at dir (a Badger directory, e.g. a node's <data dir>/db) and returns that
// checkpoint's term and round. The manifest's checksum no longer matches, so storage reports it as
// corrupt and LatestCheckpoint falls back to the next older one.
func DamageNewestCheckpoint(dir, kind string) (term, round uint64, err error) {
	if kind == "" || strings.ContainsRune(kind, 0) {
		return 0, 0, fmt.Errorf("storagetest: bad checkpoint kind %q", kind)
	}
	db, err := open(dir)
	if err != nil {
		return 0, 0, err
	}
	prefix := ckptManifestPrefix(kind)
	err = db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		// Reverse iteration starts at the last key <= seek: seek past every key of the prefix.
		it.Seek(append(append([]byte{}, prefix...), 0xff))
		if !it.ValidForPrefix(prefix) {
			it.Close()
			return fmt.Errorf("%w of kind %q in %s", ErrNoCheckpoint, kind, dir)
		}
		k := it.Item().KeyCopy(nil)
		v, err := it.Item().ValueCopy(nil)
		it.Close()
		if err != nil {
			return err
		}
		rest := k[len(prefix):]
		if len(rest) != 16 || len(v) == 0 {
			return fmt.Errorf("storagetest: unexpected checkpoint record %q (%d bytes)", k, len(v))
		}
		term, round = binary.BigEndian.Uint64(rest), binary.BigEndian.Uint64(rest[8:])
		v[len(v)/2] ^= 0x40
		return txn.Set(k, v)
	})
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("storagetest: close %s: %w", dir, cerr)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("damage newest %q checkpoint: %w", kind, err)
	}
	return term, round, nil
}

// DamageNewestFileCheckpoint flips one byte in the middle of the newest checkpoint file of kind in the
// directory dir (storage.FileCheckpoints, e.g. a node's <data dir>/learner) and returns its term and
// round. Its checksum no longer matches, so storage reports it as corrupt.
func DamageNewestFileCheckpoint(dir, kind string) (term, round uint64, err error) {
	if _, err := os.Stat(dir); err != nil {
		return 0, 0, fmt.Errorf("storagetest: %w", err)
	}
	fc, err := storage.OpenFileCheckpoints(dir, kind, storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return 0, 0, fmt.Errorf("storagetest: %w", err)
	}
	infos, err := fc.List(context.Background())
	if err != nil {
		return 0, 0, fmt.Errorf("storagetest: %w", err)
	}
	if len(infos) == 0 {
		return 0, 0, fmt.Errorf("%w of kind %q in %s", ErrNoCheckpoint, kind, dir)
	}
	newest := infos[len(infos)-1]
	fi, err := os.Stat(newest.Path)
	if err != nil {
		return 0, 0, fmt.Errorf("storagetest: %w", err)
	}
	if err := flipByte(newest.Path, fi.Size()/2); err != nil {
		return 0, 0, fmt.Errorf("damage newest %q checkpoint file: %w", kind, err)
	}
	return newest.Term, newest.Round, nil
}

// flipByte flips bit 6 of the byte at off in the file at path, and syncs it.
func flipByte(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		return err
	}
	return f.Sync()
}
