package payload

import "errors"

// Sentinel errors; every error of this package wraps one of them.
var (
	// ErrFormat reports bytes that are not a well-formed payload (bad magic, truncation, trailing bytes,
	// a length or count over its cap, a duplicate name, invalid UTF-8).
	ErrFormat = errors.New("payload: malformed")
	// ErrVersion reports a payload version this build does not read.
	ErrVersion = errors.New("payload: unsupported version")
	// ErrCodec reports an unknown tensor codec.
	ErrCodec = errors.New("payload: unknown codec")
	// ErrNonFinite reports a NaN or infinite value, scale or metric (or an FP16 overflow when encoding).
	ErrNonFinite = errors.New("payload: non-finite value")
	// ErrTooLarge reports a payload bigger than the caller's byte limit.
	ErrTooLarge = errors.New("payload: too large")
	// ErrInvalid reports an in-memory payload that cannot be encoded (inconsistent shapes, empty ids...).
	ErrInvalid = errors.New("payload: invalid")
)
