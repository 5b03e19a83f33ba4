package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/safetensors"
	"github.com/mlecs/mlecs/training/tokenizer"
)

// SpecFormat is the format tag of model.json.
const SpecFormat = "mlecs-model/1"

// TextMaxTokens is how many tokens of a text input the text encoder reads.
const TextMaxTokens = 32

// Spec is model.json: the model config plus how its inputs are featurised.
type Spec struct {
	Format      string                          `json:"format"`
	Dataset     string                          `json:"dataset"`
	Model       Config                          `json:"model"`
	Features    dataset.Config                  `json:"features"`
	SeriesStats map[string]dataset.ChannelStats `json:"series_stats,omitempty"`
}

// Session is a model with its vocabulary and feature pipeline.
type Session struct {
	Spec  Spec
	Model *Model[float32]
	Vocab Vocab
}

// SetupOptions configures Setup.
type SetupOptions struct {
	Preset     string   // tiny or small: encoder and connector sizes
	Modalities []string // nil: every modality of the dataset
	Base       string   // a directory from Pretrain, or a Hugging Face GPT-2 .safetensors file
	BPEDir     string   // GPT-2 BPE files, needed when Base is a .safetensors file
	// NoTextPrompt keeps text modalities out of the backbone's prompt (they still reach it through their
	// encoder and the connector); for ablations.
	NoTextPrompt bool
	// Encoder is the architecture of the image and series encoders ("" = EncoderTransformer, EncoderCNN).
	Encoder   string
	CCL       bool
	CCLWeight float64
	CCLTau    float64
	WordHead  bool // see Config.WordHead
	MaxBatch  int
	Seed      uint64
	Features  dataset.Config
	Pool      *nn.Pool
}

