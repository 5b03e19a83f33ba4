package model

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/optim"
	"github.com/mlecs/mlecs/training/tokenizer"
)

// Progress is one progress report of Pretrain or Train.
type Progress struct {
	Epoch, Epochs int // 0 for pretraining
	Step, Steps   int // step within the run (pretrain) or the epoch (train)
	Loss          float64
	SamplesPerSec float64
}

// PretrainOptions configures Pretrain.
type PretrainOptions struct {
	Preset   string // tiny or small
	Steps    int
	Batch    int
	LR       float64
	Seed     uint64
	BPEDir   string // GPT-2 encoder.json and vocab.bpe
	Pool     *nn.Pool
	Progress func(Progress) // optional, called every few steps
}

func (o PretrainOptions) validate() error {
	switch {
	case o.Steps < 1 || o.Batch < 1:
		return fmt.Errorf("%w: pretrain steps %d, batch %d must be >= 1", ErrConfig, o.Steps, o.Batch)
	case !(o.LR > 0):
		return fmt.Errorf("%w: pretrain lr %v", ErrConfig, o.LR)
	case o.BPEDir == "":
		return fmt.Errorf("%w: no BPE directory", ErrConfig)
	}
	return nil
}

// BaseInfo is base.json, the description of a pretrained base directory.
type BaseInfo struct {
	Format    string  `json:"format"` // "mlecs-base/1"
	Preset    string  `json:"preset"`
	Dataset   string  `json:"dataset"`
	Steps     int     `json:"steps"`
	Texts     int     `json:"texts"`
	Vocab     int     `json:"vocab"`
	Params    int64   `json:"params"`
	FirstLoss float64 `json:"first_loss"`
	FinalLoss float64 `json:"final_loss"` // mean over the last tenth of the steps
	Seed      uint64  `json:"seed"`
}

// BaseInfoFile is the name of base.json.
const BaseInfoFile = "base.json"

// CorpusTexts is the text a base LM is pretrained on: one document per train sample, its text inputs then
// each of its targets, one per line. Keeping a sample's texts in one document is what lets the LM learn
// that a name reuses the words of its description (attention learns to copy), as it would from web
// pages; separate rows would teach only the distribution of each.
func CorpusTexts(ds *dataset.Dataset) []string {
	var texts []string
	var textMods []string
	for _, name := range ds.ModalityNames() {
		if ds.Modalities[name].Kind == dataset.KindText {
			textMods = append(textMods, name)
		}
	}
	for _, s := range ds.Split(dataset.SplitTrain) {
		var lines []string
		for _, name := range textMods {
			if in, ok := s.Inputs[name]; ok && in.Text != "" {
				lines = append(lines, in.Text)
			}
		}
		for _, t := range s.Targets {
			texts = append(texts, strings.Join(append(lines, t), "\n"))
		}
	}
	return texts
}

