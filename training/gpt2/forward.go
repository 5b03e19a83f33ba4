package gpt2

import (
	"fmt"

	"github.com/mlecs/mlecs/training/nn"
)

// Forward runs the model on a batch and returns the mean cross-entropy loss.
//
//	ids     [B,Tt] token ids in [0,V)
//	targets [B,Tt] next-token targets in [0,V) or IgnoreIndex; nil computes logits only (loss 0)
//	prefix  [B,P,C] soft-prompt embeddings placed before the tokens, or nil (P = 0)
//
// Prefix position p gets the learned position p and token t the position P+t, so P+Tt <= MaxSeq.
// Logits are produced for the token positions only (Logits). The loss is the mean over targets that are
// not IgnoreIndex (0 when there are none).
func (m *Model[F]) Forward(ids, targets []int32, prefix []F, B int) (F, error) {
	return m.ForwardBias(ids, targets, prefix, nil, B)
}

// ForwardBias is Forward with a per-sample logit bias [B,V] (or nil) added at every token position;
// Backward then also computes its gradient (BiasGrad).
func (m *Model[F]) ForwardBias(ids, targets []int32, prefix, bias []F, B int) (F, error) {
	c := m.cfg
	C, L, NH, V := c.Channels, c.NumLayers, c.NumHeads, c.VocabSize
	if B <= 0 || B > m.maxBatch {
		return 0, fmt.Errorf("%w: batch %d not in [1,%d]", ErrShape, B, m.maxBatch)
	}
	if len(ids) == 0 || len(ids)%B != 0 {
		return 0, fmt.Errorf("%w: %d ids do not split into %d rows", ErrShape, len(ids), B)
	}
	Tt := len(ids) / B
	if targets != nil && len(targets) != len(ids) {
		return 0, fmt.Errorf("%w: %d targets for %d ids", ErrShape, len(targets), len(ids))
	}
	if len(prefix)%(B*C) != 0 {
		return 0, fmt.Errorf("%w: prefix of %d values is not [%d,P,%d]", ErrShape, len(prefix), B, C)
	}
	if bias != nil && len(bias) != B*V {
		return 0, fmt.Errorf("%w: bias of %d values is not [%d,%d]", ErrShape, len(bias), B, V)
	}
	P := len(prefix) / (B * C)
	T := P + Tt
	if T > c.MaxSeq {
		return 0, fmt.Errorf("%w: prefix %d + tokens %d exceeds MaxSeq %d", ErrShape, P, Tt, c.MaxSeq)
	}
	m.last = pass{} // invalid until this pass succeeds
	m.pendingDPrefix = nil
	a := &m.acts
	p := m.pool
	BT := B * T
	scale := F(c.LoRAScale())

	// Embeddings: prefix rows then token rows of each sample, plus positions 0..T-1.
	for b := range B {
		row := a.encoded[b*T*C : (b+1)*T*C]
		copy(row[:P*C], prefix[b*P*C:(b+1)*P*C])
		if err := nn.EmbeddingForward(row[P*C:], ids[b*Tt:(b+1)*Tt], m.Base.Wte, Tt, C); err != nil {
			return 0, fmt.Errorf("gpt2 forward: sample %d: %w", b, err)
		}
	}
	nn.PositionForward(a.encoded, m.Base.Wpe, B, T, C, 0)

	residual := a.encoded[:BT*C]
	for l := range L {
		v := m.layerActs(l, B, T)
		nn.LayerNormForward(p, v.ln1, v.ln1Mean, v.ln1Rstd, residual, layerSlice(m.Base.LN1W, l, C), layerSlice(m.Base.LN1B, l, C), BT, C)
		qkv := m.proj(projQKV, l)
		qkv.forward(p, v.qkv, v.qkvH, v.ln1, BT, scale, m.merged)
		nn.AttentionForward(p, v.atty, nil, v.att, v.qkv, nil, B, T, C, NH, true)
		ap := m.proj(projAttProj, l)
		ap.forward(p, v.attProj, v.attProjH, v.atty, BT, scale, m.merged)
		nn.ResidualForward(v.res2, residual, v.attProj, BT*C)
		nn.LayerNormForward(p, v.ln2, v.ln2Mean, v.ln2Rstd, v.res2, layerSlice(m.Base.LN2W, l, C), layerSlice(m.Base.LN2B, l, C), BT, C)
		fc := m.proj(projFC, l)
		fc.forward(p, v.fch, v.fcH, v.ln2, BT, scale, m.merged)
		nn.GELUForward(p, v.fchGelu, v.fch, BT*4*C)
		fp := m.proj(projFCProj, l)
		fp.forward(p, v.fcProj, v.fcProjH, v.fchGelu, BT, scale, m.merged)
		nn.ResidualForward(v.res3, v.res2, v.fcProj, BT*C)
		residual = v.res3
	}
	nn.LayerNormForward(p, a.lnf, a.lnfMean, a.lnfRstd, residual, m.Base.LNFW, m.Base.LNFB, BT, C)

	// Tied lm_head on the token positions only: logits [B,Tt,V] = lnf[b,P:] @ wte^T.
	if P == 0 {
		nn.LinearForward(p, a.logits, a.lnf, m.Base.Wte, nil, BT, C, V)
	} else {
		for b := range B {
			nn.LinearForward(p, a.logits[b*Tt*V:(b+1)*Tt*V], a.lnf[(b*T+P)*C:(b+1)*T*C], m.Base.Wte, nil, Tt, C, V)
		}
	}
	if bias != nil {
		for b := range B {
			for t := range Tt {
				row := a.logits[(b*Tt+t)*V : (b*Tt+t+1)*V]
				for v, x := range bias[b*V : (b+1)*V] {
					row[v] += x
				}
			}
		}
	}
	m.last = pass{B: B, T: T, P: P, Tt: Tt, biased: bias != nil}
	copy(m.ids, ids)
	if targets == nil {
		return 0, nil
	}
	copy(m.targets, targets)
	loss, _, err := nn.CrossEntropyForward(m.pool, a.probs, a.losses, a.logits, targets, B*Tt, V, IgnoreIndex)
	if err != nil {
		return 0, fmt.Errorf("gpt2 forward: %w", err)
	}
	m.last.haveLoss = true
	return loss, nil
}

