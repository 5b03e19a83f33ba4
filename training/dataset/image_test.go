package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/dataset/datatest"
)

func near(a, b, tol float32) bool { return float32(math.Abs(float64(a-b))) <= tol }

// pixel returns the RGB of (y, x) in an HWC tensor of width w.
func pixel(x []float32, w, py, px int) [3]float32 {
	i := (py*w + px) * 3
	return [3]float32{x[i], x[i+1], x[i+2]}
}

func TestDecodeImageKinds(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 2, 2))
	gray.Pix = []uint8{0, 51, 102, 255}
	pal := image.NewPaletted(image.Rect(0, 0, 2, 2), palette.Plan9)
	pal.Set(0, 0, color.RGBA{0, 0, 255, 255})
	pal.Set(1, 0, color.RGBA{0, 0, 255, 255})
	pal.Set(0, 1, color.RGBA{0, 0, 255, 255})
	pal.Set(1, 1, color.RGBA{0, 0, 255, 255})
	// Transparent palette entry: must come out black.
	tpal := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.NRGBA{0, 0, 0, 0}})
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, solidRGBA(8, 8, color.NRGBA{200, 40, 40, 255}), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		raw  []byte
		want [3]float32 // pixel (0, 0) after decoding at the image's own size
		tol  float32
	}{
		{"gray", pngBytes(t, gray), [3]float32{0, 0, 0}, 0},
		{"rgb opaque", pngBytes(t, solidRGBA(2, 2, color.NRGBA{255, 128, 0, 255})), [3]float32{1, 128.0 / 255, 0}, 0},
		{"rgba half red on black", pngBytes(t, solidRGBA(2, 2, color.NRGBA{255, 0, 0, 128})), [3]float32{128.0 / 255, 0, 0}, 1.0 / 255},
		{"rgba transparent", pngBytes(t, solidRGBA(2, 2, color.NRGBA{10, 20, 30, 0})), [3]float32{0, 0, 0}, 0},
		{"palette", pngBytes(t, pal), [3]float32{0, 0, 1}, 0},
		{"palette transparent", pngBytes(t, tpal), [3]float32{0, 0, 0}, 0},
		{"jpeg", jpg.Bytes(), [3]float32{200.0 / 255, 40.0 / 255, 40.0 / 255}, 8.0 / 255},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := image.DecodeConfig(bytes.NewReader(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			out, err := DecodeImage(tc.raw, cfg.Height, cfg.Width)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != cfg.Height*cfg.Width*3 {
				t.Fatalf("len %d", len(out))
			}
			got := pixel(out, cfg.Width, 0, 0)
			for c := range 3 {
				if !near(got[c], tc.want[c], tc.tol) {
					t.Fatalf("pixel = %v, want %v", got, tc.want)
				}
			}
		})
	}
	t.Run("gray values", func(t *testing.T) {
		out, err := DecodeImage(pngBytes(t, gray), 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := pixel(out, 2, 1, 0); !near(got[0], 0.4, 1e-6) || got[0] != got[1] || got[1] != got[2] {
			t.Errorf("pixel (1,0) = %v, want 0.4 grey", got)
		}
	})
}

func TestDecodeImageResize(t *testing.T) {
	// Left half black, right half white: resizing keeps the sides apart and
	// the values in [0, 1].
	img := solidRGBA(64, 48, color.NRGBA{255, 255, 255, 255})
	for y := 0; y < 48; y++ {
		for x := 0; x < 32; x++ {
			img.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 255})
		}
	}
	for _, size := range [][2]int{{16, 16}, {100, 80}, {3, 5}} {
		h, w := size[0], size[1]
		out, err := DecodeImage(pngBytes(t, img), h, w)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != h*w*3 {
			t.Fatalf("%dx%d: len %d", h, w, len(out))
		}
		for _, v := range out {
			if v < 0 || v > 1 {
				t.Fatalf("value %g out of range", v)
			}
		}
		if l, r := pixel(out, w, h/2, 0), pixel(out, w, h/2, w-1); l[0] > 0.05 || r[0] < 0.95 {
			t.Errorf("%dx%d: left %v right %v", h, w, l, r)
		}
	}
}

func TestLoadImageErrors(t *testing.T) {
	dir := t.TempDir()
	good := pngBytes(t, solidRGBA(4, 4, color.NRGBA{1, 2, 3, 255}))
	files := map[string][]byte{
		"text.png":      []byte("hello, not an image"),
		"truncated.png": good[:len(good)/2],
		"badjpeg.jpg":   {0xff, 0xd8, 0xff, 0xe0, 0, 1, 2},
		"empty.png":     nil,
	}
	for name, b := range files {
		mustWrite(t, filepath.Join(dir, name), b)
	}
	for name := range files {
		path := filepath.Join(dir, name)
		_, err := LoadImage(path, 4, 4)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if _, err := LoadImage(filepath.Join(dir, "absent.png"), 4, 4); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent: %v", err)
	}
	if _, err := DecodeImage(good, 0, 4); !errors.Is(err, ErrConfig) {
		t.Errorf("size 0: %v", err)
	}
	// A header claiming a huge image is refused before decoding.
	huge := bytes.Clone(good)
	copy(huge[16:24], []byte{0, 0, 0x40, 0, 0, 0, 0x40, 0}) // 16384 x 16384 in IHDR
	if _, err := DecodeImage(huge, 4, 4); err == nil {
		t.Error("huge image accepted")
	}
}

func TestLoadImageRealEmoji(t *testing.T) {
	data := datatest.SharedData(t)
	// Palette Twemoji, RGBA Noto and a grey+alpha Noto (fork and knife).
	for _, p := range []string{"twemoji_64/1f600.png", "noto_64/1f600.png", "noto_64/1f374.png"} {
		path := filepath.Join(data, "emoji", filepath.FromSlash(p))
		out, err := LoadImage(path, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, v := range out {
			sum += float64(v)
		}
		// Corners of an emoji are transparent: black after compositing.
		if c := pixel(out, 32, 0, 0); c != [3]float32{0, 0, 0} {
			t.Errorf("%s: corner %v, want black", p, c)
		}
		if mean := sum / float64(len(out)); mean > 0.8 || mean < 0.05 {
			t.Errorf("%s: mean %g: not an emoji on black", p, mean)
		}
	}
}
