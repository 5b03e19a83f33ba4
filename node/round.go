package node

import (
	"slices"
)

// The round state machine is a pure function: Next(state, event) -> (state, actions). The node's event
// loop feeds it events (messages, timer expiries, results of work) and carries out the actions (train,
// publish, aggregate, checkpoint, arm a deadline). Nothing here blocks or reads the clock, so every
// transition is covered by table tests.
//
// Round numbering: the manifest of round r names the global model G_r that the round starts from; edges
// train on G_r and send updates for r; the anchor aggregates them into G_{r+1}, checkpoints it as round
// r+1 and publishes the manifest of round r+1. Every message carries the term; anything from an older term
// is ignored (fencing), anything from a newer term is first applied as a term change.

// Phase is where a node is in the round protocol.
type Phase string

const (
	PhaseIdle        Phase = "idle"
	PhaseWaiting     Phase = "waiting-for-round"
	PhaseTraining    Phase = "training"
	PhaseUploading   Phase = "uploading"
	PhaseCollecting  Phase = "anchor-collecting"
	PhaseAggregating Phase = "aggregating"
	PhasePublishing  Phase = "publishing"
)

// Update is one edge's contribution to a round: its blob hash.
type Update struct {
	From string
	Hash string
}

// State is a node's round state. It is a value: Next never mutates its input.
type State struct {
	Phase  Phase
	Self   string
	Quorum int // updates that close a round before its deadline

	Term   uint64
	Anchor string // "" when no anchor is known

	// Round is the round being trained (edge) or collected (anchor); Active says it belongs to Term.
	Round  uint64
	Active bool

	// GlobalRound/Global name the newest global model stored locally (its blob hash).
	GlobalRound uint64
	Global      string

	Updates []Update // anchor: updates of Round, sorted by sender
}

// IsAnchor reports whether this node is the anchor in s.
func (s State) IsAnchor() bool { return s.Anchor != "" && s.Anchor == s.Self }

// Event is an input to Next.
type Event interface{ event() }

// EvStart starts the protocol (idle -> waiting-for-round).
type EvStart struct{}

// EvTermChange reports a new (term, anchor) from the election.
type EvTermChange struct {
	Term   uint64
	Anchor string
}

// EvAnchorLost reports that the anchor's lease expired without a successor.
type EvAnchorLost struct{}

// EvLocalTick is sent periodically; with no anchor to follow, an idle edge trains a local round on the
// newest global it holds (a node that cannot reach any anchor keeps training and catches up later).
type EvLocalTick struct{}

// EvGlobal reports a newer global model now stored locally (catch-up).
type EvGlobal struct {
	Round  uint64
	Global string
}

// EvRoundManifest is the anchor's announcement of a round; its global blob is already stored locally.
type EvRoundManifest struct {
	From   string
	Term   uint64
	Round  uint64
	Global string
}

// EvTrainingDone reports the local update of a round.
type EvTrainingDone struct {
	Term   uint64
	Round  uint64
	Update string
}

// EvTrainingFailed reports that local training of a round failed.
type EvTrainingFailed struct {
	Term  uint64
	Round uint64
}

// EvUploaded reports that the update manifest of a round was published.
type EvUploaded struct {
	Term  uint64
	Round uint64
}

// EvUpdateReceived is an edge's update manifest for a round; the anchor has fetched the blob.
type EvUpdateReceived struct {
	From   string
	Term   uint64
	Round  uint64
	Update string
}

// EvDeadline reports that a round's deadline passed.
type EvDeadline struct {
	Term  uint64
	Round uint64
}

// EvAggregated reports the new global model produced from a round's updates.
type EvAggregated struct {
	Term   uint64
	Round  uint64
	Global string
}

// EvAggregateFailed reports that aggregation of a round failed.
type EvAggregateFailed struct {
	Term  uint64
	Round uint64
}

// EvPublished reports that a round manifest was published.
type EvPublished struct {
	Term  uint64
	Round uint64
}

func (EvStart) event()           {}
func (EvTermChange) event()      {}
func (EvAnchorLost) event()      {}
func (EvLocalTick) event()       {}
func (EvGlobal) event()          {}
func (EvRoundManifest) event()   {}
func (EvTrainingDone) event()    {}
func (EvTrainingFailed) event()  {}
func (EvUploaded) event()        {}
func (EvUpdateReceived) event()  {}
func (EvDeadline) event()        {}
func (EvAggregated) event()      {}
func (EvAggregateFailed) event() {}
func (EvPublished) event()       {}

// Action is an output of Next for the event loop to carry out.
type Action interface{ action() }

// ActTrain starts local training of Round from the global blob Global.
type ActTrain struct {
	Term   uint64
	Round  uint64
	Global string
}

