package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// chunkWriter stages chunk values of one or more objects (a blob, a checkpoint's tensors),
// committing them a few MiB at a time: large objects are never buffered whole, and many
// small tensors share one commit (one fsync) instead of paying one each.
type chunkWriter struct {
	s     *Store
	what  string
	max   int64 // cap on the total bytes written through this writer
	total int64
	arena []byte // backing store of pending values; reused after each commit
	used  int
	ops   []op
	batch int
}

func (s *Store) newChunkWriter(what string, max int64) *chunkWriter {
	return &chunkWriter{s: s, what: what, max: max}
}

// write streams r into chunk values keyed by keyOf(i). size >= 0 means read exactly size
// bytes; size < 0 means read to EOF. onChunk sees each chunk before it is staged. Chunks
// may stay pending until the next write or flush.
func (w *chunkWriter) write(ctx context.Context, r io.Reader, size int64,
	keyOf func(uint32) []byte, onChunk func([]byte)) (int64, error) {
	var n int64
	for i := uint32(0); ; i++ {
		if err := ctxErr(ctx, w.what); err != nil {
			return n, err
		}
		want := int64(chunkSize)
		if size >= 0 {
			want = min(want, size-n)
			if want == 0 {
				return n, nil
			}
		}
		if w.arena == nil {
			w.arena = make([]byte, batchBytes)
		}
		if w.used+int(want) > len(w.arena) {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
		buf := w.arena[w.used : w.used+int(want)]
		got, err := io.ReadFull(r, buf)
		switch {
		case err == nil:
		case size < 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
			size = n + int64(got) // last chunk of a stream of unknown length
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return n, fmt.Errorf("%s: input ended after %d of %d bytes: %w", w.what, n+int64(got), size, io.ErrUnexpectedEOF)
		default:
			return n, fmt.Errorf("%s: read input at byte %d: %w", w.what, n+int64(got), err)
		}
		if got == 0 {
			return n, nil
		}
		if w.total+int64(got) > w.max {
			return n, fmt.Errorf("%w: %s exceeds the %d-byte cap", ErrTooLarge, w.what, w.max)
		}
		n += int64(got)
		w.total += int64(got)
		onChunk(buf[:got])
		w.ops = append(w.ops, op{key: keyOf(i), val: buf[:got]})
		w.used += got
	}
}

// flush commits the pending chunks.
func (w *chunkWriter) flush() error {
	if len(w.ops) == 0 {
		return nil
	}
	if err := w.s.injected(w.what, w.batch); err != nil {
		return fmt.Errorf("%s: batch %d: %w", w.what, w.batch, err)
	}
	w.batch++
	if err := w.s.commitOps(w.ops); err != nil {
		return fmt.Errorf("%s: %w", w.what, err)
	}
	w.ops, w.used = w.ops[:0], 0
	return nil
}
