package dataset

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeDir creates a dataset directory from a dataset.json body, sample
// lines and extra files (relative path -> content).
func writeDir(t *testing.T, meta string, lines []string, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	if meta != "" {
		mustWrite(t, filepath.Join(dir, MetaFile), []byte(meta))
	}
	if lines != nil {
		mustWrite(t, filepath.Join(dir, SamplesFile), []byte(strings.Join(lines, "\n")+"\n"))
	}
	for p, b := range files {
		mustWrite(t, filepath.Join(dir, filepath.FromSlash(p)), b)
	}
	return dir
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pngBytes encodes img as PNG.
func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// solidRGBA is a w x h image of one straight-alpha colour.
func solidRGBA(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// sineWAV is a mono 16-bit WAV of a sine at freq Hz.
func sineWAV(t testing.TB, rate int, freq float64, seconds float64) []byte {
	t.Helper()
	n := int(float64(rate) * seconds)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(0.5 * sinHz(freq, float64(i)/float64(rate)))
	}
	b, err := EncodeWAV(PCM{Rate: rate, Channels: 1, Data: x})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sinHz is sin(2 pi f t).
func sinHz(f, t float64) float64 { return math.Sin(2 * math.Pi * f * t) }
