package node

import (
	"reflect"
	"testing"
)

const (
	hA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	hC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	hD = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
)

func TestNext(t *testing.T) {
	edge := State{Phase: PhaseWaiting, Self: "e1", Quorum: 2, Term: 3, Anchor: "a", GlobalRound: 4, Global: hA}
	training := edge
	training.Phase, training.Round, training.Active, training.GlobalRound, training.Global = PhaseTraining, 5, true, 5, hB
	uploading := training
	uploading.Phase = PhaseUploading
	anchor := State{Phase: PhaseCollecting, Self: "a", Quorum: 2, Term: 3, Anchor: "a", Round: 4, Active: true, GlobalRound: 4, Global: hA}
	oneUpdate := anchor
	oneUpdate.Updates = []Update{{From: "e2", Hash: hC}}
	aggregating := oneUpdate
	aggregating.Phase = PhaseAggregating
	aggregating.Updates = []Update{{From: "e1", Hash: hB}, {From: "e2", Hash: hC}}

	with := func(s State, f func(*State)) State { f(&s); return s }

	tests := []struct {
		name  string
		in    State
		ev    Event
		want  State
		wantA []Action
	}{
		{"idle ignores manifests", State{Phase: PhaseIdle, Self: "e1"},
			EvRoundManifest{From: "a", Term: 1, Round: 1, Global: hA},
			State{Phase: PhaseIdle, Self: "e1"}, nil},
		{"idle records newer global", State{Phase: PhaseIdle, Self: "e1"}, EvGlobal{Round: 2, Global: hA},
			State{Phase: PhaseIdle, Self: "e1", GlobalRound: 2, Global: hA}, nil},
		{"start edge waits", State{Phase: PhaseIdle, Self: "e1"}, EvStart{},
			State{Phase: PhaseWaiting, Self: "e1"}, nil},
		{"start as anchor publishes held global", State{Phase: PhaseIdle, Self: "a", Term: 2, Anchor: "a", GlobalRound: 7, Global: hA},
			EvStart{},
			State{Phase: PhasePublishing, Self: "a", Term: 2, Anchor: "a", Round: 7, Active: true, GlobalRound: 7, Global: hA},
			[]Action{ActPublishRound{Term: 2, Round: 7, Global: hA}}},
		{"manifest starts training", edge, EvRoundManifest{From: "a", Term: 3, Round: 5, Global: hB},
			with(edge, func(s *State) { s.Phase, s.Round, s.Active, s.GlobalRound, s.Global = PhaseTraining, 5, true, 5, hB }),
			[]Action{ActTrain{Term: 3, Round: 5, Global: hB}}},
		{"manifest from non-anchor ignored", edge, EvRoundManifest{From: "x", Term: 3, Round: 5, Global: hB}, edge, nil},
		{"manifest of older term fenced", edge, EvRoundManifest{From: "a", Term: 2, Round: 9, Global: hB}, edge, nil},
		{"manifest of newer term adopts anchor and trains", edge, EvRoundManifest{From: "b", Term: 4, Round: 5, Global: hB},
			with(edge, func(s *State) {
				s.Term, s.Anchor, s.Phase, s.Round, s.Active, s.GlobalRound, s.Global = 4, "b", PhaseTraining, 5, true, 5, hB
			}),
			[]Action{ActTrain{Term: 4, Round: 5, Global: hB}}},
		{"repeated manifest ignored", uploading, EvRoundManifest{From: "a", Term: 3, Round: 5, Global: hB}, uploading, nil},
		{"newer manifest while training restarts", training, EvRoundManifest{From: "a", Term: 3, Round: 6, Global: hC},
			with(training, func(s *State) { s.Round, s.GlobalRound, s.Global = 6, 6, hC }),
			[]Action{ActCancelTraining{}, ActTrain{Term: 3, Round: 6, Global: hC}}},
		{"training done uploads", training, EvTrainingDone{Term: 3, Round: 5, Update: hD},
			uploading, []Action{ActPublishUpdate{Term: 3, Round: 5, Update: hD}}},
		{"stale training result dropped", training, EvTrainingDone{Term: 3, Round: 4, Update: hD}, training, nil},
		{"training done without anchor keeps result local", with(training, func(s *State) { s.Anchor = "" }),
			EvTrainingDone{Term: 3, Round: 5, Update: hD},
			with(training, func(s *State) { s.Anchor, s.Phase = "", PhaseWaiting }), nil},
		{"training failed waits", training, EvTrainingFailed{Term: 3, Round: 5},
			with(training, func(s *State) { s.Phase = PhaseWaiting }), nil},
		{"uploaded waits", uploading, EvUploaded{Term: 3, Round: 5},
			with(uploading, func(s *State) { s.Phase = PhaseWaiting }), nil},
		{"anchor lost while uploading", uploading, EvAnchorLost{},
			with(uploading, func(s *State) { s.Phase, s.Anchor = PhaseWaiting, "" }), nil},
		{"anchor lost while training keeps training", training, EvAnchorLost{},
			with(training, func(s *State) { s.Anchor = "" }), nil},
		{"term change cancels training", training, EvTermChange{Term: 4, Anchor: "b"},
			with(training, func(s *State) { s.Term, s.Anchor, s.Phase, s.Active = 4, "b", PhaseWaiting, false }),
			[]Action{ActCancelTraining{}}},
		{"older term change ignored", training, EvTermChange{Term: 2, Anchor: "b"}, training, nil},
		{"elected: edge becomes anchor and publishes", edge, EvTermChange{Term: 4, Anchor: "e1"},
			with(edge, func(s *State) { s.Term, s.Anchor, s.Phase, s.Round, s.Active = 4, "e1", PhasePublishing, 4, true }),
			[]Action{ActPublishRound{Term: 4, Round: 4, Global: hA}}},
		{"published arms deadline", with(anchor, func(s *State) { s.Phase = PhasePublishing }), EvPublished{Term: 3, Round: 4},
			anchor, []Action{ActArmDeadline{Term: 3, Round: 4}}},
		{"update while publishing is kept", with(anchor, func(s *State) { s.Phase = PhasePublishing }),
			EvUpdateReceived{From: "e2", Term: 3, Round: 4, Update: hC},
			with(oneUpdate, func(s *State) { s.Phase = PhasePublishing }), nil},
		{"published with quorum already in aggregates", with(aggregating, func(s *State) { s.Phase = PhasePublishing }),
			EvPublished{Term: 3, Round: 4}, aggregating,
			[]Action{ActArmDeadline{Term: 3, Round: 4},
				ActAggregate{Term: 3, Round: 4, Global: hA, Updates: []Update{{From: "e1", Hash: hB}, {From: "e2", Hash: hC}}}}},
		{"edge ignores updates", edge, EvUpdateReceived{From: "e2", Term: 3, Round: 4, Update: hC}, edge, nil},
		{"update below quorum collected", anchor, EvUpdateReceived{From: "e2", Term: 3, Round: 4, Update: hC}, oneUpdate, nil},
		{"duplicate update ignored", oneUpdate, EvUpdateReceived{From: "e2", Term: 3, Round: 4, Update: hD}, oneUpdate, nil},
		{"update of old term fenced", oneUpdate, EvUpdateReceived{From: "e1", Term: 2, Round: 4, Update: hB}, oneUpdate, nil},
		{"update of other round ignored", oneUpdate, EvUpdateReceived{From: "e1", Term: 3, Round: 3, Update: hB}, oneUpdate, nil},
		{"quorum reached aggregates sorted", oneUpdate, EvUpdateReceived{From: "e1", Term: 3, Round: 4, Update: hB},
			aggregating,
			[]Action{ActAggregate{Term: 3, Round: 4, Global: hA, Updates: []Update{{From: "e1", Hash: hB}, {From: "e2", Hash: hC}}}}},
		{"deadline with updates aggregates", oneUpdate, EvDeadline{Term: 3, Round: 4},
			with(oneUpdate, func(s *State) { s.Phase = PhaseAggregating }),
			[]Action{ActAggregate{Term: 3, Round: 4, Global: hA, Updates: []Update{{From: "e2", Hash: hC}}}}},
		{"deadline without updates republishes", anchor, EvDeadline{Term: 3, Round: 4},
			with(anchor, func(s *State) { s.Phase = PhasePublishing }),
			[]Action{ActPublishRound{Term: 3, Round: 4, Global: hA}}},
		{"stale deadline ignored", anchor, EvDeadline{Term: 3, Round: 3}, anchor, nil},
		{"aggregated checkpoints and publishes next round", aggregating, EvAggregated{Term: 3, Round: 4, Global: hD},
			with(anchor, func(s *State) { s.Phase, s.Round, s.GlobalRound, s.Global = PhasePublishing, 5, 5, hD }),
			[]Action{ActCheckpoint{Term: 3, Round: 5, Global: hD}, ActPublishRound{Term: 3, Round: 5, Global: hD}}},
		{"aggregate failed republishes", aggregating, EvAggregateFailed{Term: 3, Round: 4},
			with(anchor, func(s *State) { s.Phase = PhasePublishing }),
			[]Action{ActPublishRound{Term: 3, Round: 4, Global: hA}}},
		{"anchor fenced by newer term steps down", aggregating, EvTermChange{Term: 4, Anchor: "b"},
			with(anchor, func(s *State) { s.Phase, s.Term, s.Anchor, s.Active = PhaseWaiting, 4, "b", false }), nil},
		{"anchor ignores its own lease loss", anchor, EvAnchorLost{}, anchor, nil},
		{"anchor ignores manifests", anchor, EvRoundManifest{From: "a", Term: 3, Round: 9, Global: hB}, anchor, nil},
		{"anchor resumes from a newer global", anchor, EvGlobal{Round: 9, Global: hB},
			with(anchor, func(s *State) { s.Phase, s.Round, s.GlobalRound, s.Global = PhasePublishing, 9, 9, hB }),
			[]Action{ActPublishRound{Term: 3, Round: 9, Global: hB}}},
		{"aggregate overtaken by a newer global", with(aggregating, func(s *State) { s.GlobalRound, s.Global = 9, hB }),
			EvAggregated{Term: 3, Round: 4, Global: hD},
			with(anchor, func(s *State) { s.Phase, s.Round, s.GlobalRound, s.Global = PhasePublishing, 9, 9, hB }),
			[]Action{ActPublishRound{Term: 3, Round: 9, Global: hB}}},
		{"no anchor: local tick trains locally", with(edge, func(s *State) { s.Anchor = "" }), EvLocalTick{},
			with(edge, func(s *State) { s.Anchor, s.Phase, s.Round = "", PhaseTraining, 4 }),
			[]Action{ActTrain{Term: 3, Round: 4, Global: hA}}},
		{"local tick ignored with an anchor", edge, EvLocalTick{}, edge, nil},
		{"local tick ignored while training", with(training, func(s *State) { s.Anchor = "" }), EvLocalTick{},
			with(training, func(s *State) { s.Anchor = "" }), nil},
		{"older global not applied", edge, EvGlobal{Round: 2, Global: hB}, edge, nil},
		{"newer global applied", edge, EvGlobal{Round: 8, Global: hB},
			with(edge, func(s *State) { s.GlobalRound, s.Global = 8, hB }), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inCopy := tc.in
			inCopy.Updates = append([]Update(nil), tc.in.Updates...)
			got, acts := Next(tc.in, tc.ev)
			if !reflect.DeepEqual(normalise(got), normalise(tc.want)) {
				t.Errorf("state:\n got %+v\nwant %+v", got, tc.want)
			}
			if !reflect.DeepEqual(acts, tc.wantA) {
				t.Errorf("actions:\n got %#v\nwant %#v", acts, tc.wantA)
			}
			if !reflect.DeepEqual(normalise(tc.in), normalise(inCopy)) {
				t.Errorf("Next mutated its input: %+v", tc.in)
			}
		})
	}
}

