package storage

import (
	"bytes"
	"testing"
	"time"
)

// Decoders must never panic or over-allocate, and whatever they accept must re-encode to
// the same bytes (one canonical encoding per value). Seeds live in testdata/fuzz.

func FuzzDecodeTensor(f *testing.F) {
	for _, t := range []NamedTensor{
		{Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		{Name: "scalar", Shape: []int{}, Data: []float32{-1}},
		{Name: "empty", Shape: []int{0, 3}, Data: []float32{}},
	} {
		b, err := EncodeTensor(t)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tn, err := DecodeTensor(b)
		if err != nil {
			return
		}
		if len(tn.Data)*4 > len(b) {
			t.Fatalf("decoded %d values from %d bytes", len(tn.Data), len(b))
		}
		again, err := EncodeTensor(tn)
		if err != nil {
			t.Fatalf("decoded tensor does not re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
	})
}

// FuzzDecodeRecord feeds the same bytes to every other stored-record decoder. Manifest
// bodies are decoded past their checksum, which the fuzzer could not forge.
func FuzzDecodeRecord(f *testing.F) {
	ts := time.Unix(1700000000, 5).UTC()
	bm := &blobManifest{hash: HashBytes([]byte("x")), size: 3, chunk: chunkSize, upload: 9, created: ts, chunks: []uint32{7}}
	cm := &ckptManifest{id: ckptID{"edge", 1, 2}, save: 3, created: ts, chunk: chunkSize,
		meta: map[string]string{"a": "1", "b": ""}, tensors: []ckptTensor{{name: "w", size: 20, hash: HashBytes(nil)}}}
	b := bm.encode()
	f.Add(b[:len(b)-32])
	b = cm.encode()
	f.Add(b[:len(b)-32])
	f.Add(encodePeer(&PeerRecord{ID: "p", Addrs: []string{"/ip4/1.2.3.4"}, Role: "edge", Modalities: []string{"image"},
		LastSeen: ts, Meta: map[string]string{"k": "v", "z": "w"}}))
	f.Add(encodeMetric(&MetricPoint{Round: 4, Name: "loss", Value: 0.25, Time: ts}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeBlobManifestBody(b); err == nil {
			if again := m.encode(); !bytes.Equal(again[:len(again)-32], b) {
				t.Fatalf("blob manifest re-encoding differs")
			}
			if _, err := decodeBlobManifest(m.encode()); err != nil {
				t.Fatalf("sealed blob manifest: %v", err)
			}
		}
		if m, err := decodeCkptManifestBody(b); err == nil {
			if again := m.encode(); !bytes.Equal(again[:len(again)-32], b) {
				t.Fatalf("checkpoint manifest re-encoding differs")
			}
		}
		if p, err := decodePeer(b); err == nil {
			if !bytes.Equal(encodePeer(&p), b) {
				t.Fatalf("peer re-encoding differs")
			}
		}
		if m, err := decodeMetric(b); err == nil {
			if !bytes.Equal(encodeMetric(&m), b) {
				t.Fatalf("metric re-encoding differs")
			}
		}
		_, _ = decodeBlobManifest(b)
		_, _ = decodeCkptManifest(b)
	})
}
