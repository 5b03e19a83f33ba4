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
)

// DefaultProxMu is FedProx's proximal weight μ: the middle of the grid {0.001, 0.01, 0.1} of the FedProx
// paper, small enough not to freeze the few local steps of a round.
const DefaultProxMu = 0.01

// Strategies lists every strategy name ParseStrategy accepts.
func Strategies() []Strategy {
	return []Strategy{MLECS, NoCCL, NoAMT, NoMMA, NoSECCL, Local, FedAvg, FedProx, Centralized, CreamFL}
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
// SendsPredictions); the small header and the metrics always travel.
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
}

// SendsLoRA says whether the payloads carry the shared LoRA (the delta up, the global down).
func (c Components) SendsLoRA() bool { return c.Communicate && c.ShareLoRA }

// SendsReps says whether the payloads carry fused representations of the public set: SE-CCL is their
// only consumer (the edges' targets down, the anchor's targets up).
func (c Components) SendsReps() bool { return c.Communicate && c.SECCL }

// SendsPredictions says whether updates carry the SLM predictions on D'_j.
func (c Components) SendsPredictions() bool { return c.Communicate && c.SharePredictions }

// ComponentsOf returns the switches of a strategy. Baselines use the plain model (generation loss only,
// no CCL) with FedAvg weights and send only what their method uses (FedAvg/FedProx: the LoRA; CreamFL:
// representations), as in their papers; centralised keeps ML-ECS's CCL since it is the upper
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
	case Centralized:
		return Components{CCL: true}, nil
	}
	_, err := ParseStrategy(string(s))
	return Components{}, err
}
