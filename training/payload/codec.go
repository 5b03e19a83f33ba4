package payload

import (
	"fmt"
	"math"
)

// Codec is how the values of one tensor are stored on the wire.
type Codec uint8

// Codecs. The numbers are wire values: never renumber them.
const (
	FP32 Codec = 1 // IEEE binary32, exact
	FP16 Codec = 2 // IEEE binary16, round to nearest even; relative error <= 2^-11 in the normal range
	Int8 Codec = 3 // symmetric per-tensor int8, scale = maxabs/127 (float32); abs error <= scale/2
)

// maxScale keeps q*scale finite for every q in [-127, 127].
const maxScale = math.MaxFloat32 / 127

// CodecNames lists the names ParseCodec accepts.
func CodecNames() []string { return []string{"fp32", "fp16", "int8"} }

func (c Codec) String() string {
	switch c {
	case FP32:
		return "fp32"
	case FP16:
		return "fp16"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCodec returns the codec named s (fp32, fp16 or int8).
func ParseCodec(s string) (Codec, error) {
	for _, c := range []Codec{FP32, FP16, Int8} {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of %v)", ErrCodec, s, CodecNames())
}

// valid reports whether c is a codec of this version.
func (c Codec) valid() bool { return c == FP32 || c == FP16 || c == Int8 }

// elemSize is the number of bytes per value.
func (c Codec) elemSize() int {
	switch c {
	case FP16:
		return 2
	case Int8:
		return 1
	}
	return 4
}

// headerSize is the bytes before the values: the codec byte and, for Int8, the float32 scale.
func (c Codec) headerSize() int {
	if c == Int8 {
		return 5
	}
	return 1
}

// EncodedSize is the number of bytes that n values take with this codec, codec header included.
func (c Codec) EncodedSize(n int) int64 { return int64(c.headerSize()) + int64(n)*int64(c.elemSize()) }

// Int8Scale is the symmetric quantisation scale of data: maxabs/127 rounded to float32 (0 for an
// all-zero tensor). It fails on non-finite data.
func Int8Scale(data []float32) (float32, error) {
	var m float64
	for i, v := range data {
		if !finite32(v) {
			return 0, fmt.Errorf("%w: value %d is %v", ErrNonFinite, i, v)
		}
		m = max(m, math.Abs(float64(v)))
	}
	return float32(m / 127), nil
}

// quantize maps v to round(v/scale) clamped to [-127, 127] (0 when scale is 0).
func quantize(v, scale float32) int8 {
	if scale == 0 {
		return 0
	}
	q := math.Round(float64(v) / float64(scale))
	return int8(max(-127, min(127, q)))
}

// dequantize is q*scale computed in float64 and rounded once.
func dequantize(q int8, scale float32) float32 { return float32(float64(q) * float64(scale)) }

func finite32(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// checkEncodable fails if data holds a value that the codec cannot carry finitely.
func checkEncodable(c Codec, data []float32) error {
	for i, v := range data {
		if !finite32(v) {
			return fmt.Errorf("%w: value %d is %v", ErrNonFinite, i, v)
		}
		if c == FP16 && math.Abs(float64(v)) >= 65520 { // rounds to Inf in binary16
			return fmt.Errorf("%w: value %d = %v overflows fp16 (max %d)", ErrNonFinite, i, v, maxHalf)
		}
	}
	return nil
}
