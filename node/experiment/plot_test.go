package experiment

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// decodePNG checks that path is a PNG of the plot size with real content, and returns it.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 10_000 {
		t.Errorf("%s: only %d bytes", path, len(data))
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != 1350 || b.Dy() != 750 {
		t.Errorf("%s: %dx%d, want 1350x750", path, b.Dx(), b.Dy())
	}
	return img
}

// colourStats counts distinct colours and the pixels close to want.
func colourStats(img image.Image, want color.RGBA) (distinct, close int) {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA) // what the PNG encoder of vgimg produces; read its bytes directly
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var c color.RGBA
			if ok {
				i := rgba.PixOffset(x, y)
				c = color.RGBA{R: rgba.Pix[i], G: rgba.Pix[i+1], B: rgba.Pix[i+2], A: rgba.Pix[i+3]}
			} else {
				c = color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			}
			seen[c] = true
			if absDiff(c.R, want.R)+absDiff(c.G, want.G)+absDiff(c.B, want.B) < 30 {
				close++
			}
		}
	}
	return len(seen), close
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestWriteAllPlotsAreRealPNGs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out") // WriteAll creates it
	// Bytes from 0 (local, centralized) to ~2.4 MB: the log axis path, with undrawable zero series.
	r := mustSummarize(t, curvedMeasurements(10, []uint64{1, 2, 3}))
	files, err := WriteAll(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ResultsFile, PlotRouge, PlotAnchorRouge, PlotBytes, ReportFile}
	if !slices.Equal(files, want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	for _, f := range []string{PlotRouge, PlotAnchorRouge, PlotBytes} {
		img := decodePNG(t, filepath.Join(dir, f))
		distinct, red := colourStats(img, tab10(3)) // mlecs is drawn in tab10 red
		if distinct < 30 {
			t.Errorf("%s: %d distinct colours, a blank or near-blank image", f, distinct)
		}
		if red < 500 {
			t.Errorf("%s: %d pixels of the mlecs colour, want its line drawn", f, red)
		}
	}
	back, err := ReadResults(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if back.Methods["mlecs"].Curves == nil {
		t.Error("curves lost in results.json")
	}
}

func TestWritePlotsWithoutAnchorOneSeedOneRound(t *testing.T) {
	if testing.Short() {
		t.Skip("short: rasterising is slow under -race; TestWriteAllPlotsAreRealPNGs covers the plots")
	}
	dir := t.TempDir()
	m := curvedMeasurements(1, []uint64{4})
	for mi := range m.Methods {
		for ri := range m.Methods[mi].Runs {
			m.Methods[mi].Runs[ri].Rounds[0].Anchor = nil
		}
	}
	files, err := WritePlots(dir, mustSummarize(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, []string{PlotRouge, PlotBytes}) {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		decodePNG(t, filepath.Join(dir, f))
	}
	if _, err := os.Stat(filepath.Join(dir, PlotAnchorRouge)); !os.IsNotExist(err) {
		t.Errorf("anchor plot written without anchor metrics: %v", err)
	}
}

func TestWritePlotsNeedsCurves(t *testing.T) {
	r := mustSummarize(t, handMeasurements())
	for name, m := range r.Methods {
		m.Curves = nil
		r.Methods[name] = m
	}
	if _, err := WritePlots(t.TempDir(), r); !errors.Is(err, ErrPlot) {
		t.Fatalf("got %v, want ErrPlot", err)
	}
}

func TestTicks(t *testing.T) {
	var labels []string
	for _, tk := range linearTicks(0.08, 0.72, fmtTick) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if !slices.Equal(labels, []string{"0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"}) {
		t.Errorf("linear labels %v", labels)
	}
	labels = labels[:0]
	for _, tk := range logTicks(40_000, 3_600_000, fmtBytesSI) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if !slices.Equal(labels, []string{"50 kB", "100 kB", "200 kB", "500 kB", "1 MB", "2 MB"}) {
		t.Errorf("log labels %v", labels)
	}
	var rounds []string
	for _, tk := range integerTicks(1, 40) {
		rounds = append(rounds, tk.Label)
	}
	if !slices.Equal(rounds, []string{"5", "10", "15", "20", "25", "30", "35", "40"}) {
		t.Errorf("round labels %v", rounds)
	}
	segs := segments([]float64{1, 2, 3, 4, 5}, []float64{1, 0, 2, 3, math.NaN()}, true)
	if len(segs) != 2 || len(segs[0]) != 1 || len(segs[1]) != 2 {
		t.Errorf("segments %v", segs)
	}
}

// TestWritePlotsWithoutTraffic: methods that send nothing alone (e.g. --methods local) get no traffic plot
// instead of an undrawable empty axis.
func TestWritePlotsWithoutTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("short: rasterising is slow under -race; TestWriteAllPlotsAreRealPNGs covers the plots")
	}
	m := curvedMeasurements(3, []uint64{1})
	m.Methods = slices.DeleteFunc(m.Methods, func(mr MethodRuns) bool { return mr.Method != "local" })
	files, err := WritePlots(t.TempDir(), mustSummarize(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(files, PlotBytes) || !slices.Contains(files, PlotRouge) {
		t.Fatalf("files %v: want the ROUGE plot and no traffic plot", files)
	}
}
