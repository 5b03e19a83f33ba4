package storage

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FileCheckpoints keeps the checkpoints of one kind as plain files in one directory, outside Badger.
// It is for large state that is replaced often (a node's learner): in Badger's LSM tree a deleted
// checkpoint's bytes stay on disk until a compaction reaches them, which for a few MB saved every few
// rounds took hundreds of rounds; a deleted file frees its space at once.
//
// Each checkpoint is one file named by its (term, round), so that name order is (term, round) order:
//
//	<term, 20 decimal digits>-<round, 20 decimal digits>.ckpt
//
// File format, version 1 (integers little-endian, strings and meta as in the checkpoint manifest):
//
//	"MLFC" | version u8 = 1 | file length u64 | kind str8 | term u64 | round u64 | created u64 (UnixNano)
//	| meta count u16 | (key str16, value str32) x count, sorted by key
//	| tensor count u32 | (encoded length u64 | EncodeTensor bytes) x count
//	| SHA-256 of every byte before it
//
// The length in the header tells a truncated file from a damaged one. A save writes a temporary file in
// the same directory, fsyncs it, renames it to its final name and fsyncs the directory: a crash at any
// point leaves the previous files and at most a temporary one, which the next open removes.
//
// Only one process may use a directory; the node keeps it beside its store, whose lock it holds. A
// FileCheckpoints is safe for concurrent use.
type FileCheckpoints struct {
	dir  string
	kind string
	cfg  config
	log  *slog.Logger

	// mu serialises Save and Prune, so a prune never deletes the file a save has just committed
	// before the save returns, and two saves of one (term, round) do not interleave their renames.
	mu sync.Mutex

	// fault, if set (tests only), is called at each step of a save ("write": the first tensor
	// written; "rename": the file synced, not renamed; "sync-dir": renamed, directory not synced); a
	// non-nil result fails the save there. Crash tests kill the process in it.
	fault func(step string) error
}

// FileCheckpointInfo names one checkpoint file, as List finds it (its content is not read).
type FileCheckpointInfo struct {
	Term  uint64
	Round uint64
	Path  string
}

const (
	ckptFileMagic   = "MLFC"
	ckptFileVersion = 1
	ckptFileExt     = ".ckpt"
	// ckptFileTemp starts the names of files being written; no final name starts with a dot.
	ckptFileTemp = ".tmp-"
	// ckptFileHeaderLen is magic, version and file length: what is checked before the checksum.
	ckptFileHeaderLen = 4 + 1 + 8
	// ckptFileOverhead bounds the bytes of a file besides its encoded tensors: header, kind, term,
	// round, created, the largest meta, tensor count and lengths, checksum.
	ckptFileOverhead = ckptFileHeaderLen + 1 + maxKindLen + 3*8 + 2 + maxMeta*(2+maxMetaKeyLen+4+maxMetaValLen) +
		4 + maxTensors*8 + sha256.Size
	// minEncodedTensor is the smallest EncodeTensor output: header with a 1-byte name, rank 0, no data
	// (a rank-0 tensor has one value, but the bound only needs to be a lower one).
	minEncodedTensor = 9 + 1
)

// OpenFileCheckpoints opens (creating if needed) the directory dir holding the checkpoints of kind.
// Temporary files left by a crash during a save are removed (logged). Of the options, WithLogger,
// WithMaxCheckpointSize and WithMinFreeSpace apply; WithInMemory is refused.
func OpenFileCheckpoints(dir, kind string, opts ...Option) (*FileCheckpoints, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.inMemory {
		return nil, fmt.Errorf("%w: file checkpoints: WithInMemory does not apply", ErrInvalid)
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: file checkpoints: empty directory", ErrInvalid)
	}
	if err := checkKind(kind); err != nil {
		return nil, fmt.Errorf("file checkpoints: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", dir, err)
	}
	c := &FileCheckpoints{dir: dir, kind: kind, cfg: cfg, log: cfg.logger.With("component", "storage", "dir", dir)}
	if err := c.removeTemps(); err != nil {
		return nil, err
	}
	return c, nil
}

// removeTemps deletes the temporary files of saves a crash interrupted: none was renamed, so no
// checkpoint refers to it.
func (c *FileCheckpoints) removeTemps() error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("storage: list %s: %w", c.dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if _, _, ok := parseCkptFileName(name); ok {
			continue
		}
		if !strings.HasPrefix(name, ckptFileTemp) || !e.Type().IsRegular() {
			c.log.Warn("unexpected file in the checkpoint directory, ignored", "file", name)
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("storage: remove partial checkpoint file %s: %w", filepath.Join(c.dir, name), err)
		}
		c.log.Warn("removed a partial checkpoint file left by a crash", "file", name)
	}
	return nil
}

