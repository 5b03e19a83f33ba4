package node

import (
	"context"
	"fmt"
	"time"

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
			if err := n.publish(ctx, wire.KindUpdate, a.Term, a.Round, Body{Update: a.Update}); err != nil {
				n.log.Warn("update manifest not sent", "round", a.Round, "err", err)
			}
			n.post(func() { n.apply(EvUploaded{Term: a.Term, Round: a.Round}) })
		})
	case ActPublishRound:
		n.goWork(func() {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			defer cancel()
			if err := n.publish(ctx, wire.KindRound, a.Term, a.Round, Body{Global: a.Global}); err != nil {
				n.log.Warn("round manifest not sent", "round", a.Round, "err", err)
			} else {
				n.log.Info("round published", "term", a.Term, "round", a.Round, "global", a.Global[:12])
			}
			n.post(func() { n.apply(EvPublished{Term: a.Term, Round: a.Round}) })
		})
	case ActArmDeadline:
		t := time.AfterFunc(n.cfg.RoundDeadline.D(), func() {
			n.post(func() { n.apply(EvDeadline{Term: a.Term, Round: a.Round}) })
		})
		n.goWork(func() { // stop the timer at shutdown so nothing posts into a closed node
			select {
			case <-n.ctx.Done():
				t.Stop()
			case <-time.After(n.cfg.RoundDeadline.D() + time.Second):
			}
		})
	case ActAggregate:
		n.startAggregate(a)
	case ActCheckpoint:
		h, err := storage.ParseHash(a.Global)
		if err == nil {
			err = n.saveCheckpoint(n.ctx, a.Term, a.Round, h)
		}
		if err != nil {
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
	out, err := n.trainer.Aggregate(ctx, a.Round, global, ups)
	if err != nil {
		return "", err
	}
	h, err := n.store.PutBlobBytes(ctx, out)
	if err != nil {
		return "", fmt.Errorf("store global: %w", err)
	}
	return h.String(), nil
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
