package safetensors

import (
	"math"
	"testing"
)

// halfRef computes a binary16 value from its fields with float64 arithmetic,
// independently of the bit-twiddling decoder.
func halfRef(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	case 0:
		return sign * math.Ldexp(frac/1024, -14)
	default:
		return sign * math.Ldexp(1+frac/1024, exp-15)
	}
}

// bf16Ref does the same for bfloat16 (8 exponent bits, bias 127, 7 fraction bits).
func bf16Ref(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>7) & 0xff
	frac := float64(h & 0x7f)
	switch exp {
	case 0xff:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	case 0:
		return sign * math.Ldexp(frac/128, -126)
	default:
		return sign * math.Ldexp(1+frac/128, exp-127)
	}
}

// TestHalfDecodeExhaustive decodes every 16-bit pattern through Read and
// compares with the reference formulas (every value is exact in float32).
func TestHalfDecodeExhaustive(t *testing.T) {
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	data := u16le(all...)
	hdr := `{"f16":{"dtype":"F16","shape":[256,256],"data_offsets":[0,131072]},` +
		`"bf16":{"dtype":"BF16","shape":[65536],"data_offsets":[131072,262144]}}`
	f, err := readBytes(rawFile(hdr, append(data, data...)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ref  func(uint16) float64
	}{{"f16", halfRef}, {"bf16", bf16Ref}} {
		tt, _ := f.Tensor(c.name)
		for i, got := range tt.Data {
			want := c.ref(uint16(i))
			if math.IsNaN(want) {
				if !math.IsNaN(float64(got)) || math.Signbit(float64(got)) != (i&0x8000 != 0) {
					t.Fatalf("%s %#04x: got %v, want NaN with sign %v", c.name, i, got, i&0x8000 != 0)
				}
				continue
			}
			if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
				t.Fatalf("%s %#04x: got %v, want %v", c.name, i, got, want)
			}
		}
	}
}

// TestHalfDecodeKnownValues pins hand-derived values, including the
// subnormal and infinity boundaries of both formats.
func TestHalfDecodeKnownValues(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	cases := []struct {
		bits uint16
		f16  float64
		bf16 float64
	}{
		{0x0000, 0, 0},
		{0x3c00, 1, math.Ldexp(1, -7)},
		{0x3f80, 1.875, 1},
		{0xc000, -2, -2},
		{0x7bff, 65504, math.Ldexp(255, 113)},             // largest finite half
		{0x0001, math.Ldexp(1, -24), math.Ldexp(1, -133)}, // smallest subnormals
		{0x03ff, math.Ldexp(1023, -24), math.Ldexp(255, -127)},
		{0x0400, math.Ldexp(1, -14), math.Ldexp(1, -119)},     // smallest normal half
		{0x0080, math.Ldexp(1, -17), math.Ldexp(1, -126)},     // smallest normal bf16
		{0x007f, math.Ldexp(127, -24), math.Ldexp(127, -133)}, // largest subnormal bf16
		{0x7c00, inf, math.Ldexp(1, 121)},
		{0xfc00, -inf, -math.Ldexp(1, 121)},
		{0x7f80, nan, inf},
		{0xff80, nan, -inf},
		{0x7fc0, nan, nan},
		{0x8000, math.Copysign(0, -1), math.Copysign(0, -1)},
	}
	for _, c := range cases {
		dst := make([]float32, 2)
		decode(dst[:1], u16le(c.bits), dtF16)
		decode(dst[1:], u16le(c.bits), dtBF16)
		for k, want := range []float64{c.f16, c.bf16} {
			got := float64(dst[k])
			ok := got == want && math.Signbit(got) == math.Signbit(want)
			if math.IsNaN(want) {
				ok = math.IsNaN(got)
			}
			if !ok {
				t.Errorf("%s %#04x = %v, want %v", []string{"f16", "bf16"}[k], c.bits, got, want)
			}
		}
	}
}
