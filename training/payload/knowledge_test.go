package payload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleKnowledge: two samples, K = 3, with 2 and 1 positions; probabilities sum to 1 per position.
func sampleKnowledge() Knowledge {
	return Knowledge{K: 3, Samples: []SampleDist{
		{ID: "pub-1", Tokens: []int32{5, 300, 0, 7, 8, 50256}, Probs: []float32{0.5, 0.3, 0.2, 1, 0, 0}},
		{ID: "pub-3", Tokens: []int32{2, 1, 4}, Probs: []float32{0.125, 0.75, 0.125}},
	}}
}

func TestKnowledgeRoundTrip(t *testing.T) {
	for _, c := range []Codec{FP32, FP16, Int8} {
		t.Run(c.String(), func(t *testing.T) {
			u := sampleUpdate()
			u.Knowledge = sampleKnowledge()
			var buf bytes.Buffer
			sz, err := u.Encode(&buf, c)
			if err != nil {
				t.Fatal(err)
			}
			if sz.Total() != int64(buf.Len()) || sz.Knowledge == 0 {
				t.Fatalf("sizes %+v, encoded %d bytes", sz, buf.Len())
			}
			// tag 1 + count 4 + K 1 + ids (1+5, 1+5) + positions 2x2 + token varints (1+2+1+1+1+3, 1+1+1) + probs
			if want := int64(1+4+1+12+4+12) + c.EncodedSize(9); sz.Knowledge != want {
				t.Fatalf("knowledge bytes %d, want %d", sz.Knowledge, want)
			}
			got, dsz, err := ParseUpdate(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if dsz != sz {
				t.Fatalf("decode sizes %+v, encode sizes %+v", dsz, sz)
			}
			want := sampleKnowledge()
			if got.Knowledge.K != want.K || len(got.Knowledge.Samples) != len(want.Samples) {
				t.Fatalf("knowledge %+v, want %+v", got.Knowledge, want)
			}
			for i, s := range want.Samples {
				g := got.Knowledge.Samples[i]
				if g.ID != s.ID || !reflect.DeepEqual(g.Tokens, s.Tokens) || g.Positions(want.K) != len(s.Tokens)/want.K {
					t.Fatalf("sample %d: %+v, want %+v", i, g, s)
				}
				checkClose(t, "probs", c, s.Probs, g.Probs)
			}

			gl := sampleGlobal()
			gl.Knowledge = sampleKnowledge()
			buf.Reset()
			gsz, err := gl.Encode(&buf, c)
			if err != nil {
				t.Fatal(err)
			}
			gg, _, err := ParseGlobal(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if gsz.Knowledge != sz.Knowledge || gsz.Total() != int64(buf.Len()) || len(gg.Knowledge.Samples) != 2 ||
				!reflect.DeepEqual(gg.Knowledge.Samples[1].Tokens, want.Samples[1].Tokens) {
				t.Fatalf("global knowledge %+v (sizes %+v)", gg.Knowledge, gsz)
			}
		})
	}
}

// TestKnowledgeAbsentCostsNothing: without knowledge the bytes are those of the format before the
// section existed (the committed seed corpus, written by an older build, still matches byte for byte),
// and with it they are that encoding followed by the section.
func TestKnowledgeAbsentCostsNothing(t *testing.T) {
	for _, c := range []Codec{FP32, FP16, Int8} {
		plain := encodeUpdate(t, sampleUpdate(), c)
		seed, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecodeUpdate", "seed-"+c.String()))
		if err != nil {
			t.Fatal(err)
		}
		if string(seed) != fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", plain) {
			t.Fatalf("%v: update without knowledge no longer matches the seed corpus", c)
		}
		u := sampleUpdate()
		u.Knowledge = sampleKnowledge()
		with := encodeUpdate(t, u, c)
		if !bytes.HasPrefix(with, plain) || with[len(plain)] != sectionKnowledge {
			t.Fatalf("%v: knowledge is not a trailing section", c)
		}
		gplain := encodeGlobal(t, sampleGlobal(), c)
		g := sampleGlobal()
		g.Knowledge = sampleKnowledge()
		if gw := encodeGlobal(t, g, c); !bytes.HasPrefix(gw, gplain) || len(gw) == len(gplain) {
			t.Fatalf("%v: global knowledge is not a trailing section", c)
		}
	}
}

func TestKnowledgeEncodeRejects(t *testing.T) {
	cases := []struct {
		name  string
		codec Codec
		edit  func(k *Knowledge)
		want  error
		msg   string
	}{
		{"K without samples", FP32, func(k *Knowledge) { k.Samples = nil }, ErrInvalid, "no samples but K 3"},
		{"K zero", FP32, func(k *Knowledge) { k.K = 0 }, ErrInvalid, "K 0"},
		{"K too large", FP32, func(k *Knowledge) { k.K = MaxTopK + 1 }, ErrInvalid, "K 257"},
		{"ragged", FP32, func(k *Knowledge) { k.Samples[0].Probs = k.Samples[0].Probs[:5] }, ErrInvalid, "positions of K=3"},
		{"no positions", FP32, func(k *Knowledge) { k.Samples[1].Tokens, k.Samples[1].Probs = nil, nil }, ErrInvalid, "positions of K=3"},
		{"negative token", FP32, func(k *Knowledge) { k.Samples[0].Tokens[4] = -2 }, ErrInvalid, "position 1: token id -2"},
		{"duplicate token", FP32, func(k *Knowledge) { k.Samples[0].Tokens[5] = 7 }, ErrInvalid, "token 7 appears twice"},
		{"probability above 1", FP32, func(k *Knowledge) { k.Samples[1].Probs[0] = 1.5 }, ErrInvalid, "probability 1.5"},
		{"negative probability", FP32, func(k *Knowledge) { k.Samples[1].Probs[2] = -0.1 }, ErrInvalid, "not in [0, 1]"},
		{"nan probability", FP32, func(k *Knowledge) { k.Samples[1].Probs[2] = float32(math.NaN()) }, ErrInvalid, "NaN"},
		{"duplicate id", FP32, func(k *Knowledge) { k.Samples[1].ID = "pub-1" }, ErrInvalid, "appears twice"},
		{"empty id", FP32, func(k *Knowledge) { k.Samples[1].ID = "" }, ErrInvalid, "sample id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := sampleUpdate()
			u.Knowledge = sampleKnowledge()
			c.edit(&u.Knowledge)
			_, err := u.Encode(&bytes.Buffer{}, c.codec)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("update: err = %v, want %v mentioning %q", err, c.want, c.msg)
			}
			g := sampleGlobal()
			g.Knowledge = u.Knowledge
			if _, err := g.Encode(&bytes.Buffer{}, c.codec); !errors.Is(err, c.want) {
				t.Fatalf("global: err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestKnowledgeDecodeRejects(t *testing.T) {
	u := sampleUpdate()
	u.Knowledge = sampleKnowledge()
	base := encodeUpdate(t, u, FP32)
	start := len(encodeUpdate(t, sampleUpdate(), FP32)) // the section's tag byte
	// layout from start: tag, count u32, K u8, "pub-1" (1+5), positions u16, 6 varints (9 bytes), "pub-3"
	// (1+5), positions u16, 3 varints, codec byte, 9 fp32 probabilities: "pub-3" ends at start+28
	probs := len(base) - 9*4
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(base)
		f(b)
		return b
	}
	putF := func(b []byte, i int, v float32) { binary.LittleEndian.PutUint32(b[probs+4*i:], math.Float32bits(v)) }
	cases := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"unknown tag", edit(func(b []byte) { b[start] = 2 }), ErrFormat, "trailing bytes"},
		{"zero samples", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[start+1:], 0) }), ErrFormat, "0 samples"},
		{"huge sample count", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[start+1:], 1<<30) }), ErrFormat, "samples"},
		{"K zero", edit(func(b []byte) { b[start+5] = 0 }), ErrFormat, "K 0"},
		{"zero positions", edit(func(b []byte) { binary.LittleEndian.PutUint16(b[start+12:], 0) }), ErrFormat, "0 positions"},
		{"huge positions", edit(func(b []byte) { binary.LittleEndian.PutUint16(b[start+12:], 5000) }), ErrFormat, "5000 positions"},
		{"duplicate id", edit(func(b []byte) { b[start+28] = '1' }), ErrFormat, "appears twice"},
		{"duplicate token", edit(func(b []byte) { b[start+14] = 0 }), ErrFormat, "token 0 appears twice"},
		{"probability above 1", edit(func(b []byte) { putF(b, 0, 1.25) }), ErrFormat, "probability 1.25"},
		{"negative probability", edit(func(b []byte) { putF(b, 8, -0.5) }), ErrFormat, "probability -0.5"},
		{"nan probability", edit(func(b []byte) { putF(b, 3, float32(math.NaN())) }), ErrNonFinite, "value 3"},
		{"truncated", base[:len(base)-1], ErrFormat, "35 left"},
		{"trailing", append(bytes.Clone(base), 1), ErrFormat, "1 trailing bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseUpdate(c.in)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.want, c.msg)
			}
		})
	}
	// every cut inside the section fails (a cut right before it is a payload without knowledge)
	for n := start + 1; n < len(base); n++ {
		if _, _, err := ParseUpdate(base[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("prefix %d/%d: err = %v, want ErrFormat", n, len(base), err)
		}
	}
}

// TestKnowledgeInt8Ceiling: int8's 127*scale may round just above 1; it decodes as 1.
func TestKnowledgeInt8Ceiling(t *testing.T) {
	u := sampleUpdate()
	u.Knowledge = Knowledge{K: 2, Samples: []SampleDist{{ID: "p", Tokens: []int32{1, 2}, Probs: []float32{1, 0}}}}
	got, _, err := ParseUpdate(encodeUpdate(t, u, Int8))
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Knowledge.Samples[0].Probs; p[0] != 1 || p[1] != 0 {
		t.Fatalf("probabilities %v, want [1 0]", p)
	}
}
