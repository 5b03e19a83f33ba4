package experiment

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// WritePlots draws the per-round plots of r into dir and returns the names written, in report order:
// rouge_per_round.png (edge ROUGE-Lsum, mean over seeds with a ±std band), anchor_rouge_per_round.png
// when some method has an anchor model, and bytes_per_round.png (bytes up + down per edge, log scale
// when the methods differ by more than ~30x) when some method sends anything. Methods without per-round curves are left out; an error
// wrapping ErrPlot is returned when no method has them.
func WritePlots(dir string, r Results) ([]string, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	names := r.MethodNames()
	var rouge, anchor, traffic []series
	for i, n := range names {
		c := r.Methods[n].Curves
		if c == nil {
			continue
		}
		xs := make([]float64, len(c.Rounds))
		for j, rd := range c.Rounds {
			xs[j] = float64(rd)
		}
		sty := methodStyle(n, i)
		rouge = append(rouge, series{name: n, style: sty, xs: xs, mean: c.EdgeRougeLsum.Mean, std: c.EdgeRougeLsum.Std})
		if a := c.AnchorRougeLsum; a != nil {
			anchor = append(anchor, series{name: n, style: sty, xs: xs, mean: a.Mean, std: a.Std})
		}
		tot := make([]float64, len(xs))
		for j := range tot {
			tot[j] = c.BytesUp.Mean[j] + c.BytesDown.Mean[j]
		}
		traffic = append(traffic, series{name: n, style: sty, xs: xs, mean: tot})
	}
	if len(rouge) == 0 {
		return nil, fmt.Errorf("%w: no method has per-round curves", ErrPlot)
	}
	seeds := fmt.Sprintf("mean ± std over %d seeds", len(r.Seeds))
	if len(r.Seeds) == 1 {
		seeds = "1 seed"
	}
	specs := []plotSpec{{
		file: PlotRouge, series: rouge, ylabel: "edge ROUGE-Lsum (mean over edges)",
		title: fmt.Sprintf("Edge ROUGE-Lsum per round — %s, %s (%s)", r.Dataset, r.Preset, seeds),
	}}
	if len(anchor) > 0 {
		specs = append(specs, plotSpec{
			file: PlotAnchorRouge, series: anchor, ylabel: "anchor ROUGE-Lsum",
			title: fmt.Sprintf("Anchor ROUGE-Lsum per round — %s, %s (%s)", r.Dataset, r.Preset, seeds),
		})
	}
	// Methods that send nothing (local, centralised) alone have no traffic to draw.
	if slices.ContainsFunc(traffic, func(sr series) bool { return slices.ContainsFunc(sr.mean, func(v float64) bool { return v > 0 }) }) {
		specs = append(specs, plotSpec{
			file: PlotBytes, series: traffic, ylabel: "bytes up + down per edge", bytes: true,
			title: fmt.Sprintf("Traffic per edge per round — %s, %s (mean over seeds)", r.Dataset, r.Preset),
		})
	}
	var written []string
	for _, s := range specs {
		png, err := s.render()
		if err != nil {
			return written, fmt.Errorf("%w: %s: %w", ErrPlot, s.file, err)
		}
		if err := writeFileAtomic(filepath.Join(dir, s.file), png); err != nil {
			return written, err
		}
		written = append(written, s.file)
	}
	return written, nil
}

// series is one method's line; std may be nil (no band).
type series struct {
	name     string
	style    lineStyle
	xs, mean []float64
	std      []float64
}

// plotSpec is one PNG.
type plotSpec struct {
	file, title, ylabel string
	series              []series
	bytes               bool // y values are byte counts (SI labels, log scale when spread)
}

// Canvas size and resolution: 9 x 5 inches at 150 dpi (1350 x 750 pixels).
const (
	plotWidth  = 9 * vg.Inch
	plotHeight = 5 * vg.Inch
	plotDPI    = 150
)

