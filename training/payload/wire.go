package payload

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// flushAt is the buffered size at which the writer hands bytes to the underlying io.Writer.
const flushAt = 1 << 16

// writer appends little-endian fields to a small buffer, flushes it to w, and counts every byte so that
// callers can attribute bytes to payload parts. The first write error sticks.
type writer struct {
	w   io.Writer
	buf []byte
	n   int64
	err error
}

func newWriter(w io.Writer) *writer { return &writer{w: w, buf: make([]byte, 0, flushAt+64)} }

func (e *writer) grew(k int) {
	e.n += int64(k)
	if len(e.buf) >= flushAt {
		e.flush()
	}
}

func (e *writer) flush() {
	if e.err == nil && len(e.buf) > 0 {
		if _, err := e.w.Write(e.buf); err != nil {
			e.err = fmt.Errorf("payload: write: %w", err)
		}
	}
	e.buf = e.buf[:0]
}

func (e *writer) u8(v uint8)   { e.buf = append(e.buf, v); e.grew(1) }
func (e *writer) u16(v uint16) { e.buf = binary.LittleEndian.AppendUint16(e.buf, v); e.grew(2) }
func (e *writer) u32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v); e.grew(4) }
func (e *writer) u64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v); e.grew(8) }
func (e *writer) f64(v float64) {
	e.u64(math.Float64bits(v))
}
func (e *writer) raw(b []byte) {
	for len(b) > 0 {
		k := min(len(b), flushAt)
		e.buf = append(e.buf, b[:k]...)
		b = b[k:]
		e.grew(k)
	}
}
func (e *writer) str8(s string)  { e.u8(uint8(len(s))); e.raw([]byte(s)) }
func (e *writer) str16(s string) { e.u16(uint16(len(s))); e.raw([]byte(s)) }
func (e *writer) uvarint(v uint64) {
	before := len(e.buf)
	e.buf = binary.AppendUvarint(e.buf, v)
	e.grew(len(e.buf) - before)
}

// values writes the codec byte, the Int8 scale if any, then the values. data must have passed
// checkEncodable for c.
func (e *writer) values(c Codec, data []float32) {
	e.u8(uint8(c))
	var scale float32
	if c == Int8 {
		scale, _ = Int8Scale(data) // finiteness was checked by the caller
		e.u32(math.Float32bits(scale))
	}
	for len(data) > 0 {
		k := min(len(data), flushAt/4)
		chunk := data[:k]
		data = data[k:]
		before := len(e.buf)
		switch c {
		case FP32:
			for _, v := range chunk {
				e.buf = binary.LittleEndian.AppendUint32(e.buf, math.Float32bits(v))
			}
		case FP16:
			for _, v := range chunk {
				e.buf = binary.LittleEndian.AppendUint16(e.buf, Float32ToHalf(v))
			}
		case Int8:
			for _, v := range chunk {
				e.buf = append(e.buf, uint8(quantize(v, scale)))
			}
		}
		e.grew(len(e.buf) - before)
	}
}

// reader decodes fields from a byte slice. The first error sticks and names the field being read.
type reader struct {
	b   []byte
	off int
	err error
}

func (d *reader) rest() int { return len(d.b) - d.off }

func (d *reader) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
	}
}

// take returns the next n bytes, or nil (with a sticky error naming what) if fewer remain.
func (d *reader) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.rest() {
		d.fail("%s: truncated at byte %d: need %d bytes, %d left", what, d.off, n, d.rest())
		return nil
	}
	b := d.b[d.off : d.off+n]
	d.off += n
	return b
}

func (d *reader) u8(what string) uint8 {
	if b := d.take(1, what); b != nil {
		return b[0]
	}
	return 0
}
func (d *reader) u16(what string) uint16 {
	if b := d.take(2, what); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}
func (d *reader) u32(what string) uint32 {
	if b := d.take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}
func (d *reader) u64(what string) uint64 {
	if b := d.take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}
func (d *reader) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b[d.off:])
	if k <= 0 {
		d.fail("%s: bad varint at byte %d", what, d.off)
		return 0
	}
	if k != len(binary.AppendUvarint(nil, v)) {
		d.fail("%s: non-minimal varint at byte %d", what, d.off) // one value, one encoding
		return 0
	}
	d.off += k
	return v
}

// str reads a string of n bytes (n already read by the caller), capped at maxLen, valid UTF-8; empty is
// allowed only if allowEmpty.
func (d *reader) str(n, maxLen int, allowEmpty bool, what string) string {
	if d.err != nil {
		return ""
	}
	if n > maxLen {
		d.fail("%s: length %d exceeds %d", what, n, maxLen)
		return ""
	}
	if n == 0 && !allowEmpty {
		d.fail("%s: empty", what)
		return ""
	}
	b := d.take(n, what)
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		d.fail("%s: invalid UTF-8", what)
		return ""
	}
	return string(b)
}

func (d *reader) str8(allowEmpty bool, what string) string {
	return d.str(int(d.u8(what+" length")), MaxIDLen, allowEmpty, what)
}

func (d *reader) str16(maxLen int, what string) string {
	return d.str(int(d.u16(what+" length")), maxLen, false, what)
}

// values reads a codec byte, an Int8 scale if any, and n values, rejecting unknown codecs, bad scales
// and non-finite values. The remaining bytes are checked before the slice is allocated.
func (d *reader) values(n int, what string) []float32 {
	c := Codec(d.u8(what + " codec"))
	if d.err != nil {
		return nil
	}
	if !c.valid() {
		d.err = fmt.Errorf("%w: %s: codec byte %d", ErrCodec, what, uint8(c))
		return nil
	}
	var scale float32
	if c == Int8 {
		scale = math.Float32frombits(d.u32(what + " int8 scale"))
		if d.err != nil {
			return nil
		}
		if !finite32(scale) || scale < 0 || scale > maxScale {
			d.err = fmt.Errorf("%w: %s: int8 scale %v (want finite, in [0, %g])", ErrNonFinite, what, scale, float32(maxScale))
			return nil
		}
	}
	if int64(n)*int64(c.elemSize()) > int64(d.rest()) {
		d.fail("%s: %d %v values need %d bytes, %d left", what, n, c, int64(n)*int64(c.elemSize()), d.rest())
		return nil
	}
	raw := d.take(n*c.elemSize(), what)
	out := make([]float32, n)
	switch c {
	case FP32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case FP16:
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case Int8:
		for i := range out {
			q := int8(raw[i])
			if q == -128 {
				d.fail("%s: int8 value %d is -128, outside the symmetric range [-127, 127]", what, i)
				return nil
			}
			out[i] = dequantize(q, scale)
		}
	}
	for i, v := range out {
		if !finite32(v) {
			d.err = fmt.Errorf("%w: %s: value %d is %v", ErrNonFinite, what, i, v)
			return nil
		}
	}
	return out
}
