package mesh

import "errors"

// Sentinel errors of the mesh; returned errors wrap them with context.
var (
	ErrInvalidOption = errors.New("mesh: invalid option")
	ErrClosed        = errors.New("mesh: host closed")
	ErrNotAllowed    = errors.New("mesh: peer not allowed")
	ErrBlobNotFound  = errors.New("mesh: blob not found")
	ErrBlobTooLarge  = errors.New("mesh: blob larger than allowed")
	ErrHashMismatch  = errors.New("mesh: blob hash mismatch")
	ErrBlobProtocol  = errors.New("mesh: blob protocol violation")
	ErrBlobBusy      = errors.New("mesh: blob sender busy")
	ErrBadPeerList   = errors.New("mesh: malformed peer list")
)
