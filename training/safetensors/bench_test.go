package safetensors

import (
	"bytes"
	"testing"
)

// benchTensors is a GPT-2-small-sized embedding table (38.6M floats would be
// the real one; 1/8 of it keeps the benchmark light).
func benchTensors() []Tensor {
	data := make([]float32, 50257*768/8)
	for i := range data {
		data[i] = float32(i%1000) * 1e-3
	}
	return []Tensor{{Name: "wte.weight", Shape: []int{50257 / 8, 768}, Data: data[:50257/8*768]}}
}

func BenchmarkWrite(b *testing.B) {
	ts := benchTensors()
	var buf bytes.Buffer
	b.SetBytes(int64(4 * len(ts[0].Data)))
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, ts, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	var buf bytes.Buffer
	if err := Write(&buf, benchTensors(), nil); err != nil {
		b.Fatal(err)
	}
	raw := buf.Bytes()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := readBytes(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCopy is the baseline: one plain copy of the same bytes.
func BenchmarkCopy(b *testing.B) {
	var buf bytes.Buffer
	if err := Write(&buf, benchTensors(), nil); err != nil {
		b.Fatal(err)
	}
	raw := buf.Bytes()
	dst := make([]byte, len(raw))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		copy(dst, raw)
	}
}
