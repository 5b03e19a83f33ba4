package gpt2

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/training/safetensors"
)

// FuzzLoadCheckpoint feeds arbitrary bytes through the safetensors reader into every loader: each must
// return an error or succeed, never panic, and a failed load must leave the model untouched.
func FuzzLoadCheckpoint(f *testing.F) {
	c := checkConfig(true)
	seed, err := New[float32](c)
	if err != nil {
		f.Fatal(err)
	}
	seed.Init(1)
	dir := f.TempDir()
	for _, save := range []func(string) error{seed.SaveBase, seed.SaveLoRA} {
		p := filepath.Join(dir, "seed")
		if err := save(p); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("{}"))
	m, err := New[float32](c)
	if err != nil {
		f.Fatal(err)
	}
	m.Init(2)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := safetensors.Read(bytes.NewReader(data), int64(len(data)), safetensors.WithMaxSize(1<<20))
		if err != nil {
			return
		}
		before := bytes.Clone(float32Bytes(m.Buf))
		_, _ = ConfigFromFile(file)
		errs := []error{m.LoadBase(file), m.LoadLoRA(file), m.LoadPretrained(file, []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})}
		if errs[0] != nil && errs[1] != nil && errs[2] != nil && !bytes.Equal(before, float32Bytes(m.Buf)) {
			t.Fatal("failed loads modified the model")
		}
	})
}

func float32Bytes(xs []float32) []byte {
	out := make([]byte, 0, 4*len(xs))
	for _, x := range xs {
		u := math.Float32bits(x)
		out = append(out, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return out
}
