// Package eval implements `mlecs eval`: generate the target of every sample of a split with a trained
// model and score it (ROUGE as rouge-score, accuracy and macro-F1 of the implied label).
package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
)

// ErrUsage is returned for missing or invalid flags.
var ErrUsage = errors.New("usage")

type options struct {
	model, dataset, out, split string
	threads                    int
}

// NewCmd returns the eval command.
func NewCmd() *cobra.Command {
	o := options{split: dataset.SplitTest}
	cmd := &cobra.Command{
		Use:   "eval --model DIR --dataset DIR --out DIR [--split test]",
		Short: "Generate and score the targets of a dataset split with a trained model",
		Long: "eval rebuilds the model saved by `mlecs train` in --model (its newest checkpoint), greedily generates\n" +
			"the target text of every sample of --split that holds one of the model's modalities, and writes\n" +
			"OUT/predictions.jsonl (id, target, prediction, label, predicted_label, rougeLsum) and OUT/metrics.json\n" +
			"(rougeLsum, rouge1, rouge2, rougeL as mean F1 without stemming; accuracy and macro_f1 of the label of\n" +
			"the train-split target text closest to the prediction by ROUGE-L; n).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory written by `mlecs train`")
	f.StringVar(&o.dataset, "dataset", "", "mlecs-dataset/1 directory")
	f.StringVar(&o.out, "out", "", "output directory for metrics.json and predictions.jsonl")
	f.StringVar(&o.split, "split", o.split, "split to evaluate: test or train")
	f.IntVar(&o.threads, "threads", 0, "worker threads (0: all cores)")
	return cmd
}

func (o *options) validate() error {
	switch {
	case o.model == "" || o.dataset == "" || o.out == "":
		return fmt.Errorf("%w: --model, --dataset and --out are required", ErrUsage)
	case o.split != dataset.SplitTest && o.split != dataset.SplitTrain:
		return fmt.Errorf("%w: --split %q (want test or train)", ErrUsage, o.split)
	case o.threads < 0:
		return fmt.Errorf("%w: --threads %d", ErrUsage, o.threads)
	}
	return nil
}

func (o *options) run(cmd *cobra.Command, stdout io.Writer) error {
	ctx := cmd.Context()
	ds, err := dataset.Open(o.dataset)
	if err != nil {
		return err
	}
	pool := nn.NewPool(o.threads)
	defer pool.Close()
	sess, err := model.Load(o.model, pool)
	if err != nil {
		return err
	}
	// Decoding only: fold the adapters into the base weights for plain linear layers.
	if err := sess.Model.Backbone().Merge(); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	examples, err := sess.Examples(ctx, ds, o.split)
	if err != nil {
		return err
	}
	if len(examples) == 0 {
		return fmt.Errorf("%w: split %q of %s has no sample with the model's modalities", ErrUsage, o.split, o.dataset)
	}
	mt, preds, err := model.Evaluate(ctx, sess, examples, model.NewLabelIndex(ds.Split(dataset.SplitTrain)))
	if err != nil {
		return err
	}
	mt.Dataset, mt.Split = ds.Name, o.split
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if err := model.WritePredictions(filepath.Join(o.out, "predictions.jsonl"), preds); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(mt, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.out, "metrics.json"), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	fmt.Fprintf(stdout, "n=%d rougeLsum=%.4f accuracy=%.4f macro_f1=%.4f -> %s\n", mt.N, mt.RougeLsum, mt.Accuracy, mt.MacroF1, o.out)
	return nil
}
