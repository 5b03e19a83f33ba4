package experiment

import (
	"image/color"
	"io"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// lineStyle is how one method is drawn.
type lineStyle struct {
	color  color.RGBA
	width  vg.Length
	dashes []vg.Length
}

func (s lineStyle) apply(l *plotter.Line) {
	l.LineStyle.Color = s.color
	l.LineStyle.Width = s.width
	l.LineStyle.Dashes = s.dashes
}

// tab10 is matplotlib's default qualitative palette: distinct and readable for colour-blind viewers.
func tab10(i int) color.RGBA {
	p := [...]uint32{0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf}
	v := p[i%len(p)]
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// methodStyle fixes a look per method so that plots of different runs compare at a glance: mlecs a
// thick red line, its ablations dashed, the baselines solid, the centralised bound dotted black;
// other methods take palette colours by position (i) with dash-dots.
func methodStyle(name string, i int) lineStyle {
	solid := lineStyle{width: vg.Points(1.6)}
	dashed := lineStyle{width: vg.Points(1.6), dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	switch name {
	case methodMLECS:
		return lineStyle{color: tab10(3), width: vg.Points(2.6)}
	case "mlecs-no-ccl":
		dashed.color = tab10(1)
	case "mlecs-no-amt":
		dashed.color = tab10(6)
	case "mlecs-no-mma":
		dashed.color = tab10(5)
	case "mlecs-no-seccl":
		dashed.color = tab10(4)
	case "local":
		solid.color = tab10(7)
		return solid
	case "fedavg":
		solid.color = tab10(0)
		return solid
	case "fedprox":
		solid.color = tab10(9)
		return solid
	case "fedmkt":
		solid.color = tab10(2)
		return solid
	case "creamfl":
		solid.color = tab10(8)
		return solid
	case methodCentralized:
		return lineStyle{color: color.RGBA{A: 0xff}, width: vg.Points(1.8), dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	default:
		if strings.HasPrefix(name, ablationPrefix) {
			dashed.color = tab10(i)
			return dashed
		}
		return lineStyle{color: tab10(i), width: vg.Points(1.6),
			dashes: []vg.Length{vg.Points(7), vg.Points(2), vg.Points(2), vg.Points(2)}}
	}
	return dashed
}

func withAlpha(c color.RGBA, a uint8) color.Color {
	return color.NRGBA{R: c.R, G: c.G, B: c.B, A: a}
}

// pngCanvas is a white raster canvas of the plot size.
type pngCanvas struct{ img *vgimg.Canvas }

func newPNGCanvas() pngCanvas {
	return pngCanvas{vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI),
		vgimg.UseBackgroundColor(color.White))}
}

func (c pngCanvas) drawCanvas() draw.Canvas {
	// A small margin keeps the title and tick labels off the image border.
	return draw.Crop(draw.New(c.img), vg.Points(6), -vg.Points(6), vg.Points(4), -vg.Points(6))
}

func (c pngCanvas) WriteTo(w io.Writer) (int64, error) {
	return vgimg.PngCanvas{Canvas: c.img}.WriteTo(w)
}
