package mesh

import (
	"encoding/binary"
	"io"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh/wire"
)

// protobuf wire helpers for the gossipsub RPC (fields of rpc.proto), written by hand so that the test
// can put what no honest library would: a message whose author is one key and whose signature is
// another's.
func pbBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// TestForgedAuthorRejected: a peer publishes a heartbeat whose author field names another peer (the
// forged identity of, e.g., the anchor) but which it signed with its own key. Gossipsub's StrictSign
// check refuses it before our validator runs; it is never delivered, and the forwarding peer's score
// drops (invalid message delivery).
func TestForgedAuthorRejected(t *testing.T) {
	ctx := timeout(t, 30*time.Second)
	victim := newTestHost(t, ctx)
	msgs, cancel, err := victim.Subscribe(wire.KindHeartbeat)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	// The forger speaks only raw gossipsub RPCs: a plain host that accepts the victim's gossip stream
	// (so the victim scores it) and writes its own.
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
	h.SetStreamHandler(GossipProtocol, func(s network.Stream) { _, _ = io.Copy(io.Discard, s) })
	if err := h.Connect(ctx, addrInfo(victim)); err != nil {
		t.Fatal(err)
	}
	impersonated, err := peer.IDFromPrivateKey(testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	topic := TopicName(testRun, wire.KindHeartbeat)
	forge := func(seq uint64) []byte {
		var msg []byte
		msg = pbBytes(msg, 1, []byte(impersonated))
		msg = pbBytes(msg, 2, encode(t, goodEnvelope(seq)))
		msg = pbBytes(msg, 3, binary.BigEndian.AppendUint64(nil, seq))
		msg = pbBytes(msg, 4, []byte(topic))
		sig, err := cfg.identity.Sign(append([]byte(pubsub.SignPrefix), msg...))
		if err != nil {
			t.Fatal(err)
		}
		msg = pbBytes(msg, 5, sig)
		var sub []byte
		sub = append(sub, 1<<3|0, 1) // subscribe: true
		sub = pbBytes(sub, 2, []byte(topic))
		var rpc []byte
		rpc = pbBytes(rpc, 1, sub)
		rpc = pbBytes(rpc, 2, msg)
		return append(binary.AppendUvarint(nil, uint64(len(rpc))), rpc...)
	}
	// One forged message per try, until the victim scores the forger (it must first have opened its
	// own gossip stream to it, or the delivery is not attributed to a scored peer).
	seq := uint64(0)
	eventually(t, ctx, "the forger's score to drop below zero", func() bool {
		if sc, ok := victim.PeerScore(h.ID()); ok && sc < 0 {
			return true
		}
		seq++
		if seq%10 != 1 { // a forged message every 200 ms
			return false
		}
		s, err := h.NewStream(ctx, victim.ID(), GossipProtocol)
		if err != nil {
			return false
		}
		_, _ = s.Write(forge(seq))
		_ = s.CloseWrite()
		return false
	})
	select {
	case m := <-msgs:
		t.Fatalf("forged message delivered: from %s", m.From)
	default:
	}
	if st := victim.ValidationStats(); st["accept"] != 0 {
		t.Fatalf("forged message reached our validator: %v", st)
	}
}
