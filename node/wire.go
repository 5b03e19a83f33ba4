package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mlecs/mlecs/mesh/wire"
)

// Control messages travel on gossipsub inside the mesh's versioned envelope (wire.Envelope: run id, kind,
// term, round, sequence, send time), signed by the mesh (StrictSign); the sender is the signed author,
// never a body field. The body is a small JSON object of the kind-specific fields below, versioned,
// size-checked before decoding and decoded with unknown fields refused.
//
// Kinds (one topic each):
//   - heartbeat: every non-anchor node, each interval: Role, Modalities, Anchor it follows, Global it holds
//     (envelope Round = that global's round).
//   - anchor: the anchor, each interval: its claim/renewal with LeaseMs (Release on graceful leave), Role,
//     Modalities and Global (envelope Round = the round it collects, so the beat doubles as a manifest).
//   - round: the anchor's round manifest: Global (envelope Round = the round it starts).
//   - update: an edge's update manifest: Update (envelope Round = the round it answers).

// BodyVersion is the control body schema version.
const BodyVersion = 1

// MaxBodyBytes caps a control body; anything larger is refused before decoding.
const MaxBodyBytes = 4 << 10

// MaxBlobBytes is the largest model or update blob a node accepts. A manifest declaring a larger blob
// (Body.Size) is refused by the validator before anything is fetched, and so costs its author score;
// fetches pass the declared size (or this cap) as the blob protocol's limit, which refuses a larger
// announcement before buffering any of it.
const MaxBlobBytes = 256 << 20

// ErrBadMessage is wrapped by every control message decoding error.
var ErrBadMessage = errors.New("bad control message")

// Body is the JSON body of a control message.
type Body struct {
	V           int      `json:"v"`
	Role        Role     `json:"role,omitempty"`
	Modalities  []string `json:"modalities,omitempty"`
	Anchor      string   `json:"anchor,omitempty"`
	Release     bool     `json:"release,omitempty"`
	LeaseMs     int64    `json:"lease_ms,omitempty"`
	LeaseExpiry int64    `json:"lease_expiry,omitempty"` // unix ms, informational: receivers use LeaseMs on their own clock
	Global      string   `json:"global,omitempty"`
	Update      string   `json:"update,omitempty"`
	// Size is the byte length of the blob the message names (Update in an update manifest, else
	// Global); 0 = not declared.
	Size int64 `json:"size,omitempty"`
}

// Encode marshals b; it fails when the result would exceed MaxBodyBytes.
func (b Body) Encode() ([]byte, error) {
	b.V = BodyVersion
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode control body: %w", err)
	}
	if len(out) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: body is %d bytes (max %d)", ErrBadMessage, len(out), MaxBodyBytes)
	}
	return out, nil
}

// DecodeBody parses and checks the body of a control message of kind k.
func DecodeBody(k wire.Kind, b []byte) (Body, error) {
	if len(b) > MaxBodyBytes {
		return Body{}, fmt.Errorf("%w: %v body is %d bytes (max %d)", ErrBadMessage, k, len(b), MaxBodyBytes)
	}
	var m Body
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Body{}, fmt.Errorf("%w: %v body: %w", ErrBadMessage, k, err)
	}
	if dec.More() {
		return Body{}, fmt.Errorf("%w: %v body: trailing data", ErrBadMessage, k)
	}
	if err := m.check(k); err != nil {
		return Body{}, err
	}
	return m, nil
}

func (m Body) check(k wire.Kind) error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: %v body: %s", ErrBadMessage, k, fmt.Sprintf(f, a...))
	}
	switch {
	case m.V != BodyVersion:
		return bad("version %d, want %d", m.V, BodyVersion)
	case m.Global != "" && !isHash(m.Global):
		return bad("global %q is not a SHA-256 hex digest", clipStr(m.Global))
	case m.Update != "" && !isHash(m.Update):
		return bad("update %q is not a SHA-256 hex digest", clipStr(m.Update))
	case len(m.Anchor) > 128:
		return bad("anchor id longer than 128 bytes")
	case len(m.Modalities) > 16:
		return bad("%d modalities (max 16)", len(m.Modalities))
	case m.LeaseMs < 0:
		return bad("negative lease")
	case m.Size < 0 || m.Size > MaxBlobBytes:
		return bad("declared blob size %d bytes outside [0, %d]", m.Size, MaxBlobBytes)
	case m.Size > 0 && m.Global == "" && m.Update == "":
		return bad("blob size declared without a blob")
	}
	for _, mod := range m.Modalities {
		if mod == "" || len(mod) > 32 {
			return bad("modality %q", clipStr(mod))
		}
	}
	switch k {
	case wire.KindHeartbeat:
		if !m.Role.Valid() {
			return bad("role %q", clipStr(string(m.Role)))
		}
	case wire.KindAnchor:
		if !m.Role.CanAnchor() {
			return bad("role %q may not claim the anchor lease", clipStr(string(m.Role)))
		}
		if m.LeaseMs == 0 && !m.Release {
			return bad("claim without lease")
		}
	case wire.KindRound:
		if m.Global == "" {
			return bad("round manifest without global")
		}
	case wire.KindUpdate:
		if m.Update == "" {
			return bad("update manifest without update")
		}
	default:
		return bad("unknown kind")
	}
	return nil
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func clipStr(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
