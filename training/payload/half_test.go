package payload

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestHalfRoundTripExhaustive: every non-NaN half converts to float32 and back to the same bits.
func TestHalfRoundTripExhaustive(t *testing.T) {
	for h := range 1 << 16 {
		f := HalfToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			if back := Float32ToHalf(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x -> %v -> %#04x is not a NaN", h, f, back)
			}
			continue
		}
		if back := Float32ToHalf(f); back != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
}

// TestHalfRoundingExhaustive checks round-to-nearest-even against a float64 reference on the midpoint of
// every pair of adjacent positive halves and one float32 ulp either side of it.
func TestHalfRoundingExhaustive(t *testing.T) {
	for h := uint16(0); h < 0x7bff; h++ { // the 0x7bff|Inf boundary is in TestHalfSpecialValues
		lo, hi := float64(HalfToFloat32(h)), float64(HalfToFloat32(h+1))
		mid := float32((lo + hi) / 2) // exact: halves have 11 significant bits
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		if got := Float32ToHalf(mid); got != even {
			t.Fatalf("midpoint %v of %#04x,%#04x -> %#04x, want %#04x (ties to even)", mid, h, h+1, got, even)
		}
		if got := Float32ToHalf(math.Nextafter32(mid, 0)); got != h {
			t.Fatalf("just below midpoint %v -> %#04x, want %#04x", mid, got, h)
		}
		if got := Float32ToHalf(math.Nextafter32(mid, math.MaxFloat32)); got != h+1 {
			t.Fatalf("just above midpoint %v -> %#04x, want %#04x", mid, got, h+1)
		}
		if got := Float32ToHalf(-mid); got != even|0x8000 {
			t.Fatalf("negative midpoint %v -> %#04x, want %#04x", -mid, got, even|0x8000)
		}
	}
}

func TestHalfSpecialValues(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},                  // max finite
		{65519.99, 0x7bff},               // below the overflow threshold
		{65520, 0x7c00},                  // ties to even: rounds up to Inf
		{1e6, 0x7c00},                    // overflow
		{-1e6, 0xfc00},                   // negative overflow
		{float32(math.Inf(1)), 0x7c00},   // Inf stays Inf
		{0x1p-24, 0x0001},                // smallest subnormal
		{0x1p-25, 0x0000},                // half of it: tie to even -> 0
		{0x1.000002p-25, 0x0001},         // just above the tie -> rounds up
		{0x1p-26, 0x0000},                // underflow
		{0x1p-14, 0x0400},                // smallest normal
		{0x1.ffcp-15, 0x0400},            // largest subnormal + half ulp: ties to even carries into the normal range
		{float32(0x3ffp-24), 0x03ff},     // largest subnormal
		{0.333333343267, 0x3555},         // 1/3 rounds down
		{float32(1 + 0x1p-11), 0x3c00},   // 1 + half ulp: tie to even (down)
		{float32(1 + 3*0x1p-11), 0x3c02}, // 1 + 1.5 ulp: tie to even (up)
	}
	for _, c := range cases {
		if got := Float32ToHalf(c.in); got != c.want {
			t.Errorf("Float32ToHalf(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if f := HalfToFloat32(0x0001); f != 0x1p-24 {
		t.Errorf("HalfToFloat32(0x0001) = %g, want 2^-24", f)
	}
	if f := HalfToFloat32(0xfc00); !math.IsInf(float64(f), -1) {
		t.Errorf("HalfToFloat32(0xfc00) = %g, want -Inf", f)
	}
	if f := HalfToFloat32(Float32ToHalf(float32(math.NaN()))); !math.IsNaN(float64(f)) {
		t.Errorf("NaN did not survive: %g", f)
	}
}

// TestHalfRelativeError: in the normal range the relative error of a round trip is at most 2^-11.
func TestHalfRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		v := float32(math.Ldexp(1+r.Float64(), r.IntN(30)-14)) // [2^-14, 2^16)
		if v >= 65504 {
			continue
		}
		got := HalfToFloat32(Float32ToHalf(v))
		if rel := math.Abs(float64(got-v)) / float64(v); rel > 0x1p-11 {
			t.Fatalf("%g -> %g: relative error %g > 2^-11", v, got, rel)
		}
	}
}
