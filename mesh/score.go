package mesh

import (
	"maps"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Score thresholds: one invalid message costs invalidWeight (squared
// counter, so repeated offences escalate fast); a few put a peer under the
// gossip threshold, a handful under graylist, where its RPCs are ignored.
const (
	invalidWeight     = -10.0
	gossipThreshold   = -50.0
	publishThreshold  = -100.0
	graylistThreshold = -400.0
)

// scoreParams builds gossipsub's peer-score parameters with per-topic
// params for our control topics, so invalid deliveries (P4) count, and app
// as the application-specific score (P5).
// IP colocation is off: test nets and docker nets share one address.
func scoreParams(topics []string, app func(peer.ID) float64) (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	tp := make(map[string]*pubsub.TopicScoreParams, len(topics))
	for _, t := range topics {
		tp[t] = &pubsub.TopicScoreParams{
			SkipAtomicValidation:           true,
			TopicWeight:                    1,
			TimeInMeshWeight:               0.01,
			TimeInMeshQuantum:              time.Second,
			TimeInMeshCap:                  100,
			FirstMessageDeliveriesWeight:   0.5,
			FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
			FirstMessageDeliveriesCap:      20,
			InvalidMessageDeliveriesWeight: invalidWeight,
			InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
		}
	}
	params := &pubsub.PeerScoreParams{
		SkipAtomicValidation:      true,
		Topics:                    tp,
		TopicScoreCap:             20,
		AppSpecificScore:          app, // Penalize: misbehaviour outside gossipsub's view
		AppSpecificWeight:         1,
		BehaviourPenaltyWeight:    -1,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:             pubsub.DefaultDecayInterval,
		DecayToZero:               pubsub.DefaultDecayToZero,
		RetainScore:               30 * time.Minute,
	}
	thresholds := &pubsub.PeerScoreThresholds{
		SkipAtomicValidation:        true,
		GossipThreshold:             gossipThreshold,
		PublishThreshold:            publishThreshold,
		GraylistThreshold:           graylistThreshold,
		AcceptPXThreshold:           0, // allowlisted, keyed peers: take PX from anyone not penalised
		OpportunisticGraftThreshold: 1,
	}
	return params, thresholds
}

// storeScores is gossipsub's periodic score inspector; the map is fresh on
// every call, so it can be published as is.
func (m *Host) storeScores(s map[peer.ID]float64) { m.scores.Store(&s) }

// PeerScore returns the gossipsub score of a peer as of the last snapshot
// (refreshed every score interval); ok is false for peers not scored.
func (m *Host) PeerScore(id peer.ID) (score float64, ok bool) {
	p := m.scores.Load()
	if p == nil {
		return 0, false
	}
	score, ok = (*p)[id]
	return score, ok
}

// Scores returns a copy of the last peer-score snapshot.
func (m *Host) Scores() map[peer.ID]float64 {
	p := m.scores.Load()
	if p == nil {
		return map[peer.ID]float64{}
	}
	return maps.Clone(*p)
}
