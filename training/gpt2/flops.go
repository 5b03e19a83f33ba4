package gpt2

// StepFLOPs counts the floating-point operations of the matrix products of one training step
// (Forward + Backward) on B sequences of P prefix and Tt token positions, the way the ops compute them:
// attention scores cover the full T×T square (the causal half is masked, not skipped), frozen weights
// get no weight gradient, and elementwise ops (LayerNorm, GELU, softmax, AdamW) are not counted.
func StepFLOPs(c Config, B, P, Tt int, trainBase bool) int64 {
	T := int64(P + Tt)
	N := int64(B) * T
	C, V, L, r := int64(c.Channels), int64(c.VocabSize), int64(c.NumLayers), int64(c.LoRARank)
	Nt := int64(B) * int64(Tt)

	linear := 24 * N * C * C // qkv 3C² + proj C² + fc 4C² + fcproj 4C², times 2 flops
	fwd := L*(linear+4*N*T*C) + 2*Nt*C*V
	bwd := L*(linear+8*N*T*C) + 2*Nt*C*V // dinp of every linear, attention backward, lm_head dinp
	if trainBase {
		bwd += L*linear + 2*Nt*C*V // weight gradients
	}
	if r > 0 {
		// Per adapted projection [in -> out]: forward h = x·Aᵀ (2N·in·r), out += h·Bᵀ (2N·r·out);
		// backward dB, dh (2N·out·r each), dA and dinp through A (2N·r·in each).
		adapted := [][2]int64{{C, 3 * C}, {C, C}}
		if c.LoRAMLP {
			adapted = append(adapted, [2]int64{C, 4 * C}, [2]int64{4 * C, C})
		}
		for _, a := range adapted {
			in, out := a[0], a[1]
			fwd += L * 2 * N * r * (in + out)
			bwd += L * 4 * N * r * (in + out)
		}
	}
	return fwd + bwd
}
