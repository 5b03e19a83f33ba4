package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func TestReadMalformed(t *testing.T) {
	four := f32le(1, 2, 3, 4)
	valid := func(name string) string {
		return `{"` + name + `":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`
	}
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<63)
	cases := []struct {
		name     string
		file     []byte
		sentinel error
		msg      string // substring the error must contain
	}{
		{"short file", []byte{1, 2, 3}, ErrFormat, "shorter than the 8-byte"},
		{"header length past end", rawFile(valid("a"), four)[:30], ErrFormat, "exceeds the 22 bytes"},
		{"header length huge", hugeLen, ErrTooLarge, "header length"},
		{"empty header", rawFile("", nil), ErrFormat, "does not start with '{'"},
		{"header is array", rawFile(`[]`, nil), ErrFormat, "does not start with '{'"},
		{"leading space", rawFile(` {}`, nil), ErrFormat, "does not start with '{'"},
		{"invalid json", rawFile(`{"a":`, nil), ErrFormat, "header JSON"},
		{"unterminated object", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`, f32le(1)), ErrFormat, "header JSON"},
		{"trailing garbage", rawFile(`{} x`, nil), ErrFormat, "trailing garbage"},
		{"two objects", rawFile(`{}{}`, nil), ErrFormat, "trailing garbage"},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32le(1, 2)), ErrFormat, `"a": duplicate`},
		{"duplicate metadata section", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), ErrFormat, "duplicate"},
		{"duplicate metadata key", rawFile(`{"__metadata__":{"k":"1","k":"2"}}`, nil), ErrFormat, `duplicate key "k"`},
		{"metadata not object", rawFile(`{"__metadata__":["k"]}`, nil), ErrFormat, "not a JSON object"},
		{"metadata number value", rawFile(`{"__metadata__":{"k":1}}`, nil), ErrFormat, `value of "k" is not a string`},
		{"metadata nested value", rawFile(`{"__metadata__":{"k":{"x":"y"}}}`, nil), ErrFormat, `value of "k" is not a string`},
		{"record not object", rawFile(`{"a":[1,2]}`, nil), ErrFormat, `"a": record is not a JSON object`},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, `"a": record must have`},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32le(1)), ErrFormat, `"a": record must have`},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, f32le(1)), ErrFormat, `"a": record must have`},
		{"dtype not string", rawFile(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, `"a": dtype is not a string`},
		{"dtype null", rawFile(`{"a":{"dtype":null,"shape":[1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, `"a": dtype is not a string`},
		{"record null", rawFile(`{"a":null}`, nil), ErrFormat, `"a": record is not a JSON object`},
		{"field case differs", rawFile(`{"a":{"DType":"F32","shape":[1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, `"a": record must have`},
		{"field twice", rawFile(`{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, `"a": record has "dtype" twice`},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}`, f32le(1)), ErrUnsupportedDType, `"a": unknown dtype "F99"`},
		{"unsupported dtype", rawFile(`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), ErrUnsupportedDType, `"w": dtype I64`},
		{"empty name", rawFile(`{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "empty tensor name"},
		{"shape not array", rawFile(`{"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, `"a": shape: not a JSON array`},
		{"shape negative", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "not a non-negative integer"},
		{"shape float", rawFile(`{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "not a non-negative integer"},
		{"shape exponent", rawFile(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "not a non-negative integer"},
		{"shape string", rawFile(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "is not a number"},
		{"shape nested", rawFile(`{"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "is not a number"},
		{"shape huge int", rawFile(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "not a non-negative integer"},
		{"rank too high", rawFile(`{"a":{"dtype":"F32","shape":[`+strings.Repeat("1,", 64)+`1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "more than 64 entries"},
		{"shape overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "too many elements"},
		{"shape product mismatch", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32le(1, 2)), ErrFormat, "needs 12 bytes"},
		{"odd bytes for f16", rawFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,3]}}`, []byte{1, 2, 3}), ErrFormat, "needs 4 bytes"},
		{"offsets one value", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, f32le(1)), ErrFormat, "two non-negative integers"},
		{"offsets three values", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, f32le(1)), ErrFormat, "two non-negative integers"},
		{"offsets negative", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, f32le(1)), ErrFormat, "two non-negative integers"},
		{"offsets reversed", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, f32le(1)), ErrFormat, "end before they begin"},
		{"offsets past data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32le(1)), ErrFormat, "exceed the 4-byte data section"},
		{"offsets past data huge", rawFile(`{"a":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}}`, f32le(1)), ErrFormat, "exceed the 4-byte data section"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32le(1, 2, 3)), ErrFormat, `"b": data_offsets [4, 12] overlap tensor "a"`},
		{"same region twice", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32le(1)), ErrFormat, "overlap"},
		{"gap at start", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32le(1, 2)), ErrFormat, `"a": data_offsets [4, 8] leave a gap of 4 bytes`},
		{"gap between", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, f32le(1, 2, 3)), ErrFormat, `"b": data_offsets [8, 12] leave a gap`},
		{"uncovered tail", rawFile(valid("a"), append(four, 0, 0, 0, 0)), ErrFormat, "4 bytes at the end of the data section belong to no tensor"},
		{"data without tensors", rawFile(`{}`, []byte{0}), ErrFormat, "belong to no tensor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readBytes(c.file)
			if !errors.Is(err, c.sentinel) {
				t.Fatalf("err = %v, want %v", err, c.sentinel)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %q, want it to contain %q", err, c.msg)
			}
		})
	}
}

