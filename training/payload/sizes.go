package payload

import (
	"bytes"
	"fmt"
	"io"
)

// Sizes counts the encoded bytes of each part of a payload. Header is the magic, version and scalar
// fields (ids, round, term, samples, modalities); LoRA the named tensors; Fused the sample ids and the
// representation matrix; Predictions and Metrics (Update only) the rest; Knowledge the top-K token
// distributions of public samples (FedMKT; 0 when the payload carries none).
type Sizes struct {
	Header      int64 `json:"header"`
	LoRA        int64 `json:"lora"`
	Fused       int64 `json:"fused"`
	Predictions int64 `json:"predictions"`
	Metrics     int64 `json:"metrics"`
	Knowledge   int64 `json:"knowledge,omitempty"`
}

// Total is the size of the whole payload.
func (s Sizes) Total() int64 {
	return s.Header + s.LoRA + s.Fused + s.Predictions + s.Metrics + s.Knowledge
}

// readLimited reads all of r, failing with ErrTooLarge past maxBytes.
func readLimited(r io.Reader, maxBytes int64) ([]byte, error) {
	if maxBytes < 1 || maxBytes > MaxPayloadBytes {
		return nil, fmt.Errorf("%w: byte limit %d not in [1, %d]", ErrTooLarge, maxBytes, int64(MaxPayloadBytes))
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("payload: read: %w", err)
	}
	if n > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	return buf.Bytes(), nil
}

// readHeader checks the magic and version.
func readHeader(d *reader, magic [4]byte, kind string) {
	m := d.take(4, kind+" magic")
	if d.err != nil {
		return
	}
	if [4]byte(m) != magic {
		d.fail("%s: magic %q, want %q", kind, m, magic[:])
		return
	}
	v := d.u8(kind + " version")
	if d.err == nil && v != Version {
		d.err = fmt.Errorf("%w: %s version %d (this build reads %d)", ErrVersion, kind, v, Version)
	}
}

// finish rejects trailing bytes and returns the sticky error.
func (d *reader) finish(kind string) error {
	if d.err == nil && d.rest() != 0 {
		d.fail("%s: %d trailing bytes after byte %d", kind, d.rest(), d.off)
	}
	return d.err
}
