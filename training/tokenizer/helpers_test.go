package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlecs/mlecs/training/dataset/datatest"
)

// gpt2Dir locates ../shared/data/gpt2-bpe beside the repository root.
func gpt2Dir(t testing.TB) string {
	t.Helper()
	data := filepath.Join(datatest.SharedData(t), "gpt2-bpe")
	if _, err := os.Stat(filepath.Join(data, "encoder.json")); err != nil {
		t.Skipf("GPT-2 vocabulary not found at %s: %v", data, err)
	}
	return data
}

var gpt2Once struct {
	sync.Once
	tok *Tokenizer
	err error
}

// gpt2 loads the real GPT-2 vocabulary once per test binary.
func gpt2(t testing.TB) *Tokenizer {
	t.Helper()
	dir := gpt2Dir(t)
	gpt2Once.Do(func() { gpt2Once.tok, gpt2Once.err = Load(dir) })
	if gpt2Once.err != nil {
		t.Fatalf("Load(%s): %v", dir, gpt2Once.err)
	}
	return gpt2Once.tok
}

// tinyFiles returns an encoder.json and vocab.bpe holding the 256 byte
// tokens, the given merges (in GPT-2's printable alphabet) and <|endoftext|>.
func tinyFiles(t testing.TB, merges ...string) (encoder, vocab string) {
	t.Helper()
	table := byteToRune()
	enc := map[string]int{}
	for b := 0; b < 256; b++ {
		enc[string(table[b])] = b
	}
	var lines []string
	lines = append(lines, "#version: 0.2")
	for _, m := range merges {
		lines = append(lines, m)
		if _, ok := enc[strings.ReplaceAll(m, " ", "")]; !ok {
			enc[strings.ReplaceAll(m, " ", "")] = len(enc)
		}
	}
	enc[EndOfText] = len(enc)
	var data strings.Builder
	e := json.NewEncoder(&data)
	e.SetEscapeHTML(false)
	if err := e.Encode(enc); err != nil {
		t.Fatal(err)
	}
	return data.String(), strings.Join(lines, "\n") + "\n"
}

func tiny(t testing.TB, merges ...string) *Tokenizer {
	t.Helper()
	enc, voc := tinyFiles(t, merges...)
	tok, err := New(strings.NewReader(enc), strings.NewReader(voc))
	if err != nil {
		t.Fatalf("New(tiny): %v", err)
	}
	return tok
}
