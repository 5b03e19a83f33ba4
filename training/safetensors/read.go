package safetensors

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// Read decodes a safetensors stream of exactly size bytes. size must be the
// true length (ReadFile takes it from the file system): the header is
// validated against it before any tensor memory is allocated.
func Read(r io.Reader, size int64, opts ...Option) (*File, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := read(r, size, cfg)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

func read(r io.Reader, size int64, cfg config) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("size %d is shorter than the 8-byte header length: %w", size, ErrFormat)
	}
	if size > cfg.maxSize {
		return nil, fmt.Errorf("size %d exceeds the cap of %d bytes: %w", size, cfg.maxSize, ErrTooLarge)
	}
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, fmt.Errorf("reading header length: %w", truncated(err))
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > uint64(cfg.maxHeader) {
		return nil, fmt.Errorf("header length %d exceeds the cap of %d bytes: %w", n, cfg.maxHeader, ErrTooLarge)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("header length %d exceeds the %d bytes that follow it: %w", n, size-8, ErrFormat)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("reading %d-byte header: %w", n, truncated(err))
	}
	dataLen := size - 8 - int64(n)
	entries, meta, err := parseHeader(hdr, dataLen)
	if err != nil {
		return nil, err
	}
	f := &File{Metadata: meta, Tensors: make([]Tensor, 0, len(entries))}
	// Entries are sorted by offset and tile the data section, so one
	// sequential pass reads them all.
	buf := make([]byte, 64<<10)
	for _, e := range entries {
		data, err := readTensor(r, e, buf)
		if err != nil {
			return nil, err
		}
		f.Tensors = append(f.Tensors, Tensor{Name: e.name, Shape: e.shape, Data: data})
	}
	sort.Slice(f.Tensors, func(i, j int) bool { return f.Tensors[i].Name < f.Tensors[j].Name })
	return f, nil
}

// readTensor reads e's bytes in chunks of len(buf) (a multiple of every
// element size) and widens them into a new float32 slice.
func readTensor(r io.Reader, e entry, buf []byte) ([]float32, error) {
	data := make([]float32, e.count)
	per := len(buf) / int(e.dt.size)
	for i := 0; i < e.count; i += per {
		k := min(per, e.count-i)
		chunk := buf[:k*int(e.dt.size)]
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, fmt.Errorf("tensor %q: reading data: %w", e.name, truncated(err))
		}
		decode(data[i:i+k], chunk, e.dt)
	}
	return data, nil
}

// truncated turns an early EOF into an ErrFormat; other I/O errors pass
// through wrapped as they are.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("file is truncated: %w", ErrFormat)
	}
	return err
}

// ReadFile reads and decodes the safetensors file at path.
func ReadFile(path string, opts ...Option) (*File, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s is not a regular file: %w", path, ErrFormat)
	}
	out, err := read(bufio.NewReaderSize(f, 1<<20), st.Size(), cfg)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return out, nil
}
