package storage

import "fmt"

// Badger writes its logs and tables through memory maps of sparse files: on a full file system the
// first store into a page that has no block behind it raises SIGBUS and kills the process, instead of
// returning ENOSPC. So the store refuses new data itself while the free space is below a reserve, with
// ErrNoSpace, and keeps the reserve for what must still succeed: Badger's memtable flushes and
// compactions, deletes (which free space) and a clean Close.

// defaultMinFree is the default reserve: two memtable flushes (8 MiB each), a write batch (4 MiB) and
// headroom for compaction's tables and Badger's manifest.
const defaultMinFree = 32 << 20

// checkSpace fails with ErrNoSpace when writing need more bytes would leave less than the reserve
// free. In memory, with the reserve disabled, or where free space cannot be read, it never fails.
func (s *Store) checkSpace(what string, need int64) error {
	if s.cfg.inMemory {
		return nil
	}
	return checkFree(s.dir, s.cfg.minFree, what, need)
}

// checkFree fails with ErrNoSpace when writing need more bytes into dir would leave less than minFree
// free on its file system. With minFree 0, or where free space cannot be read, it never fails.
func checkFree(dir string, minFree int64, what string, need int64) error {
	if minFree == 0 {
		return nil
	}
	free, ok := freeBytes(dir)
	if !ok {
		return nil
	}
	if free-need < minFree {
		return fmt.Errorf("%w: %s needs %d bytes; %s has %d free, the reserve is %d", ErrNoSpace, what, need, dir, free, minFree)
	}
	return nil
}

// opsBytes is what a batch adds: its keys and values (deletes add a key-sized tombstone).
func opsBytes(ops []op) int64 {
	var n int64
	for _, o := range ops {
		n += int64(len(o.key) + len(o.val))
	}
	return n
}
