package aggregate

import "math"

// block is the number of coordinates combined at a time, so that the output slice stays in L1 while
// every contribution streams over it once.
const block = 2048

// weightedMean: out[j] = sum_k w_k x_k[j] with normalised weights w.
func weightedMean(out []float32, i int, elig []*entry, w []float64) {
	w32 := make([]float32, len(w))
	for k, v := range w {
		w32[k] = float32(v)
	}
	for s := 0; s < len(out); s += block {
		o := out[s:min(s+block, len(out))]
		x := elig[0].data[i][s : s+len(o)]
		wk := w32[0]
		for j := range o {
			o[j] = wk * x[j]
		}
		for k := 1; k < len(elig); k++ {
			x, wk := elig[k].data[i][s:s+len(o)], w32[k]
			for j := range o {
				o[j] += wk * x[j]
			}
		}
	}
}

// robust computes the coordinate-wise weighted trimmed mean or weighted median with raw weights.
//
// Trimmed mean: sort the n values of a coordinate, drop floor(trim x n) at each end, weighted mean of
// the rest. Median: the smallest sorted value whose cumulative weight reaches half the total; when it
// reaches exactly half, the mean of that value and the next (the usual median for equal weights).
func robust(out []float32, i int, elig []*entry, raw []float64, rule Rule, trim float64) {
	n := len(elig)
	buf := make([]valWeight, n)
	var total float64
	for _, w := range raw {
		total += w
	}
	cut := int(math.Floor(trim * float64(n)))
	for j := range out {
		for k := range n {
			buf[k] = valWeight{elig[k].data[i][j], raw[k]}
		}
		sortByValue(buf)
		if rule == TrimmedMean {
			var sw, sv float64
			for _, e := range buf[cut : n-cut] {
				sw += e.w
				sv += e.w * float64(e.v)
			}
			out[j] = float32(sv / sw)
			continue
		}
		out[j] = weightedMedian(buf, total)
	}
}

type valWeight struct {
	v float32
	w float64
}

// sortByValue is an insertion sort: n is the number of edges (small) and it allocates nothing.
func sortByValue(s []valWeight) {
	for a := 1; a < len(s); a++ {
		x := s[a]
		b := a
		for ; b > 0 && x.v < s[b-1].v; b-- {
			s[b] = s[b-1]
		}
		s[b] = x
	}
}

// weightedMedian of values sorted ascending, with total = sum of weights.
func weightedMedian(s []valWeight, total float64) float32 {
	var cum float64
	for p, e := range s {
		cum += e.w
		if 2*cum >= total {
			if 2*cum == total && p+1 < len(s) {
				return float32((float64(e.v) + float64(s[p+1].v)) / 2)
			}
			return e.v
		}
	}
	return s[len(s)-1].v
}
