package storage

import "errors"

// Sentinel errors. Returned errors wrap one of these with context; test with errors.Is.
var (
	// ErrNotFound: the blob, checkpoint, peer, metric or state key does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrCorrupt: stored bytes fail their hash or cannot be decoded.
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrTooLarge: a value exceeds a configured or format limit.
	ErrTooLarge = errors.New("storage: too large")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("storage: closed")
	// ErrLocked: the directory is in use by another process.
	ErrLocked = errors.New("storage: directory locked")
	// ErrNoSpace: the file system's free space is below the store's reserve (WithMinFreeSpace);
	// nothing was written. Deletes are still accepted, to free space.
	ErrNoSpace = errors.New("storage: no space left on device")
	// ErrInvalid: an argument (name, shape, option) is malformed.
	ErrInvalid = errors.New("storage: invalid argument")
)