// ActCancelTraining abandons any local training in progress.
type ActCancelTraining struct{}

// ActPublishUpdate announces the local update of Round to the anchor.
type ActPublishUpdate struct {
	Term   uint64
	Round  uint64
	Update string
}

// ActPublishRound announces round Round starting from global blob Global.
type ActPublishRound struct {
	Term   uint64
	Round  uint64
	Global string
}

// ActArmDeadline starts the deadline timer of Round.
type ActArmDeadline struct {
	Term  uint64
	Round uint64
}

// ActAggregate combines Updates with the global blob Global into the next global.
type ActAggregate struct {
	Term    uint64
	Round   uint64
	Global  string
	Updates []Update
}

// ActCheckpoint persists the global blob Global as round Round of term Term.
type ActCheckpoint struct {
	Term   uint64
	Round  uint64
	Global string
}

func (ActTrain) action()          {}
func (ActCancelTraining) action() {}
func (ActPublishUpdate) action()  {}
func (ActPublishRound) action()   {}
func (ActArmDeadline) action()    {}
func (ActAggregate) action()      {}
func (ActCheckpoint) action()     {}

// Next is the round state machine.
func Next(s State, ev Event) (State, []Action) {
	if s.Phase == PhaseIdle {
		if _, ok := ev.(EvStart); ok {
			s.Phase = PhaseWaiting
			return enterTerm(s)
		}
		if g, ok := ev.(EvGlobal); ok {
			return applyGlobal(s, g.Round, g.Global), nil
		}
		if tc, ok := ev.(EvTermChange); ok && tc.Term >= s.Term {
			s.Term, s.Anchor = tc.Term, tc.Anchor
		}
		return s, nil
	}
	switch e := ev.(type) {
	case EvTermChange:
		if e.Term < s.Term || (e.Term == s.Term && e.Anchor == s.Anchor) {
			return s, nil
		}
		return changeTerm(s, e.Term, e.Anchor)
	case EvAnchorLost:
		if s.IsAnchor() {
			return s, nil // our own lease is renewed by our heartbeats; only a term change demotes us
		}
		s.Anchor = ""
		if s.Phase == PhaseUploading {
			s.Phase = PhaseWaiting // nobody to upload to; training goes on when an anchor appears
		}
		return s, nil
	case EvLocalTick:
		if s.Phase != PhaseWaiting || s.Anchor != "" || s.Global == "" {
			return s, nil
		}
		s.Phase, s.Round, s.Active = PhaseTraining, s.GlobalRound, false
		return s, []Action{ActTrain{Term: s.Term, Round: s.Round, Global: s.Global}}
	case EvGlobal:
		prev := s.GlobalRound
		s = applyGlobal(s, e.Round, e.Global)
		if s.IsAnchor() && s.GlobalRound > prev && s.GlobalRound > s.Round &&
			(s.Phase == PhaseCollecting || s.Phase == PhasePublishing) {
			// A new anchor found a newer global than the one it started from: resume from it.
			s.Phase, s.Round, s.Updates = PhasePublishing, s.GlobalRound, nil
			return s, []Action{ActPublishRound{Term: s.Term, Round: s.Round, Global: s.Global}}
		}
		return s, nil
	case EvRoundManifest:
		return onManifest(s, e)
	case EvTrainingDone:
		if s.Phase != PhaseTraining || e.Term != s.Term || e.Round != s.Round {
			return s, nil
		}
		if s.Anchor == "" {
			s.Phase = PhaseWaiting
			return s, nil
		}
		s.Phase = PhaseUploading
		return s, []Action{ActPublishUpdate{Term: s.Term, Round: s.Round, Update: e.Update}}
	case EvTrainingFailed:
		if s.Phase == PhaseTraining && e.Term == s.Term && e.Round == s.Round {
			s.Phase = PhaseWaiting
		}
		return s, nil
	case EvUploaded:
		if s.Phase == PhaseUploading && e.Term == s.Term && e.Round == s.Round {
			s.Phase = PhaseWaiting
		}
		return s, nil
	case EvPublished:
		if s.Phase != PhasePublishing || e.Term != s.Term || e.Round != s.Round {
			return s, nil
		}
		s.Phase = PhaseCollecting
		acts := []Action{ActArmDeadline{Term: s.Term, Round: s.Round}}
		if len(s.Updates) >= s.Quorum {
			// Fast edges answered the manifest before our own publish completed.
			s, more := aggregate(s)
			return s, append(acts, more...)
		}
		return s, acts
	case EvUpdateReceived:
		return onUpdate(s, e)
	case EvDeadline:
		if s.Phase != PhaseCollecting || e.Term != s.Term || e.Round != s.Round {
			return s, nil
		}
		if len(s.Updates) == 0 {
			// Nobody answered: announce the same round again and wait another deadline.
			s.Phase = PhasePublishing
			return s, []Action{ActPublishRound{Term: s.Term, Round: s.Round, Global: s.Global}}
		}
		return aggregate(s)
	case EvAggregated:
		if s.Phase != PhaseAggregating || e.Term != s.Term || e.Round != s.Round {
			return s, nil
		}
		if s.GlobalRound > e.Round {
			// A newer global arrived while aggregating: drop this result and resume from that one.
			s.Phase, s.Round, s.Updates = PhasePublishing, s.GlobalRound, nil
			return s, []Action{ActPublishRound{Term: s.Term, Round: s.Round, Global: s.Global}}
		}
		s.Round, s.GlobalRound, s.Global = e.Round+1, e.Round+1, e.Global
		s.Phase, s.Updates = PhasePublishing, nil
		return s, []Action{
			ActCheckpoint{Term: s.Term, Round: s.Round, Global: s.Global},
			ActPublishRound{Term: s.Term, Round: s.Round, Global: s.Global},
		}
	case EvAggregateFailed:
		if s.Phase != PhaseAggregating || e.Term != s.Term || e.Round != s.Round {
			return s, nil
		}
		s.Phase, s.Updates = PhasePublishing, nil
		return s, []Action{ActPublishRound{Term: s.Term, Round: s.Round, Global: s.Global}}
	}
	return s, nil
}

