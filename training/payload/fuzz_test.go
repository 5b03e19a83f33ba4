package payload

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

func isSentinel(err error) bool {
	for _, s := range []error{ErrFormat, ErrVersion, ErrCodec, ErrNonFinite, ErrTooLarge} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// FuzzDecodeUpdate: any input either fails with a sentinel error or decodes to an Update that validates,
// re-encodes in fp32, and decodes again to the same values bit for bit. Corpus: testdata/fuzz/FuzzDecodeUpdate.
func FuzzDecodeUpdate(f *testing.F) {
	for _, c := range []Codec{FP32, FP16, Int8} {
		f.Add(encodeUpdate(f, sampleUpdate(), c))
	}
	f.Add(encodeUpdate(f, &Update{RunID: "r", Edge: "e"}, FP32))
	for _, c := range []Codec{FP32, Int8} {
		f.Add(encodeUpdate(f, knowledgeUpdate(), c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, sizes, err := ParseUpdate(b)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if sizes.Total() != int64(len(b)) {
			t.Fatalf("sizes %+v sum to %d, input has %d bytes", sizes, sizes.Total(), len(b))
		}
		var buf bytes.Buffer
		if _, err := u.Encode(&buf, FP32); err != nil {
			t.Fatalf("re-encoding a decoded update: %v", err)
		}
		again, _, err := ParseUpdate(buf.Bytes())
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if again.RunID != u.RunID || again.Edge != u.Edge || again.Round != u.Round || again.Samples != u.Samples ||
			!reflect.DeepEqual(again.Modalities, u.Modalities) || !reflect.DeepEqual(again.Predictions, u.Predictions) ||
			!reflect.DeepEqual(again.Metrics, u.Metrics) || !reflect.DeepEqual(again.Fused.IDs, u.Fused.IDs) ||
			!sameBits(again.Fused.Data, u.Fused.Data) || !sameTensors(again.LoRA, u.LoRA) ||
			!sameKnowledge(again.Knowledge, u.Knowledge) {
			t.Fatalf("round trip changed the update:\n%+v\n%+v", u, again)
		}
	})
}

// FuzzDecodeGlobal: as FuzzDecodeUpdate for Global. Corpus: testdata/fuzz/FuzzDecodeGlobal.
func FuzzDecodeGlobal(f *testing.F) {
	for _, c := range []Codec{FP32, FP16, Int8} {
		f.Add(encodeGlobal(f, sampleGlobal(), c))
	}
	f.Add(encodeGlobal(f, knowledgeGlobal(), FP16))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, sizes, err := ParseGlobal(b)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if sizes.Total() != int64(len(b)) {
			t.Fatalf("sizes %+v sum to %d, input has %d bytes", sizes, sizes.Total(), len(b))
		}
		var buf bytes.Buffer
		if _, err := g.Encode(&buf, FP32); err != nil {
			t.Fatalf("re-encoding a decoded global: %v", err)
		}
		again, _, err := ParseGlobal(buf.Bytes())
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if again.RunID != g.RunID || again.Round != g.Round || again.Term != g.Term ||
			!reflect.DeepEqual(again.Fused.IDs, g.Fused.IDs) || !sameBits(again.Fused.Data, g.Fused.Data) || !sameTensors(again.LoRA, g.LoRA) ||
			!sameKnowledge(again.Knowledge, g.Knowledge) {
			t.Fatalf("round trip changed the global:\n%+v\n%+v", g, again)
		}
	})
}

// sameTensors reports whether a and b hold the same tensors: names, shapes and data bit for bit.
func sameTensors(a, b []Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !reflect.DeepEqual(a[i].Shape, b[i].Shape) || !sameBits(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

// sameKnowledge reports whether a and b hold the same knowledge: K, ids, tokens and probabilities bit for bit.
func sameKnowledge(a, b Knowledge) bool {
	if a.K != b.K || len(a.Samples) != len(b.Samples) {
		return false
	}
	for i := range a.Samples {
		x, y := a.Samples[i], b.Samples[i]
		if x.ID != y.ID || !reflect.DeepEqual(x.Tokens, y.Tokens) || !sameBits(x.Probs, y.Probs) {
			return false
		}
	}
	return true
}

func knowledgeUpdate() *Update {
	u := sampleUpdate()
	u.Knowledge = sampleKnowledge()
	return u
}

func knowledgeGlobal() *Global {
	g := sampleGlobal()
	g.Knowledge = sampleKnowledge()
	return g
}
