package node

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh/wire"
	"github.com/mlecs/mlecs/storage"
)

// do carries out one action of the state machine. Anything slow runs on a worker goroutine and reports
// back to the loop with post.
func (n *Node) do(a Action) {
	switch a := a.(type) {
	case ActTrain:
		n.startTraining(a)
	case ActCancelTraining:
		if n.trainCancel != nil {
			n.trainCancel()
			n.trainCancel = nil
		}
		n.trainSeq++
	case ActPublishUpdate:
		n.goWork(func() {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			defer cancel()
			b := Body{Update: a.Update, Size: n.blobSize(ctx, a.Update)}
			if err := n.publish(ctx, wire.KindUpdate, a.Term, a.Round, b); err != nil {
				n.log.Warn("update manifest not sent", "round", a.Round, "err", err)
			}
			n.post(func() { n.apply(EvUploaded{Term: a.Term, Round: a.Round}) })
		})
	case ActPublishRound:
		n.goWork(func() {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			defer cancel()
			b := Body{Global: a.Global, Size: n.blobSize(ctx, a.Global)}
			if err := n.publish(ctx, wire.KindRound, a.Term, a.Round, b); err != nil {
				n.log.Warn("round manifest not sent", "round", a.Round, "err", err)
			} else {
				n.log.Info("round published", "term", a.Term, "round", a.Round, "global", a.Global[:12])
			}
			n.post(func() { n.apply(EvPublished{Term: a.Term, Round: a.Round}) })
		})
	case ActArmDeadline:
		// One timer, owned by the loop: re-arming stops the previous round's, closing stops it, so no
		// goroutine waits out a deadline (a goroutine per round would pile up with long deadlines).
		if n.deadline != nil {
			n.deadline.Stop()
		}
		n.deadline = time.AfterFunc(n.cfg.RoundDeadline.D(), func() {
			n.post(func() { n.apply(EvDeadline{Term: a.Term, Round: a.Round}) })
		})
	case ActAggregate:
		n.startAggregate(a)
	case ActCheckpoint:
		h, err := storage.ParseHash(a.Global)
		if err == nil {
			err = n.saveCheckpoint(n.ctx, a.Term, a.Round, h)
		}
		if err != nil {
			n.m.checkpointErrs.Inc()
			n.log.Error("checkpoint", "term", a.Term, "round", a.Round, "err", err)
		}
	}
}

func (n *Node) startTraining(a ActTrain) {
	if n.trainCancel != nil {
		n.trainCancel()
	}
	ctx, cancel := context.WithCancel(n.ctx)
	n.trainCancel = cancel
	n.trainSeq++
	seq := n.trainSeq
	n.goWork(func() {
		defer cancel()
		upd, err := n.trainRound(ctx, a)
		n.post(func() {
			if seq != n.trainSeq {
				return // superseded or cancelled: its result must not touch the current round
			}
			if err != nil {
				if ctx.Err() == nil {
					n.log.Warn("local training failed", "round", a.Round, "err", err)
				}
				n.apply(EvTrainingFailed{Term: a.Term, Round: a.Round})
				return
			}
			n.m.localRounds.Inc()
			n.lastUpdate = upd
			n.log.Debug("local round done", "round", a.Round, "update", upd[:12])
			n.apply(EvTrainingDone{Term: a.Term, Round: a.Round, Update: upd})
		})
	})
}

func (n *Node) trainRound(ctx context.Context, a ActTrain) (string, error) {
	global, err := n.readBlob(ctx, a.Global)
	if err != nil {
		return "", fmt.Errorf("read global of round %d: %w", a.Round, err)
	}
	upd, err := n.trainer.LocalRound(ctx, a.Round, global)
	if err != nil {
		return "", err
	}
	h, err := n.store.PutBlobBytes(ctx, upd)
	if err != nil {
		return "", fmt.Errorf("store update: %w", err)
	}
	// Counted, not taken from a.Round: an edge without an anchor trains round after round on the same
	// global. Saved before the update is announced; a superseded training (ctx cancelled) is not saved.
	trained := n.localRounds.Add(1)
	if st, ok := n.trainer.(StatefulTrainer); ok && n.cfg.learnerDue(trained) && ctx.Err() == nil {
		n.saveLearner(ctx, st, a.Term, a.Round)
	}
	return h.String(), nil
}

