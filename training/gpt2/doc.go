// Package gpt2 is the language backbone B of ML-ECS: a GPT-2 architecture causal LM (pre-LN, learned
// positions, tanh-GELU, tied embeddings) with frozen base weights and trainable LoRA adapters.
//
// Layout follows llm.c's train_gpt2.c: every parameter lives in one flat buffer (Model.Buf, base then
// LoRA) with named views (Params, LoRA), gradients in one buffer (Model.GradBuf, the trainable region
// only), and activations are allocated once for (MaxBatch, MaxSeq), so a training step does not
// allocate. The model is generic over nn.Float: float32 for training, float64 for gradient checks.
//
// A training step:
//
//	m, _ := gpt2.New[float32](cfg, gpt2.WithMaxBatch(B), gpt2.WithPool(pool))
//	loss, _ := m.Forward(ids, targets, prefix, B) // prefix [B,P,C] soft prompt, or nil
//	m.ZeroGrad()
//	_ = m.Backward()                              // LoRA grads in m.GradBuf, prefix grad in m.PrefixGrad()
//	params, grads := m.Trainable()                // step these with optim.AdamW
//
// Inference: Merge folds the adapters into the weights; Generate decodes with a KV cache.
// Weights load from and save to the Hugging Face GPT-2 safetensors layout (SaveBase, LoadBase,
// LoadPretrained), and the adapters alone in PEFT naming (SaveLoRA, LoadLoRA).
package gpt2
