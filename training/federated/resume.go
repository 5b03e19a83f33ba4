package federated

import (
	"fmt"
	"slices"

	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/payload"
)

// SharedConfigOf returns the config of the shared LoRA that edges built from template exchange: the
// template's backbone config (rank r). With AMT the edge backbone is built at rank 2r and its shared
// branch has rank r again, so it is the same for every strategy. An anchor that starts without an edge
// of its own (InitShared) needs it.
func SharedConfigOf(template *model.Model[float32]) gpt2.Config {
	return template.Config().Backbone
}

// LastRound is the round of the last Global the anchor published (0 before its first Round).
func (a *Anchor) LastRound() uint64 { return a.round }

// Resume makes the anchor continue from a Global it did not publish itself: a node that was elected
// anchor, or one that restarted, is handed the newest global of the mesh. The global shared LoRA
// becomes g's (when g carries one; it must have the anchor's layout) and the next Round closes g's
// round, so updates answering g are aggregated instead of dropped as stale. The anchor's own model
// (tuned on D') is kept.
func (a *Anchor) Resume(g *payload.Global) error {
	if g == nil || g.Round == 0 {
		return fmt.Errorf("%w: anchor: resume from an empty global", ErrPayload)
	}
	if g.RunID != a.cfg.RunID {
		return fmt.Errorf("%w: anchor: resume from run %q, the anchor's is %q", ErrPayload, g.RunID, a.cfg.RunID)
	}
	if len(g.LoRA) > 0 {
		if len(g.LoRA) != len(a.global) {
			return fmt.Errorf("%w: anchor: resume: %d LoRA tensors, want %d", ErrPayload, len(g.LoRA), len(a.global))
		}
		for i, t := range g.LoRA {
			w := a.global[i]
			if t.Name != w.Name || !slices.Equal(t.Shape, w.Shape) || len(t.Data) != len(w.Data) {
				return fmt.Errorf("%w: anchor: resume: LoRA tensor %d is %s %v, want %s %v", ErrPayload, i, t.Name, t.Shape, w.Name, w.Shape)
			}
		}
		a.global = cloneTensors(g.LoRA)
	}
	a.round = g.Round
	return nil
}

// Rewind makes the edge forget that it trained the rounds after round, so that it trains round+1
// again: a new anchor re-announces the round the edge was training (and the node cancelled) or had
// trained from another anchor's global. The learner's weights are kept; the next LocalRound starts
// from that global's shared LoRA as always.
func (e *Edge) Rewind(round uint64) error {
	if round > e.round {
		return fmt.Errorf("%w: edge %s: rewind to round %d, it trained only %d", ErrConfig, e.cfg.ID, round, e.round)
	}
	e.round = round
	return nil
}
