package metrics

import (
	"errors"
	"math"
	"testing"
)

func TestAccuracy(t *testing.T) {
	got, err := Accuracy([]string{"a", "b", "c", "a"}, []string{"a", "b", "a", "b"})
	if err != nil || got != 0.5 {
		t.Errorf("Accuracy = %v, %v; want 0.5", got, err)
	}
	if _, err := Accuracy([]int{1}, []int{1, 2}); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("mismatch err = %v", err)
	}
	if _, err := Accuracy[int](nil, nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty err = %v", err)
	}
}

func TestMacroF1(t *testing.T) {
	tests := []struct {
		name          string
		labels, preds []string
		want          float64
	}{
		{"perfect", []string{"a", "b", "a"}, []string{"a", "b", "a"}, 1},
		// a: tp1 fp1 fn1 -> 0.5; b: tp1 fp1 fn1 -> 0.5; c: tp0 -> 0.
		{"mixed", []string{"a", "b", "c", "a", "b"}, []string{"a", "b", "a", "b", "c"}, (0.5 + 0.5 + 0) / 3},
		// A class only predicted counts (its F1 is 0), as in scikit-learn.
		{"predicted only", []string{"a", "a"}, []string{"a", "z"}, (2.0 / 3) / 2},
		// Majority-class guessing on an imbalanced set.
		{"majority", []string{"w", "w", "w", "s"}, []string{"w", "w", "w", "w"}, (6.0 / 7) / 2},
	}
	for _, tc := range tests {
		got, err := MacroF1(tc.labels, tc.preds)
		if err != nil || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: MacroF1 = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := MacroF1([]int{1, 2}, []int{1}); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("mismatch err = %v", err)
	}
	if _, err := MacroF1([]int{}, []int{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty err = %v", err)
	}
}
