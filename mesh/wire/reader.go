package wire

import (
	"encoding/binary"
	"fmt"
)

// reader consumes big-endian fields from a byte slice. The first failure is
// kept in err and every later read returns zero values, so decoders check
// once at the end (or before using a value to make a decision).
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("need %d bytes, have %d: %w", n, len(r.b), ErrTruncated)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// bytes16 reads a u16 length then that many bytes, refusing lengths over max
// before looking at the bytes.
func (r *reader) bytes16(field string, max int) []byte {
	n := int(r.u16())
	return r.capped(field, n, max)
}

// bytes32 is bytes16 with a u32 length.
func (r *reader) bytes32(field string, max int) []byte {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(max) {
		r.err = fmt.Errorf("%s: length %d > %d: %w", field, n, max, ErrTooLarge)
		return nil
	}
	return r.capped(field, int(n), max)
}

func (r *reader) capped(field string, n, max int) []byte {
	if r.err != nil {
		return nil
	}
	if n > max {
		r.err = fmt.Errorf("%s: length %d > %d: %w", field, n, max, ErrTooLarge)
		return nil
	}
	b := r.take(n)
	if r.err != nil {
		r.err = fmt.Errorf("%s: %w", field, r.err)
	}
	return b
}
