// Package model assembles the ML-ECS model M = {E, C, B} of one node and its
// single-node training loop.
//
// Forward pass of one batch (shapes for batch B, K modality slots):
//
//	per modality k: the samples that hold k (a compact sub-batch) -> encoder -> v_k [n_k, d_s]
//	connector(v_1..v_K, present [B,K]) -> soft [B, P*C], fused [B, Df]
//	backbone([soft ; instruction ; target], loss on target tokens + EOT)
//	CCL: Gram-volume InfoNCE of the L2-normalised v_k against an anchor vector
//
// A sample that lacks modality k is never encoded for k: the encoder runs on the
// compact sub-batch of samples that hold k, so it gets exactly zero gradient from
// the others, and the connector fills the slot with its learned "missing"
// embedding (never zeros posing as data).
//
// Choices the paper leaves open (see docs/results-single-node.md):
//   - Instruction: the text "Describe:" (DefaultInstruction) is tokenised and placed
//     after the P soft tokens; generation continues after it.
//   - CCL anchor: the target text, embedded as the mean of the frozen backbone
//     token embeddings of its tokens and mapped to d_s by a trainable Linear
//     (group "ccl"). Anchoring on the text makes the contrastive term a
//     label-aware alignment of every modality with the output space, and works for
//     one modality (V is then the sine of the angle between v_k and the anchor).
//     Samples sharing a target are treated as negatives of each other, as InfoNCE
//     over a batch does; the loss floor rises but the gradient still pulls each
//     modality to its target's anchor.
//   - Word head (Config.WordHead, off unless asked for): a logit bias added at
//     every target position, W·fused plus a learned gain on the tokens of the
//     sample's text. It is a route from the encoders to the output that does not
//     depend on the frozen attention learning to read the soft prompt, which the
//     tiny backbone does not (docs/results-single-node.md). Both start at zero,
//     so training starts from the plain model.
//
// Model is generic over nn.Float so the assembled model is gradient-checked in
// float64; training (Train) runs in float32.
package model
