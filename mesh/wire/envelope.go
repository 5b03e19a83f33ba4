// Package wire holds the hand-written, bounded binary codecs of the mesh:
// the control-plane envelope carried in gossipsub messages, the peer list
// exchanged for discovery, and the frames of the blob protocol.
//
// Every codec uses fixed-width big-endian integers and length-prefixed byte
// fields with a cap on every length, rejects trailing bytes, and never
// allocates more than the caps allow, so a decoder fed untrusted input either
// returns a value that re-encodes to the same bytes or an error.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the envelope schema version this package writes and accepts.
const Version uint8 = 1

// Caps on the envelope. A gossipsub message carries exactly one envelope.
const (
	MaxRunID = 64       // bytes of the run id
	MaxBody  = 48 << 10 // bytes of the body (control messages are small)
	// envelopeFixed is the size of the fixed fields: version, kind, run-id
	// length, term, round, seq, sent-at, body length.
	envelopeFixed = 1 + 1 + 2 + 8 + 8 + 8 + 8 + 4
	// MaxEnvelope is the largest valid encoded envelope.
	MaxEnvelope = envelopeFixed + MaxRunID + MaxBody
)

// Sentinel errors of the codecs; decoders wrap them with the offending field.
var (
	ErrTruncated   = errors.New("wire: truncated input")
	ErrTooLarge    = errors.New("wire: length over cap")
	ErrVersion     = errors.New("wire: unsupported version")
	ErrTrailing    = errors.New("wire: trailing bytes")
	ErrInvalidRun  = errors.New("wire: invalid run id")
	ErrUnknownKind = errors.New("wire: unknown kind")
	ErrInvalid     = errors.New("wire: invalid value")
)

// Kind says what a control message is; each kind has its own topic.
type Kind uint8

// The control-plane message kinds.
const (
	KindHeartbeat Kind = 1 // liveness, role, modalities
	KindAnchor    Kind = 2 // anchor claims and lease renewals
	KindRound     Kind = 3 // round manifests published by the anchor
	KindUpdate    Kind = 4 // update manifests published by edges
)

// Kinds lists every known kind in topic order.
func Kinds() []Kind { return []Kind{KindHeartbeat, KindAnchor, KindRound, KindUpdate} }

// String returns the kind's topic suffix ("heartbeat", "anchor", ...).
func (k Kind) String() string {
	switch k {
	case KindHeartbeat:
		return "heartbeat"
	case KindAnchor:
		return "anchor"
	case KindRound:
		return "round"
	case KindUpdate:
		return "update"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k >= KindHeartbeat && k <= KindUpdate }

// Envelope is the versioned frame of every control message. The sender's
// identity is not in it: gossipsub's StrictSign signature carries it.
type Envelope struct {
	Version uint8  // schema version, always Version when encoded by us
	RunID   string // the run (experiment / deployment) the message belongs to
	Kind    Kind   // what Body holds; must match the topic
	Term    uint64 // anchor term (fencing token)
	Round   uint64 // training round
	Seq     uint64 // per-sender sequence number, strictly increasing
	SentAt  int64  // sender clock, Unix nanoseconds
	Body    []byte // kind-specific payload, at most MaxBody bytes
}

// ValidRunID reports whether id is a usable run id: 1..MaxRunID bytes of
// [A-Za-z0-9._-], so that it can be embedded in topic names.
func ValidRunID(id string) bool {
	if len(id) == 0 || len(id) > MaxRunID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// EncodedSize returns the number of bytes Encode writes for e.
func (e *Envelope) EncodedSize() int { return envelopeFixed + len(e.RunID) + len(e.Body) }

// Encode appends the encoding of e to dst. It refuses envelopes that Decode
// would refuse, so nothing we send can be rejected for its shape.
func (e *Envelope) Encode(dst []byte) ([]byte, error) {
	if e.Version != Version {
		return dst, fmt.Errorf("encode envelope: version %d: %w", e.Version, ErrVersion)
	}
	if !ValidRunID(e.RunID) {
		return dst, fmt.Errorf("encode envelope: run id %q: %w", e.RunID, ErrInvalidRun)
	}
	if !e.Kind.Valid() {
		return dst, fmt.Errorf("encode envelope: %v: %w", e.Kind, ErrUnknownKind)
	}
	if len(e.Body) > MaxBody {
		return dst, fmt.Errorf("encode envelope: body %d bytes > %d: %w", len(e.Body), MaxBody, ErrTooLarge)
	}
	dst = append(dst, e.Version, byte(e.Kind))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.RunID)))
	dst = append(dst, e.RunID...)
	dst = binary.BigEndian.AppendUint64(dst, e.Term)
	dst = binary.BigEndian.AppendUint64(dst, e.Round)
	dst = binary.BigEndian.AppendUint64(dst, e.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.SentAt))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.Body)))
	dst = append(dst, e.Body...)
	return dst, nil
}

// DecodeEnvelope parses one envelope that must fill b exactly. The body is
// copied, so b may be reused by the caller.
func DecodeEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelope {
		return nil, fmt.Errorf("decode envelope: %d bytes > %d: %w", len(b), MaxEnvelope, ErrTooLarge)
	}
	r := reader{b: b}
	var e Envelope
	e.Version = r.u8()
	if r.err == nil && e.Version != Version {
		return nil, fmt.Errorf("decode envelope: version %d: %w", e.Version, ErrVersion)
	}
	e.Kind = Kind(r.u8())
	if r.err == nil && !e.Kind.Valid() {
		return nil, fmt.Errorf("decode envelope: %v: %w", e.Kind, ErrUnknownKind)
	}
	run := r.bytes16("run id", MaxRunID)
	e.RunID = string(run)
	if r.err == nil && !ValidRunID(e.RunID) {
		return nil, fmt.Errorf("decode envelope: run id %q: %w", e.RunID, ErrInvalidRun)
	}
	e.Term = r.u64()
	e.Round = r.u64()
	e.Seq = r.u64()
	e.SentAt = int64(r.u64())
	body := r.bytes32("body", MaxBody)
	if r.err != nil {
		return nil, fmt.Errorf("decode envelope: %w", r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("decode envelope: %d bytes after body: %w", len(r.b), ErrTrailing)
	}
	e.Body = append([]byte(nil), body...)
	return &e, nil
}
