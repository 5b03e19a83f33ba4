package safetensors

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read. Every input must either fail with
// one of the package's sentinel errors or decode to a consistent File that
// survives a Write/Read round trip unchanged. The seed corpus lives in
// testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleTensors(), map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(rawFile(`{}`, nil))
	f.Add(rawFile(`{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[1],"data_offsets":[4,6]}}`, u16le(0x3f80, 0x7fc0, 0x0001)))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Read(bytes.NewReader(b), int64(len(b)), WithMaxSize(1<<20), WithMaxHeader(1<<16))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupportedDType) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		for i, tt := range file.Tensors {
			if i > 0 && file.Tensors[i-1].Name >= tt.Name {
				t.Fatalf("tensors not sorted and unique: %q then %q", file.Tensors[i-1].Name, tt.Name)
			}
			n, ok := numElements(tt.Shape, math.MaxInt)
			if !ok || n != len(tt.Data) {
				t.Fatalf("tensor %q: shape %v but %d values", tt.Name, tt.Shape, len(tt.Data))
			}
		}
		var out bytes.Buffer
		if err := Write(&out, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("re-encoding a decoded file: %v", err)
		}
		again, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("re-reading a re-encoded file: %v", err)
		}
		if len(again.Metadata) != len(file.Metadata) || (len(file.Metadata) > 0 && !reflect.DeepEqual(again.Metadata, file.Metadata)) {
			t.Fatalf("metadata changed: %v -> %v", file.Metadata, again.Metadata)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors became %d", len(file.Tensors), len(again.Tensors))
		}
		for i, tt := range file.Tensors {
			got := again.Tensors[i]
			if got.Name != tt.Name || !reflect.DeepEqual(got.Shape, tt.Shape) {
				t.Fatalf("tensor %q %v became %q %v", tt.Name, tt.Shape, got.Name, got.Shape)
			}
			for j := range tt.Data {
				if math.Float32bits(got.Data[j]) != math.Float32bits(tt.Data[j]) {
					t.Fatalf("tensor %q[%d]: %v became %v", tt.Name, j, tt.Data[j], got.Data[j])
				}
			}
		}
	})
}
