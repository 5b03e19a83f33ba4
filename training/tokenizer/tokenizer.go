package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// EndOfText is the text of GPT-2's end-of-text special token.
const EndOfText = "<|endoftext|>"

// Tokenizer is a loaded GPT-2 byte-level BPE vocabulary. It is safe for
// concurrent use; the only mutable state is the piece cache.
type Tokenizer struct {
	tokens     []string         // id -> raw bytes
	ids        map[string]int32 // raw bytes -> id
	whole      map[string]int32 // tokens whose own bytes merge back into them
	merges     map[uint64]merge // (left id, right id) -> rank and result
	parts      [][2]int32       // id -> the pair merged into it, {-1,-1} if none
	byteIDs    [256]int32       // id of each single-byte token
	eot        int32
	consistent bool   // every merge ranks after the merges producing its parts
	checksum   string // content hash of tokens and merges, see Fingerprint

	cacheLimit int64
	cacheLen   atomic.Int64
	cache      sync.Map // piece string -> []int32; read-mostly, lock-free loads
}

// Option configures a Tokenizer.
type Option func(*config) error

type config struct {
	cacheLimit int
}

// WithCacheSize bounds the number of cached pieces (0 disables the cache).
// The default is 65536.
func WithCacheSize(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: cache size %d is negative", ErrBadOption, n)
		}
		c.cacheLimit = n
		return nil
	}
}

// VocabSize is the number of token ids (50257 for GPT-2).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// EOT is the id of the end-of-text token (50256 for GPT-2).
func (t *Tokenizer) EOT() int { return int(t.eot) }

// Fingerprint identifies the vocabulary by content (tokens and merges), so a
// restricted vocabulary can check it is reloaded against the same base
// whatever the files' formatting.
func (t *Tokenizer) Fingerprint() string { return t.checksum }

// Token returns the raw bytes of token id.
func (t *Tokenizer) Token(id int) (string, error) {
	if id < 0 || id >= len(t.tokens) {
		return "", fmt.Errorf("%w: %d (vocabulary size %d)", ErrUnknownID, id, len(t.tokens))
	}
	return t.tokens[id], nil
}

// Encode tokenises text, turning each literal "<|endoftext|>" into the
// end-of-text id.
func (t *Tokenizer) Encode(text string) []int {
	out := make([]int, 0, len(text)/3+1)
	for {
		k := strings.Index(text, EndOfText)
		if k < 0 {
			return t.appendOrdinary(out, text)
		}
		out = t.appendOrdinary(out, text[:k])
		out = append(out, int(t.eot))
		text = text[k+len(EndOfText):]
	}
}

// EncodeOrdinary tokenises text as the reference encoder does, treating
// "<|endoftext|>" as plain text.
func (t *Tokenizer) EncodeOrdinary(text string) []int {
	return t.appendOrdinary(make([]int, 0, len(text)/3+1), text)
}

func (t *Tokenizer) appendOrdinary(out []int, text string) []int {
	var scratch []int32
	pieces(text, func(piece string) {
		if len(piece) == 1 { // a single byte has nothing to merge
			out = append(out, int(t.byteIDs[piece[0]]))
			return
		}
		// Most pieces are whole tokens; whole holds exactly those for which
		// merging the piece's bytes ends in that single token.
		if id, ok := t.whole[piece]; ok {
			out = append(out, int(id))
			return
		}
		if ids, ok := t.cached(piece); ok {
			for _, id := range ids {
				out = append(out, int(id))
			}
			return
		}
		scratch = scratch[:0]
		for i := 0; i < len(piece); i++ {
			scratch = append(scratch, t.byteIDs[piece[i]])
		}
		ids := t.bpe(scratch)
		for _, id := range ids {
			out = append(out, int(id))
		}
		t.store(piece, ids)
	})
	return out
}

func (t *Tokenizer) cached(piece string) ([]int32, bool) {
	if t.cacheLimit == 0 {
		return nil, false
	}
	v, ok := t.cache.Load(piece)
	if !ok {
		return nil, false
	}
	return v.([]int32), true
}

// store caches a copy of ids; a full cache is emptied rather than grown,
// which bounds memory on adversarial input at the cost of re-merging.
func (t *Tokenizer) store(piece string, ids []int32) {
	if t.cacheLimit == 0 {
		return
	}
	if t.cacheLen.Add(1) > t.cacheLimit {
		t.cache.Clear()
		t.cacheLen.Store(1)
	}
	t.cache.Store(strings.Clone(piece), append([]int32(nil), ids...))
}

// Decode concatenates the bytes of ids. The result is not necessarily valid
// UTF-8 (see the package comment).
func (t *Tokenizer) Decode(ids []int) (string, error) {
	var b strings.Builder
	for i, id := range ids {
		if id < 0 || id >= len(t.tokens) {
			return "", fmt.Errorf("%w: %d at position %d (vocabulary size %d)", ErrUnknownID, id, i, len(t.tokens))
		}
		b.WriteString(t.tokens[id])
	}
	return b.String(), nil
}
