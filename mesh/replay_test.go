package mesh

import (
	"math/rand/v2"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestReplayGuard(t *testing.T) {
	g := newReplayGuard(64, 2)
	a, b, c := peer.ID("a"), peer.ID("b"), peer.ID("c")
	steps := []struct {
		p    peer.ID
		seq  uint64
		want seqVerdict
	}{
		{a, 100, seqFresh}, {a, 100, seqReplay}, {a, 99, seqFresh}, {a, 99, seqReplay},
		{a, 200, seqFresh}, {a, 137, seqFresh}, {a, 137, seqReplay}, {a, 138, seqFresh}, {a, 136, seqStale}, {a, 100, seqStale},
		{b, 5, seqFresh}, {b, 5, seqReplay},
		{c, 1, seqFresh}, // evicts a (least recently used)
		{a, 200, seqFresh},
	}
	for i, s := range steps {
		if got := g.check(s.p, s.seq); got != s.want {
			t.Fatalf("step %d (%s, %d): got %d want %d", i, s.p, s.seq, got, s.want)
		}
	}
}

// The bitmap window agrees with a plain set model on random sequences.
func TestReplayGuardMatchesModel(t *testing.T) {
	const w = 1024
	g := newReplayGuard(w, 1)
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[uint64]bool{}
	var hi uint64
	first := true
	for i := range 20000 {
		var seq uint64
		if first {
			seq = 5000
		} else {
			seq = uint64(max(0, int64(hi)+int64(r.IntN(1400))-1200))
		}
		var want seqVerdict
		switch {
		case first || seq > hi:
			want = seqFresh
		case hi-seq >= w:
			want = seqStale
		case seen[seq]:
			want = seqReplay
		default:
			want = seqFresh
		}
		if got := g.check("p", seq); got != want {
			t.Fatalf("step %d seq %d hi %d: got %d want %d", i, seq, hi, got, want)
		}
		if want == seqFresh {
			seen[seq] = true
			if first || seq > hi {
				hi = seq
			}
		}
		first = false
	}
}
