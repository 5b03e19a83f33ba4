package safetensors

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleTensors() []Tensor {
	return []Tensor{
		{Name: "w", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, float32(math.Inf(1)), float32(math.NaN()), -0.0}},
		{Name: "b", Shape: []int{3}, Data: []float32{0.25, 1e-40, -7}},
		{Name: "scalar", Shape: []int{}, Data: []float32{42}},
		{Name: "empty", Shape: []int{0, 4}, Data: []float32{}},
		{Name: `odd "name" ü/<&>`, Shape: []int{1, 1, 1}, Data: []float32{-1}},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sampleTensors()
	meta := map[string]string{"format": "pt", "note": "x\ny"}
	var buf bytes.Buffer
	if err := Write(&buf, in, meta); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	hdrLen := int(raw[0]) | int(raw[1])<<8
	if (8+hdrLen)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-byte aligned", 8+hdrLen)
	}
	f, err := readBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata = %v, want %v", f.Metadata, meta)
	}
	if len(f.Tensors) != len(in) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(in))
	}
	for i := 1; i < len(f.Tensors); i++ {
		if f.Tensors[i-1].Name >= f.Tensors[i].Name {
			t.Errorf("tensors not sorted by name: %q before %q", f.Tensors[i-1].Name, f.Tensors[i].Name)
		}
	}
	for _, want := range in {
		got, ok := f.Tensor(want.Name)
		if !ok {
			t.Fatalf("tensor %q missing", want.Name)
		}
		if !reflect.DeepEqual(got.Shape, want.Shape) {
			t.Errorf("%q shape %v, want %v", want.Name, got.Shape, want.Shape)
		}
		sameBits(t, want.Name, got.Data, want.Data)
	}
	if _, ok := f.Tensor("absent"); ok {
		t.Error("Tensor(absent) reported found")
	}
}

func TestWriteDeterministic(t *testing.T) {
	in := sampleTensors()
	rev := make([]Tensor, len(in))
	for i := range in {
		rev[len(in)-1-i] = in[i]
	}
	var a, b bytes.Buffer
	if err := Write(&a, in, map[string]string{"k": "v", "a": "b"}); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, rev, map[string]string{"a": "b", "k": "v"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("output depends on input order")
	}
}

func TestWriteEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	f, err := readBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 0 || len(f.Metadata) != 0 {
		t.Errorf("got %+v, want empty", f)
	}
}

func TestWriteRejects(t *testing.T) {
	ok := Tensor{Name: "ok", Shape: []int{1}, Data: []float32{1}}
	cases := []struct {
		name string
		ts   []Tensor
		meta map[string]string
		msg  string
	}{
		{"empty name", []Tensor{{Name: "", Shape: []int{1}, Data: []float32{1}}}, nil, "empty name"},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, nil, "reserved"},
		{"duplicate", []Tensor{ok, ok}, nil, "duplicate"},
		{"bad utf8", []Tensor{{Name: "a\xff", Shape: []int{1}, Data: []float32{1}}}, nil, "UTF-8"},
		{"negative dim", []Tensor{{Name: "n", Shape: []int{-1, -1}, Data: []float32{1}}}, nil, "negative"},
		{"length mismatch", []Tensor{{Name: "m", Shape: []int{2, 2}, Data: []float32{1, 2, 3}}}, nil, "needs 4 values"},
		{"overflow", []Tensor{{Name: "o", Shape: []int{1 << 40, 1 << 40}, Data: nil}}, nil, "too many"},
		{"rank", []Tensor{{Name: "r", Shape: make([]int, 65), Data: nil}}, nil, "rank"},
		{"bad utf8 metadata", []Tensor{ok}, map[string]string{"k": "\xff"}, "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, c.ts, c.meta)
			if !errors.Is(err, ErrInvalidTensor) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want ErrInvalidTensor containing %q", err, c.msg)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteIOError(t *testing.T) {
	for _, budget := range []int{0, 8, 40} {
		err := Write(&failWriter{n: budget}, sampleTensors(), nil)
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("budget %d: err = %v, want the writer's error", budget, err)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := WriteFile(path, sampleTensors(), map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	// A failing write must leave the previous file intact and no temp file.
	bad := []Tensor{{Name: "x", Shape: []int{2}, Data: []float32{1}}}
	if err := WriteFile(path, bad, nil); !errors.Is(err, ErrInvalidTensor) {
		t.Fatalf("err = %v, want ErrInvalidTensor", err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["v"] != "1" || len(f.Tensors) != len(sampleTensors()) {
		t.Errorf("file changed by failed write: %+v", f.Metadata)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory has %d entries, want only the file: %v", len(entries), entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "m.safetensors"), bad[:0], nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: err = %v, want ErrNotExist", err)
	}
	if _, err := ReadFile(dir); !errors.Is(err, ErrFormat) {
		t.Errorf("directory: err = %v, want ErrFormat", err)
	}
	path := filepath.Join(dir, "t.safetensors")
	if err := WriteFile(path, sampleTensors(), nil); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path, WithMaxSize(64))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) {
		t.Errorf("capped: err = %v, want ErrTooLarge naming the path", err)
	}
	if _, err := ReadFile(path, WithMaxHeader(1)); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("bad option: err = %v, want ErrInvalidOption", err)
	}
}
