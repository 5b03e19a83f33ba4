package tokenizer

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRestrict(t *testing.T) {
	tok := gpt2(t)
	corpus := []string{"Hello world", "man firefighter: dark skin tone", "Hello again<|endoftext|>"}
	r := Restrict(tok, corpus)

	used := map[int]bool{tok.EOT(): true}
	for _, id := range tok.byteIDs {
		used[int(id)] = true
	}
	for _, s := range corpus {
		for _, id := range tok.Encode(s) {
			used[id] = true
		}
	}
	if r.VocabSize() != len(used) {
		t.Fatalf("VocabSize = %d, want %d", r.VocabSize(), len(used))
	}
	if g, err := r.Global(r.EOT()); err != nil || g != tok.EOT() {
		t.Errorf("Global(EOT) = %d, %v; want %d", g, err, tok.EOT())
	}
	// Corpus text maps token for token onto compact ids.
	for _, s := range corpus {
		base, compact := tok.Encode(s), r.Encode(s)
		if len(base) != len(compact) {
			t.Fatalf("%q: %d compact ids for %d base ids", s, len(compact), len(base))
		}
		for i := range base {
			if g, err := r.Global(compact[i]); err != nil || g != base[i] {
				t.Errorf("%q: compact %d -> %d, want %d", s, compact[i], g, base[i])
			}
		}
	}
	// Unseen text splits unkept tokens along their merges and round-trips.
	for _, s := range []string{"hello", "Goodbye, cruel world! 😀", "firefighters", EndOfText + "x"} {
		ids := r.Encode(s)
		for _, id := range ids {
			if id < 0 || id >= r.VocabSize() {
				t.Fatalf("%q: compact id %d out of range", s, id)
			}
		}
		if back, err := r.Decode(ids); err != nil || back != s {
			t.Errorf("Decode(Encode(%q)) = %q, %v", s, back, err)
		}
		if len(ids) < len(tok.Encode(s)) {
			t.Errorf("%q: restricted encoding is shorter than the base one", s)
		}
	}
	if _, ok := r.Compact(31373); ok { // "hello" is unused
		t.Error(`Compact("hello") should be absent`)
	}
	if _, err := r.Global(r.VocabSize()); !errors.Is(err, ErrUnknownID) {
		t.Errorf("Global(out of range) err = %v", err)
	}
	if _, err := r.Decode([]int{-1}); !errors.Is(err, ErrUnknownID) {
		t.Errorf("Decode(-1) err = %v", err)
	}
}

func TestRestrictedJSON(t *testing.T) {
	tok := gpt2(t)
	r := Restrict(tok, []string{"the cat sat on the mat"})
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRestricted(tok, data)
	if err != nil {
		t.Fatalf("ParseRestricted: %v", err)
	}
	if !slices.Equal(back.global, r.global) {
		t.Fatal("reloaded vocabulary differs")
	}
	text := "the mat sat"
	if !slices.Equal(back.Encode(text), r.Encode(text)) {
		t.Error("reloaded vocabulary encodes differently")
	}

	var f restrictedFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	mutate := func(edit func(*restrictedFile)) []byte {
		g := f
		g.IDs = slices.Clone(f.IDs)
		edit(&g)
		out, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"not json", []byte("{"), ErrBadRestricted},
		{"format", mutate(func(g *restrictedFile) { g.Format = "other/1" }), ErrBadRestricted},
		{"base", mutate(func(g *restrictedFile) { g.Base = "sha256:00" }), ErrBaseMismatch},
		{"base size", mutate(func(g *restrictedFile) { g.BaseSize = 10 }), ErrBaseMismatch},
		{"unsorted", mutate(func(g *restrictedFile) { g.IDs[0], g.IDs[1] = g.IDs[1], g.IDs[0] }), ErrBadRestricted},
		{"repeated", mutate(func(g *restrictedFile) { g.IDs[1] = g.IDs[0] }), ErrBadRestricted},
		{"out of range", mutate(func(g *restrictedFile) { g.IDs = append(g.IDs, 60000) }), ErrBadRestricted},
		{"negative", mutate(func(g *restrictedFile) { g.IDs[0] = -1 }), ErrBadRestricted},
		{"no eot", mutate(func(g *restrictedFile) { g.IDs = g.IDs[:len(g.IDs)-1] }), ErrBadRestricted},
		{"no byte", mutate(func(g *restrictedFile) { g.IDs = g.IDs[1:] }), ErrBadRestricted},
	}
	for _, tc := range tests {
		if _, err := ParseRestricted(tok, tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A different base vocabulary is refused.
	if _, err := ParseRestricted(tiny(t, "a b"), data); !errors.Is(err, ErrBaseMismatch) {
		t.Errorf("other base: err = %v, want ErrBaseMismatch", err)
	}
	if !strings.HasPrefix(tok.Fingerprint(), "sha256:") {
		t.Errorf("Fingerprint = %q", tok.Fingerprint())
	}
}

// TestRestrictSplitsUnmergedTokens covers a base vocabulary holding a token
// no merge produces: unkept, it is encoded by its bytes.
func TestRestrictSplitsUnmergedTokens(t *testing.T) {
	tok := tiny(t, "a b")
	ab := tok.ids["ab"]
	r := Restrict(tok, []string{"x"})
	// Make the byte fallback reachable: pretend "ab" came from no merge.
	tok.parts[ab] = [2]int32{-1, -1}
	ids := r.toCompact([]int{int(ab)})
	if back, err := r.Decode(ids); err != nil || back != "ab" || len(ids) != 2 {
		t.Errorf("split of unmerged token = %v (%q, %v), want 2 byte ids for \"ab\"", ids, back, err)
	}
}
