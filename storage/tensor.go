package storage

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// NamedTensor is one float32 tensor of a checkpoint, row-major.
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32 // len(Data) == product(Shape); a rank-0 tensor holds one value
}

// Tensor encoding, version 1 (all integers little-endian):
//
//	"MLTN" | version u8 = 1 | dtype u8 = 1 (float32) | name len u16 | name (UTF-8)
//	| rank u8 | rank x dim u32 | product(dims) x float32
const (
	tensorMagic   = "MLTN"
	tensorVersion = 1
	dtypeFloat32  = 1
	maxNameLen    = 256
	maxRank       = 8
	maxElements   = limitMaxObject / 4
)

// numElements is the product of shape: each dim must be in 0..maxElements and so must the
// product (a zero dim makes it 0 whatever the others are). Encoder and decoder share it so
// that whatever one accepts the other does too.
func numElements(shape []int) (int64, error) {
	for i, d := range shape {
		if d < 0 || int64(d) > maxElements {
			return 0, fmt.Errorf("%w: dim %d is %d, want 0..%d", ErrInvalid, i, d, int64(maxElements))
		}
		if d == 0 {
			return 0, nil
		}
	}
	n := int64(1)
	for _, d := range shape {
		if n > maxElements/int64(d) {
			return 0, fmt.Errorf("%w: shape %v has more than %d elements", ErrTooLarge, shape, int64(maxElements))
		}
		n *= int64(d)
	}
	return n, nil
}

// checkTensor validates name and shape against the format limits and the data length.
func checkTensor(t *NamedTensor) error {
	if t.Name == "" || len(t.Name) > maxNameLen || !utf8.ValidString(t.Name) {
		return fmt.Errorf("%w: tensor name %q: want 1..%d bytes of UTF-8", ErrInvalid, clip(t.Name), maxNameLen)
	}
	if len(t.Shape) > maxRank {
		return fmt.Errorf("%w: tensor %q: rank %d exceeds %d", ErrInvalid, t.Name, len(t.Shape), maxRank)
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if int64(len(t.Data)) != n {
		return fmt.Errorf("%w: tensor %q: shape %v needs %d values, have %d", ErrInvalid, t.Name, t.Shape, n, len(t.Data))
	}
	return nil
}

func tensorHeader(t *NamedTensor) []byte {
	e := encoder{b: make([]byte, 0, 9+len(t.Name)+4*len(t.Shape))}
	e.raw([]byte(tensorMagic))
	e.u8(tensorVersion)
	e.u8(dtypeFloat32)
	e.str16(t.Name)
	e.u8(uint8(len(t.Shape)))
	for _, d := range t.Shape {
		e.u32(uint32(d))
	}
	return e.b
}

// encodedTensorLen is the length of EncodeTensor's output.
func encodedTensorLen(t *NamedTensor) int64 {
	return int64(9+len(t.Name)+4*len(t.Shape)) + 4*int64(len(t.Data))
}

// EncodeTensor returns the versioned little-endian encoding of t.
func EncodeTensor(t NamedTensor) ([]byte, error) {
	if err := checkTensor(&t); err != nil {
		return nil, err
	}
	b := make([]byte, encodedTensorLen(&t))
	n, err := io.ReadFull(newTensorReader(&t), b)
	if err != nil || n != len(b) {
		return nil, fmt.Errorf("encode tensor %q: %d of %d bytes: %v", t.Name, n, len(b), err)
	}
	return b, nil
}

// DecodeTensor parses EncodeTensor's output. Malformed input (bad magic, version, dtype,
// name, rank, or a shape that disagrees with the payload length) yields ErrCorrupt; the
// allocation is bounded by len(b).
func DecodeTensor(b []byte) (NamedTensor, error) {
	d := decoder{what: "tensor", b: b}
	d.header(tensorMagic, tensorVersion)
	if dt := d.u8("dtype"); d.err == nil && dt != dtypeFloat32 {
		d.fail("dtype", "unsupported dtype %d", dt)
	}
	t := NamedTensor{Name: d.str16("name", maxNameLen)}
	if d.err == nil && t.Name == "" {
		d.fail("name", "empty")
	}
	rank := d.count("rank", uint64(d.u8("rank")), maxRank, 4)
	if d.err != nil {
		return NamedTensor{}, d.err
	}
	t.Shape = make([]int, rank)
	for i := range t.Shape {
		t.Shape[i] = int(d.u32("dim"))
	}
	if d.err != nil {
		return NamedTensor{}, d.err
	}
	// Compare the element count with what the payload holds, before allocating.
	n, err := numElements(t.Shape)
	if err != nil {
		d.fail("shape", "%v", err)
		return NamedTensor{}, d.err
	}
	if rest := int64(len(b) - d.off); rest != 4*n {
		d.fail("data", "shape %v needs %d payload bytes, have %d", t.Shape, 4*n, rest)
		return NamedTensor{}, d.err
	}
	t.Data = make([]float32, n)
	p := d.take("data", int(4*n))
	for i := range t.Data {
		t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	if err := d.finish(); err != nil {
		return NamedTensor{}, err
	}
	return t, nil
}

// tensorReader streams a tensor's encoding without materialising it, so a checkpoint is
// written chunk by chunk with no second copy of its weights in memory.
type tensorReader struct {
	head []byte
	data []float32
	tmp  [4]byte
	pend []byte // rest of a float split across two reads
}

func newTensorReader(t *NamedTensor) *tensorReader {
	return &tensorReader{head: tensorHeader(t), data: t.Data}
}

func (r *tensorReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch {
		case len(r.head) > 0:
			c := copy(p[n:], r.head)
			r.head, n = r.head[c:], n+c
		case len(r.pend) > 0:
			c := copy(p[n:], r.pend)
			r.pend, n = r.pend[c:], n+c
		case len(r.data) == 0:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case len(p)-n < 4:
			binary.LittleEndian.PutUint32(r.tmp[:], math.Float32bits(r.data[0]))
			r.data, r.pend = r.data[1:], r.tmp[:]
		default:
			k := min(len(r.data), (len(p)-n)/4)
			for i, v := range r.data[:k] {
				binary.LittleEndian.PutUint32(p[n+4*i:], math.Float32bits(v))
			}
			r.data, n = r.data[k:], n+4*k
		}
	}
	return n, nil
}
