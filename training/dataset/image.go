package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"

	xdraw "golang.org/x/image/draw"
)

// maxImagePixels bounds the decoded size of one image (a 16k x 16k PNG is a
// few KB on disk and 1 GiB in memory).
const maxImagePixels = 40 << 20

// maxImageFileBytes bounds the bytes read for one image file.
const maxImageFileBytes = 64 << 20

// LoadImage reads a PNG or JPEG file (grey, RGB, RGBA or palette) and returns
// it as float32 HWC RGB in [0, 1], resized to height x width with bilinear
// filtering (widened when shrinking, so it does not alias) and alpha
// composited on black. Errors name the file.
func LoadImage(path string, height, width int) ([]float32, error) {
	raw, err := readFileLimited(path, maxImageFileBytes)
	if err != nil {
		return nil, err
	}
	out, err := DecodeImage(raw, height, width)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	return out, nil
}

// DecodeImage is LoadImage on bytes in memory. Shape of the result:
// [height][width][3], row-major.
func DecodeImage(raw []byte, height, width int) ([]float32, error) {
	if height <= 0 || width <= 0 {
		return nil, fmt.Errorf("%w: image size %dx%d", ErrConfig, height, width)
	}
	var decode func([]byte) (image.Image, error)
	var decodeConfig func([]byte) (image.Config, error)
	switch {
	case bytes.HasPrefix(raw, []byte("\x89PNG\r\n\x1a\n")):
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
	case bytes.HasPrefix(raw, []byte("\xff\xd8")):
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
	default:
		return nil, fmt.Errorf("%w: not a PNG or JPEG file", ErrMalformed)
	}
	cfg, err := decodeConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, fmt.Errorf("%w: image of %dx%d pixels (limit %d)", ErrUnsupported, cfg.Width, cfg.Height, maxImagePixels)
	}
	src, err := decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return imageToHWC(src, height, width), nil
}

// imageToHWC composites src over black at height x width and converts the
// 8-bit result to float32 [0, 1] HWC RGB. Black, so that a transparent
// background is zero input: an empty patch then adds only the encoder's
// bias, and the drawing is what varies. Over white, image-only emoji models
// scored about 0.04 lower ROUGE-Lsum (docs/results-single-node.md).
func imageToHWC(src image.Image, height, width int) []float32 {
	dst := image.NewRGBA(image.Rect(0, 0, width, height))
	xdraw.Draw(dst, dst.Bounds(), image.NewUniform(color.Black), image.Point{}, xdraw.Src)
	if src.Bounds().Dx() == width && src.Bounds().Dy() == height {
		xdraw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, xdraw.Over)
	} else {
		// Premultiplied-alpha resampling followed by "over" black.
		xdraw.BiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Over, nil)
	}
	out := make([]float32, height*width*3)
	for y := 0; y < height; y++ {
		row := dst.Pix[y*dst.Stride : y*dst.Stride+4*width]
		o := out[y*width*3 : (y+1)*width*3]
		for x := 0; x < width; x++ {
			o[3*x+0] = float32(row[4*x+0]) / 255
			o[3*x+1] = float32(row[4*x+1]) / 255
			o[3*x+2] = float32(row[4*x+2]) / 255
		}
	}
	return out
}
