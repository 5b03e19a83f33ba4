package mesh

import (
	"context"
	"fmt"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh/wire"
)

// rogue is a misbehaving peer: a plain libp2p host with the network key
// and our gossip protocol, but no validators, so it can publish anything.
type rogue struct {
	h     host.Host
	topic *pubsub.Topic
}

func newRogue(t *testing.T, ctx context.Context, sign pubsub.MessageSignaturePolicy, victim *Host, k wire.Kind) *rogue {
	t.Helper()
	cfg := defaultConfig()
	cfg.identity = testKey(t)
	cfg.psk = testPSK()
	if err := WithListenAddrs("/ip4/127.0.0.1/tcp/0")(&cfg); err != nil {
		t.Fatal(err)
	}
	h, err := newLibp2pHost(&cfg, metrics.NewBandwidthCounter())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ps, err := pubsub.NewGossipSub(ctx, h, gossipOptions(sign)...)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(TopicName(testRun, k))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, addrInfo(victim)); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "rogue to see the victim's subscription", func() bool {
		for _, p := range topic.ListPeers() {
			if p == victim.ID() {
				return true
			}
		}
		return false
	})
	return &rogue{h: h, topic: topic}
}

func (r *rogue) publish(t *testing.T, ctx context.Context, data []byte) {
	t.Helper()
	if err := r.topic.Publish(ctx, data); err != nil {
		t.Fatalf("rogue publish: %v", err)
	}
}

func goodEnvelope(seq uint64) *wire.Envelope {
	return &wire.Envelope{Version: wire.Version, RunID: testRun, Kind: wire.KindHeartbeat, Term: 1, Seq: seq, SentAt: time.Now().UnixNano(), Body: []byte("hb")}
}

func encode(t *testing.T, e *wire.Envelope) []byte {
	t.Helper()
	b, err := e.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadMessagesRejected sends each kind of bad message from its own
// misbehaving peer and checks that the victim drops it for the right
// reason, never delivers it, and (for rejects) lowers the sender's score.
func TestBadMessagesRejected(t *testing.T) {
	ctx := timeout(t, 45*time.Second)
	victim := newTestHost(t, ctx)
	victim.SetPolicy(PolicyFunc(func(_ peer.ID, e *wire.Envelope) Verdict {
		if e.Term == 666 {
			return Reject // e.g. a term the sender has no right to claim
		}
		return Accept
	}))
	msgs, cancel, err := victim.Subscribe(wire.KindHeartbeat)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	stale := goodEnvelope(1)
	stale.SentAt = time.Now().Add(-time.Hour).UnixNano()
	otherRun := goodEnvelope(1)
	otherRun.RunID = "other-run"
	wrongKind := goodEnvelope(1)
	wrongKind.Kind = wire.KindUpdate
	noRights := goodEnvelope(1)
	noRights.Term = 666
	newer := encode(t, goodEnvelope(1))
	newer[0] = wire.Version + 1
	cases := []struct {
		name    string
		sign    pubsub.MessageSignaturePolicy
		send    [][]byte
		deliver int    // how many of send are valid
		stat    string // victim counter that must rise ("" for gossipsub-level rejects)
		penalty bool
	}{
		{"malformed", pubsub.StrictSign, [][]byte{[]byte("definitely not an envelope")}, 0, "reject:" + ReasonMalformed, true},
		{"oversized", pubsub.StrictSign, [][]byte{make([]byte, wire.MaxEnvelope+1)}, 0, "reject:" + ReasonOversized, true},
		{"wrong run", pubsub.StrictSign, [][]byte{encode(t, otherRun)}, 0, "reject:" + ReasonWrongRun, true},
		{"wrong kind", pubsub.StrictSign, [][]byte{encode(t, wrongKind)}, 0, "reject:" + ReasonWrongKind, true},
		{"replayed", pubsub.StrictSign, [][]byte{encode(t, goodEnvelope(7)), encode(t, goodEnvelope(7))}, 1, "reject:" + ReasonReplay, true},
		{"policy", pubsub.StrictSign, [][]byte{encode(t, noRights)}, 0, "reject:" + ReasonPolicy, true},
		{"unsigned", pubsub.StrictNoSign, [][]byte{encode(t, goodEnvelope(1))}, 0, "", true},
		{"stale", pubsub.StrictSign, [][]byte{encode(t, stale)}, 0, "ignore:" + ReasonStale, false},
		{"newer version", pubsub.StrictSign, [][]byte{newer}, 0, "ignore:" + ReasonVersion, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRogue(t, ctx, c.sign, victim, wire.KindHeartbeat)
			before := victim.ValidationStats()
			for _, b := range c.send {
				r.publish(t, ctx, b)
			}
			if c.stat != "" {
				eventually(t, ctx, c.stat, func() bool { return victim.ValidationStats()[c.stat] > before[c.stat] })
			}
			if c.penalty {
				eventually(t, ctx, "rogue score to drop below zero", func() bool {
					s, ok := victim.PeerScore(r.h.ID())
					return ok && s < 0
				})
			} else {
				time.Sleep(300 * time.Millisecond) // three score snapshots
				if s, ok := victim.PeerScore(r.h.ID()); ok && s < 0 {
					t.Fatalf("ignored message penalised the sender: score %v", s)
				}
			}
			for i := range c.deliver {
				select {
				case m := <-msgs:
					if m.From != r.h.ID() {
						t.Fatalf("delivered message %d from %s", i, m.From)
					}
				case <-ctx.Done():
					t.Fatal("valid message not delivered")
				}
			}
			select {
			case m := <-msgs:
				t.Fatalf("bad message delivered: %+v", m.Envelope)
			default:
			}
		})
	}
}

// A well-behaved sender's valid messages keep its score non-negative.
func TestGoodSenderKeepsScore(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	a := newTestHost(t, ctx)
	b := newTestHost(t, ctx, WithBootstrap(a.Addrs()[0].String()))
	msgs, cancel, err := a.Subscribe(wire.KindHeartbeat)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := b.WaitTopicPeers(ctx, wire.KindHeartbeat, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := b.Publish(ctx, &wire.Envelope{Kind: wire.KindHeartbeat, Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		select {
		case <-msgs:
		case <-ctx.Done():
			t.Fatalf("message lost; a stats %v, b stats %v", a.ValidationStats(), b.ValidationStats())
		}
	}
	eventually(t, ctx, "score snapshot", func() bool { s, ok := a.PeerScore(b.ID()); return ok && s >= 0 })
	if st := a.ValidationStats(); st["accept"] != 5 {
		t.Fatalf("stats = %v, want 5 accepted", st)
	}
}