func ckptFileName(term, round uint64) string {
	return fmt.Sprintf("%020d-%020d%s", term, round, ckptFileExt)
}

// parseCkptFileName accepts exactly the names ckptFileName makes.
func parseCkptFileName(name string) (term, round uint64, ok bool) {
	if len(name) != 20+1+20+len(ckptFileExt) || name[20] != '-' || name[41:] != ckptFileExt {
		return 0, 0, false
	}
	t, err1 := strconv.ParseUint(name[:20], 10, 64)
	r, err2 := strconv.ParseUint(name[21:41], 10, 64)
	if err1 != nil || err2 != nil || ckptFileName(t, r) != name {
		return 0, 0, false
	}
	return t, r, true
}

func (c *FileCheckpoints) path(term, round uint64) string {
	return filepath.Join(c.dir, ckptFileName(term, round))
}

// Save writes cp as the checkpoint at (cp.Term, cp.Round), replacing one already there. Until the
// final rename the files before stay as they were; after it, the new file is complete and durable.
// A file system short of space fails with ErrNoSpace, before writing when the free space is below the
// reserve (WithMinFreeSpace), else when a write returns ENOSPC; nothing is left behind either way.
func (c *FileCheckpoints) Save(ctx context.Context, cp *Checkpoint) error {
	if cp == nil {
		return fmt.Errorf("%w: save checkpoint file: nil", ErrInvalid)
	}
	if cp.Kind != c.kind {
		return fmt.Errorf("%w: save checkpoint file: kind %q in the directory of kind %q", ErrInvalid, clip(cp.Kind), c.kind)
	}
	if err := checkCheckpoint(cp, c.cfg.maxCheckpointSize); err != nil {
		return fmt.Errorf("save checkpoint file: %w", err)
	}
	created := cp.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	head := encodeCkptFileHead(cp, created)
	c.mu.Lock()
	defer c.mu.Unlock()
	name := ckptFileName(cp.Term, cp.Round)
	if err := checkFree(c.dir, c.cfg.minFree, "checkpoint file "+name, int64(binary.LittleEndian.Uint64(head[5:]))); err != nil {
		return fmt.Errorf("save %s checkpoint term %d round %d: %w", c.kind, cp.Term, cp.Round, err)
	}
	if err := c.write(ctx, cp, head, name); err != nil {
		return fmt.Errorf("save %s checkpoint term %d round %d: %w", c.kind, cp.Term, cp.Round, noSpace(err))
	}
	return nil
}

// encodeCkptFileHead encodes everything before the tensors, with the whole file's length.
func encodeCkptFileHead(cp *Checkpoint, created time.Time) []byte {
	e := encoder{b: make([]byte, 0, 256)}
	e.raw([]byte(ckptFileMagic))
	e.u8(ckptFileVersion)
	e.u64(0) // file length, set below
	e.str8(cp.Kind)
	e.u64(cp.Term)
	e.u64(cp.Round)
	e.time(created)
	encodeMeta(&e, cp.Meta)
	e.u32(uint32(len(cp.Tensors)))
	size := int64(len(e.b)) + sha256.Size
	for i := range cp.Tensors {
		size += 8 + encodedTensorLen(&cp.Tensors[i])
	}
	binary.LittleEndian.PutUint64(e.b[5:], uint64(size))
	return e.b
}

