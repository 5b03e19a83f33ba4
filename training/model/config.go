package model

import (
	"fmt"

	"github.com/mlecs/mlecs/training/gpt2"
)

// Modality kinds an encoder can be built for (the dataset kinds).
const (
	KindImage      = "image"
	KindAudio      = "audio"
	KindTimeseries = "timeseries"
	KindText       = "text"
)

// DefaultInstruction is the text placed between the soft prompt and the target.
const DefaultInstruction = "Describe:"

// ModalityConfig is one encoder slot.
type ModalityConfig struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Shape []int  `json:"shape"` // image [H,W,Ch]; timeseries/audio [L,Ch]; text [MaxTokens]
	Width int    `json:"width"`
	Depth int    `json:"depth"`
	Heads int    `json:"heads"`
	Patch int    `json:"patch"` // image: square side; series: steps; text: unused
	// Encoder is the architecture of an image or series encoder: "" or EncoderTransformer (patches +
	// transformer), or EncoderCNN (strided convolutions: Depth+1 layers of Width channels, kernel 3,
	// stride 2). Text encoders are always token embeddings + transformer.
	Encoder string `json:"encoder,omitempty"`
}

// Encoder architectures of ModalityConfig.Encoder.
const (
	EncoderTransformer = "transformer"
	EncoderCNN         = "cnn"
)

// Config is the shape of a model; it is saved as model.json so that a loaded model is the same model.
type Config struct {
	Preset          string           `json:"preset"`
	Backbone        gpt2.Config      `json:"backbone"`
	Modalities      []ModalityConfig `json:"modalities"`
	Latent          int              `json:"latent"`      // d_s
	Fused           int              `json:"fused"`       // fused representation width
	SoftTokens      int              `json:"soft_tokens"` // P
	InstructionText string           `json:"instruction_text"`
	Instruction     []int32          `json:"instruction"` // token ids of InstructionText
	// PromptTokens is how many tokens of the text modalities the backbone reads in its prompt, after the
	// soft tokens and before the instruction (0: text reaches the backbone only through the connector).
	PromptTokens int     `json:"prompt_tokens"`
	MaxTarget    int     `json:"max_target"` // target tokens incl. the end token
	EOT          int32   `json:"eot"`
	MaxBatch     int     `json:"max_batch"`
	CCL          bool    `json:"ccl"`
	CCLWeight    float64 `json:"ccl_weight"`
	CCLTau       float64 `json:"ccl_tau"`
	// WordHead adds a logit bias at every token position (only target positions carry loss): a Linear map of the fused representation to
	// the vocabulary, plus a learned bonus for the tokens of the sample's text modalities. It gives the
	// encoders a route to the output that does not depend on the frozen attention reading the soft
	// prompt (docs/results-single-node.md).
	WordHead bool   `json:"word_head,omitempty"`
	Seed     uint64 `json:"seed"`
}

// EncoderPreset is the default encoder shape of a preset.
type EncoderPreset struct{ Width, Depth, Heads, Fused, SoftTokens int }

// EncoderDefaults returns the encoder/connector sizes of a preset: tiny keeps everything small enough to
// train on two cores in seconds; small follows the paper's d_s=64, fused 256, P=16.
func EncoderDefaults(preset string) (EncoderPreset, error) {
	switch preset {
	case "tiny":
		return EncoderPreset{Width: 64, Depth: 1, Heads: 4, Fused: 128, SoftTokens: 8}, nil
	case "small":
		return EncoderPreset{Width: 128, Depth: 2, Heads: 4, Fused: 256, SoftTokens: 16}, nil
	}
	return EncoderPreset{}, fmt.Errorf("%w: unknown preset %q (want tiny or small)", ErrConfig, preset)
}

// DefaultPatch picks a patch size that divides the tensor's first axis: 8 for images of side 32
// (16 tokens), about a tenth of a series.
func DefaultPatch(kind string, shape []int) int {
	if len(shape) == 0 {
		return 1
	}
	n := shape[0]
	want := 8
	if kind != KindImage {
		want = max(1, n/10)
	}
	for p := want; p >= 1; p-- {
		if n%p == 0 && (kind != KindImage || len(shape) < 2 || shape[1]%p == 0) {
			return p
		}
	}
	return 1
}

