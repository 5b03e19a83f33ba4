package model

import "errors"

var (
	// ErrConfig reports an invalid model or training configuration.
	ErrConfig = errors.New("model: invalid config")
	// ErrInput reports a batch or example that does not fit the model.
	ErrInput = errors.New("model: invalid input")
	// ErrCheckpoint reports a missing or inconsistent saved model or checkpoint.
	ErrCheckpoint = errors.New("model: bad checkpoint")
)
