package gpt2

import "github.com/mlecs/mlecs/training/nn"

// acts holds the forward activations, sized once for (maxB, maxT) in one flat buffer (llm.c's
// ActivationTensors). A pass with smaller B, T uses the leading part of each tensor with the layout
// of its own (B, T), so per-layer views are computed per pass (slicing does not allocate).
type acts[F nn.Float] struct {
	buf      []F
	encoded  []F // [B,T,C]
	ln1      []F // [L,B,T,C]
	ln1Mean  []F // [L,B,T]
	ln1Rstd  []F // [L,B,T]
	qkv      []F // [L,B,T,3C]
	qkvH     []F // [L,B,T,r] LoRA hidden of c_attn
	atty     []F // [L,B,T,C]
	att      []F // [L,B,NH,T,T]
	attProjH []F // [L,B,T,r]
	attProj  []F // [L,B,T,C]
	res2     []F // [L,B,T,C]
	ln2      []F // [L,B,T,C]
	ln2Mean  []F // [L,B,T]
	ln2Rstd  []F // [L,B,T]
	fcH      []F // [L,B,T,r] (LoRAMLP only)
	fch      []F // [L,B,T,4C]
	fchGelu  []F // [L,B,T,4C]
	fcProjH  []F // [L,B,T,r] (LoRAMLP only)
	fcProj   []F // [L,B,T,C]
	res3     []F // [L,B,T,C]
	lnf      []F // [B,T,C]
	lnfMean  []F // [B,T]
	lnfRstd  []F // [B,T]
	logits   []F // [B,Tt,V] token positions only; overwritten by dlogits in Backward
	probs    []F // [B,Tt,V]
	losses   []F // [B,Tt]
}

func (a *acts[F]) fields() []*[]F {
	return []*[]F{&a.encoded, &a.ln1, &a.ln1Mean, &a.ln1Rstd, &a.qkv, &a.qkvH, &a.atty, &a.att,
		&a.attProjH, &a.attProj, &a.res2, &a.ln2, &a.ln2Mean, &a.ln2Rstd, &a.fcH, &a.fch, &a.fchGelu,
		&a.fcProjH, &a.fcProj, &a.res3, &a.lnf, &a.lnfMean, &a.lnfRstd, &a.logits, &a.probs, &a.losses}
}

func actShapes(c Config, B int) []shape {
	T, L, C, NH, V, r := c.MaxSeq, c.NumLayers, c.Channels, c.NumHeads, c.VocabSize, c.LoRARank
	rm := 0
	if c.LoRAMLP {
		rm = r
	}
	return []shape{
		{B, T, C}, {L, B, T, C}, {L, B, T}, {L, B, T}, {L, B, T, 3 * C}, {L, B, T, r}, {L, B, T, C},
		{L, B, NH, T, T}, {L, B, T, r}, {L, B, T, C}, {L, B, T, C}, {L, B, T, C}, {L, B, T}, {L, B, T},
		{L, B, T, rm}, {L, B, T, 4 * C}, {L, B, T, 4 * C}, {L, B, T, rm}, {L, B, T, C}, {L, B, T, C},
		{B, T, C}, {B, T}, {B, T}, {B, T, V}, {B, T, V}, {B, T},
	}
}

func (a *acts[F]) alloc(c Config, B int) {
	s := actShapes(c, B)
	a.buf = make([]F, sumShapes(s))
	bind(a.fields(), s, a.buf)
}

// gradScratch holds the activation gradients. Layers are processed one at a time in Backward, so only
// the running residual gradient spans the whole pass; the rest is one layer's worth, reused.
type gradScratch[F nn.Float] struct {
	buf      []F
	dres     []F // [B,T,C] gradient of the residual stream at the current depth
	dln      []F // [B,T,C] dln1 / dln2 / dlnf
	dqkv     []F // [B,T,3C]
	datty    []F // [B,T,C]
	datt     []F // [B,NH,T,T] scratch of AttentionBackward
	dfch     []F // [B,T,4C]
	dfchGelu []F // [B,T,4C]
	dh       []F // [B,T,r] LoRA hidden gradient scratch
	dprefix  []F // [B,P,C] gradient w.r.t. the soft prompt of the last Backward
}

func (g *gradScratch[F]) fields() []*[]F {
	return []*[]F{&g.dres, &g.dln, &g.dqkv, &g.datty, &g.datt, &g.dfch, &g.dfchGelu, &g.dh, &g.dprefix}
}

func gradShapes(c Config, B int) []shape {
	T, C, NH, r := c.MaxSeq, c.Channels, c.NumHeads, c.LoRARank
	return []shape{{B, T, C}, {B, T, C}, {B, T, 3 * C}, {B, T, C}, {B, NH, T, T}, {B, T, 4 * C},
		{B, T, 4 * C}, {B, T, r}, {B, T, C}}
}

func (g *gradScratch[F]) alloc(c Config, B int) {
	s := gradShapes(c, B)
	g.buf = make([]F, sumShapes(s))
	bind(g.fields(), s, g.buf)
}

// ActivationBytes is the size in bytes of the activations and activation gradients of a model with
// config c and maximum batch B, for element size elem (4 for float32).
func ActivationBytes(c Config, B, elem int) int64 {
	return int64(sumShapes(actShapes(c, B))+sumShapes(gradShapes(c, B))) * int64(elem)
}

// actElems counts activation values in float64, so that an absurd batch cannot overflow the check.
func actElems(c Config, B int) float64 {
	var n float64
	for _, sh := range append(actShapes(c, 1), gradShapes(c, 1)...) {
		e := float64(B) // every shape has the batch as one factor
		for _, d := range sh {
			e *= float64(d)
		}
		n += e
	}
	return n
}
