// Package train implements `mlecs train`: centralised single-node training of an ML-ECS model
// (encoders + connector + LoRA on a frozen pretrained GPT-2; generation loss + CCL).
package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
)

// ErrUsage is returned for missing or invalid flags.
var ErrUsage = errors.New("usage")

type options struct {
	dataset, preset, out, base, bpe, modalities string
	encoder                                     string
	epochs, batch, threads, pretrainSteps       int
	lr, weightDecay, clip, cclWeight, cclTau    float64
	modalityDropout                             float64
	seed                                        uint64
	noCCL, resume, wordHead                     bool
}

// NewCmd returns the train command.
func NewCmd() *cobra.Command {
	o := options{preset: "tiny", epochs: 10, batch: 16, lr: 3e-3, weightDecay: 0.01, clip: 1, cclWeight: 0.1,
		cclTau: 0.1, seed: 1, pretrainSteps: 300}
	cmd := &cobra.Command{
		Use:   "train --dataset DIR [--modalities a,b] --preset tiny|small --out DIR [--base DIR|FILE]",
		Short: "Train an ML-ECS model on one node (centralised): encoders, connector and LoRA on a frozen GPT-2",
		Long: "train builds M = {encoders, connector, GPT-2 backbone}: the backbone's base weights come from --base\n" +
			"(a directory written by `mlecs pretrain`, or a Hugging Face GPT-2 .safetensors file used with the full\n" +
			"GPT-2 vocabulary) and stay frozen; the encoders, connector, CCL projection and LoRA adapters are trained\n" +
			"with the generation loss of the target text after [soft prompt; text inputs; \"Describe:\"] plus the CCL loss\n" +
			"(--no-ccl turns it off). Without --base, a base LM is first pretrained on the dataset's train text for\n" +
			"--pretrain-steps steps into OUT/base. A checkpoint is written to OUT every epoch; --resume continues from\n" +
			"the newest one (same flags: the result is bit-identical to an uninterrupted run).",
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
	f.StringVar(&o.modalities, "modalities", "", "comma-separated modalities to use (default: all of the dataset's)")
	f.StringVar(&o.preset, "preset", o.preset, "model preset: tiny or small")
	f.StringVar(&o.out, "out", "", "model directory (checkpoints, model.json, base weights, vocabulary)")
	f.StringVar(&o.base, "base", "", "pretrained base: a `mlecs pretrain` directory or a Hugging Face GPT-2 .safetensors file")
	f.StringVar(&o.bpe, "bpe", "", "GPT-2 BPE directory; default $MLECS_BPE or shared/data/gpt2-bpe")
	f.IntVar(&o.epochs, "epochs", o.epochs, "epochs over the train split")
	f.IntVar(&o.batch, "batch", o.batch, "samples per step")
	f.IntVar(&o.threads, "threads", 0, "worker threads (0: all cores)")
	f.IntVar(&o.pretrainSteps, "pretrain-steps", o.pretrainSteps, "steps of the on-the-fly base pretraining when --base is not given")
	f.Float64Var(&o.lr, "lr", o.lr, "peak learning rate (warm-up 5%, cosine to a tenth)")
	f.Float64Var(&o.weightDecay, "weight-decay", o.weightDecay, "AdamW weight decay")
	f.Float64Var(&o.clip, "clip", o.clip, "global gradient-norm clip (0: off)")
	f.Float64Var(&o.cclWeight, "ccl-weight", o.cclWeight, "weight of the CCL loss")
	f.Float64Var(&o.cclTau, "ccl-tau", o.cclTau, "temperature of the CCL loss")
	f.Uint64Var(&o.seed, "seed", o.seed, "seed of initialisation and data order")
	f.BoolVar(&o.noCCL, "no-ccl", false, "disable the cross-modal contrastive loss")
	f.BoolVar(&o.wordHead, "word-head", false, "add the word head: a logit bias from the fused representation and the text's tokens")
	f.Float64Var(&o.modalityDropout, "modality-dropout", 0, "probability of hiding each modality of a training sample per step (never all)")
	f.StringVar(&o.encoder, "encoder", model.EncoderTransformer, "image and series encoder: transformer (patches) or cnn")
	f.BoolVar(&o.resume, "resume", false, "continue from the newest checkpoint in --out")
	return cmd
}

func (o *options) validate() error {
	switch {
	case o.dataset == "" || o.out == "":
		return fmt.Errorf("%w: --dataset and --out are required", ErrUsage)
	case o.preset != "tiny" && o.preset != "small":
		return fmt.Errorf("%w: --preset %q (want tiny or small)", ErrUsage, o.preset)
	case o.epochs < 1 || o.batch < 1 || o.pretrainSteps < 1:
		return fmt.Errorf("%w: --epochs %d, --batch %d, --pretrain-steps %d must be >= 1", ErrUsage, o.epochs, o.batch, o.pretrainSteps)
	case !(o.lr > 0) || o.weightDecay < 0 || o.clip < 0:
		return fmt.Errorf("%w: --lr %v must be > 0, --weight-decay %v and --clip %v >= 0", ErrUsage, o.lr, o.weightDecay, o.clip)
	case !o.noCCL && (o.cclWeight < 0 || !(o.cclTau > 0)):
		return fmt.Errorf("%w: --ccl-weight %v must be >= 0 and --ccl-tau %v > 0", ErrUsage, o.cclWeight, o.cclTau)
	case o.threads < 0:
		return fmt.Errorf("%w: --threads %d", ErrUsage, o.threads)
	case !(o.modalityDropout >= 0 && o.modalityDropout < 1):
		return fmt.Errorf("%w: --modality-dropout %v not in [0,1)", ErrUsage, o.modalityDropout)
	case o.encoder != model.EncoderTransformer && o.encoder != model.EncoderCNN:
		return fmt.Errorf("%w: --encoder %q (want %s or %s)", ErrUsage, o.encoder, model.EncoderTransformer, model.EncoderCNN)
	}
	return nil
}

func (o *options) run(cmd *cobra.Command, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ds, err := dataset.Open(o.dataset)
	if err != nil {
		return err
	}
	pool := nn.NewPool(o.threads)
	defer pool.Close()
	var sess *model.Session
	if o.resume {
		if sess, err = model.Load(o.out, pool); err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
	} else {
		base := o.base
		bpe, err := model.FindBPEDir(o.bpe)
		if err != nil && (base == "" || strings.HasSuffix(base, ".safetensors")) {
			return err
		}
		if base == "" {
			base = filepath.Join(o.out, "base")
			log.Info("no --base: pretraining a base LM", "steps", o.pretrainSteps, "dir", base)
			if _, err := model.Pretrain(ctx, ds, base, model.PretrainOptions{Preset: o.preset, Steps: o.pretrainSteps,
				Batch: 16, LR: 3e-3, Seed: o.seed, BPEDir: bpe, Pool: pool, Progress: model.ProgressPrinter(stderr, "pretrain")}); err != nil {
				return err
			}
		}
		var mods []string
		if o.modalities != "" {
			mods = strings.Split(o.modalities, ",")
		}
		sess, err = model.Setup(ctx, ds, o.out, model.SetupOptions{Preset: o.preset, Modalities: mods, Base: base, BPEDir: bpe,
			CCL: !o.noCCL, CCLWeight: o.cclWeight, CCLTau: o.cclTau, MaxBatch: o.batch, Seed: o.seed, Encoder: o.encoder, WordHead: o.wordHead,
			Features: dataset.DefaultConfig(), Pool: pool})
		if err != nil {
			return err
		}
	}
	if o.batch > sess.Spec.Model.MaxBatch {
		return fmt.Errorf("%w: --batch %d exceeds the saved model's batch %d", ErrUsage, o.batch, sess.Spec.Model.MaxBatch)
	}
	examples, err := sess.Examples(ctx, ds, dataset.SplitTrain)
	if err != nil {
		return err
	}
	log.Info("training", "examples", len(examples), "params", sess.Model.ParamCount(), "out", o.out)
	res, err := model.Train(ctx, sess.Model, examples, o.out, model.TrainOptions{Epochs: o.epochs, Batch: o.batch, LR: o.lr, ModalityDropout: o.modalityDropout,
		WeightDecay: o.weightDecay, Clip: o.clip, Seed: o.seed, Resume: o.resume, Log: log,
		Progress: model.ProgressPrinter(stderr, "train")})
	if err != nil {
		return err
	}
	raw, err := json.Marshal(map[string]any{"out": o.out, "epochs": res.Epochs, "steps": res.Steps,
		"last_epoch_loss": res.LastLoss, "examples": len(examples), "trainable_params": sess.Model.ParamCount()})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintln(stdout, string(raw))
	return nil
}
