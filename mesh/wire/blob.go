package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Sizes and caps of the blob protocol.
const (
	HashSize        = 32                   // SHA-256
	BlobRequestSize = 1 + HashSize + 8 + 8 // version, hash, offset, max size
	BlobHeaderSize  = 1 + 1 + 8            // version, status, size
	FrameHeaderSize = 4                    // u32 payload length
	MaxFrame        = 1 << 20              // payload bytes of one frame
	// MaxBlobSize bounds any blob size on the wire (1 TiB); callers pass
	// their own, much smaller, caps.
	MaxBlobSize = 1 << 40
)

// BlobRequest asks for the bytes [Offset, size) of the blob with SHA-256
// Hash, and says the largest blob the requester accepts.
type BlobRequest struct {
	Hash    [HashSize]byte
	Offset  uint64
	MaxSize uint64
}

// BlobStatus is the sender's answer to a request.
type BlobStatus uint8

// Blob response statuses.
const (
	BlobOK         BlobStatus = 0 // frames follow
	BlobNotFound   BlobStatus = 1 // the sender does not hold the blob
	BlobTooLarge   BlobStatus = 2 // size exceeds the request's MaxSize
	BlobBadRequest BlobStatus = 3 // malformed request or offset past the end
	BlobBusy       BlobStatus = 4 // resource limits reached; retry later
)

func (s BlobStatus) String() string {
	switch s {
	case BlobOK:
		return "ok"
	case BlobNotFound:
		return "not found"
	case BlobTooLarge:
		return "too large"
	case BlobBadRequest:
		return "bad request"
	case BlobBusy:
		return "busy"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// BlobHeader answers a request: a status and the blob's full size (also
// sent with BlobTooLarge so the requester can see by how much).
type BlobHeader struct {
	Status BlobStatus
	Size   uint64
}

// Encode appends the request's fixed-size encoding to dst.
func (q *BlobRequest) Encode(dst []byte) []byte {
	dst = append(dst, Version)
	dst = append(dst, q.Hash[:]...)
	dst = binary.BigEndian.AppendUint64(dst, q.Offset)
	return binary.BigEndian.AppendUint64(dst, q.MaxSize)
}

// DecodeBlobRequest parses exactly BlobRequestSize bytes.
func DecodeBlobRequest(b []byte) (*BlobRequest, error) {
	if len(b) != BlobRequestSize {
		return nil, fmt.Errorf("decode blob request: %d bytes, want %d: %w", len(b), BlobRequestSize, ErrTruncated)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("decode blob request: version %d: %w", b[0], ErrVersion)
	}
	var q BlobRequest
	copy(q.Hash[:], b[1:1+HashSize])
	q.Offset = binary.BigEndian.Uint64(b[1+HashSize:])
	q.MaxSize = binary.BigEndian.Uint64(b[1+HashSize+8:])
	if q.MaxSize > MaxBlobSize {
		return nil, fmt.Errorf("decode blob request: max size %d > %d: %w", q.MaxSize, uint64(MaxBlobSize), ErrTooLarge)
	}
	if q.Offset > q.MaxSize {
		return nil, fmt.Errorf("decode blob request: offset %d past max size %d: %w", q.Offset, q.MaxSize, ErrInvalid)
	}
	return &q, nil
}

// Encode appends the header's fixed-size encoding to dst.
func (h *BlobHeader) Encode(dst []byte) []byte {
	dst = append(dst, Version, byte(h.Status))
	return binary.BigEndian.AppendUint64(dst, h.Size)
}

// DecodeBlobHeader parses exactly BlobHeaderSize bytes.
func DecodeBlobHeader(b []byte) (*BlobHeader, error) {
	if len(b) != BlobHeaderSize {
		return nil, fmt.Errorf("decode blob header: %d bytes, want %d: %w", len(b), BlobHeaderSize, ErrTruncated)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("decode blob header: version %d: %w", b[0], ErrVersion)
	}
	h := BlobHeader{Status: BlobStatus(b[1]), Size: binary.BigEndian.Uint64(b[2:])}
	if h.Status > BlobBusy {
		return nil, fmt.Errorf("decode blob header: %v: %w", h.Status, ErrInvalid)
	}
	if h.Size > MaxBlobSize {
		return nil, fmt.Errorf("decode blob header: size %d > %d: %w", h.Size, uint64(MaxBlobSize), ErrTooLarge)
	}
	return &h, nil
}

// ReadFrameHeader reads a frame's length and refuses lengths over limit (and
// over MaxFrame) before the payload is read. Length 0 ends a transfer.
func ReadFrameHeader(r io.Reader, limit int) (int, error) {
	var b [FrameHeaderSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("read frame header: %w", err)
	}
	n := binary.BigEndian.Uint32(b[:])
	if uint64(n) > MaxFrame || int64(n) > int64(limit) {
		return 0, fmt.Errorf("read frame header: length %d > limit %d: %w", n, min(limit, MaxFrame), ErrTooLarge)
	}
	return int(n), nil
}

// PutFrameHeader writes the header of an n-byte frame into b[:FrameHeaderSize].
func PutFrameHeader(b []byte, n int) { binary.BigEndian.PutUint32(b, uint32(n)) }
