package nn

import (
	"errors"
	"unsafe"
)

// Float is the element type of every op: float32 for training, float64 for
// gradient checks.
type Float interface{ ~float32 | ~float64 }

// ErrIndex reports a token id or target outside its valid range.
var ErrIndex = errors.New("nn: index out of range")

// ErrShape reports dimensions that an op cannot work with.
var ErrShape = errors.New("nn: bad shape")

// is64 tells whether F is 8 bytes wide.
func is64[F Float]() bool {
	var z F
	return unsafe.Sizeof(z) == 8
}

// as32 views a []F of a 4-byte F as []float32 without copying.
func as32[F Float](s []F) []float32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// as64 views a []F of an 8-byte F as []float64 without copying.
func as64[F Float](s []F) []float64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// fromSlot views a []float32 or []float64 back as []F (the one matching F's width).
func fromSlot[F Float](s32 []float32, s64 []float64) []F {
	if is64[F]() {
		if len(s64) == 0 {
			return nil
		}
		return unsafe.Slice((*F)(unsafe.Pointer(unsafe.SliceData(s64))), len(s64))
	}
	if len(s32) == 0 {
		return nil
	}
	return unsafe.Slice((*F)(unsafe.Pointer(unsafe.SliceData(s32))), len(s32))
}

// Zero sets every element of s to 0.
func Zero[F Float](s []F) {
	clear(s)
}