// Pretrain trains a base GPT-2 of the preset from scratch (every weight trainable) on the train split's
// text with a vocabulary restricted to it, and writes out/base.safetensors, vocab.json, the BPE files and
// base.json.
func Pretrain(ctx context.Context, ds *dataset.Dataset, out string, o PretrainOptions) (BaseInfo, error) {
	if err := o.validate(); err != nil {
		return BaseInfo{}, err
	}
	base, err := tokenizer.Load(o.BPEDir)
	if err != nil {
		return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
	}
	texts := CorpusTexts(ds)
	if len(texts) == 0 {
		return BaseInfo{}, fmt.Errorf("%w: dataset %s has no train text", ErrInput, ds.Dir)
	}
	corpus := []string{" " + DefaultInstruction}
	for _, t := range texts {
		corpus = append(corpus, " "+t)
	}
	vocab := tokenizer.Restrict(base, corpus)
	cfg, err := gpt2.Preset(o.Preset, gpt2.Edge, vocab.VocabSize())
	if err != nil {
		return BaseInfo{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg.LoRARank, cfg.LoRAAlpha = 0, 0
	lm, err := gpt2.New[float32](cfg, gpt2.WithMaxBatch(o.Batch), gpt2.WithPool(o.Pool), gpt2.WithTrainBase(true))
	if err != nil {
		return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
	}
	lm.Init(o.Seed)
	eot := int32(vocab.EOT())
	rows := make([][]int32, len(texts))
	for i, t := range texts {
		r := append([]int32{eot}, EncodeText(vocab, t)...)
		r = append(r, eot)
		rows[i] = r[:min(len(r), cfg.MaxSeq+1)]
	}
	params, grads := lm.Trainable()
	oc := optim.DefaultConfig()
	oc.LR = o.LR
	opt, err := optim.New(len(params), oc)
	if err != nil {
		return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b9))
	ids, targets := make([]int32, o.Batch*cfg.MaxSeq), make([]int32, o.Batch*cfg.MaxSeq)
	pick := make([]int, o.Batch)
	info := BaseInfo{Format: "mlecs-base/1", Preset: o.Preset, Dataset: ds.Name, Steps: o.Steps, Texts: len(texts),
		Vocab: vocab.VocabSize(), Params: gpt2.ParamCount(cfg), Seed: o.Seed}
	tail, tailN := 0.0, 0
	start := time.Now()
	for step := 1; step <= o.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
		}
		Tt := 0
		for b := range pick {
			pick[b] = rng.IntN(len(rows))
			Tt = max(Tt, len(rows[pick[b]])-1)
		}
		for b, i := range pick {
			r := rows[i]
			for t := range Tt {
				ids[b*Tt+t], targets[b*Tt+t] = eot, gpt2.IgnoreIndex
				if t < len(r)-1 {
					ids[b*Tt+t], targets[b*Tt+t] = r[t], r[t+1]
				}
			}
		}
		// Linear warm-up over the first 5% of the steps, then cosine decay to a tenth.
		lr := o.LR * lrSchedule(step, o.Steps)
		if err := opt.SetLR(lr); err != nil {
			return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
		}
		lm.ZeroGrad()
		loss, err := lm.Forward(ids[:o.Batch*Tt], targets[:o.Batch*Tt], nil, o.Batch)
		if err != nil {
			return BaseInfo{}, fmt.Errorf("pretrain step %d: %w", step, err)
		}
		if err := lm.Backward(); err != nil {
			return BaseInfo{}, fmt.Errorf("pretrain step %d: %w", step, err)
		}
		if n := optim.ClipGradNorm(1, grads); math.IsNaN(n) || math.IsInf(n, 0) {
			return BaseInfo{}, fmt.Errorf("%w: pretrain step %d: non-finite gradient norm", ErrInput, step)
		}
		if err := opt.Step(params, grads); err != nil {
			return BaseInfo{}, fmt.Errorf("pretrain step %d: %w", step, err)
		}
		if step == 1 {
			info.FirstLoss = float64(loss)
		}
		if step > o.Steps-max(1, o.Steps/10) {
			tail += float64(loss)
			tailN++
		}
		if o.Progress != nil && (step%10 == 0 || step == o.Steps) {
			o.Progress(Progress{Step: step, Steps: o.Steps, Loss: float64(loss),
				SamplesPerSec: float64(step*o.Batch) / time.Since(start).Seconds()})
		}
	}
	info.FinalLoss = tail / float64(tailN)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
	}
	if err := lm.SaveBase(filepath.Join(out, BaseWeightsFile)); err != nil {
		return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
	}
	vj, err := vocab.MarshalJSON()
	if err != nil {
		return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(out, RestrictedFile), vj); err != nil {
		return BaseInfo{}, err
	}
	for _, name := range []string{EncoderFile, MergesFile} {
		raw, err := os.ReadFile(filepath.Join(o.BPEDir, name))
		if err != nil {
			return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(out, name), raw); err != nil {
			return BaseInfo{}, err
		}
	}
	ij, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return BaseInfo{}, fmt.Errorf("pretrain: %w", err)
	}
	return info, writeFileAtomic(filepath.Join(out, BaseInfoFile), append(ij, '\n'))
}

// lrSchedule is linear warm-up over the first 5% of steps then cosine decay to 0.1 at the last step.
func lrSchedule(step, steps int) float64 {
	warm := max(1, steps/20)
	if step <= warm {
		return float64(step) / float64(warm)
	}
	p := float64(step-warm) / float64(max(1, steps-warm))
	return 0.1 + 0.9*0.5*(1+math.Cos(math.Pi*p))
}
