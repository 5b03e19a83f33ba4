package payload

import "math"

// maxHalf is the largest finite IEEE binary16 value.
const maxHalf = 65504

// Float32ToHalf converts f to IEEE 754 binary16 bits, rounding to nearest, ties to even. Values beyond
// the half range round to ±Inf (as IEEE requires: anything from 65520 up), values below half the
// smallest subnormal (2^-25) become ±0, NaN stays a (quiet) NaN.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 { // |f| < 2^-25: rounds to zero
			return sign
		}
		// Subnormal half: mantissa = f / 2^-24 = (1.mant) * 2^(e-14+10) -> shift the 24-bit significand.
		m := mant | 0x800000
		s := uint32(14 - e)
		r := m >> s
		rem, half := m&(1<<s-1), uint32(1)<<(s-1)
		if rem > half || (rem == half && r&1 == 1) {
			r++ // may become 0x400, the smallest normal: still the right bits
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry into the exponent is correct, up to 0x7c00 = Inf
	}
	return sign | uint16(r)
}

// HalfToFloat32 converts IEEE 754 binary16 bits to float32 exactly.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		// zero or subnormal: mant * 2^-24, exact in float32
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