// seqLen is the longest token row: the prompt text, the instruction and the target with its end token, minus the last
// token (which is only a prediction target).
func (c Config) seqLen() int { return c.PromptTokens + len(c.Instruction) + c.MaxTarget - 1 }

// Validate reports the first unusable field.
func (c Config) Validate() error {
	if err := c.Backbone.Validate(); err != nil {
		return fmt.Errorf("%w: backbone: %w", ErrConfig, err)
	}
	switch {
	case len(c.Modalities) == 0:
		return fmt.Errorf("%w: no modalities", ErrConfig)
	case c.Latent < 1 || c.Fused < 1 || c.SoftTokens < 1:
		return fmt.Errorf("%w: latent %d, fused %d, soft tokens %d must be >= 1", ErrConfig, c.Latent, c.Fused, c.SoftTokens)
	case len(c.Instruction) == 0:
		return fmt.Errorf("%w: empty instruction", ErrConfig)
	case c.PromptTokens < 0:
		return fmt.Errorf("%w: prompt tokens %d < 0", ErrConfig, c.PromptTokens)
	case c.MaxTarget < 2:
		return fmt.Errorf("%w: max target %d < 2", ErrConfig, c.MaxTarget)
	case c.SoftTokens+c.seqLen() > c.Backbone.MaxSeq:
		return fmt.Errorf("%w: %d soft + %d text + %d instruction + %d target tokens exceed the backbone's %d positions",
			ErrConfig, c.SoftTokens, c.PromptTokens, len(c.Instruction), c.MaxTarget, c.Backbone.MaxSeq)
	case c.EOT < 0 || int(c.EOT) >= c.Backbone.VocabSize:
		return fmt.Errorf("%w: end token %d outside vocab %d", ErrConfig, c.EOT, c.Backbone.VocabSize)
	case c.MaxBatch < 1:
		return fmt.Errorf("%w: max batch %d", ErrConfig, c.MaxBatch)
	case c.CCL && (c.CCLWeight < 0 || c.CCLTau <= 0):
		return fmt.Errorf("%w: ccl weight %v, tau %v", ErrConfig, c.CCLWeight, c.CCLTau)
	}
	for _, id := range c.Instruction {
		if id < 0 || int(id) >= c.Backbone.VocabSize {
			return fmt.Errorf("%w: instruction token %d outside vocab %d", ErrConfig, id, c.Backbone.VocabSize)
		}
	}
	seen := map[string]bool{}
	for _, m := range c.Modalities {
		if m.Name == "" || seen[m.Name] {
			return fmt.Errorf("%w: modality name %q empty or repeated", ErrConfig, m.Name)
		}
		seen[m.Name] = true
		want := map[string]int{KindImage: 3, KindAudio: 2, KindTimeseries: 2, KindText: 1}[m.Kind]
		if want == 0 {
			return fmt.Errorf("%w: modality %q: unknown kind %q", ErrConfig, m.Name, m.Kind)
		}
		if len(m.Shape) != want {
			return fmt.Errorf("%w: modality %q: shape %v, want %d dims", ErrConfig, m.Name, m.Shape, want)
		}
		switch {
		case m.Encoder == "" || m.Encoder == EncoderTransformer:
		case m.Encoder == EncoderCNN && m.Kind != KindText:
		default:
			return fmt.Errorf("%w: modality %q: encoder %q not available for kind %s (want %q or %q; text: %q)",
				ErrConfig, m.Name, m.Encoder, m.Kind, EncoderTransformer, EncoderCNN, EncoderTransformer)
		}
	}
	return nil
}

// size is the number of floats (or tokens, for text) per sample of a modality.
func (m ModalityConfig) size() int {
	n := 1
	for _, d := range m.Shape {
		n *= d
	}
	return n
}