func (n *Node) startAggregate(a ActAggregate) {
	// The next round starts no sooner than min_round_interval after this one did: the aggregate is
	// computed now, but its result (and so the next manifest) waits.
	notBefore := n.roundAt.Add(n.cfg.MinRoundInterval.D())
	n.goWork(func() {
		g, err := n.aggregate(n.ctx, a)
		if err == nil {
			if d := time.Until(notBefore); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-n.ctx.Done():
					t.Stop()
					return
				}
			}
		}
		n.post(func() {
			if err != nil {
				n.log.Warn("aggregation failed", "round", a.Round, "err", err)
				n.apply(EvAggregateFailed{Term: a.Term, Round: a.Round})
				return
			}
			n.m.roundsDone.Inc()
			n.m.updatesIn.Add(float64(len(a.Updates)))
			n.log.Info("round aggregated", "term", a.Term, "round", a.Round, "updates", len(a.Updates), "global", g[:12])
			n.recordMetric("updates_per_round", a.Round, float64(len(a.Updates)))
			n.roundAt = time.Now()
			n.apply(EvAggregated{Term: a.Term, Round: a.Round, Global: g})
		})
	})
}

func (n *Node) aggregate(ctx context.Context, a ActAggregate) (string, error) {
	global, err := n.readBlob(ctx, a.Global)
	if err != nil {
		return "", fmt.Errorf("read global: %w", err)
	}
	ups := make([][]byte, 0, len(a.Updates))
	for _, u := range a.Updates {
		b, err := n.readBlob(ctx, u.Hash)
		if err != nil {
			return "", fmt.Errorf("read update from %s: %w", u.From, err)
		}
		ups = append(ups, b)
	}
	var out []byte
	if j, ok := n.trainer.(JudgedAggregator); ok {
		var refused []Refusal
		out, refused, err = j.AggregateJudged(ctx, a.Round, global, ups)
		n.penalize(a, refused) // also when the round failed: every update may have been refused
	} else {
		out, err = n.trainer.Aggregate(ctx, a.Round, global, ups)
	}
	if err != nil {
		return "", err
	}
	h, err := n.store.PutBlobBytes(ctx, out)
	if err != nil {
		return "", fmt.Errorf("store global: %w", err)
	}
	return h.String(), nil
}

// penalize lowers the mesh score of the sender of each update the aggregation refused or capped, and
// logs and counts it. Safe on a worker goroutine: the mesh's penalties and the metrics are locked.
func (n *Node) penalize(a ActAggregate, refused []Refusal) {
	for _, r := range refused {
		if r.Index < 0 || r.Index >= len(a.Updates) {
			n.log.Error("aggregation refused an update it was not given", "round", a.Round, "index", r.Index, "reason", r.Reason)
			continue
		}
		u := a.Updates[r.Index]
		n.m.refused.WithLabelValues("update", r.Reason).Inc()
		id, err := peer.Decode(u.From)
		if err != nil {
			n.log.Warn("update refused; sender id unreadable", "round", a.Round, "from", u.From, "reason", r.Reason, "err", err)
			continue
		}
		n.log.Warn("update refused by aggregation", "round", a.Round, "peer", id, "update", u.Hash[:min(12, len(u.Hash))], "reason", r.Reason)
		n.host.Penalize(id, r.Reason)
	}
}

// blobSize is the byte length of a stored blob, declared in the manifests that name it; 0 (not
// declared) when it cannot be read.
func (n *Node) blobSize(ctx context.Context, hash string) int64 {
	h, err := storage.ParseHash(hash)
	if err != nil {
		return 0
	}
	r, err := n.store.OpenBlob(ctx, h)
	if err != nil {
		return 0
	}
	defer r.Close()
	return r.Size()
}

func (n *Node) readBlob(ctx context.Context, hash string) ([]byte, error) {
	h, err := storage.ParseHash(hash)
	if err != nil {
		return nil, err
	}
	return n.store.ReadBlob(ctx, h)
}

// publish wraps a body in an envelope of kind k and gossips it.
func (n *Node) publish(ctx context.Context, k wire.Kind, term, round uint64, b Body) error {
	body, err := b.Encode()
	if err != nil {
		return err
	}
	return n.host.Publish(ctx, &wire.Envelope{Kind: k, Term: term, Round: round, Body: body})
}
