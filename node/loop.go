package node

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh"
	"github.com/mlecs/mlecs/mesh/wire"
	"github.com/mlecs/mlecs/storage"
)

// peerView is what heartbeats told us about a peer.
type peerView struct {
	role       Role
	modalities []string
	lastSeen   time.Time
	term       uint64
	round      uint64
}

// onTick runs every heartbeat interval: election, heartbeat, catch-up.
func (n *Node) onTick(now time.Time) {
	n.sampleAnon()
	if n.el.Tick(now) {
		// Persist the raised term before anyone hears the claim, so a restart never reuses it.
		if err := n.saveTerm(n.ctx, n.el.Term()); err != nil {
			n.log.Error("cannot persist term; not claiming", "term", n.el.Term(), "err", err)
			n.el.Release(now)
		} else {
			n.log.Info("claimed anchor lease", "term", n.el.Term(), "role", n.cfg.Role)
		}
	}
	n.syncElection(now)
	n.sendBeat(now)
	n.catchUp()
	if n.rs.Anchor == "" && now.Sub(n.localTick) >= n.cfg.RoundDeadline.D() {
		n.localTick = now
		n.apply(EvLocalTick{})
	}
	n.savePeers(n.ctx, now)
	n.maybePrune(now)
	live := 0
	for _, v := range n.peers {
		if now.Sub(v.lastSeen) < n.cfg.Lease.D() {
			live++
		}
	}
	n.m.livePeers.Set(float64(live))
}

// syncElection feeds a changed (term, anchor) from the election into the round state machine.
func (n *Node) syncElection(now time.Time) {
	term, anchor := n.el.Term(), n.el.Anchor(now)
	if term > n.fence.Load() {
		n.fence.Store(term)
		if err := n.saveTerm(n.ctx, term); err != nil {
			n.log.Warn("persist term", "term", term, "err", err)
		}
	}
	a := anchor
	n.anchorPtr.Store(&a)
	if term == n.rs.Term && anchor == n.rs.Anchor {
		return
	}
	n.m.anchorChanges.Inc()
	switch {
	case anchor == "" && term == n.rs.Term:
		n.lostAt = now
		n.log.Warn("anchor lost", "term", term, "anchor", n.rs.Anchor)
		n.apply(EvAnchorLost{})
	default:
		attrs := []any{"term", term, "anchor", anchor, "self", anchor == n.rs.Self}
		if !n.lostAt.IsZero() && anchor != "" {
			attrs = append(attrs, "failover", now.Sub(n.lostAt).Round(time.Millisecond))
			n.lostAt = time.Time{}
		}
		n.log.Info("anchor changed", attrs...)
		n.apply(EvTermChange{Term: term, Anchor: anchor})
	}
	isA := 0.0
	if n.rs.IsAnchor() {
		isA = 1
	}
	n.m.isAnchor.Set(isA)
	n.m.term.Set(float64(n.rs.Term))
}

// sendBeat publishes this interval's heartbeat: a lease renewal from the anchor, liveness from others.
func (n *Node) sendBeat(now time.Time) {
	b := Body{Role: n.cfg.Role, Modalities: n.cfg.Modalities, Anchor: n.el.Anchor(now), Global: n.rs.Global}
	if n.rs.Global != "" {
		if n.globalSize.hash != n.rs.Global {
			n.globalSize.hash, n.globalSize.size = n.rs.Global, n.blobSize(n.ctx, n.rs.Global)
		}
		b.Size = n.globalSize.size
	}
	kind, round := wire.KindHeartbeat, n.rs.GlobalRound
	if n.el.IsAnchor() {
		kind, round = wire.KindAnchor, n.rs.Round
		lease := n.el.LeaseLeft()
		b.LeaseMs, b.LeaseExpiry = lease.Milliseconds(), now.Add(lease).UnixMilli()
	}
	term := n.el.Term()
	n.goWork(func() {
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Heartbeat.D())
		defer cancel()
		if err := n.publish(ctx, kind, term, round, b); err != nil && n.ctx.Err() == nil {
			n.log.Debug("heartbeat not sent", "err", err)
		}
	})
}

// onMessage handles one validated control message.
func (n *Node) onMessage(msg mesh.Message) {
	env := msg.Envelope
	body, err := DecodeBody(env.Kind, env.Body)
	if err != nil {
		return // the policy already refused it; a race with a term change is harmless
	}
	now := time.Now()
	from := msg.From
	switch env.Kind {
	case wire.KindHeartbeat, wire.KindAnchor:
		claim := env.Kind == wire.KindAnchor
		v, _ := n.el.Observe(Beat{
			From: from.String(), Role: body.Role, Term: env.Term, Anchor: body.Anchor,
			Claim: claim && !body.Release, Release: claim && body.Release,
			LeaseLeft: time.Duration(body.LeaseMs) * time.Millisecond,
		}, now)
		if v == Fenced {
			n.m.refused.WithLabelValues(env.Kind.String(), "fenced").Inc()
			return
		}
		n.notePeer(from, body, env, now)
		n.syncElection(now)
		if body.Global != "" {
			n.noteGlobal(from, env.Term, env.Round, body.Global, body.Size)
		}
		if claim && !body.Release && from.String() == n.rs.Anchor {
			n.onManifest(from, env.Term, env.Round, body.Global, body.Size)
		}
	case wire.KindRound:
		n.onManifest(from, env.Term, env.Round, body.Global, body.Size)
	case wire.KindUpdate:
		n.onUpdate(from, env.Term, env.Round, body.Update, body.Size)
	}
}

