package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Store is a node's durable state on one Badger database. It is safe for concurrent use.
type Store struct {
	cfg config
	log *slog.Logger
	dir string // "" in memory

	closeMu sync.RWMutex // held shared by every Badger call, exclusively by Close
	closed  bool
	db      *badger.DB
	lock    *dirLock

	// commitMu serialises manifest read-modify-write commits (create, replace, delete),
	// so they never race each other into Badger transaction conflicts.
	commitMu sync.Mutex

	// active holds the upload/save ids whose chunks are being written; GC leaves them alone.
	activeMu sync.Mutex
	active   map[uint64]struct{}

	metricSeq atomic.Uint64

	// fault, if set (tests only), is called before each data batch commit of a blob or
	// checkpoint write; a non-nil result is returned as that commit's error. It simulates
	// a failing disk in the middle of a write.
	fault func(op string, batch int) error
}

// Open opens (creating if needed) the store in dir. Only one process may open a dir.
func Open(dir string, opts ...Option) (*Store, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.logger.With("component", "storage"), active: map[uint64]struct{}{}}
	if cfg.inMemory {
		if dir != "" {
			return nil, fmt.Errorf("%w: WithInMemory: dir must be empty, got %q", ErrInvalid, dir)
		}
	} else {
		if dir == "" {
			return nil, fmt.Errorf("%w: empty data dir (use WithInMemory for a RAM store)", ErrInvalid)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("storage: create %s: %w", dir, err)
		}
		l, err := lockDir(dir)
		if err != nil {
			return nil, err
		}
		s.dir, s.lock = dir, l
		if err := removeEmptyLogs(dir, s.log); err != nil {
			s.lock.release()
			return nil, err
		}
	}
	db, err := badger.Open(badgerOptions(dir, cfg))
	if err != nil {
		if s.lock != nil {
			s.lock.release()
		}
		if strings.Contains(err.Error(), "Another process is using this Badger database") {
			return nil, fmt.Errorf("%w: %s is in use by another process: %v", ErrLocked, dir, err)
		}
		return nil, fmt.Errorf("storage: open badger in %q: %w", dir, err)
	}
	s.db = db
	s.metricSeq.Store(rand.Uint64() >> 16)
	return s, nil
}

// removeEmptyLogs deletes zero-byte memtable (.mem) and value-log (.vlog) files from dir.
// A kill between Badger creating such a file and sizing it leaves it empty, and Badger
// then refuses to open the directory ("Create a new file", dgraph-io/badger#2207). An
// empty log holds no entries and no value pointer refers to it, so removing it loses
// nothing.
func removeEmptyLogs(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("storage: list %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || (filepath.Ext(name) != ".mem" && filepath.Ext(name) != ".vlog") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("storage: stat %s: %w", filepath.Join(dir, name), err)
		}
		if info.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("storage: remove empty log %s: %w", filepath.Join(dir, name), err)
		}
		log.Warn("removed an empty log file left by a crash", "file", name)
	}
	return nil
}

// Close flushes and closes the database. In-flight calls finish their current Badger
// transaction first; later calls return ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return fmt.Errorf("close: %w", ErrClosed)
	}
	s.closed = true
	err := s.db.Close()
	if s.lock != nil {
		if lerr := s.lock.release(); err == nil && lerr != nil {
			err = lerr
		}
	}
	if err != nil {
		return fmt.Errorf("storage: close %q: %w", s.dir, err)
	}
	return nil
}

// do runs fn with the database unless the store is closed.
func (s *Store) do(fn func(db *badger.DB) error) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return fn(s.db)
}

func (s *Store) view(fn func(txn *badger.Txn) error) error {
	return s.do(func(db *badger.DB) error { return db.View(fn) })
}

// op is one write of a batch: a set, or a delete when del is true.
type op struct {
	key, val []byte
	del      bool
}

// commitOps applies ops in as few transactions as Badger's batch limits allow. The ops
// are not atomic as a whole: callers use it only for data that no manifest references yet
// (or no longer), where a partial result is invisible and GC removes it.
func (s *Store) commitOps(ops []op) error {
	if len(ops) == 0 {
		return nil
	}
	if slices.ContainsFunc(ops, func(o op) bool { return !o.del }) {
		if err := s.checkSpace("write batch", opsBytes(ops)); err != nil {
			return err
		}
	}
	return s.do(func(db *badger.DB) error {
		txn := db.NewTransaction(true)
		defer func() { txn.Discard() }()
		pending := 0
		for _, o := range ops {
			err := apply(txn, o)
			if errors.Is(err, badger.ErrTxnTooBig) && pending > 0 {
				if err := txn.Commit(); err != nil {
					return fmt.Errorf("commit batch: %w", err)
				}
				txn = db.NewTransaction(true)
				pending = 0
				err = apply(txn, o)
			}
			if err != nil {
				return fmt.Errorf("write key %q: %w", keyString(o.key), err)
			}
			pending++
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("commit batch: %w", err)
		}
		return nil
	})
}

func apply(txn *badger.Txn, o op) error {
	if o.del {
		return txn.Delete(o.key)
	}
	return txn.Set(o.key, o.val)
}

// deletePrefix removes every key under prefix, in batches.
func (s *Store) deletePrefix(ctx context.Context, prefix []byte) (int, error) {
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var keys [][]byte
		err := s.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(keys) < 4096; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return n, err
		}
		ops := make([]op, len(keys))
		for i, k := range keys {
			ops[i] = op{key: k, del: true}
		}
		if err := s.commitOps(ops); err != nil {
			return n, err
		}
		n += len(keys)
	}
}

// getValue copies the value of key, mapping a missing key to ErrNotFound.
func getValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// newID returns a random id for an upload or checkpoint save and marks it active.
func (s *Store) newID() uint64 {
	s.activeMu.Lock()
	defer s.activeMu.Unlock()
	for {
		id := rand.Uint64()
		if _, dup := s.active[id]; !dup && id != 0 {
			s.active[id] = struct{}{}
			return id
		}
	}
}

func (s *Store) doneID(id uint64) {
	s.activeMu.Lock()
	delete(s.active, id)
	s.activeMu.Unlock()
}

func (s *Store) injected(op string, batch int) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(op, batch)
}

// ctxErr wraps a context error with what was being done.
func ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
