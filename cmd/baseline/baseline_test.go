package baseline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
	"github.com/mlecs/mlecs/training/dataset/importer"
	"github.com/mlecs/mlecs/training/model"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout bytes.Buffer
	cmd := NewCmd()
	cmd.SetArgs(append([]string{"knn"}, args...))
	cmd.SetOut(&stdout)
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), err
}

func TestValidate(t *testing.T) {
	for _, args := range [][]string{
		{"--out", "y"},
		{"--dataset", "x"},
		{"--dataset", "x", "--out", "y", "--threads", "0"},
		{"--dataset", "x", "--out", "y", "--modalities", "a,,b"},
	} {
		if _, err := run(t, args...); !errors.Is(err, ErrUsage) {
			t.Errorf("%v: got %v, want ErrUsage", args, err)
		}
	}
}

// checkOutput reads the files written to out and checks them against the dataset: one prediction per
// test sample holding a chosen modality, each the first target of a train sample with the predicted label,
// and metrics.json holding every field of `mlecs eval` with means that match the predictions.
func checkOutput(t *testing.T, ds *dataset.Dataset, out, stdout string, mods ...string) Metrics {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"dataset", "split", "n", "rougeLsum", "rouge1", "rouge2", "rougeL", "accuracy",
		"macro_f1", "labeled", "label_rule", "stemmed", "method", "modalities", "modality_scale"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("metrics.json lacks %q", k)
		}
	}
	var mt Metrics
	if err := json.Unmarshal(raw, &mt); err != nil {
		t.Fatal(err)
	}
	answers := map[string]bool{} // train "first target|label" pairs a prediction may be
	for _, s := range holdingAny(ds.Split(dataset.SplitTrain), mods) {
		answers[s.Targets[0]+"|"+s.Label] = true
	}
	test := holdingAny(ds.Split(dataset.SplitTest), mods)
	f, err := os.Open(filepath.Join(out, "predictions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var preds []model.Prediction
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p model.Prediction
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		preds = append(preds, p)
	}
	if len(preds) != len(test) || mt.N != len(test) || len(test) == 0 {
		t.Fatalf("%d predictions, n=%d, want %d test samples", len(preds), mt.N, len(test))
	}
	sum, right := 0.0, 0
	for i, p := range preds {
		if p.ID != test[i].ID || p.Label != test[i].Label {
			t.Errorf("prediction %d is %s/%s, want test sample %s/%s", i, p.ID, p.Label, test[i].ID, test[i].Label)
		}
		if !answers[p.Prediction+"|"+p.PredictedLabel] {
			t.Errorf("%s: %q/%q is no train sample's first target and label", p.ID, p.Prediction, p.PredictedLabel)
		}
		sum += p.RougeLsum
		if p.PredictedLabel == p.Label {
			right++
		}
	}
	if got := sum / float64(len(preds)); math.Abs(got-mt.RougeLsum) > 1e-12 {
		t.Errorf("rougeLsum %v, mean of predictions %v", mt.RougeLsum, got)
	}
	if got := float64(right) / float64(len(preds)); mt.Labeled != len(preds) || math.Abs(got-mt.Accuracy) > 1e-12 {
		t.Errorf("accuracy %v over %d, predictions give %v over %d", mt.Accuracy, mt.Labeled, got, len(preds))
	}
	if !regexp.MustCompile(`^knn modalities=\S+ n=\d+ rougeLsum=[0-9.]+ accuracy=[0-9.]+ macro_f1=[0-9.]+ -> `).MatchString(stdout) {
		t.Errorf("summary line %q", stdout)
	}
	return mt
}

func holdingAny(samples []dataset.Sample, mods []string) []dataset.Sample {
	return dataset.Filter(samples, func(s dataset.Sample) bool { return slices.ContainsFunc(mods, s.Has) })
}

func TestKNNHAR(t *testing.T) {
	dir := t.TempDir()
	ds := subset.HAR(t, filepath.Join(dir, "har"), importer.HARSubjects("s01", "s03"))
	out := filepath.Join(dir, "out")
	stdout, err := run(t, "--dataset", ds.Dir, "--out", out, "--modalities", "watch,phone", "--threads", "1")
	if err != nil {
		t.Fatal(err)
	}
	mt := checkOutput(t, ds, out, stdout, "phone", "watch")
	// Activity from both devices' motion is far above chance (5 classes, walking about half of the windows).
	if mt.Accuracy < 0.6 || mt.Scale["phone"] <= 0 || mt.Scale["watch"] <= 0 {
		t.Errorf("accuracy %v scales %v", mt.Accuracy, mt.Scale)
	}
	if _, err := run(t, "--dataset", ds.Dir, "--out", out, "--modalities", "camera"); err == nil {
		t.Error("an unknown modality was accepted")
	}
}

func TestKNNEmojiKeywords(t *testing.T) {
	dir := t.TempDir()
	ds := subset.Emoji(t, filepath.Join(dir, "emoji"))
	out := filepath.Join(dir, "out")
	stdout, err := run(t, "--dataset", ds.Dir, "--out", out, "--modalities", "keywords")
	if err != nil {
		t.Fatal(err)
	}
	mt := checkOutput(t, ds, out, stdout, "keywords")
	// 10 groups, the largest about a fifth of the emoji: keywords find the group far more often.
	if mt.Accuracy < 0.5 || mt.RougeLsum <= 0 {
		t.Errorf("accuracy %v rougeLsum %v", mt.Accuracy, mt.RougeLsum)
	}
}
