package metrics

import "fmt"

// LabelScores is accuracy and macro-F1 of preds over the samples whose label is not empty (unlabelled
// samples carry no class to score), with n the number of those samples. No labelled sample gives zeros and
// n = 0, not an error: a dataset without labels simply has no classification score.
func LabelScores(labels, preds []string) (acc, macroF1 float64, n int, err error) {
	if len(labels) != len(preds) {
		return 0, 0, 0, fmt.Errorf("%w: %d labels, %d predictions", ErrLengthMismatch, len(labels), len(preds))
	}
	var want, got []string
	for i, l := range labels {
		if l != "" {
			want, got = append(want, l), append(got, preds[i])
		}
	}
	if len(want) == 0 {
		return 0, 0, 0, nil
	}
	if acc, err = Accuracy(want, got); err != nil {
		return 0, 0, 0, fmt.Errorf("accuracy: %w", err)
	}
	if macroF1, err = MacroF1(want, got); err != nil {
		return 0, 0, 0, fmt.Errorf("macro-F1: %w", err)
	}
	return acc, macroF1, len(want), nil
}
