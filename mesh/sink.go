package mesh

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

var errSinkDone = errors.New("mesh: sink already committed")

// MemorySink is a Sink in memory, for blobs small enough to hold (Fetch's
// maxSize bounds it). Bytes returns the data once committed.
type MemorySink struct {
	mu        sync.Mutex
	buf       []byte
	committed bool
}

// Write appends p.
func (s *MemorySink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return 0, errSinkDone
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// ReadAt reads held bytes.
func (s *MemorySink) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.NewReader(s.buf).ReadAt(p, off)
}

// Size returns the number of bytes held.
func (s *MemorySink) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.buf))
}

// Commit marks the data verified.
func (s *MemorySink) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = true
	return nil
}

// Discard drops the held bytes.
func (s *MemorySink) Discard() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf, s.committed = nil, false
	return nil
}

// Bytes returns the verified blob, or nil before Commit.
func (s *MemorySink) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.committed {
		return nil
	}
	return s.buf
}

// FileSink is a Sink that stages a blob in "<path>.part" (kept across
// interrupted fetches and restarts, so transfers resume) and renames it to
// path on Commit.
type FileSink struct {
	path string
	f    *os.File
	size int64
}

// NewFileSink opens (or creates) the staging file of path.
func NewFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path+".part", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file sink: %w", err)
	}
	return &FileSink{path: path, f: f, size: end}, nil
}

// Write appends p to the staging file.
func (s *FileSink) Write(p []byte) (int, error) {
	if s.f == nil {
		return 0, errSinkDone
	}
	n, err := s.f.Write(p)
	s.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("file sink %s: %w", s.path, err)
	}
	return n, nil
}

// ReadAt reads staged bytes.
func (s *FileSink) ReadAt(p []byte, off int64) (int, error) {
	if s.f == nil {
		return 0, errSinkDone
	}
	return s.f.ReadAt(p, off)
}

// Size returns the staged byte count.
func (s *FileSink) Size() int64 { return s.size }

// Commit syncs the staging file and renames it to the final path.
func (s *FileSink) Commit() error {
	if s.f == nil {
		return errSinkDone
	}
	err := errors.Join(s.f.Sync(), s.f.Close())
	s.f = nil
	if err == nil {
		err = os.Rename(s.path+".part", s.path)
	}
	if err != nil {
		return fmt.Errorf("file sink %s: commit: %w", s.path, err)
	}
	return nil
}

// Discard empties the staging file (it stays open for a fresh fetch).
func (s *FileSink) Discard() error {
	if s.f == nil {
		return errSinkDone
	}
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("file sink %s: discard: %w", s.path, err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("file sink %s: discard: %w", s.path, err)
	}
	s.size = 0
	return nil
}

// Close releases the staging file without committing; staged bytes stay
// for a later resume.
func (s *FileSink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
