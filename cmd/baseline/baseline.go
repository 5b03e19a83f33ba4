// Package baseline implements `mlecs baseline`: reference scores that need no training, for the learned
// models to beat. `mlecs baseline knn` answers each test sample with its nearest train sample
// (training/knn) and writes the same files as `mlecs eval`.
package baseline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/knn"
	"github.com/mlecs/mlecs/training/model"
)

// ErrUsage is returned for missing or invalid flags.
var ErrUsage = errors.New("usage")

// NewCmd returns the baseline command with its subcommands.
func NewCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Score reference baselines that need no training",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newKNNCmd())
	return cmd
}

type knnOptions struct {
	dataset, out string
	modalities   []string
	threads      int
}

// Metrics is metrics.json: `mlecs eval`'s fields plus what the baseline was run with.
type Metrics struct {
	model.Metrics
	Method     string             `json:"method"`
	Modalities []string           `json:"modalities"`
	Scale      map[string]float64 `json:"modality_scale"` // mean train-test distance each modality is divided by
	Train      int                `json:"train"`          // train samples searched
	Unmatched  int                `json:"unmatched"`      // test samples no train sample shares a modality with
}

func newKNNCmd() *cobra.Command {
	o := knnOptions{threads: knn.DefaultWorkers}
	cmd := &cobra.Command{
		Use:   "knn --dataset DIR --out DIR [--modalities a,b]",
		Short: "Score the 1-nearest-neighbour baseline on the test split",
		Long: "knn featurises the chosen modalities (default: all) as `mlecs train` does, fitted on the train split,\n" +
			"and answers every test sample holding one of them with the first target text and the label of its\n" +
			"nearest train sample. Distance: Euclidean on image, audio and timeseries tensors, cosine on tf-idf\n" +
			"word vectors for text, each divided by its mean train-test distance and summed over the modalities\n" +
			"a pair shares (ties: first train sample in file order). Writes OUT/predictions.jsonl and\n" +
			"OUT/metrics.json as `mlecs eval` does (accuracy and macro_f1 of the neighbour's label).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataset, "dataset", "", "mlecs-dataset/1 directory")
	f.StringVar(&o.out, "out", "", "output directory for metrics.json and predictions.jsonl")
	f.StringSliceVar(&o.modalities, "modalities", nil, "modalities the distance uses, comma-separated (default: all)")
	f.IntVar(&o.threads, "threads", o.threads, "worker goroutines")
	return cmd
}

func (o *knnOptions) validate() error {
	switch {
	case o.dataset == "" || o.out == "":
		return fmt.Errorf("%w: --dataset and --out are required", ErrUsage)
	case o.threads < 1:
		return fmt.Errorf("%w: --threads %d (want >= 1)", ErrUsage, o.threads)
	}
	for _, m := range o.modalities {
		if strings.TrimSpace(m) == "" {
			return fmt.Errorf("%w: empty name in --modalities", ErrUsage)
		}
	}
	return nil
}

func (o *knnOptions) run(cmd *cobra.Command, stdout io.Writer) error {
	ds, err := dataset.Open(o.dataset)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	opts := []knn.Option{knn.WithWorkers(o.threads), knn.WithLogger(logger)}
	if len(o.modalities) > 0 {
		opts = append(opts, knn.WithModalities(o.modalities...))
	}
	r, err := knn.Evaluate(cmd.Context(), ds, opts...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("baseline knn: %w", err)
	}
	if err := model.WritePredictions(filepath.Join(o.out, "predictions.jsonl"), r.Predictions); err != nil {
		return err
	}
	mt := Metrics{Metrics: r.Metrics, Method: knn.Method, Modalities: r.Modalities, Scale: r.Scale, Train: r.Train,
		Unmatched: r.Unmatched}
	raw, err := json.MarshalIndent(mt, "", "  ")
	if err != nil {
		return fmt.Errorf("baseline knn: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.out, "metrics.json"), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("baseline knn: %w", err)
	}
	fmt.Fprintf(stdout, "knn modalities=%s n=%d rougeLsum=%.4f accuracy=%.4f macro_f1=%.4f -> %s\n",
		strings.Join(r.Modalities, ","), mt.N, mt.RougeLsum, mt.Accuracy, mt.MacroF1, o.out)
	return nil
}
