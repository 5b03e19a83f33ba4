package encoder

import (
	"math"

	"github.com/mlecs/mlecs/training/nn"
)

// block is one pre-LN transformer block (GPT-2 shape, non-causal).
type block[F nn.Float] struct {
	ln1w, ln1b   []F // [C]
	qkvw, qkvb   []F // [3C,C], [3C]
	projw, projb []F // [C,C], [C]
	ln2w, ln2b   []F // [C]
	fcw, fcb     []F // [4C,C], [4C]
	fc2w, fc2b   []F // [C,4C], [C]
}

// blockActs are one block's activations for MaxBatch samples.
type blockActs[F nn.Float] struct {
	ln1, ln1m, ln1r []F // [N,C], [N], [N]
	qkv             []F // [N,3C]
	att             []F // [B,NH,T,T]
	atty            []F // [N,C]
	x1              []F // [N,C] residual after attention
	ln2, ln2m, ln2r []F // [N,C], [N], [N]
	fch, fchg       []F // [N,4C] before and after GELU
	x2              []F // [N,C] block output
}

// trunk is the part of every encoder after the stem: positions, blocks,
// final LayerNorm, masked mean pooling, projection to the latent space.
type trunk[F nn.Float] struct {
	cfg  TrunkConfig
	T    int // tokens per sample
	C    int
	NH   int
	p, g struct {
		wpe        []F // [T,C]
		blocks     []block[F]
		lnfw, lnfb []F // [C]
		outw, outb []F // [Latent,C], [Latent]
	}

	x0     []F // [maxB,T,C] stem output + positions
	acts   []blockActs[F]
	lnf    []F // [N,C]
	lnfm   []F // [N]
	lnfr   []F // [N]
	pooled []F // [maxB,C]
	out    []F // [maxB,Latent]
	valid  []int32
	mask   []bool // [maxB*T]

	dres, dln, dqkv, datt, datty []F
	dfch, dfchg, dpooled         []F

	B        int  // batch of the last Forward
	hasValid bool // whether the last Forward had padding
}

// register adds the trunk's parameters to l (after the stem's).
func (t *trunk[F]) register(l *layout[F], cfg TrunkConfig, T int) {
	t.cfg, t.T, t.C, t.NH = cfg, T, cfg.Width, max(cfg.Heads, 1)
	C, L := cfg.Width, cfg.Depth
	w := normal[F](0.02)
	wres := normal[F](0.02 / math.Sqrt(2*float64(max(L, 1))))
	zero, one := constant[F](0), constant[F](1)
	l.add(&t.p.wpe, &t.g.wpe, T*C, w)
	t.p.blocks, t.g.blocks = make([]block[F], L), make([]block[F], L)
	for i := range L {
		p, g := &t.p.blocks[i], &t.g.blocks[i]
		l.add(&p.ln1w, &g.ln1w, C, one)
		l.add(&p.ln1b, &g.ln1b, C, zero)
		l.add(&p.qkvw, &g.qkvw, 3*C*C, w)
		l.add(&p.qkvb, &g.qkvb, 3*C, zero)
		l.add(&p.projw, &g.projw, C*C, wres)
		l.add(&p.projb, &g.projb, C, zero)
		l.add(&p.ln2w, &g.ln2w, C, one)
		l.add(&p.ln2b, &g.ln2b, C, zero)
		l.add(&p.fcw, &g.fcw, 4*C*C, w)
		l.add(&p.fcb, &g.fcb, 4*C, zero)
		l.add(&p.fc2w, &g.fc2w, 4*C*C, wres)
		l.add(&p.fc2b, &g.fc2b, C, zero)
	}
	l.add(&t.p.lnfw, &t.g.lnfw, C, one)
	l.add(&t.p.lnfb, &t.g.lnfb, C, zero)
	l.add(&t.p.outw, &t.g.outw, cfg.Latent*C, w)
	l.add(&t.p.outb, &t.g.outb, cfg.Latent, zero)
}

// allocActs allocates activations and scratch for MaxBatch samples.
func (t *trunk[F]) allocActs() {
	B, T, C, NH := t.cfg.MaxBatch, t.T, t.C, t.NH
	N := B * T
	t.x0 = make([]F, N*C)
	t.acts = make([]blockActs[F], t.cfg.Depth)
	for i := range t.acts {
		t.acts[i] = blockActs[F]{
			ln1: make([]F, N*C), ln1m: make([]F, N), ln1r: make([]F, N),
			qkv: make([]F, N*3*C), att: make([]F, B*NH*T*T), atty: make([]F, N*C), x1: make([]F, N*C),
			ln2: make([]F, N*C), ln2m: make([]F, N), ln2r: make([]F, N),
			fch: make([]F, N*4*C), fchg: make([]F, N*4*C), x2: make([]F, N*C),
		}
	}
	t.lnf, t.lnfm, t.lnfr = make([]F, N*C), make([]F, N), make([]F, N)
	t.pooled, t.out = make([]F, B*C), make([]F, B*t.cfg.Latent)
	t.valid, t.mask = make([]int32, B), make([]bool, N)
	t.dres, t.dln = make([]F, N*C), make([]F, N*C)
	t.datty, t.dpooled = make([]F, N*C), make([]F, B*C)
	if t.cfg.Depth > 0 {
		t.dqkv, t.datt = make([]F, N*3*C), make([]F, B*NH*T*T)
		t.dfch, t.dfchg = make([]F, N*4*C), make([]F, N*4*C)
	}
}

