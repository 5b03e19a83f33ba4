// Package federated holds the federated strategies of mlecs as pure training code: ML-ECS (an Edge and
// an Anchor whose round methods exchange payload.Update and payload.Global values) and the baselines
// (local, FedAvg, FedProx, CreamFL, centralised) run with the same data, rounds and local steps. There is no
// networking here: the daemon moves the payloads; Sim runs rounds in memory through the real codecs
// (the package's tests use it; node/experiment runs the communicating methods over a real mesh).
//
// One ML-ECS round (DESIGN.md §3):
//
//	anchor:  Global{shared LoRA, fused reps of D'}             (Anchor.Round)
//	edge j:  merge shared LoRA (AMT), E steps on D_j (gen + CCL), steps on D'_j (gen + CCL + SE-CCL
//	         towards the anchor's reps), Update{shared-LoRA delta, fused reps of D'_j, predictions,
//	         metrics}                                           (Edge.LocalRound)
//	anchor:  validate + MMA the deltas, apply, tune its own model on D' (gen + CCL + SE-CCL towards the
//	         edges' reps), publish the next Global             (Anchor.Round)
//
// Each strategy's payloads carry only what its method uses, decided by its Components (SendsLoRA,
// SendsReps, SendsPredictions): FedAvg/FedProx the LoRA, CreamFL the reps, ML-ECS all of it.
//
// The "fused representation" exchanged is the mean over the P soft-prompt tokens of the connector's
// output (gpt2.Model.PrefixMean), the representation the backbone consumes; see docs/method.md.
package federated