// normalise treats a nil and an empty update list alike.
func normalise(s State) State {
	if len(s.Updates) == 0 {
		s.Updates = nil
	}
	return s
}

// TestNextFullRound drives one anchor and two edges through a round by hand.
func TestNextFullRound(t *testing.T) {
	a := State{Phase: PhaseIdle, Self: "a", Quorum: 2, GlobalRound: 0, Global: hA}
	e1 := State{Phase: PhaseIdle, Self: "e1", Quorum: 2}
	e2 := State{Phase: PhaseIdle, Self: "e2", Quorum: 2}
	var acts []Action
	a, _ = Next(a, EvStart{})
	e1, _ = Next(e1, EvStart{})
	e2, _ = Next(e2, EvStart{})
	a, acts = Next(a, EvTermChange{Term: 1, Anchor: "a"})
	pub := acts[0].(ActPublishRound)
	a, _ = Next(a, EvPublished{Term: pub.Term, Round: pub.Round})
	for i, e := range []*State{&e1, &e2} {
		*e, _ = Next(*e, EvTermChange{Term: 1, Anchor: "a"})
		var ea []Action
		*e, ea = Next(*e, EvRoundManifest{From: "a", Term: 1, Round: pub.Round, Global: pub.Global})
		tr := ea[0].(ActTrain)
		upd := []string{hB, hC}[i]
		*e, ea = Next(*e, EvTrainingDone{Term: tr.Term, Round: tr.Round, Update: upd})
		up := ea[0].(ActPublishUpdate)
		a, acts = Next(a, EvUpdateReceived{From: e.Self, Term: up.Term, Round: up.Round, Update: up.Update})
		*e, _ = Next(*e, EvUploaded{Term: up.Term, Round: up.Round})
	}
	ag, ok := acts[0].(ActAggregate)
	if !ok || len(ag.Updates) != 2 {
		t.Fatalf("quorum of 2 did not aggregate: %#v", acts)
	}
	a, acts = Next(a, EvAggregated{Term: 1, Round: 0, Global: hD})
	if a.GlobalRound != 1 || a.Global != hD || len(acts) != 2 {
		t.Fatalf("after aggregation: %+v %#v", a, acts)
	}
	if e1.Phase != PhaseWaiting || e2.Phase != PhaseWaiting {
		t.Fatalf("edges not waiting: %s %s", e1.Phase, e2.Phase)
	}
}
