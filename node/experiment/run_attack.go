package experiment

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/training/aggregate"
	"github.com/mlecs/mlecs/training/payload"
)

// Model-poisoning attacks an edge can run on its own update path (RunConfig.Attack): the first
// Attackers edges train honestly, then change the shared-LoRA delta of the update they upload.
const (
	AttackNone     = ""         // every edge is honest
	AttackSignFlip = "signflip" // upload -S x delta
	AttackScale    = "scale"    // upload S x delta
)

// Robust aggregation choices for the anchor (RunConfig.Robust); they apply to every communicating
// method of the run that shares the LoRA (ML-ECS keeps its modality-aware weights, FedAvg its sample
// weights).
const (
	RobustNone    = "none"    // weighted mean, no caps (the method as published)
	RobustTrimmed = "trimmed" // weighted trimmed mean (RunConfig.Trim per end) + norm and sample caps
	RobustMedian  = "median"  // weighted median + norm and sample caps
)

// Caps that the robust choices add to the rule: a delta with an L2 norm above robustNormFactor x the
// round's median norm is rejected, and a declared sample count above robustSampleFactor x the round's
// median is lowered to it. Honest edges of one run train the same steps on shares of one dataset, so
// their norms and counts sit well inside these factors.
const (
	robustNormFactor   = 3
	robustSampleFactor = 2
)

// validateAttack checks the attack and robust-aggregation fields.
func (c *RunConfig) validateAttack() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s: %v, want %s", ErrRunConfig, field, v, want)
	}
	switch {
	case c.Attack != AttackNone && c.Attack != AttackSignFlip && c.Attack != AttackScale:
		return bad("attack", c.Attack, `"", signflip or scale`)
	case c.Attack == AttackNone && c.Attackers != 0:
		return bad("attackers", c.Attackers, "0 without an attack")
	case c.Attack != AttackNone && (c.Attackers < 1 || c.Attackers > c.Edges):
		return bad("attackers", c.Attackers, fmt.Sprintf("1..%d (the edges)", c.Edges))
	case c.Attack != AttackNone && !(c.AttackScale > 0 && c.AttackScale <= 1e6):
		return bad("attack_scale", c.AttackScale, "in (0, 1e6]")
	case c.Robust != RobustNone && c.Robust != RobustTrimmed && c.Robust != RobustMedian:
		return bad("robust", c.Robust, "none, trimmed or median")
	case c.Robust == RobustTrimmed && !(c.Trim > 0 && c.Trim < 0.5):
		return bad("trim", c.Trim, "in (0, 0.5)")
	}
	return nil
}

// aggregationOptions are the anchor's extra aggregate options for c.Robust.
func (c *RunConfig) aggregationOptions() []aggregate.Option {
	caps := []aggregate.Option{aggregate.WithNormFactor(robustNormFactor), aggregate.WithSampleFactor(robustSampleFactor)}
	switch c.Robust {
	case RobustTrimmed:
		return append(caps, aggregate.WithTrimmedMean(c.Trim))
	case RobustMedian:
		return append(caps, aggregate.WithMedian())
	}
	return nil
}

// isAttacker says whether edge slot j (0-based) poisons its updates.
func (c *RunConfig) isAttacker(j int) bool { return c.Attack != AttackNone && j < c.Attackers }

// attackSettings are the attack and aggregation entries of the run settings.
func (c *RunConfig) attackSettings() map[string]string {
	s := map[string]string{"robust": c.Robust}
	if c.Robust == RobustTrimmed {
		s["trim"] = strconv.FormatFloat(c.Trim, 'g', -1, 64)
	}
	if c.Robust != RobustNone {
		s["robust_caps"] = fmt.Sprintf("norm <= %g x median, samples <= %g x median", float64(robustNormFactor), float64(robustSampleFactor))
	}
	if c.Attack == AttackNone {
		s["attack"] = "none"
		return s
	}
	s["attack"] = fmt.Sprintf("%s x%g by edge-1..edge-%d", c.Attack, c.AttackScale, c.Attackers)
	return s
}

// poisoner is an attacking edge's node.Trainer: it runs the honest trainer (which also evaluates and
// reports the honest round), then rewrites the shared-LoRA delta of the encoded update it uploads.
// Everything else in the update (sample count, reps, predictions) is left as trained.
type poisoner struct {
	node.Trainer
	attack   string
	scale    float32
	codec    payload.Codec
	maxBytes int64
}

func (p poisoner) LocalRound(ctx context.Context, round uint64, global []byte) ([]byte, error) {
	b, err := p.Trainer.LocalRound(ctx, round, global)
	if err != nil {
		return b, err
	}
	return poison(b, p.attack, p.scale, p.codec, p.maxBytes)
}

// poison decodes an encoded update, multiplies its LoRA delta by -scale (signflip) or scale and
// re-encodes it with codec.
func poison(b []byte, attack string, scale float32, codec payload.Codec, maxBytes int64) ([]byte, error) {
	u, _, err := payload.DecodeUpdate(bytes.NewReader(b), maxBytes)
	if err != nil {
		return nil, fmt.Errorf("attack: decode own update: %w", err)
	}
	f := scale
	if attack == AttackSignFlip {
		f = -scale
	}
	for i := range u.LoRA {
		d := slices.Clone(u.LoRA[i].Data)
		for j, v := range d {
			x := f * v
			if math.IsInf(float64(x), 0) { // stay encodable: the attack is a large delta, not an invalid one
				x = float32(math.Copysign(math.MaxFloat32, float64(x)))
			}
			d[j] = x
		}
		u.LoRA[i].Data = d
	}
	var buf bytes.Buffer
	if _, err := u.Encode(&buf, codec); err != nil {
		return nil, fmt.Errorf("attack: encode poisoned update: %w", err)
	}
	return buf.Bytes(), nil
}
