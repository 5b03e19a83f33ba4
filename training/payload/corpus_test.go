package payload

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSeedCorpus regenerates the valid-payload seeds of testdata/fuzz when MLECS_WRITE_CORPUS=1
// (the fuzzers also add them in code; the files keep them in the committed corpus).
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("MLECS_WRITE_CORPUS") != "1" {
		t.Skip("set MLECS_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	write := func(fuzzer, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []Codec{FP32, FP16, Int8} {
		write("FuzzDecodeUpdate", "seed-"+c.String(), encodeUpdate(t, sampleUpdate(), c))
		write("FuzzDecodeGlobal", "seed-"+c.String(), encodeGlobal(t, sampleGlobal(), c))
	}
	for _, c := range []Codec{FP32, Int8} {
		write("FuzzDecodeUpdate", "seed-knowledge-"+c.String(), encodeUpdate(t, knowledgeUpdate(), c))
	}
	write("FuzzDecodeGlobal", "seed-knowledge-fp16", encodeGlobal(t, knowledgeGlobal(), FP16))
	write("FuzzDecodeUpdate", "seed-empty", encodeUpdate(t, &Update{RunID: "r", Edge: "e"}, FP32))
	var buf bytes.Buffer
	if _, err := (&Global{RunID: "r"}).Encode(&buf, FP32); err != nil {
		t.Fatal(err)
	}
	write("FuzzDecodeGlobal", "seed-empty", buf.Bytes())
}
