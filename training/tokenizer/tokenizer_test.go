package tokenizer

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestEncodeKnownIDs(t *testing.T) {
	tok := gpt2(t)
	tests := []struct {
		text string
		want []int
	}{
		{"Hello world", []int{15496, 995}},
		{"hello world", []int{31373, 995}},
		{" Hello world", []int{18435, 995}},
		{"Hello, world!", []int{15496, 11, 995, 0}},
		// Runs of spaces: all but the last space form their own piece.
		{"Hello  world", []int{15496, 220, 995}},
		{"trailing space ", []int{9535, 4386, 2272, 220}},
		{"\n", []int{198}},
		{"\n\n", []int{628}},
		{"", nil},
		{EndOfText, []int{50256}},
		{"a" + EndOfText + "b", []int{64, 50256, 65}},
	}
	for _, tc := range tests {
		got := tok.Encode(tc.text)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	if tok.VocabSize() != 50257 || tok.EOT() != 50256 {
		t.Errorf("VocabSize, EOT = %d, %d; want 50257, 50256", tok.VocabSize(), tok.EOT())
	}
	if !tok.consistent {
		t.Error("GPT-2 merges should satisfy the heap-BPE consistency condition")
	}
}

type encodeCase struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

func readCases(t *testing.T) []encodeCase {
	t.Helper()
	data, err := os.ReadFile("testdata/encode_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []encodeCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 400 {
		t.Fatalf("only %d fixture cases", len(cases))
	}
	return cases
}

// TestEncodeMatchesReference checks against ids from an independent Python
// implementation of encoder.py (testdata/gen_fixtures.py): Unicode letters,
// numbers, emoji, combining marks, contractions, every kind of whitespace.
func TestEncodeMatchesReference(t *testing.T) {
	tok := gpt2(t)
	for _, tc := range readCases(t) {
		got := tok.EncodeOrdinary(tc.Text)
		if !slices.Equal(got, tc.IDs) && !(len(got) == 0 && len(tc.IDs) == 0) {
			t.Errorf("EncodeOrdinary(%q) = %v, want %v", tc.Text, got, tc.IDs)
			continue
		}
		back, err := tok.Decode(got)
		if err != nil || back != tc.Text {
			t.Errorf("Decode(EncodeOrdinary(%q)) = %q, %v", tc.Text, back, err)
		}
	}
}

func TestPieces(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"Hello   world   ", []string{"Hello", "  ", " world", "   "}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"a \n b", []string{"a", " \n", " b"}},
		{"x\t y", []string{"x", "\t", " y"}},
		{"I'm", []string{"I", "'m"}},
		{"we'll've", []string{"we", "'ll", "'ve"}},
		{"'S'sup", []string{"'", "S", "'s", "up"}},
		{"!'s", []string{"!'", "s"}},
		{"abc123 45", []string{"abc", "123", " 45"}},
		{" !?", []string{" !?"}},
		{"\u3000\u3000x", []string{"\u3000", "\u3000", "x"}},
		{"é\u0301", []string{"é", "\u0301"}},
		{"a\xffb", []string{"a", "\xff", "b"}},
		{" \xff\xfe", []string{" \xff\xfe"}},
	}
	for _, tc := range tests {
		var got []string
		pieces(tc.text, func(p string) { got = append(got, p) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("pieces(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestUnicodeClasses compares Go's classification of every code point with
// the `regex` module's \s, \p{L} and \p{N} (testdata/unicode_classes.json).
func TestUnicodeClasses(t *testing.T) {
	data, err := os.ReadFile("testdata/unicode_classes.json")
	if err != nil {
		t.Fatal(err)
	}
	var classes map[string]json.RawMessage
	if err := json.Unmarshal(data, &classes); err != nil {
		t.Fatal(err)
	}
	want := make([]class, utf8.MaxRune+1)
	for name, c := range map[string]class{"L": classLetter, "N": classNumber, "s": classSpace} {
		var ranges [][2]rune
		if err := json.Unmarshal(classes[name], &ranges); err != nil {
			t.Fatal(err)
		}
		for _, rg := range ranges {
			for r := rg[0]; r <= rg[1]; r++ {
				if want[r] != classOther {
					t.Fatalf("U+%04X in two classes", r)
				}
				want[r] = c
			}
		}
	}
	bad := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		if got := classifyRune(r); got != want[r] {
			if bad++; bad <= 10 {
				t.Errorf("class of U+%04X = %d, want %d", r, got, want[r])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d code points classified differently", bad)
	}
}

// TestHeapMatchesReference runs both merge loops on long pieces.
func TestHeapMatchesReference(t *testing.T) {
	tok := gpt2(t)
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "e", "t", "th", "ing", "er", "an", "ö", "中", "😀", "0", "1", "ss", "ll", "o"}
	n := 300
	if testing.Short() {
		n = 60
	}
	for i := 0; i < n; i++ {
		var b strings.Builder
		for b.Len() < heapThreshold+rng.IntN(400) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		piece := b.String()
		sym := func() []int32 {
			var w []int32
			for k := 0; k < len(piece); k++ {
				w = append(w, tok.byteIDs[piece[k]])
			}
			return w
		}
		ref, hp := tok.bpeReference(sym()), tok.bpeHeap(sym())
		if !slices.Equal(ref, hp) {
			t.Fatalf("piece %q: reference %v, heap %v", piece, ref, hp)
		}
	}
}

func TestTinyVocabMerges(t *testing.T) {
	// "aaa" merges left to right: (a a) then (aa a) is unranked.
	tok := tiny(t, "a a", "h e", "l l", "he ll", "hell o")
	tests := []struct {
		text string
		want []string
	}{
		{"aaa", []string{"aa", "a"}},
		{"aaaa", []string{"aa", "aa"}},
		{"hello", []string{"hello"}},
		{"hellhe", []string{"hell", "he"}},
	}
	for _, tc := range tests {
		var got []string
		for _, id := range tok.EncodeOrdinary(tc.text) {
			s, err := tok.Token(id)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("tiny EncodeOrdinary(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestNewRejectsBadVocab(t *testing.T) {
	enc, voc := tinyFiles(t, "a b")
	tests := []struct {
		name     string
		enc, voc string
		opts     []Option
		want     error
	}{
		{"not json", "{", voc, nil, ErrBadVocab},
		{"too small", `{"a":0}`, voc, nil, ErrBadVocab},
		{"bad merge line", enc, "#version: 0.2\na b c\n", nil, ErrBadVocab},
		{"unknown merge token", enc, "#version: 0.2\nzz q\n", nil, ErrBadVocab},
		{"repeated merge", enc, "#version: 0.2\na b\na b\n", nil, ErrBadVocab},
		{"outside alphabet", strings.Replace(enc, `"ab"`, `"a\u0000b"`, 1), voc, nil, ErrBadVocab},
		{"no eot", strings.Replace(enc, EndOfText, "<|x|>", 1), voc, nil, ErrBadVocab},
		{"negative cache", enc, voc, []Option{WithCacheSize(-1)}, ErrBadOption},
	}
	for _, tc := range tests {
		_, err := New(strings.NewReader(tc.enc), strings.NewReader(tc.voc), tc.opts...)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load(empty dir) succeeded")
	}
}

func TestDecodeRejectsUnknownID(t *testing.T) {
	tok := tiny(t)
	for _, id := range []int{-1, tok.VocabSize()} {
		if _, err := tok.Decode([]int{0, id}); !errors.Is(err, ErrUnknownID) {
			t.Errorf("Decode(%d) err = %v, want ErrUnknownID", id, err)
		}
		if _, err := tok.Token(id); !errors.Is(err, ErrUnknownID) {
			t.Errorf("Token(%d) err = %v, want ErrUnknownID", id, err)
		}
	}
}

func TestCacheIsBoundedAndTransparent(t *testing.T) {
	dir := gpt2Dir(t)
	small, err := Load(dir, WithCacheSize(3))
	if err != nil {
		t.Fatal(err)
	}
	none, err := Load(dir, WithCacheSize(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range readCases(t) {
		a, b := small.EncodeOrdinary(tc.Text), none.EncodeOrdinary(tc.Text)
		if !slices.Equal(a, b) {
			t.Fatalf("%q: cache size 3 gives %v, no cache %v", tc.Text, a, b)
		}
		if n, m := cacheEntries(small), cacheEntries(none); n > 3 || m != 0 {
			t.Fatalf("cache sizes %d and %d exceed their bounds", n, m)
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := gpt2(t)
	cases := readCases(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tc := range cases[g*50 : g*50+100] {
				if got := tok.EncodeOrdinary(tc.Text); !slices.Equal(got, tc.IDs) && len(tc.IDs) > 0 {
					t.Errorf("concurrent EncodeOrdinary(%q) = %v, want %v", tc.Text, got, tc.IDs)
				}
			}
		}()
	}
	wg.Wait()
}

func TestRoundTrip(t *testing.T) {
	tok := gpt2(t)
	for _, s := range []string{
		"", "plain", "  many   spaces  ", "\r\n\t\v\f", "😀👍🏽🇫🇷", "a<|endoftext|>b<|endoftext|>",
		"<|endo", "\xff\xfe\x00bad utf8\xc3", strings.Repeat("x", 5000), strings.Repeat(" ", 300),
	} {
		for name, ids := range map[string][]int{"Encode": tok.Encode(s), "EncodeOrdinary": tok.EncodeOrdinary(s)} {
			back, err := tok.Decode(ids)
			if err != nil || back != s {
				t.Errorf("Decode(%s(%q)) = %q, %v", name, s, back, err)
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"Hello world", "  x\n\n y ", "I'm 42 😀", "<|endoftext|>", "\xff"} {
		f.Add(s)
	}
	tok := gpt2(f)
	restricted := Restrict(tok, []string{"Hello world", "the quick brown fox"})
	f.Fuzz(func(t *testing.T, s string) {
		var joined strings.Builder
		pieces(s, func(p string) {
			if p == "" {
				t.Fatalf("empty piece in %q", s)
			}
			joined.WriteString(p)
		})
		if joined.String() != s {
			t.Fatalf("pieces of %q join to %q", s, joined.String())
		}
		for _, ids := range [][]int{tok.Encode(s), tok.EncodeOrdinary(s)} {
			if back, err := tok.Decode(ids); err != nil || back != s {
				t.Fatalf("Decode(Encode(%q)) = %q, %v", s, back, err)
			}
		}
		ids := restricted.Encode(s)
		if back, err := restricted.Decode(ids); err != nil || back != s {
			t.Fatalf("restricted Decode(Encode(%q)) = %q, %v", s, back, err)
		}
	})
}

func cacheEntries(t *Tokenizer) int {
	n := 0
	t.cache.Range(func(any, any) bool { n++; return true })
	return n
}
