package mesh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh/wire"
)

// Hash is a blob's SHA-256 content address.
type Hash = [sha256.Size]byte

const (
	// blobChunk is the payload of one frame we send, the most receivers
	// accept: fewer frames, fewer header reads and deadline updates.
	blobChunk = wire.MaxFrame
	// blobBuffers frame buffers let the receiver read (and the transport
	// decrypt) the next frames while SHA-256 and the sink run on another
	// goroutine, i.e. on the second core.
	blobBuffers = 3
	// blobService names the blob protocol's resource-manager service.
	blobService = "mlecs.blob"
)

// BlobSource is where the blob protocol serves bytes from (the node backs
// it with its store). OpenBlob returns a reader positioned anywhere (the
// server seeks) and the blob's size, or an error wrapping ErrBlobNotFound.
type BlobSource interface {
	OpenBlob(ctx context.Context, h Hash) (io.ReadSeekCloser, int64, error)
}

// BlobSourceFunc adapts a function to BlobSource.
type BlobSourceFunc func(ctx context.Context, h Hash) (io.ReadSeekCloser, int64, error)

// OpenBlob calls f.
func (f BlobSourceFunc) OpenBlob(ctx context.Context, h Hash) (io.ReadSeekCloser, int64, error) {
	return f(ctx, h)
}

// Sink receives a fetched blob. Bytes written stay provisional until
// Commit; a transfer cut short leaves them in place, and the next Fetch
// into the same sink resumes after them.
type Sink interface {
	io.Writer
	io.ReaderAt    // reads back held bytes, to hash a resumed prefix
	Size() int64   // bytes held; the next fetch resumes here
	Commit() error // the bytes matched the hash: they may be used now
	Discard() error
}

// serveBlob answers one request on the blob protocol.
func (m *Host) serveBlob(s network.Stream) {
	from := s.Conn().RemotePeer()
	if err := s.Scope().SetService(blobService); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(m.cfg.blobTimeout))
	var rb [wire.BlobRequestSize]byte
	if _, err := io.ReadFull(s, rb[:]); err != nil {
		_ = s.Reset()
		return
	}
	req, err := wire.DecodeBlobRequest(rb[:])
	if err != nil {
		m.log.Debug("bad blob request", "peer", from, "err", err)
		blobReply(s, wire.BlobBadRequest, 0)
		return
	}
	src := m.blobs.Load().s
	if src == nil {
		blobReply(s, wire.BlobNotFound, 0)
		return
	}
	rc, size, err := src.OpenBlob(m.ctx, req.Hash)
	if err != nil {
		if !errors.Is(err, ErrBlobNotFound) {
			m.log.Warn("open blob", "hash", fmt.Sprintf("%x", req.Hash[:8]), "err", err)
		}
		blobReply(s, wire.BlobNotFound, 0)
		return
	}
	defer rc.Close()
	switch {
	case size < 0 || uint64(size) > wire.MaxBlobSize:
		m.log.Warn("blob source reported a bad size", "size", size)
		blobReply(s, wire.BlobNotFound, 0)
		return
	case uint64(size) > req.MaxSize:
		blobReply(s, wire.BlobTooLarge, uint64(size))
		return
	case req.Offset > uint64(size):
		blobReply(s, wire.BlobBadRequest, uint64(size))
		return
	}
	if _, err := rc.Seek(int64(req.Offset), io.SeekStart); err != nil {
		m.log.Warn("seek blob", "err", err)
		blobReply(s, wire.BlobNotFound, 0)
		return
	}
	bufSize := wire.FrameHeaderSize + blobChunk
	if err := s.Scope().ReserveMemory(bufSize, network.ReservationPriorityMedium); err != nil {
		blobReply(s, wire.BlobBusy, uint64(size))
		return
	}
	defer s.Scope().ReleaseMemory(bufSize)

	hdr := wire.BlobHeader{Status: wire.BlobOK, Size: uint64(size)}
	if _, err := s.Write(hdr.Encode(nil)); err != nil {
		_ = s.Reset()
		return
	}
	buf := make([]byte, bufSize)
	remaining := size - int64(req.Offset)
	for remaining > 0 {
		n := int(min(remaining, blobChunk))
		k, rerr := io.ReadFull(rc, buf[wire.FrameHeaderSize:wire.FrameHeaderSize+n])
		if k > 0 {
			// Frames are large: what was read before a source failure is
			// still sent, so a resumed fetch loses nothing.
			wire.PutFrameHeader(buf, k)
			_ = s.SetDeadline(time.Now().Add(m.cfg.blobTimeout))
			if _, err := s.Write(buf[:wire.FrameHeaderSize+k]); err != nil {
				_ = s.Reset()
				return
			}
			remaining -= int64(k)
			m.book.addBlob(from, 0, int64(k))
		}
		if rerr != nil {
			// The source failed or is shorter than it said. End the stream
			// without the end frame (not Reset, which would drop frames in
			// flight): the receiver keeps what arrived and can resume.
			m.log.Warn("read blob", "hash", fmt.Sprintf("%x", req.Hash[:8]), "err", rerr)
			_ = s.Close()
			return
		}
	}
	wire.PutFrameHeader(buf, 0)
	if _, err := s.Write(buf[:wire.FrameHeaderSize]); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