func (n *Node) notePeer(from peer.ID, b Body, env *wire.Envelope, now time.Time) {
	v := n.peers[from]
	if v == nil {
		v = &peerView{}
		n.peers[from] = v
		n.log.Debug("peer heard", "peer", from, "role", b.Role)
	}
	v.role, v.modalities, v.lastSeen, v.term, v.round = b.Role, b.Modalities, now, env.Term, env.Round
}

// noteGlobal remembers the newest global model any peer says it holds, for catch-up.
func (n *Node) noteGlobal(from peer.ID, term, round uint64, global string, size int64) {
	h, err := storage.ParseHash(global)
	if err != nil || term < n.el.Term() {
		return
	}
	if n.best.hash.IsZero() || round > n.best.round {
		n.best = globalRef{term: term, round: round, hash: h, size: size, from: from}
	}
}

// catchUp fetches the newest global a peer announced when it is newer than ours (joining or restarted
// nodes, and a new anchor resuming from the newest state it can fetch).
func (n *Node) catchUp() {
	b := n.best
	if b.hash.IsZero() || b.round <= n.rs.GlobalRound || n.rs.Phase == PhaseAggregating {
		return
	}
	// Forget it: if the fetch fails, the next heartbeats name the newest global again (maybe from a
	// peer that does hold it), instead of one bad announcement blocking catch-up for good.
	n.best = globalRef{}
	n.ensureBlob(b.hash, b.size, b.from, func() {
		if err := n.saveCheckpoint(n.ctx, b.term, b.round, b.hash); err != nil {
			n.log.Warn("checkpoint caught-up global", "round", b.round, "err", err)
			return
		}
		n.log.Info("caught up", "round", b.round, "from", b.from)
		n.apply(EvGlobal{Round: b.round, Global: b.hash.String()})
	})
}

func (n *Node) onManifest(from peer.ID, term, round uint64, global string, size int64) {
	// Only the current anchor's manifests count; one of a newer term waits until the election has
	// heard that term's claim (within a heartbeat), so election and round state never disagree.
	if n.rs.IsAnchor() || from.String() != n.rs.Anchor || term != n.rs.Term {
		return
	}
	if n.rs.Active && round <= n.rs.Round {
		return // already taken up
	}
	h, err := storage.ParseHash(global)
	if err != nil {
		return
	}
	n.ensureBlob(h, size, from, func() {
		if round > n.rs.GlobalRound {
			// Checkpoint first: status must never show a round that a restart would not resume from.
			// Not applied, the round is taken up when the anchor names it again (its next lease
			// renewal carries it), with another attempt to save.
			if err := n.saveCheckpoint(n.ctx, term, round, h); err != nil {
				n.m.checkpointErrs.Inc()
				n.log.Error("round not taken up: checkpoint of its global failed; retrying on the next manifest",
					"term", term, "round", round, "err", err)
				return
			}
		}
		n.apply(EvRoundManifest{From: from.String(), Term: term, Round: round, Global: global})
	})
}

func (n *Node) onUpdate(from peer.ID, term, round uint64, update string, size int64) {
	s := n.rs
	if !s.IsAnchor() || (s.Phase != PhaseCollecting && s.Phase != PhasePublishing) || term != s.Term || round != s.Round {
		return
	}
	h, err := storage.ParseHash(update)
	if err != nil {
		return
	}
	n.ensureBlob(h, size, from, func() {
		n.apply(EvUpdateReceived{From: from.String(), Term: term, Round: round, Update: update})
	})
}

// ensureBlob runs then on the loop once blob h is stored locally, fetching it from peer `from` if needed
// (at most `size` bytes when the manifest declared a size). A fetch already in flight is not repeated;
// a failed one is retried when the blob is named again.
func (n *Node) ensureBlob(h storage.Hash, size int64, from peer.ID, then func()) {
	ok, err := n.store.HasBlob(n.ctx, h)
	if err != nil {
		n.log.Warn("blob lookup", "hash", h.String()[:12], "err", err)
		return
	}
	if ok {
		then()
		return
	}
	if n.fetching[h] {
		return
	}
	n.fetching[h] = true
	n.goWork(func() {
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		defer cancel()
		got, err := n.fetchBlob(ctx, from, h, size)
		n.post(func() {
			delete(n.fetching, h)
			if err != nil {
				n.m.blobFetchErrs.Inc()
				n.log.Warn("blob fetch failed", "hash", h.String()[:12], "from", from, "err", err)
				return
			}
			n.m.blobFetched.Add(float64(got))
			then()
		})
	})
}

// apply runs the state machine and carries out its actions.
func (n *Node) apply(ev Event) {
	var acts []Action
	n.rs, acts = Next(n.rs, ev)
	n.m.round.Set(float64(n.rs.GlobalRound))
	for _, a := range acts {
		n.do(a)
	}
}

// publishSnapshot copies loop-owned state for the control API.
func (n *Node) publishSnapshot() {
	peers := make(map[peer.ID]peerView, len(n.peers))
	for id, v := range n.peers {
		peers[id] = *v
	}
	s := n.rs
	s.Updates = nil
	n.snapMu.Lock()
	n.snap = snapshot{state: s, peers: peers}
	n.snapMu.Unlock()
}
