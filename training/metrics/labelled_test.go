package metrics

import (
	"errors"
	"math"
	"testing"
)

func TestLabelScores(t *testing.T) {
	// Unlabelled samples are skipped: of the three labelled ones, two are right.
	// Classes: a (tp 1, fn 1) F1 = 2/3; b (tp 1, fp 1) F1 = 2/3; macro = 2/3.
	acc, f1, n, err := LabelScores([]string{"a", "", "a", "b", ""}, []string{"a", "x", "b", "b", "y"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || math.Abs(acc-2.0/3) > 1e-12 || math.Abs(f1-2.0/3) > 1e-12 {
		t.Errorf("got acc %v f1 %v n %d, want 2/3 2/3 3", acc, f1, n)
	}
	if acc, f1, n, err := LabelScores([]string{"", ""}, []string{"a", "b"}); err != nil || acc != 0 || f1 != 0 || n != 0 {
		t.Errorf("no labels: got %v %v %d %v, want zeros", acc, f1, n, err)
	}
	if _, _, _, err := LabelScores([]string{"a"}, nil); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("length mismatch: got %v", err)
	}
}