func applyGlobal(s State, round uint64, global string) State {
	if global != "" && (s.Global == "" || round > s.GlobalRound) {
		s.GlobalRound, s.Global = round, global
	}
	return s
}

// changeTerm moves to a new (term, anchor): an anchor stops collecting, an edge drops work of the old term.
func changeTerm(s State, term uint64, anchor string) (State, []Action) {
	var acts []Action
	if s.Phase == PhaseTraining {
		acts = append(acts, ActCancelTraining{})
	}
	s.Term, s.Anchor = term, anchor
	s.Phase, s.Active, s.Updates = PhaseWaiting, false, nil
	s, more := enterTerm(s)
	return s, append(acts, more...)
}

// enterTerm starts the anchor's first round of a term from the newest global it holds.
func enterTerm(s State) (State, []Action) {
	if !s.IsAnchor() || s.Global == "" {
		return s, nil
	}
	s.Phase, s.Round, s.Active = PhasePublishing, s.GlobalRound, true
	return s, []Action{ActPublishRound{Term: s.Term, Round: s.Round, Global: s.Global}}
}

func onManifest(s State, e EvRoundManifest) (State, []Action) {
	if e.Term < s.Term || e.Global == "" {
		return s, nil
	}
	var acts []Action
	if e.Term > s.Term {
		s, acts = changeTerm(s, e.Term, e.From)
	}
	if s.IsAnchor() || e.From != s.Anchor {
		return s, acts
	}
	s = applyGlobal(s, e.Round, e.Global)
	if s.Active && e.Round <= s.Round {
		return s, acts // a repeat of a round already taken up in this term
	}
	if s.Phase == PhaseTraining {
		acts = append(acts, ActCancelTraining{})
	}
	s.Phase, s.Round, s.Active = PhaseTraining, e.Round, true
	return s, append(acts, ActTrain{Term: s.Term, Round: e.Round, Global: e.Global})
}

func onUpdate(s State, e EvUpdateReceived) (State, []Action) {
	// Updates are taken while publishing too: an edge may answer the manifest (or the lease renewal
	// that carries it) before the anchor's own publish has completed.
	collecting := s.Phase == PhaseCollecting || s.Phase == PhasePublishing
	if !collecting || !s.IsAnchor() || e.Term != s.Term || e.Round != s.Round || e.Update == "" {
		return s, nil
	}
	i, found := slices.BinarySearchFunc(s.Updates, e.From, func(u Update, id string) int {
		switch {
		case u.From < id:
			return -1
		case u.From > id:
			return 1
		}
		return 0
	})
	if found {
		return s, nil // one update per edge per round
	}
	s.Updates = slices.Insert(slices.Clone(s.Updates), i, Update{From: e.From, Hash: e.Update})
	if len(s.Updates) < s.Quorum || s.Phase == PhasePublishing {
		return s, nil
	}
	return aggregate(s)
}

func aggregate(s State) (State, []Action) {
	s.Phase = PhaseAggregating
	return s, []Action{ActAggregate{Term: s.Term, Round: s.Round, Global: s.Global, Updates: slices.Clone(s.Updates)}}
}
