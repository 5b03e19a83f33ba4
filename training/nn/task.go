package nn

import "unsafe"

const nslots = 10

type taskKind uint8

const (
	kGemm taskKind = iota + 1
	kAttnFwd
	kAttnBwd
	kLayerNormFwd
	kLayerNormBwdRows
	kLayerNormBwdCols
	kGELUFwd
	kGELUBwd
	kCEFwd
	kCEBwd
	kColSum
)

// task is one chunk of an op, passed by value to a worker. Slices live in
// s32 or s64 depending on the element width (wide), so the struct is not
// generic and holds no closure.
type task struct {
	kind   taskKind
	wide   bool
	s32    [nslots][]float32
	s64    [nslots][]float64
	ids    []int32
	n      [10]int
	f      [4]float64
	lo, hi int
}

// setSlot stores s in slot i of t.
func setSlot[F Float](t *task, i int, s []F) {
	if is64[F]() {
		t.wide = true
		if len(s) > 0 {
			t.s64[i] = unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
		}
		return
	}
	t.s32[i] = as32(s)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (t *task) exec() {
	if t.wide {
		execT[float64](t)
	} else {
		execT[float32](t)
	}
}

func execT[F Float](t *task) {
	var s [nslots][]F
	for i := range s {
		s[i] = fromSlot[F](t.s32[i], t.s64[i])
	}
	n := &t.n
	switch t.kind {
	case kGemm:
		gemmTiles(n[6] == 1, n[7] == 1, n[0], n[1], n[2], F(t.f[0]), s[0], n[3], s[1], n[4], F(t.f[1]), s[2], n[5], t.lo, t.hi)
	case kAttnFwd:
		attentionForwardRange(s[0], s[1], s[2], s[3], t.ids, n[0], n[1], n[2], n[3], n[4] == 1, t.lo, t.hi)
	case kAttnBwd:
		attentionBackwardRange(s[0], s[1], s[2], s[3], s[4], t.ids, n[0], n[1], n[2], n[3], t.lo, t.hi)
	case kLayerNormFwd:
		layerNormForwardRows(s[0], s[1], s[2], s[3], s[4], s[5], n[0], t.lo, t.hi)
	case kLayerNormBwdRows:
		layerNormBackwardRows(s[0], s[1], s[2], s[3], s[4], s[5], n[0], t.lo, t.hi)
	case kLayerNormBwdCols:
		layerNormBackwardCols(s[0], s[1], s[2], s[3], s[4], s[5], n[0], n[1], t.lo, t.hi)
	case kGELUFwd:
		geluForwardRange(s[0], s[1], t.lo, t.hi)
	case kGELUBwd:
		geluBackwardRange(s[0], s[1], s[2], t.lo, t.hi)
	case kCEFwd:
		crossEntropyForwardRows(s[0], s[1], s[2], t.ids, n[0], int32(n[1]), t.lo, t.hi)
	case kCEBwd:
		crossEntropyBackwardRows(s[0], s[1], t.ids, n[0], int32(n[1]), n[2] == 1, F(t.f[0]), t.lo, t.hi)
	case kColSum:
		colSumRange(s[0], s[1], n[0], n[1], t.lo, t.hi)
	}
}
