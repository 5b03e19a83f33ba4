package gpt2

import "fmt"

// Role picks the edge (small LM) or anchor (larger LM) model of a preset.
type Role int

const (
	// Edge is the small language model held by edge nodes (the SLM).
	Edge Role = iota
	// Anchor is the larger language model held by the anchor / cloud node (the LLM).
	Anchor
)

func (r Role) String() string {
	switch r {
	case Edge:
		return "edge"
	case Anchor:
		return "anchor"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// GPT2Vocab is the size of the full GPT-2 BPE vocabulary.
const GPT2Vocab = 50257

// PresetNames lists the names Preset accepts.
func PresetNames() []string { return []string{"tiny", "small", "paper"} }

// Preset returns the config of a named preset for a role. vocab is the vocabulary size chosen at model
// build time from the tokenizer (a restricted vocabulary for tiny/small); 0 means the full GPT-2
// vocabulary. The paper preset always uses the full vocabulary: it is the authors' shape (edge =
// GPT-2-large, anchor = GPT-2-XL, LoRA r=8 on attention) and is meant for accounting with ParamCount and
// LoRAParamCount, not for allocation on this hardware.
func Preset(name string, role Role, vocab int) (Config, error) {
	if vocab < 0 {
		return Config{}, fmt.Errorf("%w: preset %q: vocab %d must be >= 0", ErrConfig, name, vocab)
	}
	if vocab == 0 {
		vocab = GPT2Vocab
	}
	var c Config
	switch {
	case name == "tiny" && role == Edge:
		c = Config{MaxSeq: 64, NumLayers: 2, NumHeads: 4, Channels: 128}
	case name == "tiny" && role == Anchor:
		c = Config{MaxSeq: 64, NumLayers: 4, NumHeads: 4, Channels: 192}
	case name == "small" && role == Edge:
		c = Config{MaxSeq: 128, NumLayers: 4, NumHeads: 4, Channels: 256}
	case name == "small" && role == Anchor:
		c = Config{MaxSeq: 128, NumLayers: 6, NumHeads: 6, Channels: 384}
	case name == "paper" && role == Edge:
		c = Config{MaxSeq: 1024, NumLayers: 36, NumHeads: 20, Channels: 1280}
		vocab = GPT2Vocab
	case name == "paper" && role == Anchor:
		c = Config{MaxSeq: 1024, NumLayers: 48, NumHeads: 25, Channels: 1600}
		vocab = GPT2Vocab
	default:
		return Config{}, fmt.Errorf("%w: unknown preset %q for role %v (want one of %v)", ErrConfig, name, role, PresetNames())
	}
	c.VocabSize = vocab
	c.LoRARank, c.LoRAAlpha = 8, 16
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("preset %q %v: %w", name, role, err)
	}
	return c, nil
}
