package knn

import "errors"

var (
	// ErrConfig reports an invalid option.
	ErrConfig = errors.New("knn: invalid configuration")
	// ErrInput reports a dataset the baseline cannot run on (unknown modality, empty split).
	ErrInput = errors.New("knn: unusable input")
)
