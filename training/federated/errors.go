package federated

import "errors"

var (
	// ErrConfig reports an invalid strategy, edge or anchor configuration.
	ErrConfig = errors.New("federated: invalid config")
	// ErrPayload reports a Global or Update that does not fit the receiver (round, layout, reps).
	ErrPayload = errors.New("federated: unusable payload")
)
