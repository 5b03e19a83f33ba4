package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchText is real text: the shared emoji manifest (CLDR names and
// keywords) and the data README, about 0.5 MB.
func benchText(b *testing.B) string {
	dir := filepath.Join(gpt2Dir(b), "..")
	var sb strings.Builder
	for _, name := range []string{"README.md", "emoji/emoji_manifest.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Skipf("benchmark text: %v", err)
		}
		sb.Write(data)
	}
	return sb.String()
}

// BenchmarkEncode reports encode throughput (MB/s) with the piece cache
// warm, as in training where a corpus is tokenised repeatedly.
func BenchmarkEncode(b *testing.B) {
	text := benchText(b)
	tok := gpt2(b)
	tok.Encode(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text)
	}
}

// BenchmarkEncodeNoCache reports the throughput of pre-tokenising and
// merging every piece.
func BenchmarkEncodeNoCache(b *testing.B) {
	text := benchText(b)
	tok, err := Load(gpt2Dir(b), WithCacheSize(0))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text)
	}
}

func BenchmarkDecode(b *testing.B) {
	text := benchText(b)
	tok := gpt2(b)
	ids := tok.Encode(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tok.Decode(ids); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPieces is the pre-tokenisation pass alone, the floor under Encode.
func BenchmarkPieces(b *testing.B) {
	text := benchText(b)
	b.SetBytes(int64(len(text)))
	n := 0
	for b.Loop() {
		pieces(text, func(string) { n++ })
	}
	if n == 0 {
		b.Fatal("no pieces")
	}
}
