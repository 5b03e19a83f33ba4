package gpt2

import (
	"fmt"

	"github.com/mlecs/mlecs/training/nn"
)

// Backward back-propagates the mean loss of the last Forward (which must have had targets), once. It
// accumulates into GradBuf (the LoRA adapters, and the base weights in full-training mode; call ZeroGrad
// first) and overwrites the soft-prompt gradient returned by PrefixGrad.
func (m *Model[F]) Backward() error {
	if !m.last.haveLoss || m.last.probsGone {
		return fmt.Errorf("%w: Backward needs a new Forward with targets", ErrState)
	}
	l, V := m.last, m.cfg.VocabSize
	// dlogits overwrite probs: (softmax - onehot(y)) / (targets counted), zero on ignored rows.
	dlogits := m.acts.probs[:l.B*l.Tt*V]
	if err := nn.CrossEntropyBackward(m.pool, dlogits, dlogits, m.targets[:l.B*l.Tt], l.B*l.Tt, V, IgnoreIndex, 1); err != nil {
		return fmt.Errorf("gpt2 backward: %w", err)
	}
	m.last.probsGone = true // probs now hold dlogits: a second Backward needs a new Forward
	return m.backward(dlogits)
}

// BackwardLogits back-propagates an arbitrary gradient dlogits [B,Tt,V] of the last Forward's logits
// (e.g. a distillation loss computed by the caller), with the same accumulation rules as Backward.
func (m *Model[F]) BackwardLogits(dlogits []F) error {
	l := m.last
	if l.B == 0 {
		return fmt.Errorf("%w: BackwardLogits needs a Forward first", ErrState)
	}
	if n := l.B * l.Tt * m.cfg.VocabSize; len(dlogits) != n {
		return fmt.Errorf("%w: dlogits has %d values, want %d", ErrShape, len(dlogits), n)
	}
	return m.backward(dlogits)
}

// PrefixGrad returns the gradient [B,P,C] of the loss w.r.t. the prefix of the last Backward (a view
// into the model's buffers, overwritten by the next Backward).
func (m *Model[F]) PrefixGrad() []F {
	l := m.last
	return m.grads.dprefix[:l.B*l.P*m.cfg.Channels]
}

// BiasGrad returns the gradient [B,V] of the loss w.r.t. the logit bias of the last ForwardBias and
// Backward (a view into the model's buffers, overwritten by the next Backward).
func (m *Model[F]) BiasGrad() []F {
	l := m.last
	if !l.biased {
		return nil
	}
	return m.dbias[:l.B*m.cfg.VocabSize]
}

func (m *Model[F]) backward(dlogits []F) error {
	if m.merged {
		return fmt.Errorf("%w: Backward while LoRA is merged into the base weights", ErrState)
	}
	c, l := m.cfg, m.last
	C, L, NH, V := c.Channels, c.NumLayers, c.NumHeads, c.VocabSize
	B, T, P, Tt := l.B, l.T, l.P, l.Tt
	if l.biased {
		// The bias is added at every token position: dbias[b] = sum over t of dlogits[b,t].
		if m.dbias == nil {
			m.dbias = make([]F, m.maxBatch*V)
		}
		db := m.dbias[:B*V]
		clear(db)
		for b := range B {
			row := db[b*V : (b+1)*V]
			for t := range Tt {
				for v, x := range dlogits[(b*Tt+t)*V : (b*Tt+t+1)*V] {
					row[v] += x
				}
			}
		}
	}
	BT := B * T
	p, a, g, gb := m.pool, &m.acts, &m.grads, &m.GradBase
	scale := F(c.LoRAScale())

	// lm_head: dlnf[b,P:] = dlogits[b] @ wte; dwte += dlogits^T @ lnf (tied weight).
	dln := g.dln[:BT*C]
	clear(dln)
	if P == 0 {
		nn.LinearBackward(p, dln, gb.Wte, nil, dlogits, a.lnf, m.Base.Wte, BT, C, V)
	} else {
		for b := range B {
			nn.LinearBackward(p, dln[(b*T+P)*C:(b+1)*T*C], gb.Wte, nil, dlogits[b*Tt*V:(b+1)*Tt*V],
				a.lnf[(b*T+P)*C:(b+1)*T*C], m.Base.Wte, Tt, C, V)
		}
	}
	dres := g.dres[:BT*C]
	clear(dres)
	last := m.layerActs(L-1, B, T).res3
	nn.LayerNormBackward(p, dres, gb.LNFW, gb.LNFB, dln, last, m.Base.LNFW, a.lnfMean[:BT], a.lnfRstd[:BT], BT, C)

	dh := g.dh[:BT*c.LoRARank]
	for layer := L - 1; layer >= 0; layer-- {
		v := m.layerActs(layer, B, T)
		resIn := a.encoded[:BT*C]
		if layer > 0 {
			resIn = m.layerActs(layer-1, B, T).res3
		}
		// MLP half: res3 = res2 + fcproj(gelu(fc(ln2(res2)))); dres holds d res3 = d fcproj.
		dfchGelu, dfch := g.dfchGelu[:BT*4*C], g.dfch[:BT*4*C]
		clear(dfchGelu)
		fp := m.proj(projFCProj, layer)
		fp.backward(p, dfchGelu, dh, dres, v.fchGelu, v.fcProjH, BT, scale)
		clear(dfch)
		nn.GELUBackward(p, dfch, v.fch, dfchGelu, BT*4*C)
		clear(dln)
		fc := m.proj(projFC, layer)
		fc.backward(p, dln, dh, dfch, v.ln2, v.fcH, BT, scale)
		nn.LayerNormBackward(p, dres, layerSlice(gb.LN2W, layer, C), layerSlice(gb.LN2B, layer, C), dln, v.res2,
			layerSlice(m.Base.LN2W, layer, C), v.ln2Mean, v.ln2Rstd, BT, C)

		// Attention half: res2 = resIn + attproj(attn(qkv(ln1(resIn)))); dres now holds d res2.
		datty, dqkv := g.datty[:BT*C], g.dqkv[:BT*3*C]
		clear(datty)
		ap := m.proj(projAttProj, layer)
		ap.backward(p, datty, dh, dres, v.atty, v.attProjH, BT, scale)
		clear(dqkv)
		nn.AttentionBackward(p, dqkv, g.datt[:B*NH*T*T], datty, v.qkv, v.att, B, T, C, NH)
		clear(dln)
		qkv := m.proj(projQKV, layer)
		qkv.backward(p, dln, dh, dqkv, v.ln1, v.qkvH, BT, scale)
		nn.LayerNormBackward(p, dres, layerSlice(gb.LN1W, layer, C), layerSlice(gb.LN1B, layer, C), dln, resIn,
			layerSlice(m.Base.LN1W, layer, C), v.ln1Mean, v.ln1Rstd, BT, C)
	}

	// dres is now d encoded: split into the prefix gradient and the embedding tables.
	for b := range B {
		copy(g.dprefix[b*P*C:(b+1)*P*C], dres[b*T*C:(b*T+P)*C])
	}
	m.addPendingPrefixGrad()
	if gb.Wte != nil {
		for b := range B {
			if err := nn.EmbeddingBackward(gb.Wte, dres[(b*T+P)*C:(b+1)*T*C], m.ids[b*Tt:(b+1)*Tt], Tt, C); err != nil {
				return fmt.Errorf("gpt2 backward: %w", err)
			}
		}
		nn.PositionBackward(gb.Wpe, dres, B, T, C, 0)
	}
	return nil
}