// Setup builds a fresh model for ds on a pretrained base, fits the feature statistics on the train split
// and writes the static part of the model directory out (model.json, base weights, vocabulary).
func Setup(ctx context.Context, ds *dataset.Dataset, out string, o SetupOptions) (*Session, error) {
	mods := o.Modalities
	if len(mods) == 0 {
		mods = ds.ModalityNames()
	}
	for _, name := range mods {
		if _, ok := ds.Modalities[name]; !ok {
			return nil, fmt.Errorf("%w: dataset %s has no modality %q (has %v)", ErrConfig, ds.Name, name, ds.ModalityNames())
		}
	}
	if o.MaxBatch < 1 {
		return nil, fmt.Errorf("%w: max batch %d", ErrConfig, o.MaxBatch)
	}
	enc, err := EncoderDefaults(o.Preset)
	if err != nil {
		return nil, err
	}
	vocabDir, weights := o.Base, filepath.Join(o.Base, BaseWeightsFile)
	var vocab Vocab
	if strings.HasSuffix(o.Base, ".safetensors") {
		vocabDir, weights = o.BPEDir, o.Base
		if vocab, err = tokenizer.Load(o.BPEDir); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	} else if vocab, err = LoadVocab(o.Base); err != nil {
		return nil, err
	}
	wf, err := safetensors.ReadFile(weights)
	if err != nil {
		return nil, fmt.Errorf("%w: base weights: %w", ErrCheckpoint, err)
	}
	bcfg, err := gpt2.ConfigFromFile(wf)
	if err != nil {
		return nil, fmt.Errorf("%w: base weights %s: %w", ErrCheckpoint, weights, err)
	}
	if bcfg.VocabSize != vocab.VocabSize() {
		return nil, fmt.Errorf("%w: base %s has %d tokens, vocabulary %d", ErrCheckpoint, weights, bcfg.VocabSize, vocab.VocabSize())
	}
	bcfg.LoRARank, bcfg.LoRAAlpha = 8, 16

	feat, err := dataset.NewFeaturizer(ds, o.Features)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	train := selectSamples(ds.Split(dataset.SplitTrain), mods)
	if len(train) == 0 {
		return nil, fmt.Errorf("%w: no train sample holds any of %v", ErrInput, mods)
	}
	if err := feat.Fit(ctx, train); err != nil {
		return nil, fmt.Errorf("fitting features: %w", err)
	}
	spec := Spec{Format: SpecFormat, Dataset: ds.Name, Features: o.Features, SeriesStats: map[string]dataset.ChannelStats{}}
	cfg := Config{Preset: o.Preset, Backbone: bcfg, Latent: 64, Fused: enc.Fused, SoftTokens: enc.SoftTokens,
		InstructionText: DefaultInstruction, Instruction: EncodeText(vocab, DefaultInstruction), EOT: int32(vocab.EOT()),
		MaxBatch: o.MaxBatch, CCL: o.CCL, CCLWeight: o.CCLWeight, CCLTau: o.CCLTau, WordHead: o.WordHead, Seed: o.Seed}
	for _, name := range mods {
		kind := string(ds.Modalities[name].Kind)
		shape := feat.Shape(name)
		if kind == KindText {
			shape = []int{TextMaxTokens}
		}
		mc := ModalityConfig{Name: name, Kind: kind, Shape: shape, Width: enc.Width, Depth: enc.Depth, Heads: enc.Heads,
			Patch: DefaultPatch(kind, shape)}
		if kind != KindText {
			mc.Encoder = o.Encoder
		}
		cfg.Modalities = append(cfg.Modalities, mc)
		if st, ok := feat.Stats(name); ok {
			spec.SeriesStats[name] = st
		}
	}
	longest := 0
	for _, s := range train {
		for _, t := range s.Targets {
			longest = max(longest, len(EncodeText(vocab, t)))
		}
	}
	if !o.NoTextPrompt {
		// Each text modality may fill its encoder's window, as long as the longest target still fits.
		for _, mc := range cfg.Modalities {
			if mc.Kind == KindText {
				cfg.PromptTokens += mc.size()
			}
		}
		cfg.PromptTokens = max(0, min(cfg.PromptTokens, bcfg.MaxSeq-cfg.SoftTokens-len(cfg.Instruction)-longest))
	}
	cfg.MaxTarget = max(2, min(longest+1, bcfg.MaxSeq-cfg.SoftTokens-cfg.PromptTokens-len(cfg.Instruction)+1))
	spec.Model = cfg
	m, err := New[float32](cfg, WithPool(o.Pool))
	if err != nil {
		return nil, err
	}
	if err := m.lm.LoadBase(wf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("model dir: %w", err)
	}
	// A fresh model invalidates the checkpoints of an earlier run in the same directory.
	if err := os.Remove(filepath.Join(out, LatestFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("model dir: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(out, CheckpointDir)); err != nil {
		return nil, fmt.Errorf("model dir: %w", err)
	}
	if err := m.lm.SaveBase(filepath.Join(out, BaseWeightsFile)); err != nil {
		return nil, fmt.Errorf("model dir: %w", err)
	}
	if err := copyVocabFiles(vocabDir, out); err != nil {
		return nil, err
	}
	if err := writeSpec(out, spec); err != nil {
		return nil, err
	}
	return &Session{Spec: spec, Model: m, Vocab: vocab}, nil
}

func writeSpec(dir string, spec Spec) error {
	raw, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("model.json: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, ModelFile), append(raw, '\n'))
}

// selectSamples keeps the samples that hold at least one of mods.
func selectSamples(samples []dataset.Sample, mods []string) []dataset.Sample {
	return dataset.Filter(samples, func(s dataset.Sample) bool {
		return slices.ContainsFunc(mods, s.Has)
	})
}

// Load rebuilds the model saved in dir (by Setup and Train): model.json, base weights, vocabulary and the
// trainable state of the newest checkpoint.
func Load(dir string, pool *nn.Pool) (*Session, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	var spec Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCheckpoint, filepath.Join(dir, ModelFile), err)
	}
	if spec.Format != SpecFormat {
		return nil, fmt.Errorf("%w: %s: format %q, want %q", ErrCheckpoint, filepath.Join(dir, ModelFile), spec.Format, SpecFormat)
	}
	vocab, err := LoadVocab(dir)
	if err != nil {
		return nil, err
	}
	if vocab.VocabSize() != spec.Model.Backbone.VocabSize {
		return nil, fmt.Errorf("%w: vocabulary has %d tokens, model %d", ErrCheckpoint, vocab.VocabSize(), spec.Model.Backbone.VocabSize)
	}
	m, err := New[float32](spec.Model, WithPool(pool))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if err := m.lm.LoadBaseFile(filepath.Join(dir, BaseWeightsFile)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	ck, err := latestCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	if err := m.LoadTrainable(filepath.Join(ck, TrainableFile)); err != nil {
		return nil, err
	}
	return &Session{Spec: spec, Model: m, Vocab: vocab}, nil
}

// Featurizer rebuilds the feature pipeline of the session for ds (with the saved statistics).
func (s *Session) Featurizer(ds *dataset.Dataset) (*dataset.Featurizer, error) {
	f, err := dataset.NewFeaturizer(ds, s.Spec.Features)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for name, st := range s.Spec.SeriesStats {
		if err := f.SetStats(name, st); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
		}
	}
	return f, nil
}

// Examples featurises the samples of one split that hold at least one of the model's modalities.
func (s *Session) Examples(ctx context.Context, ds *dataset.Dataset, split string) ([]Example, error) {
	f, err := s.Featurizer(ds)
	if err != nil {
		return nil, err
	}
	mods := make([]string, len(s.Spec.Model.Modalities))
	for k, mc := range s.Spec.Model.Modalities {
		mods[k] = mc.Name
		if got := ds.Modalities[mc.Name].Kind; string(got) != mc.Kind {
			return nil, fmt.Errorf("%w: dataset modality %q is %q, model expects %q", ErrInput, mc.Name, got, mc.Kind)
		}
	}
	samples := selectSamples(ds.Split(split), mods)
	// The cache only featurises the model's modalities.
	trimmed := make([]dataset.Sample, len(samples))
	for i, sm := range samples {
		sm.Inputs = filterInputs(sm.Inputs, mods)
		trimmed[i] = sm
	}
	cache, err := dataset.BuildCache(ctx, f, trimmed, 0)
	if err != nil {
		return nil, fmt.Errorf("featurising %s split: %w", split, err)
	}
	out := make([]Example, cache.Len())
	for i := range out {
		sm := cache.Sample(i)
		ex := Example{ID: sm.ID, Inputs: make([][]float32, len(mods)), Tokens: make([][]int32, len(mods)),
			Target: EncodeText(s.Vocab, sm.Targets[0]), Targets: sm.Targets, Label: sm.Label}
		for k, mc := range s.Spec.Model.Modalities {
			if mc.Kind == KindText {
				if t, ok := cache.Text(i, mc.Name); ok && strings.TrimSpace(t) != "" {
					ex.Tokens[k] = EncodeText(s.Vocab, t)
				}
				continue
			}
			if x, ok := cache.Tensor(i, mc.Name); ok {
				ex.Inputs[k] = x
			}
		}
		out[i] = ex
	}
	return out, nil
}

func filterInputs(in map[string]dataset.Input, keep []string) map[string]dataset.Input {
	out := make(map[string]dataset.Input, len(keep))
	for _, k := range keep {
		if v, ok := in[k]; ok {
			out[k] = v
		}
	}
	return out
}