// render draws the plot into PNG bytes. gonum/plot panics on some degenerate inputs (e.g. a
// non-positive value on a log axis); the inputs are screened, and a panic that still escapes is
// turned into an error rather than crashing the run that produced the results.
func (s plotSpec) render() (png []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			png, err = nil, fmt.Errorf("plot library panic: %v", p)
		}
	}()
	p := plot.New()
	p.Title.Text = s.title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = "round"
	p.Y.Label.Text = s.ylabel
	p.Add(plotter.NewGrid())
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, sr := range s.series {
		for i, m := range sr.mean {
			d := 0.0
			if sr.std != nil {
				d = sr.std[i]
			}
			if !s.bytes || m > 0 {
				lo, hi = math.Min(lo, m-d), math.Max(hi, m+d)
			}
		}
	}
	logY := s.bytes && lo > 0 && hi/lo > 30
	if s.bytes && !logY {
		lo = 0 // a linear byte axis starts at zero, so methods that send nothing are drawn too
	}
	// Draw in reverse so that mlecs ends on top; the legend keeps the display order.
	thumbs := make([]plot.Thumbnailer, len(s.series))
	labels := make([]string, len(s.series))
	for i := len(s.series) - 1; i >= 0; i-- {
		sr := s.series[i]
		// A line hidden under an identical one drawn later is widened so that both stay visible.
		drawable := !logY || slices.ContainsFunc(sr.mean, func(v float64) bool { return v > 0 })
		var same []string
		for _, top := range s.series[:i] {
			if drawable && slices.Equal(top.mean, sr.mean) {
				sr.style.width += vg.Points(2)
				same = append(same, top.name)
			}
		}
		var err error
		thumbs[i], labels[i], err = addSeries(p, sr, logY)
		if err != nil {
			return nil, fmt.Errorf("method %s: %w", sr.name, err)
		}
		if len(same) > 0 {
			labels[i] += " (= " + strings.Join(same, ", ") + ")"
		}
	}
	leg := plot.NewLegend()
	for i := range thumbs {
		leg.Add(" "+labels[i], thumbs[i])
	}
	setXAxis(p, s.series)
	if err := setYAxis(p, lo, hi, logY, s.bytes); err != nil {
		return nil, err
	}
	return drawWithLegend(p, leg)
}

// addSeries adds one method's band, line and points; it returns the legend thumbnail and label.
func addSeries(p *plot.Plot, sr series, logY bool) (plot.Thumbnailer, string, error) {
	if sr.std != nil && hasSpread(sr.std) {
		band, err := bandPolygon(sr.xs, sr.mean, sr.std)
		if err != nil {
			return nil, "", err
		}
		band.Color = withAlpha(sr.style.color, 0x38)
		band.LineStyle.Width = 0
		p.Add(band)
	}
	thumb, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}})
	if err != nil {
		return nil, "", err
	}
	sr.style.apply(thumb)
	segs := segments(sr.xs, sr.mean, logY)
	for _, seg := range segs {
		line, err := plotter.NewLine(seg)
		if err != nil {
			return nil, "", err
		}
		sr.style.apply(line)
		p.Add(line)
		if len(sr.xs) <= 25 {
			pts, err := plotter.NewScatter(seg)
			if err != nil {
				return nil, "", err
			}
			pts.GlyphStyle.Color = sr.style.color
			pts.GlyphStyle.Radius = vg.Points(2.2)
			if len(sr.xs) <= 3 { // few rounds: the markers carry the plot, make them solid
				pts.GlyphStyle.Shape = draw.CircleGlyph{}
				pts.GlyphStyle.Radius = vg.Points(4)
			}
			p.Add(pts)
		}
	}
	if len(segs) == 0 { // all zero on a log axis: say so instead of drawing nothing silently
		return thumb, sr.name + " (0 B, not drawn)", nil
	}
	return thumb, sr.name, nil
}

// hasSpread reports whether any std is visibly non-zero.
func hasSpread(std []float64) bool {
	for _, s := range std {
		if s > 1e-12 {
			return true
		}
	}
	return false
}

// bandPolygon is the mean ± std area: along the upper edge, back along the lower one.
func bandPolygon(xs, mean, std []float64) (*plotter.Polygon, error) {
	ring := make(plotter.XYs, 0, 2*len(xs))
	for i := range xs {
		ring = append(ring, plotter.XY{X: xs[i], Y: mean[i] + std[i]})
	}
	for i := len(xs) - 1; i >= 0; i-- {
		ring = append(ring, plotter.XY{X: xs[i], Y: mean[i] - std[i]})
	}
	return plotter.NewPolygon(ring)
}

// segments splits a series into drawable runs: all of it on a linear axis, the runs of positive
// values on a log axis.
func segments(xs, ys []float64, logY bool) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range xs {
		if logY && !(ys[i] > 0) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, plotter.XY{X: xs[i], Y: ys[i]})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// drawWithLegend renders p with the legend in a column to the right of the plot, so that it never
// covers the lines.
func drawWithLegend(p *plot.Plot, leg plot.Legend) ([]byte, error) {
	c := newPNGCanvas()
	dc := c.drawCanvas()
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(10)
	leg.ThumbnailWidth = vg.Points(28)
	leg.Padding = vg.Points(3)
	gap := vg.Points(12)
	legW := leg.Rectangle(dc).Size().X + gap
	if legW > dc.Size().X/3 {
		legW = dc.Size().X / 3
	}
	p.Draw(draw.Crop(dc, 0, -legW, 0, 0))
	leg.Draw(draw.Crop(dc, dc.Size().X-legW+gap/2, 0, 0, -vg.Points(40)))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}
