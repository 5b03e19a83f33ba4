// Package aggregate implements modality-aware aggregation (MMA) of shared-LoRA deltas on the anchor,
// and the plain rules the baselines need (FedAvg; coordinate-wise trimmed mean and median).
//
// An Aggregator is built once per run with the expected tensor layout (names and shapes of the shared
// LoRA) and a list of parameter groups. Each group is a set of tensor-name prefixes and the modalities
// its parameters depend on (the backbone LoRA depends on every modality; an encoder-side group on its
// modality only). Aggregate then, for one round:
//
//  1. validates every contribution and rejects, with a reason per edge, those with a bad edge id,
//     sample count or modality list, a tensor set or shape that differs from the layout, a non-finite
//     value, or an L2 norm above the absolute cap or above k x the round's median norm;
//  2. caps inflated sample counts (at a declared maximum and/or at f x the round's median);
//  3. per group, keeps the contributions eligible for it (holding at least one, or all, of the group's
//     modalities) and weights each by n_i x c_{i,g}, where n_i is its (capped) sample count and
//     c_{i,g} = |M_i ∩ M_g| the number of the group's modalities it holds (|M_i| for a group that
//     depends on every modality: the authors' "number of modalities a client holds"), normalised over
//     the eligible contributions;
//  4. combines each coordinate with the rule: weighted mean, weighted trimmed mean or weighted median.
//
// FedAvg (the MMA ablation) is WithFedAvg: weight n_i, every contribution in every group.
// The inputs are deltas, so a group that no contribution is eligible for aggregates to zero (no change).
// docs/method.md records these choices.
package aggregate
