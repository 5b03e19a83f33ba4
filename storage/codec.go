package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// encoder appends the fixed-width little-endian fields of our record formats.
type encoder struct{ b []byte }

func (e *encoder) raw(p []byte)  { e.b = append(e.b, p...) }
func (e *encoder) u8(v uint8)    { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16)  { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32)  { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)  { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) f64(v float64) { e.u64(math.Float64bits(v)) }
func (e *encoder) str8(s string) { e.u8(uint8(len(s))); e.b = append(e.b, s...) }
func (e *encoder) str16(s string) {
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) str32(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

// time stores UnixNano, with 0 meaning the zero time.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.u64(0)
		return
	}
	e.u64(uint64(t.UnixNano()))
}

// seal appends the SHA-256 of everything written so far, so that a record whose bytes
// were damaged in place is detected before any field is trusted.
func (e *encoder) seal() []byte {
	sum := sha256.Sum256(e.b)
	return append(e.b, sum[:]...)
}

// decoder reads what encoder wrote. Errors are sticky: after the first failure every read
// returns zero values, and err names the record and field. Every length is checked against
// the bytes actually present before anything is allocated.
type decoder struct {
	what string // record kind, for messages
	b    []byte
	off  int
	err  error
}

func (d *decoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s: %s", ErrCorrupt, d.what, field, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail(field, "need %d bytes at offset %d, have %d", n, d.off, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8(field string) uint8 {
	if p := d.take(field, 1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16(field string) uint16 {
	if p := d.take(field, 2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32(field string) uint32 {
	if p := d.take(field, 4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64(field string) uint64 {
	if p := d.take(field, 8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) f64(field string) float64 { return math.Float64frombits(d.u64(field)) }

func (d *decoder) time(field string) time.Time {
	v := d.u64(field)
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v)).UTC()
}

func (d *decoder) hash(field string) (h Hash) {
	copy(h[:], d.take(field, len(h)))
	return h
}

// str reads n bytes as a UTF-8 string of at most max bytes.
func (d *decoder) str(field string, n, max int) string {
	if d.err != nil {
		return ""
	}
	if n > max {
		d.fail(field, "length %d exceeds limit %d", n, max)
		return ""
	}
	p := d.take(field, n)
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(p) {
		d.fail(field, "not valid UTF-8")
		return ""
	}
	return string(p)
}

func (d *decoder) str8(field string, max int) string  { return d.str(field, int(d.u8(field)), max) }
func (d *decoder) str16(field string, max int) string { return d.str(field, int(d.u16(field)), max) }
func (d *decoder) str32(field string, max int) string {
	n := d.u32(field)
	if uint64(n) > uint64(max) {
		d.fail(field, "length %d exceeds limit %d", n, max)
		return ""
	}
	return d.str(field, int(n), max)
}

// count reads a u32 element count and checks it against max and against the bytes left,
// given that each element needs at least minSize bytes.
func (d *decoder) count(field string, n uint64, max, minSize int) int {
	if d.err != nil {
		return 0
	}
	if n > uint64(max) {
		d.fail(field, "count %d exceeds limit %d", n, max)
		return 0
	}
	if minSize > 0 && n > uint64((len(d.b)-d.off)/minSize) {
		d.fail(field, "count %d needs at least %d bytes, have %d", n, n*uint64(minSize), len(d.b)-d.off)
		return 0
	}
	return int(n)
}

// header checks the 4-byte magic and the version byte.
func (d *decoder) header(magic string, version uint8) {
	m := d.take("magic", len(magic))
	if d.err == nil && string(m) != magic {
		d.fail("magic", "got %q, want %q", m, magic)
	}
	if v := d.u8("version"); d.err == nil && v != version {
		d.fail("version", "unsupported version %d (want %d)", v, version)
	}
}

// finish reports trailing garbage, and returns the sticky error.
func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("end", "%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}

// unseal verifies and strips the trailing SHA-256 added by encoder.seal.
func unseal(what string, b []byte) ([]byte, error) {
	if len(b) < sha256.Size {
		return nil, fmt.Errorf("%w: %s: %d bytes is shorter than its checksum", ErrCorrupt, what, len(b))
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	got := sha256.Sum256(body)
	if !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("%w: %s: record checksum mismatch", ErrCorrupt, what)
	}
	return body, nil
}
