// Package payload holds the two bulk payloads that ML-ECS nodes exchange and their binary encoding:
//
//   - Update (edge -> anchor): the edge's shared-LoRA delta, its fused representations of its share D'_j
//     of the public set, optional SLM predictions on D'_j, and local metrics;
//   - Global (anchor -> edges): the aggregated shared LoRA and the anchor's fused representations of D'.
//
// The encoding is versioned (a 4-byte magic and a version byte), little-endian, and built for untrusted
// input: every count and length is capped by a constant of this package and checked against the bytes
// that remain before anything is allocated, so a decoder never allocates more than a small multiple of
// its input. Decoding rejects unknown versions and codecs, non-finite values (an honest node never sends
// them), duplicate names or ids, and trailing bytes; every error wraps one of the package's sentinels
// and names the offending field.
//
// Tensors are stored with one of three codecs: FP32 (exact), FP16 (IEEE binary16, round to nearest
// even) and Int8 (symmetric per-tensor quantisation, scale = maxabs/127 stored as float32). Encoding
// reports the bytes spent on each part (header, LoRA, fused representations, predictions, metrics) so
// that experiments can account for communication per payload part and direction.
package payload
