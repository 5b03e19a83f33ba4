package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/metrics"
)

// Prediction is one line of predictions.jsonl.
type Prediction struct {
	ID             string   `json:"id"`
	Target         []string `json:"target"`
	Prediction     string   `json:"prediction"`
	Label          string   `json:"label"`
	PredictedLabel string   `json:"predicted_label,omitempty"`
	RougeLsum      float64  `json:"rougeLsum"`
}

// Metrics is metrics.json.
type Metrics struct {
	Dataset   string  `json:"dataset"`
	Split     string  `json:"split"`
	N         int     `json:"n"`
	RougeLsum float64 `json:"rougeLsum"`
	Rouge1    float64 `json:"rouge1"`
	Rouge2    float64 `json:"rouge2"`
	RougeL    float64 `json:"rougeL"`
	Accuracy  float64 `json:"accuracy"`
	MacroF1   float64 `json:"macro_f1"`
	Labeled   int     `json:"labeled"` // samples with a label (accuracy and macro-F1 are over these)
	// LabelRule says how a generated text is turned into a label for accuracy.
	LabelRule string `json:"label_rule"`
	Stemmed   bool   `json:"stemmed"` // ROUGE with Porter stemming (we report without, as rouge-score's default)
}

// LabelRule is the documented mapping from generated text to a class label.
const LabelRule = "label of the train-split target text with the highest ROUGE-L F1 against the prediction " +
	"(ties: the label seen most often with that text, then the first in sorted order)"

// LabelIndex maps target texts to labels (built from the train split).
type LabelIndex struct {
	texts  [][]string // rouge-score tokens
	labels []string
}

// NewLabelIndex collects the distinct targets of labelled samples with their most frequent label.
func NewLabelIndex(samples []dataset.Sample) *LabelIndex {
	count := map[string]map[string]int{}
	for _, s := range samples {
		if s.Label == "" {
			continue
		}
		for _, t := range s.Targets {
			if count[t] == nil {
				count[t] = map[string]int{}
			}
			count[t][s.Label]++
		}
	}
	li := &LabelIndex{}
	texts := make([]string, 0, len(count))
	for t := range count {
		texts = append(texts, t)
	}
	sort.Strings(texts)
	for _, t := range texts {
		best, bestN := "", -1
		labels := make([]string, 0, len(count[t]))
		for l := range count[t] {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		for _, l := range labels {
			if count[t][l] > bestN {
				best, bestN = l, count[t][l]
			}
		}
		li.texts = append(li.texts, metrics.Tokenize(t, false))
		li.labels = append(li.labels, best)
	}
	return li
}

// Label returns the label of the indexed text closest to prediction by ROUGE-L F1 ("" if the index is empty).
func (li *LabelIndex) Label(prediction string) string {
	pred := metrics.Tokenize(prediction, false)
	best, bestF := "", -1.0
	for i, t := range li.texts {
		if f := metrics.RougeL(t, pred).F; f > bestF {
			best, bestF = li.labels[i], f
		}
	}
	return best
}

// Evaluate generates the target of every example (in batches of the model's MaxBatch) and scores it.
func Evaluate(ctx context.Context, sess *Session, examples []Example, li *LabelIndex) (Metrics, []Prediction, error) {
	var mt Metrics
	var sc metrics.Scorer // no stemming
	preds := make([]Prediction, 0, len(examples))
	mb := sess.Model.cfg.MaxBatch
	for lo := 0; lo < len(examples); lo += mb {
		batch := examples[lo:min(len(examples), lo+mb)]
		gen, err := sess.Model.Generate(ctx, batch)
		if err != nil {
			return Metrics{}, nil, err
		}
		for i, ids := range gen {
			ex := batch[i]
			text, err := DecodeText(sess.Vocab, ids)
			if err != nil {
				return Metrics{}, nil, fmt.Errorf("sample %q: %w", ex.ID, err)
			}
			s, err := sc.ScoreMulti(ex.Targets, text)
			if err != nil {
				return Metrics{}, nil, fmt.Errorf("sample %q: %w", ex.ID, err)
			}
			p := Prediction{ID: ex.ID, Target: ex.Targets, Prediction: text, Label: ex.Label, RougeLsum: s.RougeLsum.F}
			if ex.Label != "" && li != nil {
				p.PredictedLabel = li.Label(text)
			}
			mt.Rouge1 += s.Rouge1.F
			mt.Rouge2 += s.Rouge2.F
			mt.RougeL += s.RougeL.F
			mt.RougeLsum += s.RougeLsum.F
			preds = append(preds, p)
		}
	}
	mt.N = len(preds)
	if mt.N > 0 {
		n := float64(mt.N)
		mt.Rouge1, mt.Rouge2, mt.RougeL, mt.RougeLsum = mt.Rouge1/n, mt.Rouge2/n, mt.RougeL/n, mt.RougeLsum/n
	}
	var err error
	if mt.Accuracy, mt.MacroF1, mt.Labeled, err = classification(preds); err != nil {
		return Metrics{}, nil, err
	}
	mt.LabelRule = LabelRule
	return mt, preds, nil
}

// classification computes accuracy and macro-F1 over the labelled predictions.
func classification(preds []Prediction) (acc, macroF1 float64, n int, err error) {
	var labels, got []string
	for _, p := range preds {
		if p.Label != "" {
			labels, got = append(labels, p.Label), append(got, p.PredictedLabel)
		}
	}
	if len(labels) == 0 {
		return 0, 0, 0, nil
	}
	if acc, err = metrics.Accuracy(labels, got); err != nil {
		return 0, 0, 0, fmt.Errorf("accuracy: %w", err)
	}
	if macroF1, err = metrics.MacroF1(labels, got); err != nil {
		return 0, 0, 0, fmt.Errorf("macro-F1: %w", err)
	}
	return acc, macroF1, len(labels), nil
}

// WritePredictions writes predictions.jsonl (one Prediction per line) atomically: a crash leaves either
// the previous file or the whole new one.
func WritePredictions(path string, preds []Prediction) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, p := range preds {
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("predictions %s: %w", path, err)
		}
	}
	return writeFileAtomic(path, buf.Bytes())
}
