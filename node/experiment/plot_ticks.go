package experiment

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

func setXAxis(p *plot.Plot, ss []series) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, x := range s.xs {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	p.X.Min, p.X.Max = lo, hi
	p.X.Tick.Marker = plot.TickerFunc(integerTicks)
}

// integerTicks labels whole rounds with a step of 1, 2, 5, 10, ... giving at most ~10 labels.
func integerTicks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for _, mult := range []float64{2, 2.5, 2} {
		if span/step <= 10 {
			break
		}
		step *= mult
	}
	for span/step > 10 {
		step *= 10
	}
	step = math.Max(1, math.Round(step))
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%.0f", v)})
	}
	return ticks
}

func setYAxis(p *plot.Plot, lo, hi float64, logY, isBytes bool) error {
	label := func(v, step float64) string { return fmtTick(v, step) }
	if isBytes {
		label = func(v, _ float64) string { return fmtBytesSI(v) }
	}
	switch {
	case math.IsInf(lo, 1): // nothing drawable (e.g. every method sent 0 bytes)
		lo, hi = 0, 1
	case logY:
		p.Y.Scale = plot.LogScale{}
		lo, hi = lo/1.5, hi*1.5
		p.Y.Tick.Marker = plot.TickerFunc(func(a, b float64) []plot.Tick { return logTicks(a, b, fmtBytesSI) })
		p.Y.Min, p.Y.Max = lo, hi
		return nil
	case hi-lo < 1e-9:
		pad := math.Max(math.Abs(hi)*0.1, 0.05)
		lo, hi = lo-pad, hi+pad
	default:
		pad := 0.05 * (hi - lo)
		lo, hi = lo-pad, hi+pad
	}
	lo = math.Max(lo, 0) // metrics and byte counts are never negative; the band is clipped
	if !(hi > lo) || math.IsNaN(lo) || math.IsInf(hi, 0) {
		return fmt.Errorf("y range [%v, %v] is not drawable", lo, hi)
	}
	p.Y.Min, p.Y.Max = lo, hi
	p.Y.Tick.Marker = plot.TickerFunc(func(a, b float64) []plot.Tick { return linearTicks(a, b, label) })
	return nil
}

// linearTicks labels about six round values (steps of 1, 2, 2.5 or 5 x 10^k) with a minor tick
// between labels.
func linearTicks(lo, hi float64, label func(v, step float64) string) []plot.Tick {
	span := hi - lo
	mag := math.Pow(10, math.Floor(math.Log10(span/6)))
	step := mag
	for _, m := range []float64{2, 2.5, 5, 10} { // the step whose label count is closest to six
		if math.Abs(span/(m*mag)-6) < math.Abs(span/step-6) {
			step = m * mag
		}
	}
	var ticks []plot.Tick
	for k := math.Ceil(lo / step * 2); k/2*step <= hi+1e-12*math.Abs(hi); k++ {
		v := k / 2 * step
		t := plot.Tick{Value: v}
		if math.Mod(k, 2) == 0 {
			t.Label = label(v, step)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// fmtTick prints v with as many decimals as the tick step needs.
func fmtTick(v, step float64) string {
	dec := max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	if r := step * math.Pow(10, float64(dec)); math.Abs(r-math.Round(r)) > 1e-6 { // e.g. step 0.25
		dec++
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// logTicks puts ticks at 1..9 x 10^k; 1 x 10^k is labelled, and 2 and 5 x 10^k too when the axis
// spans less than three decades (otherwise a log axis shows too few labels to read values off).
func logTicks(lo, hi float64, label func(float64) string) []plot.Tick {
	few := math.Log10(hi/lo) < 3
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for k := 1.0; k < 10; k++ {
			v := k * base
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if k == 1 || few && (k == 2 || k == 5) {
				t.Label = label(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// fmtBytesSI prints a byte count with an SI unit (axis labels step by powers of ten).
func fmtBytesSI(v float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for math.Abs(v) >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	s := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	return s + " " + units[i]
}
