package metrics

import "errors"

var (
	// ErrLengthMismatch reports label and prediction slices of different lengths.
	ErrLengthMismatch = errors.New("metrics: labels and predictions differ in length")
	// ErrEmpty reports a metric asked of no samples.
	ErrEmpty = errors.New("metrics: no samples")
	// ErrNoTargets reports a ROUGE score asked with no reference text.
	ErrNoTargets = errors.New("metrics: no target texts")
	// ErrBadN reports a ROUGE-N order below 1.
	ErrBadN = errors.New("metrics: invalid n-gram order")
)
