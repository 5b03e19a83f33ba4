package gpt2

import "github.com/mlecs/mlecs/training/nn"

// shape is the size of one named tensor of the flat parameter buffer.
type shape []int

func (s shape) numel() int64 {
	n := int64(1)
	for _, d := range s {
		n *= int64(d)
	}
	return n
}

// Params holds named views into one flat buffer, grouped by kind across layers as in llm.c
// (QKVW is [L, 3C, C]: layer l's c_attn weight is QKVW[l*3C*C : (l+1)*3C*C]). Weights are in PyTorch
// nn.Linear layout [out, in]. The same struct describes gradients; a nil view has no gradient.
type Params[F nn.Float] struct {
	Wte      []F // [V, C] token embedding, tied to the lm_head
	Wpe      []F // [maxT, C]
	LN1W     []F // [L, C]
	LN1B     []F // [L, C]
	QKVW     []F // [L, 3C, C]
	QKVB     []F // [L, 3C]
	AttProjW []F // [L, C, C]
	AttProjB []F // [L, C]
	LN2W     []F // [L, C]
	LN2B     []F // [L, C]
	FCW      []F // [L, 4C, C]
	FCB      []F // [L, 4C]
	FCProjW  []F // [L, C, 4C]
	FCProjB  []F // [L, C]
	LNFW     []F // [C]
	LNFB     []F // [C]
}

// LoRA holds the adapter views: for a base weight W [out,in] the adapted weight is
// W + (alpha/r)·B·A with A [r,in] and B [out,r]. MLP views are nil unless Config.LoRAMLP.
type LoRA[F nn.Float] struct {
	QKVA     []F // [L, r, C]
	QKVB     []F // [L, 3C, r]
	AttProjA []F // [L, r, C]
	AttProjB []F // [L, C, r]
	FCA      []F // [L, r, C]
	FCB      []F // [L, 4C, r]
	FCProjA  []F // [L, r, 4C]
	FCProjB  []F // [L, C, r]
}

func baseShapes(c Config) []shape {
	V, T, L, C := c.VocabSize, c.MaxSeq, c.NumLayers, c.Channels
	return []shape{
		{V, C}, {T, C},
		{L, C}, {L, C},
		{L, 3 * C, C}, {L, 3 * C},
		{L, C, C}, {L, C},
		{L, C}, {L, C},
		{L, 4 * C, C}, {L, 4 * C},
		{L, C, 4 * C}, {L, C},
		{C}, {C},
	}
}

func (p *Params[F]) fields() []*[]F {
	return []*[]F{
		&p.Wte, &p.Wpe, &p.LN1W, &p.LN1B, &p.QKVW, &p.QKVB, &p.AttProjW, &p.AttProjB,
		&p.LN2W, &p.LN2B, &p.FCW, &p.FCB, &p.FCProjW, &p.FCProjB, &p.LNFW, &p.LNFB,
	}
}

// loraShapes lists the adapter shapes; MLP adapters have zero size unless LoRAMLP.
func loraShapes(c Config) []shape {
	L, C, r := c.NumLayers, c.Channels, c.LoRARank
	m := 0
	if c.LoRAMLP {
		m = 1
	}
	return []shape{
		{L, r, C}, {L, 3 * C, r},
		{L, r, C}, {L, C, r},
		{L * m, r, C}, {L * m, 4 * C, r},
		{L * m, r, 4 * C}, {L * m, C, r},
	}
}

func (p *LoRA[F]) fields() []*[]F {
	return []*[]F{&p.QKVA, &p.QKVB, &p.AttProjA, &p.AttProjB, &p.FCA, &p.FCB, &p.FCProjA, &p.FCProjB}
}

// bind points each field at its slice of buf (which must hold exactly the sum of the shapes).
// Empty tensors get nil views so that "no adapter" is a nil check.
func bind[F nn.Float](fields []*[]F, shapes []shape, buf []F) {
	off := 0
	for i, f := range fields {
		n := int(shapes[i].numel())
		if n == 0 {
			*f = nil
			continue
		}
		*f = buf[off : off+n : off+n]
		off += n
	}
}

func sumShapes(shapes []shape) int {
	n := int64(0)
	for _, s := range shapes {
		n += s.numel()
	}
	return int(n)
}
