package metrics

import "fmt"

// Accuracy is the fraction of predictions equal to their label.
func Accuracy[T comparable](labels, preds []T) (float64, error) {
	if err := checkPairs(len(labels), len(preds)); err != nil {
		return 0, err
	}
	right := 0
	for i := range labels {
		if labels[i] == preds[i] {
			right++
		}
	}
	return float64(right) / float64(len(labels)), nil
}

// MacroF1 is the unweighted mean of per-class F1 over every class that
// occurs among labels or predictions; a class never predicted correctly
// scores 0 (scikit-learn's f1_score(average="macro"), zero_division=0).
func MacroF1[T comparable](labels, preds []T) (float64, error) {
	if err := checkPairs(len(labels), len(preds)); err != nil {
		return 0, err
	}
	type counts struct{ tp, fp, fn int }
	classes := make(map[T]*counts)
	var order []*counts // first-appearance order keeps the sum deterministic
	get := func(c T) *counts {
		if classes[c] == nil {
			classes[c] = &counts{}
			order = append(order, classes[c])
		}
		return classes[c]
	}
	for i := range labels {
		if labels[i] == preds[i] {
			get(labels[i]).tp++
			continue
		}
		get(labels[i]).fn++
		get(preds[i]).fp++
	}
	sum := 0.0
	for _, c := range order {
		if c.tp > 0 {
			sum += 2 * float64(c.tp) / float64(2*c.tp+c.fp+c.fn)
		}
	}
	return sum / float64(len(classes)), nil
}

func checkPairs(labels, preds int) error {
	if labels != preds {
		return fmt.Errorf("%w: %d labels, %d predictions", ErrLengthMismatch, labels, preds)
	}
	if labels == 0 {
		return ErrEmpty
	}
	return nil
}
