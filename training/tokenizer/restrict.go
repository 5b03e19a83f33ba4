package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
)

// RestrictedFormat is the format tag of a serialised restricted vocabulary.
const RestrictedFormat = "mlecs-vocab/1"

// Restricted is a compact vocabulary over a base Tokenizer: compact ids
// 0..VocabSize()-1 stand for an ascending subset of the base ids. Text
// whose base tokens fall outside the subset is encoded by splitting those
// tokens along their merges (down to bytes at worst), so every text stays
// encodable and Decode(Encode(s)) == s. Safe for concurrent use.
type Restricted struct {
	base    *Tokenizer
	global  []int32 // compact -> base id, ascending
	compact []int32 // base id -> compact id, -1 if absent
}

// Restrict builds the vocabulary of the base tokens that corpus uses (with
// "<|endoftext|>" recognised), plus the end-of-text token and the 256 byte
// tokens.
func Restrict(base *Tokenizer, corpus []string) *Restricted {
	used := make([]bool, base.VocabSize())
	used[base.eot] = true
	for _, id := range base.byteIDs {
		used[id] = true
	}
	for _, text := range corpus {
		for _, id := range base.Encode(text) {
			used[id] = true
		}
	}
	var ids []int32
	for id, ok := range used {
		if ok {
			ids = append(ids, int32(id))
		}
	}
	return newRestricted(base, ids)
}

func newRestricted(base *Tokenizer, ids []int32) *Restricted {
	r := &Restricted{base: base, global: ids, compact: make([]int32, base.VocabSize())}
	for i := range r.compact {
		r.compact[i] = -1
	}
	for c, g := range ids {
		r.compact[g] = int32(c)
	}
	return r
}

// VocabSize is the number of compact ids.
func (r *Restricted) VocabSize() int { return len(r.global) }

// EOT is the compact id of the end-of-text token.
func (r *Restricted) EOT() int { return int(r.compact[r.base.eot]) }

// Base is the tokenizer the vocabulary restricts.
func (r *Restricted) Base() *Tokenizer { return r.base }

// Global maps a compact id to its base id.
func (r *Restricted) Global(compact int) (int, error) {
	if compact < 0 || compact >= len(r.global) {
		return 0, fmt.Errorf("%w: compact id %d (vocabulary size %d)", ErrUnknownID, compact, len(r.global))
	}
	return int(r.global[compact]), nil
}

// Compact maps a base id to its compact id; ok is false if it is not kept.
func (r *Restricted) Compact(global int) (id int, ok bool) {
	if global < 0 || global >= len(r.compact) || r.compact[global] < 0 {
		return 0, false
	}
	return int(r.compact[global]), true
}

// Encode tokenises text into compact ids, "<|endoftext|>" included.
func (r *Restricted) Encode(text string) []int { return r.toCompact(r.base.Encode(text)) }

// EncodeOrdinary tokenises text into compact ids, treating "<|endoftext|>"
// as plain text.
func (r *Restricted) EncodeOrdinary(text string) []int {
	return r.toCompact(r.base.EncodeOrdinary(text))
}

// toCompact maps base ids, splitting unkept tokens into the pair they were
// merged from until every part is kept (bytes always are).
func (r *Restricted) toCompact(ids []int) []int {
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		out = r.appendSplit(out, int32(id))
	}
	return out
}

func (r *Restricted) appendSplit(out []int, id int32) []int {
	if c := r.compact[id]; c >= 0 {
		return append(out, int(c))
	}
	p := r.base.parts[id]
	if p[0] < 0 {
		// Not produced by a merge (only possible with an unusual base
		// vocabulary): fall back to the token's bytes, which are always kept.
		tok := r.base.tokens[id]
		for i := 0; i < len(tok); i++ {
			out = append(out, int(r.compact[r.base.byteIDs[tok[i]]]))
		}
		return out
	}
	out = r.appendSplit(out, p[0])
	return r.appendSplit(out, p[1])
}

// Decode concatenates the bytes of compact ids.
func (r *Restricted) Decode(ids []int) (string, error) {
	global := make([]int, len(ids))
	for i, c := range ids {
		if c < 0 || c >= len(r.global) {
			return "", fmt.Errorf("%w: compact id %d at position %d (vocabulary size %d)", ErrUnknownID, c, i, len(r.global))
		}
		global[i] = int(r.global[c])
	}
	return r.base.Decode(global)
}

// restrictedFile is the JSON form: the base ids in compact order.
type restrictedFile struct {
	Format   string  `json:"format"`
	Base     string  `json:"base"`
	BaseSize int     `json:"base_size"`
	IDs      []int32 `json:"ids"`
}

// MarshalJSON writes {"format","base","base_size","ids"}; base is the base
// tokenizer's Fingerprint.
func (r *Restricted) MarshalJSON() ([]byte, error) {
	return json.Marshal(restrictedFile{
		Format: RestrictedFormat, Base: r.base.checksum, BaseSize: r.base.VocabSize(), IDs: r.global,
	})
}

// ParseRestricted reloads a vocabulary written by MarshalJSON against base,
// checking that base is the vocabulary it was built on.
func ParseRestricted(base *Tokenizer, data []byte) (*Restricted, error) {
	var f restrictedFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRestricted, err)
	}
	if f.Format != RestrictedFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadRestricted, f.Format, RestrictedFormat)
	}
	if f.Base != base.checksum || f.BaseSize != base.VocabSize() {
		return nil, fmt.Errorf("%w: file has base %s (%d tokens), tokenizer is %s (%d tokens)",
			ErrBaseMismatch, f.Base, f.BaseSize, base.checksum, base.VocabSize())
	}
	if !slices.IsSorted(f.IDs) {
		return nil, fmt.Errorf("%w: ids are not in ascending order", ErrBadRestricted)
	}
	for i, id := range f.IDs {
		if id < 0 || int(id) >= base.VocabSize() || (i > 0 && f.IDs[i-1] == id) {
			return nil, fmt.Errorf("%w: id %d at position %d is out of range or repeated", ErrBadRestricted, id, i)
		}
	}
	r := newRestricted(base, f.IDs)
	if r.compact[base.eot] < 0 {
		return nil, fmt.Errorf("%w: ids lack the end-of-text token %d", ErrBadRestricted, base.eot)
	}
	for b, id := range base.byteIDs {
		if r.compact[id] < 0 {
			return nil, fmt.Errorf("%w: ids lack the token of byte 0x%02x (%d)", ErrBadRestricted, b, id)
		}
	}
	return r, nil
}