func TestReadValidEdgeCases(t *testing.T) {
	cases := []struct {
		name   string
		file   []byte
		tensor string
		shape  []int
		data   []float32
	}{
		{"space padding", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   `, f32le(5)), "a", []int{1}, []float32{5}},
		{"unknown field ignored", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":{"x":[1]}}}`, f32le(5)), "a", []int{1}, []float32{5}},
		{"scalar", rawFile(`{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, f32le(-3)), "s", []int{}, []float32{-3}},
		{"zero dim with huge other dim", rawFile(`{"z":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}}`, nil), "z", []int{0, math.MaxInt64}, []float32{}},
		{"zero-size tensors share an offset", rawFile(`{"z":{"dtype":"F16","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"BF16","shape":[0],"data_offsets":[4,4]}}`, f32le(2)), "a", []int{1}, []float32{2}},
		{"header order differs from data order", rawFile(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, append(u16le(0x3f80, 0xc000), f32le(7)...)), "a", []int{2}, []float32{1, -2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := readBytes(c.file)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := f.Tensor(c.tensor)
			if !ok {
				t.Fatalf("tensor %q missing", c.tensor)
			}
			if len(got.Shape) != len(c.shape) {
				t.Fatalf("shape %v, want %v", got.Shape, c.shape)
			}
			for i := range c.shape {
				if got.Shape[i] != c.shape[i] {
					t.Fatalf("shape %v, want %v", got.Shape, c.shape)
				}
			}
			sameBits(t, c.tensor, got.Data, c.data)
		})
	}
}

func TestReadCaps(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleTensors(), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if _, err := readBytes(b, WithMaxSize(int64(len(b))), WithMaxHeader(int64(len(b)))); err != nil {
		t.Fatalf("at exactly the caps: %v", err)
	}
	if _, err := readBytes(b, WithMaxSize(int64(len(b)-1))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size cap: err = %v, want ErrTooLarge", err)
	}
	if _, err := readBytes(b, WithMaxHeader(16)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("header cap: err = %v, want ErrTooLarge", err)
	}
	for _, o := range []Option{WithMaxSize(7), WithMaxSize(-1), WithMaxHeader(1), nil} {
		if _, err := readBytes(b, o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("bad option: err = %v, want ErrInvalidOption", err)
		}
	}
}

// A hostile size claim cannot make Read allocate: the header is checked
// against the claimed size and the caps before tensor memory exists, and a
// stream shorter than claimed is reported as truncated.
func TestReadTruncated(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleTensors(), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	for _, cut := range []int{0, 4, 8, 20, len(b) - 1} {
		_, err := Read(bytes.NewReader(b[:cut]), int64(len(b)))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("cut at %d: err = %v, want truncated ErrFormat", cut, err)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestReadIOError(t *testing.T) {
	_, err := Read(errReader{}, 100)
	if !errors.Is(err, io.ErrClosedPipe) || errors.Is(err, ErrFormat) {
		t.Errorf("err = %v, want the reader's error unchanged", err)
	}
}

func TestReadTruncatedNamesTensor(t *testing.T) {
	b := rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32le(1, 2, 3))
	_, err := Read(bytes.NewReader(b[:len(b)-2]), int64(len(b)))
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `tensor "b": reading data: file is truncated`) {
		t.Errorf("err = %v, want truncation naming tensor b", err)
	}
}
