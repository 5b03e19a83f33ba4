package model

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/nn"
)

// TestLearnHAR trains the tiny model on real HAR windows (subjects s01, s02, s04 for training, the
// held-out subject s03 for testing; phone and watch) and requires test ROUGE-Lsum well above the same
// model's before training, and an accuracy above the majority class (which the untrained model, like
// any constant output, cannot beat): the model must read its inputs.
func TestLearnHAR(t *testing.T) {
	if testing.Short() {
		t.Skip("learning test: about 40 s of CPU on two cores")
	}
	start := time.Now()
	ds := harSubset(t, "s01", "s02", "s04", "s03")
	pool := nn.NewPool(2)
	defer pool.Close()
	dir := t.TempDir()
	ctx := context.Background()
	bpe := filepath.Join(datatest.SharedData(t), "gpt2-bpe")
	if _, err := Pretrain(ctx, ds, filepath.Join(dir, "base"), PretrainOptions{Preset: "tiny", Steps: 60, Batch: 16, LR: 3e-3,
		Seed: 1, BPEDir: bpe, Pool: pool}); err != nil {
		t.Fatal(err)
	}
	sess, err := Setup(ctx, ds, filepath.Join(dir, "m"), SetupOptions{Preset: "tiny", Base: filepath.Join(dir, "base"),
		CCL: true, CCLWeight: 0.1, CCLTau: 0.1, MaxBatch: 32, Seed: 1, Features: dataset.DefaultConfig(), Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	train, err := sess.Examples(ctx, ds, dataset.SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	test, err := sess.Examples(ctx, ds, dataset.SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	li := NewLabelIndex(ds.Split(dataset.SplitTrain))
	before, _, err := Evaluate(ctx, sess, test, li)
	if err != nil {
		t.Fatal(err)
	}
	epochs := 4
	res, err := Train(ctx, sess.Model, train, filepath.Join(dir, "m"), TrainOptions{Epochs: epochs, Batch: 8, LR: 3e-3,
		WeightDecay: 0.01, Clip: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	after, preds, err := Evaluate(ctx, sess, test, li)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d train, %d test; loss %.3f -> %.3f; ROUGE-Lsum %.3f -> %.3f, accuracy %.3f -> %.3f (%v)",
		len(train), len(test), res.FirstLoss, res.LastLoss, before.RougeLsum, after.RougeLsum, before.Accuracy, after.Accuracy,
		time.Since(start))
	for _, p := range preds[:10] {
		t.Logf("%q -> %q", p.Target[0], p.Prediction)
	}
	if !(after.RougeLsum > before.RougeLsum+0.08) {
		t.Errorf("test ROUGE-Lsum %.3f after training, %.3f before: want a rise of more than 0.08", after.RougeLsum, before.RougeLsum)
	}
	counts := map[string]int{}
	for _, ex := range test {
		counts[ex.Label]++
	}
	majority := 0.0
	for _, c := range counts {
		majority = max(majority, float64(c)/float64(len(test)))
	}
	if !(after.Accuracy > majority+0.05) {
		t.Errorf("test accuracy %.3f, majority class %.3f: want more than 0.05 above it", after.Accuracy, majority)
	}
	if !(res.LastLoss < res.FirstLoss) {
		t.Errorf("loss did not fall: first step %.3f, last epoch %.3f", res.FirstLoss, res.LastLoss)
	}
}
