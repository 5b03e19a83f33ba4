package soak

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Metric is one sampled quantity and the per-round growth it is allowed after warm-up.
type Metric struct {
	Name  string
	Unit  string
	Value func(Sample) float64
	// MaxSlope is the largest least-squares growth per round that still counts as flat; 0 or less:
	// reported only, never judged.
	MaxSlope float64
}

// Default thresholds. A leak of one goroutine or one file per round shows as a slope of 1; 0.05 allows
// a single late-starting background goroutine (e.g. one more Badger compactor) over 20+ rounds. RSS
// moves with the GC cycle by a few MiB; 64 KiB per round is 12.5 MiB over 200 rounds, far above that
// noise once the fit spans the run and far below any real per-round leak of model-sized buffers
// (a tiny-preset global alone is hundreds of KiB).
const (
	MaxRSSSlope       = 64 << 10
	MaxGoroutineSlope = 0.05
	MaxFDSlope        = 0.05
)

// DefaultMetrics are the judged quantities (RSS, goroutines, fds) and, reported only, the parts of
// RSS and the live heap, which tell a Go leak from mapped file pages, and the stores' disk usage.
func DefaultMetrics() []Metric {
	return []Metric{
		{Name: "rss", Unit: "bytes", Value: func(s Sample) float64 { return float64(s.RSS) }, MaxSlope: MaxRSSSlope},
		{Name: "goroutines", Unit: "count", Value: func(s Sample) float64 { return float64(s.Goroutines) }, MaxSlope: MaxGoroutineSlope},
		{Name: "fds", Unit: "count", Value: func(s Sample) float64 { return float64(s.FDs) }, MaxSlope: MaxFDSlope},
		{Name: "rss_anon", Unit: "bytes", Value: func(s Sample) float64 { return float64(s.RSSAnon) }},
		{Name: "rss_file", Unit: "bytes", Value: func(s Sample) float64 { return float64(s.RSSFile) }},
		{Name: "heap_live", Unit: "bytes", Value: func(s Sample) float64 { return float64(s.HeapLive) }},
		{Name: "disk", Unit: "bytes", Value: func(s Sample) float64 { return float64(s.DiskBytes) }},
	}
}

// Fit is one metric over the samples after warm-up.
type Fit struct {
	Metric     Metric
	Start, End float64 // first and last sample after warm-up
	Min, Max   float64
	Slope      float64 // least-squares growth per round
	Exceeded   bool    // Slope > Metric.MaxSlope (judged metrics only)
}

// Report is the fits of a run.
type Report struct {
	Rounds    int // samples in total
	Warmup    int // rounds left out of the fit
	FitRounds int
	Fits      []Fit
}

// Failed lists the metrics whose slope exceeds their threshold.
func (r Report) Failed() []Fit {
	var out []Fit
	for _, f := range r.Fits {
		if f.Exceeded {
			out = append(out, f)
		}
	}
	return out
}

// Analyze fits every metric over the samples whose round is above warmup. At least 3 such samples are
// needed for a slope to mean anything.
func Analyze(samples []Sample, warmup int, ms []Metric) (Report, error) {
	var fitted []Sample
	for _, s := range samples {
		if s.Round > warmup {
			fitted = append(fitted, s)
		}
	}
	rep := Report{Rounds: len(samples), Warmup: warmup, FitRounds: len(fitted)}
	if len(fitted) < 3 {
		return rep, fmt.Errorf("%w: %d samples after a warm-up of %d rounds, want at least 3", ErrSoak, len(fitted), warmup)
	}
	xs := make([]float64, len(fitted))
	for i, s := range fitted {
		xs[i] = float64(s.Round)
	}
	for _, m := range ms {
		ys := make([]float64, len(fitted))
		f := Fit{Metric: m, Min: math.Inf(1), Max: math.Inf(-1)}
		for i, s := range fitted {
			ys[i] = m.Value(s)
			f.Min, f.Max = math.Min(f.Min, ys[i]), math.Max(f.Max, ys[i])
		}
		f.Start, f.End = ys[0], ys[len(ys)-1]
		f.Slope, _ = LeastSquares(xs, ys)
		f.Exceeded = m.MaxSlope > 0 && f.Slope > m.MaxSlope
		rep.Fits = append(rep.Fits, f)
	}
	return rep, nil
}

// LeastSquares returns slope and intercept of the line y = a*x + b that minimises the squared error.
// With fewer than two distinct x it returns NaN.
func LeastSquares(xs, ys []float64) (slope, intercept float64) {
	n := float64(len(xs))
	if len(xs) != len(ys) || len(xs) < 2 {
		return math.NaN(), math.NaN()
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i] / n
		my += ys[i] / n
	}
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return math.NaN(), math.NaN()
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

// WriteTable prints the report as an aligned table.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "metric\tstart\tend\tmin\tmax\tslope/round\tthreshold\tverdict\t\n")
	for _, f := range r.Fits {
		verdict, limit := "flat", strings.TrimPrefix(fmtSlope(f.Metric, f.Metric.MaxSlope), "+")
		switch {
		case f.Metric.MaxSlope <= 0:
			verdict, limit = "(info)", "-"
		case f.Exceeded:
			verdict = "GROWS"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", f.Metric.Name, fmtVal(f.Metric, f.Start), fmtVal(f.Metric, f.End),
			fmtVal(f.Metric, f.Min), fmtVal(f.Metric, f.Max), fmtSlope(f.Metric, f.Slope), limit, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d rounds sampled; slopes fitted over rounds %d..%d (%d samples, warm-up %d)\n",
		r.Rounds, r.Warmup+1, r.Warmup+r.FitRounds, r.FitRounds, r.Warmup)
	return err
}

func fmtVal(m Metric, v float64) string {
	if m.Unit == "bytes" {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", v)
}

func fmtSlope(m Metric, v float64) string {
	if m.Unit == "bytes" {
		return fmt.Sprintf("%+.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%+.3f", v)
}
