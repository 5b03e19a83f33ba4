package gpt2

import (
	"errors"
	"fmt"
)

// Sentinel errors of this package; wrap them with context.
var (
	// ErrConfig reports an invalid model configuration.
	ErrConfig = errors.New("gpt2: invalid config")
	// ErrShape reports inputs whose sizes do not fit the model or its buffers.
	ErrShape = errors.New("gpt2: shape mismatch")
	// ErrCheckpoint reports a missing, mis-shaped or otherwise unusable tensor in a weights file.
	ErrCheckpoint = errors.New("gpt2: bad checkpoint")
	// ErrState reports a call that the model's current state does not allow (e.g. training while merged).
	ErrState = errors.New("gpt2: invalid state")
)

// Config is the shape of a GPT-2 model and of its LoRA adapters.
type Config struct {
	VocabSize int // V: number of token ids (50257 for real GPT-2; smaller when the vocabulary is restricted)
	MaxSeq    int // maxT: learned positions, the longest prefix+token sequence
	NumLayers int // L
	NumHeads  int // NH; must divide Channels
	Channels  int // C

	LoRARank  int     // r; 0 disables LoRA
	LoRAAlpha float32 // LoRA scale is LoRAAlpha/LoRARank
	LoRAMLP   bool    // also adapt the MLP c_fc and c_proj (attention c_attn and c_proj always are when r>0)
}

// Validate reports the first field that makes the config unusable.
func (c Config) Validate() error {
	switch {
	case c.VocabSize <= 0:
		return fmt.Errorf("%w: VocabSize %d must be > 0", ErrConfig, c.VocabSize)
	case c.MaxSeq <= 0:
		return fmt.Errorf("%w: MaxSeq %d must be > 0", ErrConfig, c.MaxSeq)
	case c.NumLayers <= 0:
		return fmt.Errorf("%w: NumLayers %d must be > 0", ErrConfig, c.NumLayers)
	case c.NumHeads <= 0:
		return fmt.Errorf("%w: NumHeads %d must be > 0", ErrConfig, c.NumHeads)
	case c.Channels <= 0:
		return fmt.Errorf("%w: Channels %d must be > 0", ErrConfig, c.Channels)
	case c.Channels%c.NumHeads != 0:
		return fmt.Errorf("%w: Channels %d not divisible by NumHeads %d", ErrConfig, c.Channels, c.NumHeads)
	case c.LoRARank < 0:
		return fmt.Errorf("%w: LoRARank %d must be >= 0", ErrConfig, c.LoRARank)
	case c.LoRARank > c.Channels:
		return fmt.Errorf("%w: LoRARank %d exceeds Channels %d", ErrConfig, c.LoRARank, c.Channels)
	case c.LoRARank > 0 && !(c.LoRAAlpha > 0):
		return fmt.Errorf("%w: LoRAAlpha %v must be > 0 when LoRARank > 0", ErrConfig, c.LoRAAlpha)
	case c.LoRARank == 0 && c.LoRAMLP:
		return fmt.Errorf("%w: LoRAMLP needs LoRARank > 0", ErrConfig)
	}
	// Bound every dimension so that the int64 products below cannot overflow, then the flat buffer so
	// that a hostile config cannot ask for absurd memory.
	for _, d := range []struct {
		name string
		v    int
		max  int
	}{{"VocabSize", c.VocabSize, maxVocab}, {"MaxSeq", c.MaxSeq, maxSeq}, {"NumLayers", c.NumLayers, maxLayers}, {"Channels", c.Channels, maxChannels}} {
		if d.v > d.max {
			return fmt.Errorf("%w: %s %d exceeds %d", ErrConfig, d.name, d.v, d.max)
		}
	}
	if n := ParamCount(c) + LoRAParamCount(c); n > maxParams {
		return fmt.Errorf("%w: %d parameters is too many", ErrConfig, n)
	}
	return nil
}

// Upper bounds of Validate; generous for GPT-2 shapes, small enough for overflow-free arithmetic.
const (
	maxVocab    = 1 << 22
	maxSeq      = 1 << 16
	maxLayers   = 1 << 10
	maxChannels = 1 << 16
	maxParams   = 1 << 36
	maxActs     = 1 << 36 // activation elements of New's (MaxBatch, MaxSeq) buffers
)

// LoRAScale is alpha/r, the factor applied to the low-rank update B·A (0 when LoRA is off).
func (c Config) LoRAScale() float32 {
	if c.LoRARank == 0 {
		return 0
	}
	return c.LoRAAlpha / float32(c.LoRARank)
}

// ParamCount is the number of base parameters (embeddings, blocks, final LayerNorm; the lm_head is tied
// to wte and not counted twice). It allocates nothing, so it works for the paper-sized presets.
func ParamCount(c Config) int64 {
	var n int64
	for _, s := range baseShapes(c) {
		n += s.numel()
	}
	return n
}

// LoRAParamCount is the number of LoRA adapter parameters (A and B matrices) for the config.
func LoRAParamCount(c Config) int64 {
	var n int64
	for _, s := range loraShapes(c) {
		n += s.numel()
	}
	return n
}
