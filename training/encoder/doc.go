// Package encoder holds the modality extractors E and the connector C of an
// ML-ECS model M = {E, C, B}.
//
// Every encoder maps one modality of a batch to vectors in the shared latent
// space [B, Latent]. It is a stem (2-D patches for images, 1-D patches for
// time series and spectrograms, token embedding for text) followed by the
// same trunk: learned positions, Depth pre-LN non-causal transformer blocks
// (Depth may be 0), a final LayerNorm, masked mean pooling over the valid
// tokens and a Linear projection to Latent.
//
// The Connector concatenates the per-modality vectors, LayerNorm -> Linear
// gives the fused representation, GELU -> Linear gives P soft-prompt tokens
// of the backbone width.
//
// As in package nn (llm.c style): parameters and gradients live in one flat
// buffer each (Params, Grads), activations are allocated once for MaxBatch,
// Backward accumulates into Grads (call ZeroGrad between steps), and
// everything is generic over nn.Float so gradient checks run in float64.
package encoder