// write streams the file to a temporary name (tensors are encoded on the fly, not copied whole) and
// renames it to name once it is synced.
func (c *FileCheckpoints) write(ctx context.Context, cp *Checkpoint, head []byte, name string) error {
	f, err := os.CreateTemp(c.dir, ckptFileTemp+"*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if renamed {
			return
		}
		_ = f.Close() // may already be closed
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			c.log.Warn("remove temporary checkpoint file; the next open retries", "file", tmp, "err", rerr)
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(f, 256<<10)
	w := io.MultiWriter(bw, h)
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	var size [8]byte
	for i := range cp.Tensors {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := &cp.Tensors[i]
		binary.LittleEndian.PutUint64(size[:], uint64(encodedTensorLen(t)))
		if _, err := w.Write(size[:]); err != nil {
			return fmt.Errorf("write %s: tensor %q: %w", tmp, t.Name, err)
		}
		if _, err := io.Copy(w, newTensorReader(t)); err != nil {
			return fmt.Errorf("write %s: tensor %q: %w", tmp, t.Name, err)
		}
		if i == 0 {
			if err := c.injected("write"); err != nil {
				return err
			}
		}
	}
	if _, err := bw.Write(h.Sum(nil)); err != nil {
		return fmt.Errorf("write %s: checksum: %w", tmp, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	// Synced before the rename: after a power loss the final name never shows a file whose data
	// blocks were not yet written.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := c.injected("rename"); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, name)); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, name, err)
	}
	renamed = true
	if err := c.injected("sync-dir"); err != nil {
		return err
	}
	// The rename is durable once the directory is synced; until then a power loss may undo it, which
	// leaves the previous files, as if the save had not happened.
	if err := syncDir(c.dir); err != nil {
		return fmt.Errorf("checkpoint file %s written, but: %w", name, err)
	}
	return nil
}

func (c *FileCheckpoints) injected(step string) error {
	if c.fault == nil {
		return nil
	}
	return c.fault(step)
}

// noSpace marks an error caused by a full file system with ErrNoSpace, as the reserve check does.
func noSpace(err error) error {
	if errors.Is(err, syscall.ENOSPC) && !errors.Is(err, ErrNoSpace) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// syncDir fsyncs a directory, making renames and creations in it durable. Windows cannot sync a
// directory (and its renames need none).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// List returns the checkpoint files, oldest (lowest term, then round) first. Files are not read; Load
// verifies one.
func (c *FileCheckpoints) List(ctx context.Context) ([]FileCheckpointInfo, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s checkpoints in %s: %w", c.kind, c.dir, err)
	}
	var out []FileCheckpointInfo
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list %s checkpoints: %w", c.kind, err)
		}
		term, round, ok := parseCkptFileName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		out = append(out, FileCheckpointInfo{Term: term, Round: round, Path: filepath.Join(c.dir, e.Name())})
	}
	slices.SortFunc(out, func(a, b FileCheckpointInfo) int {
		if a.Term != b.Term {
			return cmp.Compare(a.Term, b.Term)
		}
		return cmp.Compare(a.Round, b.Round)
	})
	return out, nil
}

// Load reads and verifies the checkpoint at (term, round). ErrNotFound if there is none; ErrCorrupt,
// naming the file and what is wrong (bad magic, unknown version, truncated, checksum mismatch, a field
// that disagrees with the file name), if it is damaged.
func (c *FileCheckpoints) Load(ctx context.Context, term, round uint64) (*Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load %s checkpoint term %d round %d: %w", c.kind, term, round, err)
	}
	path := c.path(term, round)
	cp, err := c.load(path, term, round)
	if err != nil {
		return nil, fmt.Errorf("load %s checkpoint term %d round %d: %w", c.kind, term, round, err)
	}
	return cp, nil
}

func (c *FileCheckpoints) load(path string, term, round uint64) (*Checkpoint, error) {
	b, err := c.readFile(path)
	if err != nil {
		return nil, err
	}
	what := "checkpoint file " + path
	cp, err := decodeCkptFile(what, b)
	if err != nil {
		return nil, err
	}
	if cp.Kind != c.kind || cp.Term != term || cp.Round != round {
		return nil, fmt.Errorf("%w: %s: holds %s term %d round %d, its name says %s term %d round %d",
			ErrCorrupt, what, cp.Kind, cp.Term, cp.Round, c.kind, term, round)
	}
	return cp, nil
}

