package encoder

import (
	"errors"
	"fmt"
)

// ErrConfig reports an invalid encoder or connector configuration.
var ErrConfig = errors.New("encoder: invalid config")

// ErrInput reports a batch that does not fit the encoder.
var ErrInput = errors.New("encoder: invalid input")

// maxDim bounds every dimension so that products of a few stay far from overflow.
const maxDim = 1 << 20

// TrunkConfig is the part shared by every encoder.
type TrunkConfig struct {
	Width    int    // token width C
	Depth    int    // transformer blocks (0: stem + pooling only)
	Heads    int    // attention heads; must divide Width (ignored when Depth is 0)
	Latent   int    // output dimension d_s of the shared latent space
	MaxBatch int    // activations are allocated for this many samples
	Seed     uint64 // initialisation seed
}

func (c TrunkConfig) validate() error {
	switch {
	case c.Width < 1 || c.Width > maxDim:
		return fmt.Errorf("width %d: %w", c.Width, ErrConfig)
	case c.Depth < 0 || c.Depth > 64:
		return fmt.Errorf("depth %d not in [0,64]: %w", c.Depth, ErrConfig)
	case c.Depth > 0 && (c.Heads < 1 || c.Width%c.Heads != 0):
		return fmt.Errorf("%d heads do not divide width %d: %w", c.Heads, c.Width, ErrConfig)
	case c.Latent < 1 || c.Latent > maxDim:
		return fmt.Errorf("latent %d: %w", c.Latent, ErrConfig)
	case c.MaxBatch < 1 || c.MaxBatch > maxDim:
		return fmt.Errorf("max batch %d: %w", c.MaxBatch, ErrConfig)
	}
	return nil
}

func checkDim(name string, v int) error {
	if v < 1 || v > maxDim {
		return fmt.Errorf("%s %d: %w", name, v, ErrConfig)
	}
	return nil
}

// ImageConfig describes an image encoder over HWC images of a fixed size.
type ImageConfig struct {
	Trunk    TrunkConfig
	Height   int
	Width    int
	Channels int
	Patch    int // square patch side; must divide Height and Width
}

// Validate reports the first invalid field.
func (c ImageConfig) Validate() error {
	if err := c.Trunk.validate(); err != nil {
		return fmt.Errorf("image encoder: %w", err)
	}
	for _, d := range []struct {
		n string
		v int
	}{{"height", c.Height}, {"width", c.Width}, {"channels", c.Channels}, {"patch", c.Patch}} {
		if err := checkDim(d.n, d.v); err != nil {
			return fmt.Errorf("image encoder: %w", err)
		}
	}
	if c.Height%c.Patch != 0 || c.Width%c.Patch != 0 {
		return fmt.Errorf("image encoder: patch %d does not divide %dx%d: %w", c.Patch, c.Height, c.Width, ErrConfig)
	}
	return nil
}

// SeriesConfig describes a time-series encoder over [Length, Channels]
// windows (sensor series, or log-mel spectrograms as [frames, mels]).
type SeriesConfig struct {
	Trunk    TrunkConfig
	Length   int // time steps per window (shorter series are padded, see Input.Valid)
	Channels int
	Patch    int // time steps per patch; must divide Length
}

// Validate reports the first invalid field.
func (c SeriesConfig) Validate() error {
	if err := c.Trunk.validate(); err != nil {
		return fmt.Errorf("series encoder: %w", err)
	}
	for _, d := range []struct {
		n string
		v int
	}{{"length", c.Length}, {"channels", c.Channels}, {"patch", c.Patch}} {
		if err := checkDim(d.n, d.v); err != nil {
			return fmt.Errorf("series encoder: %w", err)
		}
	}
	if c.Length%c.Patch != 0 {
		return fmt.Errorf("series encoder: patch %d does not divide length %d: %w", c.Patch, c.Length, ErrConfig)
	}
	return nil
}

// TextConfig describes a text-input encoder over padded token sequences.
type TextConfig struct {
	Trunk     TrunkConfig
	Vocab     int
	MaxTokens int
}

// Validate reports the first invalid field.
func (c TextConfig) Validate() error {
	if err := c.Trunk.validate(); err != nil {
		return fmt.Errorf("text encoder: %w", err)
	}
	if err := checkDim("vocab", c.Vocab); err != nil {
		return fmt.Errorf("text encoder: %w", err)
	}
	if err := checkDim("max tokens", c.MaxTokens); err != nil {
		return fmt.Errorf("text encoder: %w", err)
	}
	return nil
}
