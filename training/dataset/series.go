package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Limits for one time-series CSV file.
const (
	maxSeriesFileBytes = 256 << 20
	maxSeriesColumns   = 1024
	maxSeriesRows      = 10_000_000
)

// Series is a decoded time series: Rows[t][c], all rows as wide as Columns.
type Series struct {
	Columns []string
	Rows    [][]float64
}

// LoadCSV reads a time-series CSV file; errors name the file, line and column.
func LoadCSV(path string) (Series, error) {
	raw, err := readFileLimited(path, maxSeriesFileBytes)
	if err != nil {
		return Series{}, err
	}
	s, err := DecodeCSV(raw)
	if err != nil {
		return Series{}, fmt.Errorf("csv %s: %w", path, err)
	}
	return s, nil
}

// DecodeCSV parses a CSV with a header row naming the columns followed by
// rows of finite numbers, all with as many fields as the header.
func DecodeCSV(raw []byte) (Series, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // UTF-8 BOM from spreadsheet exports
	r := csv.NewReader(bytes.NewReader(raw))
	r.ReuseRecord = true
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return Series{}, fmt.Errorf("%w: empty file (want a header row)", ErrMalformed)
	}
	if err != nil {
		return Series{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(header) > maxSeriesColumns {
		return Series{}, fmt.Errorf("%w: %d columns (limit %d)", ErrUnsupported, len(header), maxSeriesColumns)
	}
	numeric := 0
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.TrimSpace(h)
		if _, err := strconv.ParseFloat(cols[i], 64); err == nil {
			numeric++
		}
	}
	if numeric == len(cols) {
		return Series{}, fmt.Errorf("%w: line 1 is all numbers; the first row must name the columns", ErrMalformed)
	}
	var rows [][]float64
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				return Series{}, fmt.Errorf("%w: line %d has %d fields, header has %d", ErrMalformed, pe.Line, len(rec), len(cols))
			}
			return Series{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if len(rows) >= maxSeriesRows {
			return Series{}, fmt.Errorf("%w: more than %d rows", ErrUnsupported, maxSeriesRows)
		}
		row := make([]float64, len(rec))
		for c, field := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				line, _ := r.FieldPos(c)
				return Series{}, fmt.Errorf("%w: line %d column %d (%s): %q is not a finite number", ErrMalformed, line, c+1, cols[c], field)
			}
			row[c] = v
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return Series{}, fmt.Errorf("%w: header but no data rows", ErrMalformed)
	}
	return Series{Columns: cols, Rows: rows}, nil
}

// ResampleRows maps rows (uniformly sampled in time) to exactly length rows,
// shape [length][channels] row-major. Shrinking averages each output step's
// span of input rows (a box filter, so fast motion does not alias);
// stretching interpolates linearly between neighbouring rows.
func ResampleRows(rows [][]float64, length int) ([]float32, error) {
	if length <= 0 {
		return nil, fmt.Errorf("%w: series length %d", ErrConfig, length)
	}
	if err := checkRows(rows); err != nil {
		return nil, err
	}
	n, ch := len(rows), len(rows[0])
	out := make([]float32, length*ch)
	switch {
	case n == length:
		for t, r := range rows {
			for c, v := range r {
				out[t*ch+c] = float32(v)
			}
		}
	case n > length:
		// Output step t covers input interval [t*n/length, (t+1)*n/length);
		// each input row counts with the fraction of it inside the interval.
		step := float64(n) / float64(length)
		acc := make([]float64, ch)
		for t := 0; t < length; t++ {
			a, b := float64(t)*step, float64(t+1)*step
			clear(acc)
			for k := int(a); k < n && float64(k) < b; k++ {
				w := math.Min(b, float64(k+1)) - math.Max(a, float64(k))
				for c, v := range rows[k] {
					acc[c] += w * v
				}
			}
			for c := range acc {
				out[t*ch+c] = float32(acc[c] / step)
			}
		}
	default:
		// Align first and last rows with first and last outputs.
		for t := 0; t < length; t++ {
			pos := 0.0
			if length > 1 {
				pos = float64(t) * float64(n-1) / float64(length-1)
			}
			k := min(int(pos), n-1)
			frac := pos - float64(k)
			for c := 0; c < ch; c++ {
				v := rows[k][c]
				if frac > 0 && k+1 < n {
					v += frac * (rows[k+1][c] - v)
				}
				out[t*ch+c] = float32(v)
			}
		}
	}
	return out, nil
}

// ChannelStats holds per-channel mean and standard deviation used to
// normalise a time series modality.
type ChannelStats struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// stdFloor keeps a constant channel from dividing by zero.
const stdFloor = 1e-6

// apply normalises x ([T][C]) in place: (x - mean) / std per channel.
func (s ChannelStats) apply(x []float32) {
	ch := len(s.Mean)
	for i := range x {
		c := i % ch
		x[i] = float32((float64(x[i]) - s.Mean[c]) / s.Std[c])
	}
}

// statsAccumulator computes per-channel mean and variance in one pass
// (Welford's algorithm, numerically stable over millions of values).
type statsAccumulator struct {
	n    []float64
	mean []float64
	m2   []float64
}

func newStatsAccumulator(ch int) *statsAccumulator {
	return &statsAccumulator{n: make([]float64, ch), mean: make([]float64, ch), m2: make([]float64, ch)}
}

// add folds in x ([T][C]).
func (a *statsAccumulator) add(x []float32) {
	ch := len(a.mean)
	for i, v := range x {
		c := i % ch
		a.n[c]++
		d := float64(v) - a.mean[c]
		a.mean[c] += d / a.n[c]
		a.m2[c] += d * (float64(v) - a.mean[c])
	}
}

func (a *statsAccumulator) stats() ChannelStats {
	s := ChannelStats{Mean: append([]float64(nil), a.mean...), Std: make([]float64, len(a.mean))}
	for c := range s.Std {
		s.Std[c] = 1
		if a.n[c] > 1 {
			if sd := math.Sqrt(a.m2[c] / a.n[c]); sd > stdFloor {
				s.Std[c] = sd
			}
		}
	}
	return s
}

// sampleStats are the per-channel statistics of one series ([T][C]).
func sampleStats(x []float32, ch int) ChannelStats {
	a := newStatsAccumulator(ch)
	a.add(x)
	return a.stats()
}
