package mesh

import (
	"context"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"

	"github.com/mlecs/mlecs/mesh/wire"
)

// Protocol IDs of the mesh. Our own IDs keep mlecs traffic apart from any
// public libp2p network even without the network key.
const (
	GossipProtocol   protocol.ID = "/mlecs/meshsub/1.0.0"
	BlobProtocol     protocol.ID = "/mlecs/blob/1.0.0"
	PeerListProtocol protocol.ID = "/mlecs/peers/1.0.0"
	DHTPrefix        protocol.ID = "/mlecs"
)

// subscriberBuffer is the channel depth of a Subscribe call; a consumer
// that falls further behind loses messages (counted in ValidationStats
// under "dropped:slow-subscriber") rather than stalling the mesh.
const subscriberBuffer = 128

// TopicName returns the gossipsub topic of a kind in a run:
// "mlecs/<run>/<kind>".
func TopicName(runID string, k wire.Kind) string {
	return "mlecs/" + runID + "/" + k.String()
}

// Message is a validated control message.
type Message struct {
	From         peer.ID        // signing author
	ReceivedFrom peer.ID        // neighbour that forwarded it
	Envelope     *wire.Envelope // decoded, validated envelope
	Size         int            // encoded envelope bytes
}

// topicState is one joined topic. Its dispatcher goroutine owns the set of
// local subscribers; Subscribe and cancel talk to it over channels.
type topicState struct {
	kind  wire.Kind
	name  string
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	add   chan chan Message
	drop  chan chan Message
}

// gossipFeatures declares what our single protocol ID supports: the
// gossipsub v1.2 feature set (mesh, peer exchange, IDONTWANT).
func gossipFeatures(f pubsub.GossipSubFeature, p protocol.ID) bool {
	if p != GossipProtocol {
		return false
	}
	switch f {
	case pubsub.GossipSubFeatureMesh, pubsub.GossipSubFeaturePX, pubsub.GossipSubFeatureIdontwant:
		return true
	}
	return false
}

// gossipOptions are the pubsub options every mesh host (and the tests'
// misbehaving hosts) use to speak our protocol.
func gossipOptions(sign pubsub.MessageSignaturePolicy) []pubsub.Option {
	return []pubsub.Option{
		pubsub.WithGossipSubProtocols([]protocol.ID{GossipProtocol}, gossipFeatures),
		pubsub.WithMessageSignaturePolicy(sign),
		// Room for a few envelopes per RPC; a larger RPC resets the stream.
		pubsub.WithMaxMessageSize(4 * wire.MaxEnvelope),
		// Control messages are few and small: the origin sends to every
		// topic peer, so a publish right after joining (empty mesh) still
		// goes out and an eclipsed mesh cannot swallow it.
		pubsub.WithFloodPublish(true),
	}
}

func (m *Host) startPubSub() error {
	names := make([]string, 0, len(wire.Kinds()))
	for _, k := range wire.Kinds() {
		names = append(names, TopicName(m.cfg.runID, k))
	}
	params, thresholds := scoreParams(names, m.pen.score)
	opts := append(gossipOptions(pubsub.StrictSign),
		pubsub.WithPeerExchange(true),
		pubsub.WithPeerScore(params, thresholds),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(m.storeScores), m.cfg.scoreEach),
		pubsub.WithLogger(m.log.With("sub", "pubsub")),
	)
	if m.kad != nil {
		opts = append(opts, pubsub.WithDiscovery(drouting.NewRoutingDiscovery(m.kad)))
	}
	ps, err := pubsub.NewGossipSub(m.ctx, m.h, opts...)
	if err != nil {
		return fmt.Errorf("gossipsub: %w", err)
	}
	m.ps = ps
	for _, k := range wire.Kinds() {
		if err := m.joinTopic(k); err != nil {
			return err
		}
	}
	return nil
}

func (m *Host) joinTopic(k wire.Kind) error {
	name := TopicName(m.cfg.runID, k)
	if err := m.ps.RegisterTopicValidator(name, m.validator(k)); err != nil {
		return fmt.Errorf("validator for %s: %w", name, err)
	}
	t, err := m.ps.Join(name)
	if err != nil {
		return fmt.Errorf("join %s: %w", name, err)
	}
	// Every host subscribes to every control topic so that it forwards
	// them in the mesh whether or not a local consumer listens.
	sub, err := t.Subscribe(pubsub.WithBufferSize(256))
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", name, err)
	}
	ts := &topicState{kind: k, name: name, topic: t, sub: sub, add: make(chan chan Message), drop: make(chan chan Message)}
	m.topics[k] = ts
	m.wg.Add(1)
	go m.dispatch(ts)
	return nil
}

