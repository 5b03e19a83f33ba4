package mesh

import (
	"testing"
	"testing/synctest"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh/wire"
)

// checkHost is a Host with just what the validator needs, no network.
func checkHost(t *testing.T) *Host {
	cfg := defaultConfig()
	cfg.runID = testRun
	id, err := peer.IDFromPrivateKey(testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	m := &Host{cfg: cfg, log: testLogger(t), self: id, guard: newReplayGuard(replayWindow, 16), book: newPeerBook(), stats: newValidationStats()}
	m.policy.Store(&policyBox{})
	return m
}

func rawMessage(t *testing.T, from peer.ID, data []byte) *pubsub.Message {
	topic := TopicName(testRun, wire.KindHeartbeat)
	return &pubsub.Message{Message: &pb.Message{From: []byte(from), Data: data, Topic: &topic}}
}

// The age window runs on the sender's SentAt against our clock; synctest's
// fake clock makes the boundaries exact without sleeping for minutes.
func TestCheckAgeWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := checkHost(t)
		author, _ := peer.IDFromPrivateKey(testKey(t))
		sent := time.Now()
		msg := func(seq uint64, at time.Time) *pubsub.Message {
			e := goodEnvelope(seq)
			e.SentAt = at.UnixNano()
			return rawMessage(t, author, encode(t, e))
		}
		if v, r := m.check(wire.KindHeartbeat, msg(1, sent)); v != Accept {
			t.Fatalf("fresh: %v %s", v, r)
		}
		time.Sleep(m.cfg.maxAge - time.Second)
		if v, r := m.check(wire.KindHeartbeat, msg(2, sent)); v != Accept {
			t.Fatalf("just inside max age: %v %s", v, r)
		}
		time.Sleep(2 * time.Second)
		if v, r := m.check(wire.KindHeartbeat, msg(3, sent)); v != Ignore || r != ReasonStale {
			t.Fatalf("past max age: %v %s", v, r)
		}
		if v, r := m.check(wire.KindHeartbeat, msg(4, time.Now().Add(m.cfg.maxSkew+time.Second))); v != Ignore || r != ReasonFuture {
			t.Fatalf("from the future: %v %s", v, r)
		}
		if v, r := m.check(wire.KindHeartbeat, msg(2, time.Now())); v != Reject || r != ReasonReplay {
			t.Fatalf("replayed seq: %v %s", v, r)
		}
		m.SetPolicy(PolicyFunc(func(peer.ID, *wire.Envelope) Verdict { return Ignore }))
		if v, r := m.check(wire.KindHeartbeat, msg(5, time.Now())); v != Ignore || r != ReasonPolicy {
			t.Fatalf("policy ignore: %v %s", v, r)
		}
	})
}
