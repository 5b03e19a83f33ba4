package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func sampleEnvelope() *Envelope {
	return &Envelope{Version: Version, RunID: "run-1", Kind: KindRound, Term: 3, Round: 17, Seq: 99, SentAt: 1_700_000_000_000_000_000, Body: []byte("manifest")}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, e := range []*Envelope{
		sampleEnvelope(),
		{Version: Version, RunID: "r", Kind: KindHeartbeat},
		{Version: Version, RunID: strings.Repeat("a", MaxRunID), Kind: KindUpdate, Term: ^uint64(0), SentAt: -1, Body: make([]byte, MaxBody)},
	} {
		b, err := e.Encode(nil)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if len(b) != e.EncodedSize() {
			t.Fatalf("encoded %d bytes, EncodedSize %d", len(b), e.EncodedSize())
		}
		got, err := DecodeEnvelope(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got.RunID != e.RunID || got.Kind != e.Kind || got.Term != e.Term || got.Round != e.Round ||
			got.Seq != e.Seq || got.SentAt != e.SentAt || !bytes.Equal(got.Body, e.Body) {
			t.Fatalf("round trip: got %+v want %+v", got, e)
		}
	}
}

func TestEnvelopeEncodeRefuses(t *testing.T) {
	cases := map[string]struct {
		mut  func(*Envelope)
		want error
	}{
		"version":    {func(e *Envelope) { e.Version = 2 }, ErrVersion},
		"empty run":  {func(e *Envelope) { e.RunID = "" }, ErrInvalidRun},
		"run chars":  {func(e *Envelope) { e.RunID = "a/b" }, ErrInvalidRun},
		"long run":   {func(e *Envelope) { e.RunID = strings.Repeat("x", MaxRunID+1) }, ErrInvalidRun},
		"kind":       {func(e *Envelope) { e.Kind = 9 }, ErrUnknownKind},
		"large body": {func(e *Envelope) { e.Body = make([]byte, MaxBody+1) }, ErrTooLarge},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := sampleEnvelope()
			c.mut(e)
			if _, err := e.Encode(nil); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestDecodeEnvelopeRejects(t *testing.T) {
	good, _ := sampleEnvelope().Encode(nil)
	bodyLen := len(good) - len("manifest") - 4
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"empty":        {nil, ErrTruncated},
		"version":      {append([]byte{2}, good[1:]...), ErrVersion},
		"kind":         {append([]byte{1, 0}, good[2:]...), ErrUnknownKind},
		"truncated":    {good[:len(good)-1], ErrTruncated},
		"trailing":     {append(append([]byte{}, good...), 0), ErrTrailing},
		"run too long": {append([]byte{1, 3, 0xff, 0xff}, good[4:]...), ErrTooLarge},
		"run chars":    {append([]byte{1, 3, 0, 5, 'a', ' ', 'b', 'c', 'd'}, good[9:]...), ErrInvalidRun},
		"body cap": {func() []byte {
			b := append([]byte{}, good...)
			copy(b[bodyLen:], []byte{0x7f, 0xff, 0xff, 0xff})
			return b
		}(), ErrTooLarge},
		"oversized": {make([]byte, MaxEnvelope+1), ErrTooLarge},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeEnvelope(c.b); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestPeerListRoundTrip(t *testing.T) {
	in := []PeerRecord{
		{ID: []byte("peer-a"), Addrs: [][]byte{[]byte("addr1"), []byte("addr2")}},
		{ID: []byte("peer-b")},
	}
	b, err := EncodePeerList(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodePeerList(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || string(out[0].ID) != "peer-a" || len(out[0].Addrs) != 2 || string(out[0].Addrs[1]) != "addr2" || len(out[1].Addrs) != 0 {
		t.Fatalf("round trip: %+v", out)
	}
	if _, err := EncodePeerList(nil, make([]PeerRecord, MaxPeerListPeers+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too many peers: %v", err)
	}
	if _, err := DecodePeerList([]byte{1, 0xff, 0xff}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("count over cap: %v", err)
	}
	if _, err := DecodePeerList([]byte{1, 0, 1, 0, 0, 0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty id: %v", err)
	}
	if _, err := DecodePeerList(append(b, 0)); !errors.Is(err, ErrTrailing) {
		t.Fatalf("trailing: %v", err)
	}
}

func TestBlobCodecs(t *testing.T) {
	q := BlobRequest{Offset: 10, MaxSize: 100}
	q.Hash[0] = 7
	b := q.Encode(nil)
	if len(b) != BlobRequestSize {
		t.Fatalf("request size %d", len(b))
	}
	got, err := DecodeBlobRequest(b)
	if err != nil || *got != q {
		t.Fatalf("request round trip: %+v %v", got, err)
	}
	bad := BlobRequest{Offset: 101, MaxSize: 100}
	if _, err := DecodeBlobRequest(bad.Encode(nil)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("offset past max: %v", err)
	}
	h := BlobHeader{Status: BlobTooLarge, Size: 5}
	gh, err := DecodeBlobHeader(h.Encode(nil))
	if err != nil || *gh != h {
		t.Fatalf("header round trip: %+v %v", gh, err)
	}
	if _, err := DecodeBlobHeader([]byte{1, 9, 0, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad status: %v", err)
	}
	var fh [4]byte
	PutFrameHeader(fh[:], 100)
	if _, err := ReadFrameHeader(bytes.NewReader(fh[:]), 99); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("frame over limit: %v", err)
	}
	if n, err := ReadFrameHeader(bytes.NewReader(fh[:]), 100); err != nil || n != 100 {
		t.Fatalf("frame: %d %v", n, err)
	}
}