// setValid records how many leading tokens of each sample are real (nil:
// all T). Values are clamped to [0,T].
func (t *trunk[F]) setValid(valid []int32, B int) {
	t.hasValid = valid != nil
	for b := range B {
		v := int32(t.T)
		if valid != nil {
			v = min(max(valid[b], 0), int32(t.T))
		}
		t.valid[b] = v
		for i := range t.T {
			t.mask[b*t.T+i] = int32(i) < v
		}
	}
}

// output returns the block stack's output [N,C] (x0 when Depth is 0).
func (t *trunk[F]) output() []F {
	if len(t.acts) == 0 {
		return t.x0
	}
	return t.acts[len(t.acts)-1].x2
}

// forward runs the trunk on the stem output already in x0[:B*T*C] and
// returns out [B,Latent].
func (t *trunk[F]) forward(p *nn.Pool, B int) []F {
	T, C, NH, D := t.T, t.C, t.NH, t.cfg.Latent
	N := B * T
	t.B = B
	var valid []int32
	if t.hasValid {
		valid = t.valid[:B]
	}
	nn.PositionForward(t.x0, t.p.wpe, B, T, C, 0)
	x := t.x0[:N*C]
	for i := range t.acts {
		w, a := &t.p.blocks[i], &t.acts[i]
		nn.LayerNormForward(p, a.ln1, a.ln1m, a.ln1r, x, w.ln1w, w.ln1b, N, C)
		nn.LinearForward(p, a.qkv, a.ln1, w.qkvw, w.qkvb, N, C, 3*C)
		nn.AttentionForward(p, a.atty, nil, a.att, a.qkv, valid, B, T, C, NH, false)
		nn.LinearForward(p, a.x1, a.atty, w.projw, w.projb, N, C, C)
		nn.ResidualForward(a.x1, a.x1, x, N*C)
		nn.LayerNormForward(p, a.ln2, a.ln2m, a.ln2r, a.x1, w.ln2w, w.ln2b, N, C)
		nn.LinearForward(p, a.fch, a.ln2, w.fcw, w.fcb, N, C, 4*C)
		nn.GELUForward(p, a.fchg, a.fch, N*4*C)
		nn.LinearForward(p, a.x2, a.fchg, w.fc2w, w.fc2b, N, 4*C, C)
		nn.ResidualForward(a.x2, a.x2, a.x1, N*C)
		x = a.x2[:N*C]
	}
	nn.LayerNormForward(p, t.lnf, t.lnfm, t.lnfr, x, t.p.lnfw, t.p.lnfb, N, C)
	nn.MaskedMeanForward(t.pooled, t.lnf, t.mask[:N], B, T, C)
	nn.LinearForward(p, t.out, t.pooled, t.p.outw, t.p.outb, B, C, D)
	return t.out[:B*D]
}

// backward accumulates parameter gradients from dout [B,Latent] and returns
// the gradient with respect to the stem output, dx0 [B,T,C] (a view of
// scratch, valid until the next call).
func (t *trunk[F]) backward(p *nn.Pool, dout []F) []F {
	B, T, C, NH, D := t.B, t.T, t.C, t.NH, t.cfg.Latent
	N := B * T
	clear(t.dpooled[:B*C])
	nn.LinearBackward(p, t.dpooled, t.g.outw, t.g.outb, dout, t.pooled, t.p.outw, B, C, D)
	dln := t.dln[:N*C]
	clear(dln)
	nn.MaskedMeanBackward(dln, t.dpooled, t.mask[:N], B, T, C)
	dres := t.dres[:N*C]
	clear(dres)
	nn.LayerNormBackward(p, dres, t.g.lnfw, t.g.lnfb, dln, t.output()[:N*C], t.p.lnfw, t.lnfm, t.lnfr, N, C)
	for i := len(t.acts) - 1; i >= 0; i-- {
		w, g, a := &t.p.blocks[i], &t.g.blocks[i], &t.acts[i]
		xin := t.x0
		if i > 0 {
			xin = t.acts[i-1].x2
		}
		// x2 = x1 + fc2(gelu(fc(ln2(x1))))
		dfchg, dfch := t.dfchg[:N*4*C], t.dfch[:N*4*C]
		clear(dfchg)
		nn.LinearBackward(p, dfchg, g.fc2w, g.fc2b, dres, a.fchg, w.fc2w, N, 4*C, C)
		clear(dfch)
		nn.GELUBackward(p, dfch, a.fch, dfchg, N*4*C)
		clear(dln)
		nn.LinearBackward(p, dln, g.fcw, g.fcb, dfch, a.ln2, w.fcw, N, C, 4*C)
		nn.LayerNormBackward(p, dres, g.ln2w, g.ln2b, dln, a.x1, w.ln2w, a.ln2m, a.ln2r, N, C)
		// x1 = xin + proj(attn(qkv(ln1(xin))))
		datty := t.datty[:N*C]
		clear(datty)
		nn.LinearBackward(p, datty, g.projw, g.projb, dres, a.atty, w.projw, N, C, C)
		dqkv := t.dqkv[:N*3*C]
		clear(dqkv)
		nn.AttentionBackward(p, dqkv, t.datt, datty, a.qkv, a.att, B, T, C, NH)
		clear(dln)
		nn.LinearBackward(p, dln, g.qkvw, g.qkvb, dqkv, a.ln1, w.qkvw, N, C, 3*C)
		nn.LayerNormBackward(p, dres, g.ln1w, g.ln1b, dln, xin[:N*C], w.ln1w, a.ln1m, a.ln1r, N, C)
	}
	nn.PositionBackward(t.g.wpe, dres, B, T, C, 0)
	return dres
}