// layerActs are the activations of layer l for a pass of shape (B, T).
type layerActs[F nn.Float] struct {
	ln1, ln1Mean, ln1Rstd, qkv, qkvH, atty, att, attProjH, attProj, res2 []F
	ln2, ln2Mean, ln2Rstd, fcH, fch, fchGelu, fcProjH, fcProj, res3      []F
}

func (m *Model[F]) layerActs(l, B, T int) layerActs[F] {
	c, a := m.cfg, &m.acts
	N, C, r, NH := B*T, c.Channels, c.LoRARank, c.NumHeads
	rm := 0
	if c.LoRAMLP {
		rm = r
	}
	return layerActs[F]{
		ln1: layerSlice(a.ln1, l, N*C), ln1Mean: layerSlice(a.ln1Mean, l, N), ln1Rstd: layerSlice(a.ln1Rstd, l, N),
		qkv: layerSlice(a.qkv, l, N*3*C), qkvH: layerSlice(a.qkvH, l, N*r), atty: layerSlice(a.atty, l, N*C),
		att: layerSlice(a.att, l, B*NH*T*T), attProjH: layerSlice(a.attProjH, l, N*r),
		attProj: layerSlice(a.attProj, l, N*C), res2: layerSlice(a.res2, l, N*C),
		ln2: layerSlice(a.ln2, l, N*C), ln2Mean: layerSlice(a.ln2Mean, l, N), ln2Rstd: layerSlice(a.ln2Rstd, l, N),
		fcH: layerSlice(a.fcH, l, N*rm), fch: layerSlice(a.fch, l, N*4*C), fchGelu: layerSlice(a.fchGelu, l, N*4*C),
		fcProjH: layerSlice(a.fcProjH, l, N*rm), fcProj: layerSlice(a.fcProj, l, N*C), res3: layerSlice(a.res3, l, N*C),
	}
}

// Logits returns the logits [B,Tt,V] of the last Forward (a view into the model's buffers).
func (m *Model[F]) Logits() []F {
	l := m.last
	return m.acts.logits[:l.B*l.Tt*m.cfg.VocabSize]
}

// Losses returns the per-position losses [B,Tt] of the last Forward with targets (0 at ignored
// positions): summed over a candidate's positions they give its negative log-likelihood.
func (m *Model[F]) Losses() []F {
	l := m.last
	if !l.haveLoss {
		return nil
	}
	return m.acts.losses[:l.B*l.Tt]
}
