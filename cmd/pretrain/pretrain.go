// Package pretrain implements `mlecs pretrain`: train a base GPT-2 language model from scratch on a
// dataset's train-split text, so that the frozen backbone of `mlecs train` is a real pretrained LM.
package pretrain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
)

// ErrUsage is returned for missing or invalid flags.
var ErrUsage = errors.New("usage")

type options struct {
	dataset, preset, out, bpe string
	steps, batch, threads     int
	lr                        float64
	seed                      uint64
}

// NewCmd returns the pretrain command.
func NewCmd() *cobra.Command {
	o := options{preset: "tiny", steps: 300, batch: 16, lr: 3e-3, seed: 1}
	cmd := &cobra.Command{
		Use:   "pretrain --dataset DIR --preset tiny|small --out DIR [--steps N --seed S]",
		Short: "Pretrain a base GPT-2 on a dataset's train-split text (full training, restricted vocabulary)",
		Long: "pretrain builds a vocabulary restricted to the tokens of the train split's target texts and text inputs\n" +
			"(plus the 256 byte tokens and <|endoftext|>), trains every weight of the preset's edge GPT-2 on those\n" +
			"texts (one text per row between end-of-text tokens; AdamW, warm-up + cosine) and writes\n" +
			"OUT/base.safetensors (Hugging Face layout), OUT/vocab.json, the BPE files and OUT/base.json.\n" +
			"Pass OUT as --base to `mlecs train`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataset, "dataset", "", "mlecs-dataset/1 directory")
	f.StringVar(&o.preset, "preset", o.preset, "model preset: tiny or small")
	f.StringVar(&o.out, "out", "", "output directory")
	f.StringVar(&o.bpe, "bpe", "", "GPT-2 BPE directory (encoder.json, vocab.bpe); default $MLECS_BPE or shared/data/gpt2-bpe")
	f.IntVar(&o.steps, "steps", o.steps, "optimiser steps")
	f.IntVar(&o.batch, "batch", o.batch, "texts per step")
	f.IntVar(&o.threads, "threads", 0, "worker threads (0: all cores)")
	f.Float64Var(&o.lr, "lr", o.lr, "peak learning rate")
	f.Uint64Var(&o.seed, "seed", o.seed, "initialisation and sampling seed")
	return cmd
}

func (o *options) validate() error {
	switch {
	case o.dataset == "" || o.out == "":
		return fmt.Errorf("%w: --dataset and --out are required", ErrUsage)
	case o.preset != "tiny" && o.preset != "small":
		return fmt.Errorf("%w: --preset %q (want tiny or small)", ErrUsage, o.preset)
	case o.steps < 1 || o.batch < 1:
		return fmt.Errorf("%w: --steps %d and --batch %d must be >= 1", ErrUsage, o.steps, o.batch)
	case !(o.lr > 0):
		return fmt.Errorf("%w: --lr %v must be > 0", ErrUsage, o.lr)
	case o.threads < 0:
		return fmt.Errorf("%w: --threads %d", ErrUsage, o.threads)
	}
	return nil
}

func (o *options) run(cmd *cobra.Command, stdout, stderr io.Writer) error {
	bpe, err := model.FindBPEDir(o.bpe)
	if err != nil {
		return err
	}
	ds, err := dataset.Open(o.dataset)
	if err != nil {
		return err
	}
	pool := nn.NewPool(o.threads)
	defer pool.Close()
	info, err := model.Pretrain(cmd.Context(), ds, o.out, model.PretrainOptions{Preset: o.preset, Steps: o.steps,
		Batch: o.batch, LR: o.lr, Seed: o.seed, BPEDir: bpe, Pool: pool, Progress: model.ProgressPrinter(stderr, "pretrain")})
	if err != nil {
		return err
	}
	raw, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("pretrain: %w", err)
	}
	fmt.Fprintln(stdout, string(raw))
	return nil
}