// readFile reads a whole checkpoint file, refusing one larger than any this directory writes.
func (c *FileCheckpoints) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if limit := c.cfg.maxCheckpointSize + ckptFileOverhead; fi.Size() > limit {
		return nil, fmt.Errorf("%w: checkpoint file %s: %d bytes exceeds the limit of %d", ErrCorrupt, path, fi.Size(), limit)
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// checkCkptFileHeader checks magic, version and the declared length against the file's size; head is
// the file's first bytes (up to ckptFileHeaderLen).
func checkCkptFileHeader(what string, head []byte, size int64) error {
	if size < ckptFileHeaderLen+sha256.Size {
		return fmt.Errorf("%w: %s: truncated: %d bytes, shorter than an empty checkpoint", ErrCorrupt, what, size)
	}
	d := decoder{what: what, b: head}
	d.header(ckptFileMagic, ckptFileVersion)
	n := d.u64("length")
	switch {
	case d.err != nil:
	case n < ckptFileHeaderLen+sha256.Size:
		d.fail("length", "declares %d bytes, shorter than an empty checkpoint", n)
	case uint64(size) < n:
		d.fail("length", "truncated: %d of its %d bytes", size, n)
	case uint64(size) > n:
		d.fail("length", "%d bytes after its declared end at %d", uint64(size)-n, n)
	}
	return d.err
}

// decodeCkptFile checks the header, then the checksum, then decodes; what names the file in errors.
func decodeCkptFile(what string, b []byte) (*Checkpoint, error) {
	if err := checkCkptFileHeader(what, b[:min(len(b), ckptFileHeaderLen)], int64(len(b))); err != nil {
		return nil, err
	}
	body, err := unseal(what, b)
	if err != nil {
		return nil, err
	}
	d := decoder{what: what, b: body}
	d.header(ckptFileMagic, ckptFileVersion)
	d.u64("length")
	cp := &Checkpoint{Kind: d.str8("kind", maxKindLen)}
	if d.err == nil {
		if err := checkKind(cp.Kind); err != nil {
			d.fail("kind", "%v", err)
		}
	}
	cp.Term = d.u64("term")
	cp.Round = d.u64("round")
	cp.Created = d.time("created")
	cp.Meta = decodeMeta(&d)
	nt := d.count("tensor count", uint64(d.u32("tensor count")), maxTensors, 8+minEncodedTensor)
	if d.err != nil {
		return nil, d.err
	}
	cp.Tensors = make([]NamedTensor, nt)
	for i := range cp.Tensors {
		n := d.u64("tensor length")
		if d.err == nil && n > uint64(len(body)-d.off) {
			d.fail("tensor length", "tensor %d: %d bytes, %d left", i, n, len(body)-d.off)
		}
		p := d.take("tensor", int(n))
		if d.err != nil {
			return nil, d.err
		}
		t, err := DecodeTensor(p)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %d: %w", what, i, err)
		}
		cp.Tensors[i] = t
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return cp, nil
}

// verifyFile checks a file's header and checksum, streaming it through SHA-256 with a small buffer
// instead of reading it whole: what Prune needs to know that a file is intact.
func verifyFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	what := "checkpoint file " + path
	head := make([]byte, ckptFileHeaderLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := checkCkptFileHeader(what, head[:n], fi.Size()); err != nil {
		return err
	}
	h := sha256.New()
	h.Write(head)
	br := bufio.NewReaderSize(f, 64<<10)
	if _, err := io.CopyN(h, br, fi.Size()-ckptFileHeaderLen-sha256.Size); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var sum [sha256.Size]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if !bytes.Equal(h.Sum(nil), sum[:]) {
		return fmt.Errorf("%w: %s: record checksum mismatch", ErrCorrupt, what)
	}
	return nil
}

// Prune keeps the newest keep checkpoint files and deletes the older ones, except that the newest
// one whose checksum verifies is always kept, so pruning never leaves no intact checkpoint behind
// while there was one. It returns how many it deleted.
func (c *FileCheckpoints) Prune(ctx context.Context, keep int) (int, error) {
	if keep < 1 {
		return 0, fmt.Errorf("%w: prune %s checkpoints: keep %d, want at least 1", ErrInvalid, c.kind, keep)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	infos, err := c.List(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	if len(infos) <= keep {
		return 0, nil
	}
	// Usually the newest verifies: one streamed read of it.
	good := -1
	for i := len(infos) - 1; i >= 0 && good < 0; i-- {
		err := verifyFile(infos[i].Path)
		switch {
		case err == nil:
			good = i
		case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound):
		default:
			return 0, fmt.Errorf("prune %s checkpoints: verify %s: %w", c.kind, infos[i].Path, err)
		}
	}
	// A deletion a crash undoes (the directory is not synced) is only repeated by the next prune.
	n := 0
	for i, info := range infos[:len(infos)-keep] {
		if i == good {
			continue
		}
		if err := os.Remove(info.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("prune %s checkpoints: %w", c.kind, err)
		}
		n++
	}
	return n, nil
}

// Verify loads every checkpoint file (header, checksum, decoding) and reports each, oldest first, like
// Store.Verify does for the store's checkpoints: damage is in the result; an error means the check
// could not run.
func (c *FileCheckpoints) Verify(ctx context.Context) ([]CheckpointCheck, error) {
	infos, err := c.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	out := make([]CheckpointCheck, 0, len(infos))
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("verify %s checkpoints: %w", c.kind, err)
		}
		cc := CheckpointCheck{CheckpointInfo: CheckpointInfo{Kind: c.kind, Term: info.Term, Round: info.Round}}
		cp, err := c.load(info.Path, info.Term, info.Round)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // pruned since listed
		case errors.Is(err, ErrCorrupt):
			cc.Err = err
		case err != nil:
			return out, fmt.Errorf("verify %s: %w", info.Path, err)
		default:
			cc.Created, cc.Meta, cc.Tensors = cp.Created, cp.Meta, len(cp.Tensors)
			for i := range cp.Tensors {
				cc.Bytes += encodedTensorLen(&cp.Tensors[i])
			}
		}
		out = append(out, cc)
	}
	return out, nil
}
