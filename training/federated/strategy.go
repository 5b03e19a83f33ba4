package federated

import (
	"fmt"
	"strings"
)

// Strategy names a federated method: ML-ECS, one of its ablations, or a baseline.
type Strategy string

// Strategies. The ablations switch one ML-ECS component off.
const (
	MLECS       Strategy = "mlecs"
	NoCCL       Strategy = "mlecs-no-ccl"
	NoAMT       Strategy = "mlecs-no-amt"
	NoMMA       Strategy = "mlecs-no-mma"
	NoSECCL     Strategy = "mlecs-no-seccl"
	Local       Strategy = "local"
	FedAvg      Strategy = "fedavg"
	FedProx     Strategy = "fedprox"
	Centralized Strategy = "centralized"
	CreamFL     Strategy = "creamfl"
	FedMKT      Strategy = "fedmkt"
)

// DefaultProxMu is FedProx's proximal weight μ: the middle of the grid {0.001, 0.01, 0.1} of the FedProx
// paper, small enough not to freeze the few local steps of a round.
const DefaultProxMu = 0.01

// DefaultDistillTopK is the number of tokens per position in FedMKT's exchanged distributions: the top-8
// of a softmax hold nearly all of its mass for a fine-tuned model, at a few bytes per token.
const DefaultDistillTopK = 8

// DefaultDistillAlpha is FedMKT's distillation weight α in (1−α)·CE + α·KL: an even mix, so that the
// partner's knowledge guides without replacing the labels of the public set.
const DefaultDistillAlpha = 0.5

// Strategies lists every strategy name ParseStrategy accepts.
func Strategies() []Strategy {
	return []Strategy{MLECS, NoCCL, NoAMT, NoMMA, NoSECCL, Local, FedAvg, FedProx, Centralized, CreamFL, FedMKT}
}

// ParseStrategy checks a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	for _, v := range Strategies() {
		if string(v) == s {
			return v, nil
		}
	}
	names := make([]string, 0, len(Strategies()))
	for _, v := range Strategies() {
		names = append(names, string(v))
	}
	return "", fmt.Errorf("%w: unknown strategy %q (want one of %s)", ErrConfig, s, strings.Join(names, ", "))
}

// Components are the switches of a strategy. They also decide what the payloads carry, by one rule: with
// communication on, a part travels only when a switch says the other side uses it (SendsLoRA, SendsReps,
// SendsPredictions, SendsKnowledge); the small header and the metrics always travel.
type Components struct {
	Communicate      bool    // edges and anchor exchange payloads (false: local and centralised)
	ShareLoRA        bool    // the shared LoRA is aggregated (false: only representations are exchanged)
	Ensemble         bool    // the anchor publishes the agreement-weighted ensemble of the edges' reps (CreamFL), not its own
	CCL              bool    // cross-modal contrastive loss in local training
	AMT              bool    // private + gated shared LoRA (false: one adapter, all of it shared)
	MMA              bool    // modality-aware aggregation weights (false: FedAvg weights)
	SECCL            bool    // SE-CCL alignment of fused representations, both directions
	SharePredictions bool    // edges upload their SLM's predictions on D'_j (ML-ECS's SE-CCL uplink)
	ProxMu           float64 // FedProx proximal weight on the shared LoRA (0: off)
	// Distill is FedMKT's mutual logit distillation on the public set: edges upload their top-K
	// distributions on D'_j, the anchor distils from their per-sample mean and publishes its own top-K on
	// D', edges distil from those; DistillTopK is K, DistillAlpha the weight α of the KL term.
	Distill      bool
	DistillTopK  int
	DistillAlpha float64
}

// SendsLoRA says whether the payloads carry the shared LoRA (the delta up, the global down).
func (c Components) SendsLoRA() bool { return c.Communicate && c.ShareLoRA }

// SendsReps says whether the payloads carry fused representations of the public set: SE-CCL is their
// only consumer (the edges' targets down, the anchor's targets up).
func (c Components) SendsReps() bool { return c.Communicate && c.SECCL }

// SendsKnowledge says whether the payloads carry top-K distributions on the public set (the edges' on
// D'_j up, the anchor's on D' down).
func (c Components) SendsKnowledge() bool { return c.Communicate && c.Distill }

// SendsPredictions says whether updates carry the SLM predictions on D'_j.
func (c Components) SendsPredictions() bool { return c.Communicate && c.SharePredictions }

// ComponentsOf returns the switches of a strategy. Baselines use the plain model (generation loss only,
// no CCL) with FedAvg weights and send only what their method uses (FedAvg/FedProx: the LoRA; CreamFL:
// representations; FedMKT: top-K distributions), as in their papers; centralised keeps ML-ECS's CCL since it is the upper
// bound of the same model trained on the union of the data.
func ComponentsOf(s Strategy) (Components, error) {
	full := Components{Communicate: true, ShareLoRA: true, CCL: true, AMT: true, MMA: true, SECCL: true, SharePredictions: true}
	switch s {
	case MLECS:
		return full, nil
	case NoCCL:
		full.CCL = false
		return full, nil
	case NoAMT:
		full.AMT = false
		return full, nil
	case NoMMA:
		full.MMA = false
		return full, nil
	case NoSECCL:
		// The predictions belong to SE-CCL's uplink, so they go with it: no public-set knowledge moves.
		full.SECCL, full.SharePredictions = false, false
		return full, nil
	case Local:
		return Components{}, nil
	case FedAvg:
		return Components{Communicate: true, ShareLoRA: true}, nil
	case FedProx:
		return Components{Communicate: true, ShareLoRA: true, ProxMu: DefaultProxMu}, nil
	case CreamFL:
		// CreamFL is built for heterogeneous models: no parameter averaging, knowledge moves only as
		// public-set representations (edges regularise towards the ensemble, the server distils from it).
		return Components{Communicate: true, SECCL: true, Ensemble: true}, nil
	case FedMKT:
		// FedMKT (FedCoLLM's logit variant) is built for heterogeneous models too: no parameter averaging,
		// knowledge moves only as next-token distributions on the public set, in both directions.
		return Components{Communicate: true, Distill: true, DistillTopK: DefaultDistillTopK, DistillAlpha: DefaultDistillAlpha}, nil
	case Centralized:
		return Components{CCL: true}, nil
	}
	_, err := ParseStrategy(string(s))
	return Components{}, err
}
