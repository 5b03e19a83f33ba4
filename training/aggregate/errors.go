package aggregate

import "errors"

// Sentinel errors. Rejection reasons wrap one of the first five so that a node can map them to peer
// penalties with errors.Is.
var (
	// ErrContribution reports a contribution with a bad edge id, sample count or modality list.
	ErrContribution = errors.New("aggregate: invalid contribution")
	// ErrDuplicate reports a second contribution from an edge in the same round.
	ErrDuplicate = errors.New("aggregate: duplicate edge")
	// ErrShape reports a tensor set or shape that differs from the expected layout.
	ErrShape = errors.New("aggregate: layout mismatch")
	// ErrNonFinite reports a NaN or infinite value in a delta.
	ErrNonFinite = errors.New("aggregate: non-finite value")
	// ErrNorm reports a delta whose L2 norm exceeds the absolute or the relative cap.
	ErrNorm = errors.New("aggregate: norm above cap")
	// ErrNoContributions reports a round in which no contribution survived validation.
	ErrNoContributions = errors.New("aggregate: no valid contributions")
	// ErrConfig reports an invalid layout, group list or option.
	ErrConfig = errors.New("aggregate: invalid config")
)
