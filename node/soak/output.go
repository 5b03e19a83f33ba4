package soak

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Files written by WriteOutputs.
const (
	CSVFile  = "soak.csv"
	PlotFile = "soak.png"
)

// WriteCSV writes one row per sample: round, elapsed seconds, the byte counts, goroutines and fds.
func WriteCSV(path string, samples []Sample) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"round", "elapsed_s", "rss_bytes", "rss_anon_bytes", "rss_file_bytes", "heap_live_bytes", "goroutines", "fds", "disk_bytes"})
	for _, s := range samples {
		_ = w.Write([]string{strconv.Itoa(s.Round), strconv.FormatFloat(s.Elapsed.Seconds(), 'f', 3, 64),
			strconv.FormatInt(s.RSS, 10), strconv.FormatInt(s.RSSAnon, 10), strconv.FormatInt(s.RSSFile, 10),
			strconv.FormatInt(s.HeapLive, 10), strconv.Itoa(s.Goroutines), strconv.Itoa(s.FDs), strconv.FormatInt(s.DiskBytes, 10)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("soak: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("soak: close %s: %w", path, err)
	}
	return nil
}

// WritePlot draws four stacked panels (memory in MiB, goroutines, open fds, disk in MiB) against the
// round, each with its least-squares line over the rounds after warm-up.
func WritePlot(path string, samples []Sample, rep Report) error {
	if len(samples) == 0 {
		return fmt.Errorf("%w: no samples to plot", ErrSoak)
	}
	fitOf := func(name string) (Fit, bool) {
		for _, f := range rep.Fits {
			if f.Metric.Name == name {
				return f, true
			}
		}
		return Fit{}, false
	}
	blue, orange, green, red := color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255}, color.RGBA{214, 39, 40, 255}
	type line struct {
		name string
		v    func(Sample) float64
		c    color.RGBA
	}
	specs := []struct {
		metric, title, ylabel string
		scale                 float64
		lines                 []line
	}{
		{"rss", "Resident memory", "MiB", 1 << 20, []line{
			{"VmRSS", func(s Sample) float64 { return float64(s.RSS) }, blue},
			{"RssAnon", func(s Sample) float64 { return float64(s.RSSAnon) }, orange},
			{"RssFile", func(s Sample) float64 { return float64(s.RSSFile) }, green},
			{"Go live heap", func(s Sample) float64 { return float64(s.HeapLive) }, color.RGBA{148, 103, 189, 255}},
		}},
		{"goroutines", "Goroutines", "count", 1, []line{{"goroutines", func(s Sample) float64 { return float64(s.Goroutines) }, blue}}},
		{"fds", "Open file descriptors", "count", 1, []line{{"fds", func(s Sample) float64 { return float64(s.FDs) }, blue}}},
		{"disk", "Disk used by the node stores", "MiB", 1 << 20, []line{{"disk", func(s Sample) float64 { return float64(s.DiskBytes) }, blue}}},
	}
	const w, h = 9 * vg.Inch, 12 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(120), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(specs), Cols: 1, PadX: vg.Points(8), PadY: vg.Points(14), PadTop: vg.Points(6),
		PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10)}
	for i, sp := range specs {
		p := plot.New()
		p.Title.Text = sp.title
		p.X.Label.Text = "round"
		p.Y.Label.Text = sp.ylabel
		p.Add(plotter.NewGrid())
		for _, l := range sp.lines {
			xy := make(plotter.XYs, len(samples))
			for j, s := range samples {
				xy[j] = plotter.XY{X: float64(s.Round), Y: l.v(s) / sp.scale}
			}
			pl, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("soak: plot %s: %w", l.name, err)
			}
			pl.Color, pl.Width = l.c, vg.Points(1.2)
			p.Add(pl)
			p.Legend.Add(l.name, pl)
		}
		if f, ok := fitOf(sp.metric); ok && rep.FitRounds >= 2 {
			x0, x1 := float64(rep.Warmup+1), float64(samples[len(samples)-1].Round)
			// The fitted line passes through the fitted points' mean; recompute its intercept.
			var xs, ys []float64
			for _, s := range samples {
				if s.Round > rep.Warmup {
					xs, ys = append(xs, float64(s.Round)), append(ys, f.Metric.Value(s))
				}
			}
			a, b := LeastSquares(xs, ys)
			fl, err := plotter.NewLine(plotter.XYs{{X: x0, Y: (a*x0 + b) / sp.scale}, {X: x1, Y: (a*x1 + b) / sp.scale}})
			if err != nil {
				return fmt.Errorf("soak: plot fit: %w", err)
			}
			fl.Color, fl.Width, fl.Dashes = red, vg.Points(1.5), []vg.Length{vg.Points(5), vg.Points(3)}
			p.Add(fl)
			p.Legend.Add(fmt.Sprintf("fit after warm-up: %s/round", fmtSlope(f.Metric, a)), fl)
		}
		// A constant series (fds, usually) gets a visible range instead of one repeated tick.
		if lo, hi := minMax(samples, sp.lines[0].v); lo == hi {
			p.Y.Min, p.Y.Max = (lo-1)/sp.scale, (hi+1)/sp.scale
			if sp.scale != 1 {
				p.Y.Min, p.Y.Max = lo/sp.scale*0.9, hi/sp.scale*1.1+1
			}
		}
		p.Legend.Top, p.Legend.Left = true, true
		p.Draw(tiles.At(dc, 0, i))
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(fh); err != nil {
		fh.Close()
		return fmt.Errorf("soak: write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("soak: close %s: %w", path, err)
	}
	return nil
}

func minMax(samples []Sample, v func(Sample) float64) (lo, hi float64) {
	lo, hi = v(samples[0]), v(samples[0])
	for _, s := range samples[1:] {
		lo, hi = min(lo, v(s)), max(hi, v(s))
	}
	return lo, hi
}

// WriteOutputs writes CSVFile and PlotFile into dir (created if needed).
func WriteOutputs(dir string, samples []Sample, rep Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	if err := WriteCSV(filepath.Join(dir, CSVFile), samples); err != nil {
		return err
	}
	return WritePlot(filepath.Join(dir, PlotFile), samples, rep)
}
