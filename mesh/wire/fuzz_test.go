package wire

import (
	"bytes"
	"testing"
)

// Every decoder must either fail or return a value whose encoding is the
// input (canonical, nothing lost), without panicking or over-allocating.

func FuzzDecodeEnvelope(f *testing.F) {
	good, _ := sampleEnvelope().Encode(nil)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEnvelope(b)
		if err != nil {
			return
		}
		out, err := e.Encode(nil)
		if err != nil {
			t.Fatalf("decoded envelope does not re-encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, out)
		}
	})
}

func FuzzDecodePeerList(f *testing.F) {
	good, _ := EncodePeerList(nil, []PeerRecord{{ID: []byte("id"), Addrs: [][]byte{[]byte("a")}}})
	f.Add(good)
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodePeerList(b)
		if err != nil {
			return
		}
		out, err := EncodePeerList(nil, recs)
		if err != nil {
			t.Fatalf("decoded list does not re-encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, out)
		}
	})
}

func FuzzDecodeBlobRequest(f *testing.F) {
	q := BlobRequest{Offset: 1, MaxSize: 2}
	f.Add(q.Encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := DecodeBlobRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(q.Encode(nil), b) {
			t.Fatalf("not canonical: %x", b)
		}
	})
}

func FuzzDecodeBlobHeader(f *testing.F) {
	h := BlobHeader{Status: BlobOK, Size: 3}
	f.Add(h.Encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeBlobHeader(b)
		if err != nil {
			return
		}
		if !bytes.Equal(h.Encode(nil), b) {
			t.Fatalf("not canonical: %x", b)
		}
	})
}

func FuzzReadFrameHeader(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0}, 1000)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		n, err := ReadFrameHeader(bytes.NewReader(b), limit)
		if err != nil {
			return
		}
		if n < 0 || n > MaxFrame || n > limit {
			t.Fatalf("frame length %d escaped limit %d", n, limit)
		}
	})
}
