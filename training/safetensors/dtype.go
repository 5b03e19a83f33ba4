package safetensors

import (
	"encoding/binary"
	"math"
)

// dtype is a safetensors element type this package can decode.
type dtype struct {
	name string
	size int64 // bytes per element
}

var (
	dtF32  = dtype{"F32", 4}
	dtF16  = dtype{"F16", 2}
	dtBF16 = dtype{"BF16", 2}
)

// supportedDType maps a header dtype string to a decodable dtype.
func supportedDType(s string) (dtype, bool) {
	switch s {
	case "F32":
		return dtF32, true
	case "F16":
		return dtF16, true
	case "BF16":
		return dtBF16, true
	}
	return dtype{}, false
}

// knownDType reports whether s is a dtype of the safetensors spec, so that
// errors can tell "valid but unsupported" from "not a dtype at all".
func knownDType(s string) bool {
	switch s {
	case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
		"I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64", "C64":
		return true
	}
	return false
}

// decode widens len(dst) little-endian elements of src to float32.
// src must hold exactly len(dst)*dt.size bytes.
func decode(dst []float32, src []byte, dt dtype) {
	switch dt {
	case dtF32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case dtF16:
		for i := range dst {
			dst[i] = f16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case dtBF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	}
}

// f16ToF32 converts IEEE 754 binary16 bits to float32 exactly (every half
// value, subnormals included, is representable as a float32; NaN payloads
// are kept).
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or nan
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal half: normalise, since it is normal in float32
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}
