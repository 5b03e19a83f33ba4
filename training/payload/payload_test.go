package payload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// checkClose compares decoded values with the originals within the codec's bound: exact for fp32,
// relative 2^-11 for fp16 (plus 2^-25 absolute for the subnormal range), scale/2 for int8 (plus one
// float32 rounding of the product q*scale).
func checkClose(t *testing.T, what string, c Codec, want, got []float32) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d values became %d", what, len(want), len(got))
	}
	var scale float32
	if c == Int8 {
		scale, _ = Int8Scale(want)
	}
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		var bound float64
		switch c {
		case FP32:
			bound = 0
		case FP16:
			bound = math.Max(math.Abs(w)*0x1p-11, 0x1p-25)
		case Int8:
			bound = float64(scale)/2 + math.Abs(w)*0x1p-24
		}
		if math.Abs(w-g) > bound {
			t.Fatalf("%s %v value %d: %g became %g (error %g > bound %g)", what, c, i, w, g, math.Abs(w-g), bound)
		}
	}
}

func TestUpdateRoundTrip(t *testing.T) {
	for _, c := range []Codec{FP32, FP16, Int8} {
		t.Run(c.String(), func(t *testing.T) {
			u := sampleUpdate()
			var buf bytes.Buffer
			sizes, err := u.Encode(&buf, c)
			if err != nil {
				t.Fatal(err)
			}
			if sizes.Total() != int64(buf.Len()) {
				t.Fatalf("sizes %+v total %d, encoded %d bytes", sizes, sizes.Total(), buf.Len())
			}
			got, dsizes, err := DecodeUpdate(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if dsizes != sizes {
				t.Fatalf("decode sizes %+v, encode sizes %+v", dsizes, sizes)
			}
			if got.RunID != u.RunID || got.Round != u.Round || got.Edge != u.Edge || got.Samples != u.Samples ||
				!reflect.DeepEqual(got.Modalities, u.Modalities) || !reflect.DeepEqual(got.Predictions, u.Predictions) ||
				!reflect.DeepEqual(got.Metrics, u.Metrics) || !reflect.DeepEqual(got.Fused.IDs, u.Fused.IDs) || got.Fused.Dim != u.Fused.Dim {
				t.Fatalf("scalar fields changed:\n got %+v\nwant %+v", got, u)
			}
			if len(got.LoRA) != len(u.LoRA) {
				t.Fatalf("%d tensors became %d", len(u.LoRA), len(got.LoRA))
			}
			for i, w := range u.LoRA {
				if got.LoRA[i].Name != w.Name || !reflect.DeepEqual(got.LoRA[i].Shape, w.Shape) {
					t.Fatalf("tensor %q %v became %q %v", w.Name, w.Shape, got.LoRA[i].Name, got.LoRA[i].Shape)
				}
				checkClose(t, w.Name, c, w.Data, got.LoRA[i].Data)
			}
			checkClose(t, "fused", c, u.Fused.Data, got.Fused.Data)
		})
	}
}

func TestGlobalRoundTrip(t *testing.T) {
	for _, c := range []Codec{FP32, FP16, Int8} {
		t.Run(c.String(), func(t *testing.T) {
			g := sampleGlobal()
			var buf bytes.Buffer
			sizes, err := g.Encode(&buf, c)
			if err != nil {
				t.Fatal(err)
			}
			if sizes.Total() != int64(buf.Len()) || sizes.Predictions != 0 || sizes.Metrics != 0 {
				t.Fatalf("sizes %+v for %d bytes", sizes, buf.Len())
			}
			got, _, err := DecodeGlobal(&buf, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if got.RunID != g.RunID || got.Round != g.Round || got.Term != g.Term || !reflect.DeepEqual(got.Fused.IDs, g.Fused.IDs) {
				t.Fatalf("got %+v want %+v", got, g)
			}
			checkClose(t, "lora", c, g.LoRA[0].Data, got.LoRA[0].Data)
			checkClose(t, "fused", c, g.Fused.Data, got.Fused.Data)
		})
	}
}

// TestCodecSizes: bytes per value are 4, 2, 1 (+ the codec byte, + 4 for the int8 scale).
func TestCodecSizes(t *testing.T) {
	g := &Global{RunID: "r", LoRA: []Tensor{{Name: "w", Shape: []int{10, 10}, Data: make([]float32, 100)}}}
	for c, wantLoRA := range map[Codec]int64{FP32: 4 + 2 + 1 + 1 + 8 + 1 + 400, FP16: 16 + 1 + 200, Int8: 16 + 5 + 100} {
		var buf bytes.Buffer
		s, err := g.Encode(&buf, c)
		if err != nil {
			t.Fatal(err)
		}
		if s.LoRA != wantLoRA {
			t.Errorf("%v: lora part %d bytes, want %d", c, s.LoRA, wantLoRA)
		}
		if s.Fused != 8 {
			t.Errorf("%v: empty fused part %d bytes, want 8", c, s.Fused)
		}
	}
}

func TestInt8Extremes(t *testing.T) {
	data := []float32{-3, 3, 1, 0.01, -0.01, 0}
	g := &Global{RunID: "r", LoRA: []Tensor{{Name: "w", Shape: []int{6}, Data: data}}}
	got, _, err := ParseGlobal(encodeGlobal(t, g, Int8))
	if err != nil {
		t.Fatal(err)
	}
	// scale = 3/127: ±3 map to ±127, 1 to round(42.33) = 42 -> 42*3/127 = 0.992126, ±0.01 (< scale/2 = 0.0118) to 0.
	want := []float32{-3, 3, 0.992126, 0, 0, 0}
	for i, w := range want {
		if math.Abs(float64(got.LoRA[0].Data[i]-w)) > 1e-6 {
			t.Errorf("value %d: got %v want %v", i, got.LoRA[0].Data[i], w)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := []struct {
		name  string
		codec Codec
		edit  func(u *Update)
		want  error
		msg   string
	}{
		{"unknown codec", Codec(9), func(*Update) {}, ErrCodec, "codec(9)"},
		{"empty run id", FP32, func(u *Update) { u.RunID = "" }, ErrInvalid, "run id"},
		{"long edge id", FP32, func(u *Update) { u.Edge = strings.Repeat("e", 256) }, ErrInvalid, "edge id"},
		{"negative samples", FP32, func(u *Update) { u.Samples = -1 }, ErrInvalid, "sample count"},
		{"duplicate modality", FP32, func(u *Update) { u.Modalities = []string{"a", "a"} }, ErrInvalid, "modality"},
		{"shape mismatch", FP32, func(u *Update) { u.LoRA[0].Shape = []int{3, 5} }, ErrInvalid, "needs 15 values, has 10"},
		{"zero dim", FP32, func(u *Update) { u.LoRA[2].Shape = []int{0} }, ErrInvalid, "dimension 0"},
		{"duplicate tensor", FP32, func(u *Update) { u.LoRA[1].Name = u.LoRA[0].Name }, ErrInvalid, "appears twice"},
		{"nan value", FP32, func(u *Update) { u.LoRA[0].Data[3] = float32(math.NaN()) }, ErrNonFinite, "value 3"},
		{"inf fused", FP32, func(u *Update) { u.Fused.Data[0] = float32(math.Inf(1)) }, ErrNonFinite, "fused"},
		{"fp16 overflow", FP16, func(u *Update) { u.LoRA[0].Data[0] = 70000 }, ErrNonFinite, "overflows fp16"},
		{"fused size", FP32, func(u *Update) { u.Fused.Dim = 5 }, ErrInvalid, "needs 15 values"},
		{"duplicate sample id", FP32, func(u *Update) { u.Fused.IDs[1] = "pub-1" }, ErrInvalid, "appears twice"},
		{"tokens and text", FP32, func(u *Update) { u.Predictions[0].Text = "x" }, ErrInvalid, "both tokens and text"},
		{"negative token", FP32, func(u *Update) { u.Predictions[0].Tokens[0] = -1 }, ErrInvalid, "negative token"},
		{"nan metric", FP32, func(u *Update) { u.Metrics["loss"] = math.NaN() }, ErrNonFinite, `metric "loss"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := sampleUpdate()
			c.edit(u)
			_, err := u.Encode(&bytes.Buffer{}, c.codec)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.want, c.msg)
			}
		})
	}
}

// offsetOf finds the byte offset of the first LoRA tensor's codec byte in an encoded sampleUpdate.
func loraCodecOffset(t *testing.T, b []byte) int {
	t.Helper()
	name := []byte("h.0.attn.c_attn.lora_A.weight")
	i := bytes.Index(b, name)
	if i < 0 {
		t.Fatal("tensor name not found")
	}
	return i + len(name) + 1 + 2*4 // rank byte + two u32 dims
}

func TestDecodeRejects(t *testing.T) {
	base := encodeUpdate(t, sampleUpdate(), FP32)
	int8b := encodeUpdate(t, sampleUpdate(), Int8)
	edit := func(b []byte, f func(b []byte) []byte) []byte { return f(bytes.Clone(b)) }
	setF32 := func(b []byte, off int, v float32) []byte {
		binary.LittleEndian.PutUint32(b[off:], math.Float32bits(v))
		return b
	}
	off := loraCodecOffset(t, base)
	off8 := loraCodecOffset(t, int8b)
	cases := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrFormat, "magic"},
		{"bad magic", edit(base, func(b []byte) []byte { b[0] = 'X'; return b }), ErrFormat, "magic"},
		{"global magic", encodeGlobal(t, sampleGlobal(), FP32), ErrFormat, "magic"},
		{"version 2", edit(base, func(b []byte) []byte { b[4] = 2; return b }), ErrVersion, "version 2"},
		{"trailing byte", append(bytes.Clone(base), 0), ErrFormat, "1 trailing bytes"},
		{"unknown codec", edit(base, func(b []byte) []byte { b[off] = 7; return b }), ErrCodec, "codec byte 7"},
		{"nan value", edit(base, func(b []byte) []byte { return setF32(b, off+1+4, float32(math.NaN())) }), ErrNonFinite, "value 1"},
		{"inf value", edit(base, func(b []byte) []byte { return setF32(b, off+1, float32(math.Inf(-1))) }), ErrNonFinite, "value 0"},
		{"nan scale", edit(int8b, func(b []byte) []byte { return setF32(b, off8+1, float32(math.NaN())) }), ErrNonFinite, "int8 scale"},
		{"inf scale", edit(int8b, func(b []byte) []byte { return setF32(b, off8+1, float32(math.Inf(1))) }), ErrNonFinite, "int8 scale"},
		{"negative scale", edit(int8b, func(b []byte) []byte { return setF32(b, off8+1, -1) }), ErrNonFinite, "int8 scale"},
		{"overflowing scale", edit(int8b, func(b []byte) []byte { return setF32(b, off8+1, 1e37) }), ErrNonFinite, "int8 scale"},
		{"int8 -128", edit(int8b, func(b []byte) []byte { b[off8+5] = 0x80; return b }), ErrFormat, "-128"},
		{"zero dim", edit(base, func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off-8:], 0); return b }), ErrFormat, "dim 0 = 0"},
		{"huge dim", edit(base, func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off-8:], 1<<31); return b }), ErrFormat, "larger than"},
		{"wrong size", edit(base, func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off-4:], 6); return b }), ErrFormat, ""},
		{"rank 0", edit(base, func(b []byte) []byte { b[off-9] = 0; return b }), ErrFormat, "rank 0"},
		{"huge tensor count", edit(base, func(b []byte) []byte {
			i := bytes.Index(b, []byte("h.0.attn")) - 2 - 4
			binary.LittleEndian.PutUint32(b[i:], 1<<30)
			return b
		}), ErrFormat, "tensor count"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseUpdate(c.in)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.want, c.msg)
			}
		})
	}
}

// TestDecodeTruncated: every strict prefix of valid payloads fails cleanly.
func TestDecodeTruncated(t *testing.T) {
	for _, c := range []Codec{FP32, Int8} {
		u := encodeUpdate(t, sampleUpdate(), c)
		for n := range len(u) {
			if _, _, err := ParseUpdate(u[:n]); !errors.Is(err, ErrFormat) {
				t.Fatalf("update %v prefix %d/%d: err = %v, want ErrFormat", c, n, len(u), err)
			}
		}
		g := encodeGlobal(t, sampleGlobal(), c)
		for n := range len(g) {
			if _, _, err := ParseGlobal(g[:n]); !errors.Is(err, ErrFormat) {
				t.Fatalf("global %v prefix %d/%d: err = %v, want ErrFormat", c, n, len(g), err)
			}
		}
	}
}

func TestDecodeByteLimit(t *testing.T) {
	b := encodeUpdate(t, sampleUpdate(), FP32)
	if _, _, err := DecodeUpdate(bytes.NewReader(b), int64(len(b)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit below size: err = %v, want ErrTooLarge", err)
	}
	if _, _, err := DecodeUpdate(bytes.NewReader(b), 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zero limit: err = %v, want ErrTooLarge", err)
	}
	if _, _, err := DecodeGlobal(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrFormat) {
		t.Fatalf("update bytes as global: err = %v, want ErrFormat", err)
	}
}

func TestParseCodec(t *testing.T) {
	for _, n := range CodecNames() {
		c, err := ParseCodec(n)
		if err != nil || c.String() != n {
			t.Fatalf("ParseCodec(%q) = %v, %v", n, c, err)
		}
	}
	if _, err := ParseCodec("bf16"); !errors.Is(err, ErrCodec) {
		t.Fatalf("bf16: err = %v", err)
	}
}

// TestDecodePredictionRejects mutates the tail of a one-prediction update:
// ... count [01 00 00 00] id [01 'p'] kind [01] length [01 00 00 00] token [05] metrics [00 00].
func TestDecodePredictionRejects(t *testing.T) {
	u := &Update{RunID: "r", Edge: "e", Predictions: []Prediction{{ID: "p", Tokens: []int32{5}}}}
	b := encodeUpdate(t, u, FP32)
	n := len(b)
	if b[n-3] != 5 || b[n-8] != predTokens {
		t.Fatalf("unexpected layout: % x", b[n-12:])
	}
	splice := func(at int, repl ...byte) []byte {
		out := append(bytes.Clone(b[:at]), repl...)
		return append(out, b[at+1:]...)
	}
	cases := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"unknown kind", splice(n-8, 3), "kind 3"},
		{"non-minimal varint", splice(n-3, 0x85, 0x00), "non-minimal varint"},
		{"token over int32", splice(n-3, 0x80, 0x80, 0x80, 0x80, 0x08), "exceeds"},
		{"unterminated varint", splice(n-3, 0x85), "prediction"},
		{"duplicate id", func() []byte {
			v := &Update{RunID: "r", Edge: "e", Predictions: []Prediction{{ID: "p", Text: "a"}, {ID: "q", Text: "b"}}}
			return bytes.Replace(encodeUpdate(t, v, FP32), []byte{1, 'q'}, []byte{1, 'p'}, 1)
		}(), "appears twice"},
		{"bad utf8 text", func() []byte {
			v := &Update{RunID: "r", Edge: "e", Predictions: []Prediction{{ID: "p", Text: "ab"}}}
			return bytes.Replace(encodeUpdate(t, v, FP32), []byte("ab"), []byte{0xff, 0xfe}, 1)
		}(), "invalid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseUpdate(c.in)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want ErrFormat mentioning %q", err, c.msg)
			}
		})
	}
	if _, _, err := ParseUpdate(b); err != nil {
		t.Fatalf("the unmodified payload must decode: %v", err)
	}
}

// TestEncodeWriteError: a failing writer surfaces its error.
func TestEncodeWriteError(t *testing.T) {
	boom := errors.New("disk full")
	if _, err := sampleGlobal().Encode(failWriter{boom}, FP32); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestLargeRoundTrip crosses the writer's 64 KiB flush boundary many times (300k values, several tensors).
func TestLargeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	g := &Global{RunID: "big", LoRA: []Tensor{randTensor(r, "a", 8, 20000), randTensor(r, "b", 3, 7, 3001), randTensor(r, "c", 5)}}
	for _, c := range []Codec{FP32, FP16, Int8} {
		var buf bytes.Buffer
		s, err := g.Encode(&buf, c)
		if err != nil {
			t.Fatal(err)
		}
		if s.Total() != int64(buf.Len()) {
			t.Fatalf("%v: sizes %d, wrote %d", c, s.Total(), buf.Len())
		}
		got, _, err := DecodeGlobal(&buf, s.Total())
		if err != nil {
			t.Fatal(err)
		}
		for i := range g.LoRA {
			checkClose(t, g.LoRA[i].Name, c, g.LoRA[i].Data, got.LoRA[i].Data)
		}
	}
}