// dispatch owns ts's subscriber set: it fans validated messages out to
// local subscribers without blocking on any of them.
func (m *Host) dispatch(ts *topicState) {
	defer m.wg.Done()
	in := make(chan *pubsub.Message)
	go func() {
		defer close(in)
		for {
			msg, err := ts.sub.Next(m.ctx)
			if err != nil {
				return
			}
			select {
			case in <- msg:
			case <-m.ctx.Done():
				return
			}
		}
	}()
	subs := make(map[chan Message]struct{})
	defer func() {
		ts.sub.Cancel()
		for c := range subs {
			close(c)
		}
		for range in { // let the reader goroutine finish
		}
	}()
	for {
		select {
		case <-m.ctx.Done():
			return
		case c := <-ts.add:
			subs[c] = struct{}{}
		case c := <-ts.drop:
			if _, ok := subs[c]; ok {
				delete(subs, c)
				close(c)
			}
		case msg, ok := <-in:
			if !ok {
				return
			}
			if msg.GetFrom() == m.h.ID() {
				continue // our own publication; the node knows what it sent
			}
			env, ok := msg.ValidatorData.(*wire.Envelope)
			if !ok {
				continue
			}
			out := Message{From: msg.GetFrom(), ReceivedFrom: msg.ReceivedFrom, Envelope: env, Size: len(msg.GetData())}
			for c := range subs {
				select {
				case c <- out:
				default:
					m.stats.add(Ignore, "dropped:slow-subscriber")
				}
			}
		}
	}
}

// Subscribe returns a channel of validated messages of one kind (own
// messages excluded) and a cancel func that closes it. The channel is also
// closed when the host closes. Each message's Envelope is shared by all
// subscribers: treat it as read-only.
func (m *Host) Subscribe(k wire.Kind) (<-chan Message, func(), error) {
	ts, ok := m.topics[k]
	if !ok {
		return nil, nil, fmt.Errorf("subscribe %v: %w", k, wire.ErrUnknownKind)
	}
	c := make(chan Message, subscriberBuffer)
	select {
	case ts.add <- c:
	case <-m.ctx.Done():
		return nil, nil, fmt.Errorf("subscribe %v: %w", k, ErrClosed)
	}
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			select {
			case ts.drop <- c:
			case <-m.ctx.Done(): // the dispatcher closes c on its way out
			}
		})
	}
	return c, cancel, nil
}

// Publish signs and gossips a control message. The caller sets Kind, Term,
// Round and Body; the host fills Version, RunID, Seq and SentAt (the env is
// updated in place) and validates it like any received message.
func (m *Host) Publish(ctx context.Context, env *wire.Envelope) error {
	if m.closed() {
		return fmt.Errorf("publish: %w", ErrClosed)
	}
	ts, ok := m.topics[env.Kind]
	if !ok {
		return fmt.Errorf("publish %v: %w", env.Kind, wire.ErrUnknownKind)
	}
	env.Version = wire.Version
	env.RunID = m.cfg.runID
	env.Seq = m.seq.Add(1)
	env.SentAt = time.Now().UnixNano()
	data, err := env.Encode(make([]byte, 0, env.EncodedSize()))
	if err != nil {
		return fmt.Errorf("publish %v: %w", env.Kind, err)
	}
	if err := ts.topic.Publish(ctx, data); err != nil {
		return fmt.Errorf("publish %v: %w", env.Kind, err)
	}
	return nil
}

// TopicPeers lists the peers this host knows to be subscribed to a kind's
// topic (its gossip neighbourhood for that topic).
func (m *Host) TopicPeers(k wire.Kind) []peer.ID {
	ts, ok := m.topics[k]
	if !ok {
		return nil
	}
	return ts.topic.ListPeers()
}

// WaitTopicPeers blocks until at least n peers are subscribed to k's topic
// here, or ctx ends. Publishing earlier is allowed but may reach nobody.
func (m *Host) WaitTopicPeers(ctx context.Context, k wire.Kind, n int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for len(m.TopicPeers(k)) < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d peers on %v (have %d): %w", n, k, len(m.TopicPeers(k)), ctx.Err())
		case <-m.ctx.Done():
			return fmt.Errorf("wait for peers on %v: %w", k, ErrClosed)
		case <-t.C:
		}
	}
	return nil
}