func blobReply(s network.Stream, st wire.BlobStatus, size uint64) {
	hdr := wire.BlobHeader{Status: st, Size: size}
	if _, err := s.Write(hdr.Encode(nil)); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// Fetch pulls the blob with SHA-256 hash h from peer `from` into sink,
// resuming after the bytes the sink already holds. It refuses a blob over
// maxSize before reading any of it, and returns only after the whole blob
// matched h and sink.Commit succeeded. On a hash mismatch the sink is
// discarded and the error wraps ErrHashMismatch; on an interrupted
// transfer the sink keeps its bytes for a later resume.
func (m *Host) Fetch(ctx context.Context, from peer.ID, h Hash, maxSize int64, sink Sink) (int64, error) {
	if maxSize < 0 || uint64(maxSize) > wire.MaxBlobSize {
		return 0, fmt.Errorf("fetch %x: max size %d out of range: %w", h[:8], maxSize, ErrInvalidOption)
	}
	hasher := sha256.New()
	off, err := resumePrefix(sink, maxSize, hasher)
	if err != nil {
		return 0, fmt.Errorf("fetch %x: %w", h[:8], err)
	}
	n, err := m.fetchFrom(ctx, from, h, maxSize, off, sink, hasher)
	if err != nil {
		return 0, fmt.Errorf("fetch %x from %s: %w", h[:8], from, err)
	}
	return n, nil
}

// resumePrefix hashes the bytes the sink already holds, discarding them if
// they cannot be part of an acceptable blob.
func resumePrefix(sink Sink, maxSize int64, hasher io.Writer) (int64, error) {
	off := sink.Size()
	if off == 0 {
		return 0, nil
	}
	if off > maxSize {
		return 0, discard(sink)
	}
	if _, err := io.Copy(hasher, io.NewSectionReader(sink, 0, off)); err != nil {
		return 0, fmt.Errorf("hash resumed prefix: %w", err)
	}
	return off, nil
}

func discard(sink Sink) error {
	if err := sink.Discard(); err != nil {
		return fmt.Errorf("discard sink: %w", err)
	}
	return nil
}

func (m *Host) fetchFrom(ctx context.Context, from peer.ID, h Hash, maxSize, off int64, sink Sink, hasher interface {
	io.Writer
	Sum([]byte) []byte
}) (int64, error) {
	s, err := m.h.NewStream(ctx, from, BlobProtocol)
	if err != nil {
		return 0, fmt.Errorf("open stream: %w", err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := s.Scope().SetService(blobService); err != nil {
		_ = s.Reset()
		return 0, fmt.Errorf("%w: %w", ErrBlobBusy, err)
	}
	_ = s.SetDeadline(time.Now().Add(m.cfg.blobTimeout))
	req := wire.BlobRequest{Hash: h, Offset: uint64(off), MaxSize: uint64(maxSize)}
	if _, err := s.Write(req.Encode(nil)); err != nil {
		_ = s.Reset()
		return 0, fmt.Errorf("send request: %w", err)
	}
	_ = s.CloseWrite()
	var hb [wire.BlobHeaderSize]byte
	if _, err := io.ReadFull(s, hb[:]); err != nil {
		_ = s.Reset()
		return 0, fmt.Errorf("read header: %w", ctxErr(ctx, err))
	}
	hdr, err := wire.DecodeBlobHeader(hb[:])
	if err != nil {
		_ = s.Reset()
		m.Penalize(from, PenaltyBlobProtocol)
		return 0, fmt.Errorf("%w: %w", ErrBlobProtocol, err)
	}
	switch hdr.Status {
	case wire.BlobOK:
	case wire.BlobNotFound:
		return 0, ErrBlobNotFound
	case wire.BlobTooLarge:
		// The peer named (announced) a blob larger than we accept: refused unread, and it costs score.
		m.Penalize(from, PenaltyBlobTooLarge)
		return 0, fmt.Errorf("%w: %d bytes > %d", ErrBlobTooLarge, hdr.Size, maxSize)
	case wire.BlobBusy:
		return 0, ErrBlobBusy
	default:
		if off > 0 { // our resumed prefix does not fit this blob
			return 0, errors.Join(fmt.Errorf("%w: sender refused offset %d", ErrBlobProtocol, off), discard(sink))
		}
		return 0, fmt.Errorf("%w: sender refused request", ErrBlobProtocol)
	}
	// The size cap is checked before any payload byte is read or buffered.
	if hdr.Size > uint64(maxSize) {
		_ = s.Reset()
		m.Penalize(from, PenaltyBlobTooLarge)
		return 0, fmt.Errorf("%w: sender announced %d bytes > %d", ErrBlobTooLarge, hdr.Size, maxSize)
	}
	size := int64(hdr.Size)
	if off > size {
		_ = s.Reset()
		return 0, errors.Join(fmt.Errorf("%w: offset %d past size %d", ErrBlobProtocol, off, size), discard(sink))
	}
	remaining := size - off
	bufSize := int(min(remaining, wire.MaxFrame))
	if err := s.Scope().ReserveMemory(blobBuffers*bufSize, network.ReservationPriorityMedium); err != nil {
		_ = s.Reset()
		return 0, fmt.Errorf("%w: %w", ErrBlobBusy, err)
	}
	defer s.Scope().ReleaseMemory(blobBuffers * bufSize)
	remaining, readErr, sinkErr := m.pipeFrames(s, from, remaining, bufSize, func(b []byte) error {
		if _, err := sink.Write(b); err != nil {
			return err
		}
		_, _ = hasher.Write(b)
		return nil
	})
	switch {
	case sinkErr != nil:
		_ = s.Reset()
		return 0, fmt.Errorf("write sink: %w", sinkErr)
	case errors.Is(readErr, wire.ErrTooLarge):
		_ = s.Reset()
		m.Penalize(from, PenaltyBlobProtocol)
		return 0, fmt.Errorf("%w: frame past the announced size: %w", ErrBlobProtocol, readErr)
	case readErr != nil:
		_ = s.Reset()
		return 0, fmt.Errorf("after %d of %d bytes: %w", size-remaining, size, ctxErr(ctx, readErr))
	}
	if remaining != 0 {
		return 0, fmt.Errorf("%w: transfer ended %d bytes short", ErrBlobProtocol, remaining)
	}
	if got := hasher.Sum(nil); !bytes.Equal(got, h[:]) {
		m.Penalize(from, PenaltyBlobHash)
		return 0, errors.Join(fmt.Errorf("%w: got %x", ErrHashMismatch, got[:8]), discard(sink))
	}
	if err := sink.Commit(); err != nil {
		return 0, fmt.Errorf("commit sink: %w", err)
	}
	return size, nil
}

// ctxErr prefers the context's error when it caused a stream failure.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ctx.Err(), err)
	}
	return err
}

// pipeFrames reads frames from s until the end frame and hands each
// payload, in order, to consume on a second goroutine. It returns the
// bytes still expected (of remaining) and the first read or consume error;
// after a consume error it stops reading.
func (m *Host) pipeFrames(s network.Stream, from peer.ID, remaining int64, bufSize int, consume func([]byte) error) (int64, error, error) {
	free := make(chan []byte, blobBuffers)
	for range blobBuffers {
		free <- make([]byte, bufSize)
	}
	full := make(chan []byte, blobBuffers)
	failed := make(chan struct{}) // closed by the consumer on its first error
	done := make(chan error, 1)
	go func() {
		var err error
		for b := range full {
			if err == nil {
				if err = consume(b); err != nil {
					close(failed)
				}
			}
			free <- b[:cap(b)]
		}
		done <- err
	}()
	var readErr error
loop:
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-failed:
			break loop
		}
		n, err := wire.ReadFrameHeader(s, int(min(remaining, wire.MaxFrame)))
		if err != nil {
			readErr = err
			break
		}
		if n == 0 {
			break
		}
		if _, err := io.ReadFull(s, buf[:n]); err != nil {
			readErr = err
			break
		}
		full <- buf[:n]
		remaining -= int64(n)
		m.book.addBlob(from, int64(n), 0)
		_ = s.SetDeadline(time.Now().Add(m.cfg.blobTimeout))
	}
	close(full)
	return remaining, readErr, <-done
}
