package mesh

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh/wire"
)

// TestPenaltiesEscalateAndDecay: offences add up squared (-10, -40, -90) and halve per half-life;
// the table stays bounded.
func TestPenaltiesEscalateAndDecay(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPenalties(func() time.Time { return now })
	a, b := peer.ID("a"), peer.ID("b")
	for i, want := range []float64{-10, -40, -90} {
		if got := p.add(a); math.Abs(got-want) > 1e-9 {
			t.Fatalf("offence %d: app score %v, want %v", i+1, got, want)
		}
	}
	if got := p.score(b); got != 0 {
		t.Fatalf("clean peer scored %v", got)
	}
	now = now.Add(penaltyHalfLife) // 3 offences -> 1.5
	if got, want := p.score(a), -10*1.5*1.5; math.Abs(got-want) > 1e-9 {
		t.Fatalf("after a half-life: %v, want %v", got, want)
	}
	now = now.Add(20 * penaltyHalfLife)
	if got := p.score(a); got != 0 {
		t.Fatalf("after 21 half-lives: %v, want 0 (forgotten)", got)
	}
	if len(p.peers) != 0 {
		t.Fatalf("%d entries kept after decay", len(p.peers))
	}
	for i := range maxPenalized + 10 {
		p.add(peer.ID(fmt.Sprint(i)))
	}
	if len(p.peers) != maxPenalized {
		t.Fatalf("%d entries, want the bound %d", len(p.peers), maxPenalized)
	}
}

// TestBlobOffendersLoseScore: a peer that offers a blob over the cap (refused before any payload
// byte is read), serves bytes that miss the hash, or sends frames past its announced size drops
// below zero in the receiver's gossipsub score, with the reason counted; a blob that is merely not
// found costs nothing.
func TestBlobOffendersLoseScore(t *testing.T) {
	ctx := timeout(t, 40*time.Second)
	data := randomBlob(5000)
	h := sha256.Sum256(data)
	wrong := sha256.Sum256([]byte("the real blob"))
	overlong := func(s network.Stream) { // announces 100 bytes, sends a 5000-byte frame
		defer s.Close()
		var rb [wire.BlobRequestSize]byte
		if _, err := io.ReadFull(s, rb[:]); err != nil {
			return
		}
		hdr := wire.BlobHeader{Status: wire.BlobOK, Size: 100}
		_, _ = s.Write(hdr.Encode(nil))
		frame := make([]byte, wire.FrameHeaderSize+5000)
		wire.PutFrameHeader(frame, 5000)
		_, _ = s.Write(frame)
	}
	for _, tc := range []struct {
		name    string
		src     *memSource
		handler network.StreamHandler
		hash    Hash
		max     int64
		err     error
		reason  string // "" = no penalty
	}{
		{"oversized", &memSource{blobs: map[Hash][]byte{h: data}}, nil, h, 4999, ErrBlobTooLarge, PenaltyBlobTooLarge},
		{"wrong bytes", &memSource{blobs: map[Hash][]byte{wrong: data}}, nil, wrong, 1 << 20, ErrHashMismatch, PenaltyBlobHash},
		{"frame past size", nil, overlong, Hash{3}, 1 << 20, ErrBlobProtocol, PenaltyBlobProtocol},
		{"not found", &memSource{blobs: map[Hash][]byte{}}, nil, h, 1 << 20, ErrBlobNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var src BlobSource
			if tc.src != nil {
				src = tc.src
			}
			sender, receiver := blobPair(t, ctx, src)
			if tc.handler != nil {
				sender.Libp2p().SetStreamHandler(BlobProtocol, tc.handler)
			}
			sink := &MemorySink{}
			if _, err := receiver.Fetch(ctx, sender.ID(), tc.hash, tc.max, sink); !errors.Is(err, tc.err) {
				t.Fatalf("fetch: %v, want %v", err, tc.err)
			}
			if sink.Size() != 0 {
				t.Fatalf("refused blob left %d bytes buffered", sink.Size())
			}
			if tc.reason == "" {
				eventually(t, ctx, "a score snapshot", func() bool { _, ok := receiver.PeerScore(sender.ID()); return ok })
				time.Sleep(300 * time.Millisecond)
				if s, _ := receiver.PeerScore(sender.ID()); s < 0 {
					t.Fatalf("honest miss penalised: score %v", s)
				}
				for k := range receiver.ValidationStats() {
					if len(k) > 8 && k[:8] == "penalty:" {
						t.Fatalf("penalty counted: %v", receiver.ValidationStats())
					}
				}
				return
			}
			if n := receiver.ValidationStats()["penalty:"+tc.reason]; n != 1 {
				t.Fatalf("penalty:%s counted %d times: %v", tc.reason, n, receiver.ValidationStats())
			}
			eventually(t, ctx, "the sender's score to drop below zero", func() bool {
				s, ok := receiver.PeerScore(sender.ID())
				return ok && s < 0
			})
			if info, ok := receiver.Peer(sender.ID()); !ok || !info.Scored || info.Score >= 0 {
				t.Fatalf("peer info shows score %v (scored %v)", info.Score, info.Scored)
			}
		})
	}
}

// TestPenalizeSelfAndEmptyIgnored: the host never penalises itself or an empty id.
func TestPenalizeSelfAndEmptyIgnored(t *testing.T) {
	ctx := timeout(t, 10*time.Second)
	h := newTestHost(t, ctx)
	h.Penalize(h.ID(), "x")
	h.Penalize("", "x")
	if n := h.ValidationStats()["penalty:x"]; n != 0 {
		t.Fatalf("counted %d self/empty penalties", n)
	}
}
