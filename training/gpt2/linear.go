package gpt2

import "github.com/mlecs/mlecs/training/nn"

// The four adapted projections of a block.
const (
	projQKV     = iota // c_attn: C -> 3C
	projAttProj        // attn.c_proj: C -> C
	projFC             // mlp.c_fc: C -> 4C
	projFCProj         // mlp.c_proj: 4C -> C
	numProj
)

// linearView is one projection of one layer: the frozen weight and bias, the adapter pair (nil when not
// adapted) and their gradient views (nil when not trained).
type linearView[F nn.Float] struct {
	w, b, a, bm     []F // w [OC,C], b [OC], a [r,C], bm [OC,r]
	dw, db, da, dbm []F
	C, OC, r        int
}

func layerSlice[F nn.Float](s []F, l, n int) []F {
	if s == nil {
		return nil
	}
	return s[l*n : (l+1)*n]
}

// proj returns the views of projection k of layer l.
func (m *Model[F]) proj(k, l int) linearView[F] {
	c := m.cfg
	C, r := c.Channels, c.LoRARank
	p, a, g, ga := &m.Base, &m.Adapter, &m.GradBase, &m.GradAdapter
	var v linearView[F]
	var w, b, la, lb, dw, db, dla, dlb []F
	switch k {
	case projQKV:
		v.C, v.OC = C, 3*C
		w, b, la, lb, dw, db, dla, dlb = p.QKVW, p.QKVB, a.QKVA, a.QKVB, g.QKVW, g.QKVB, ga.QKVA, ga.QKVB
	case projAttProj:
		v.C, v.OC = C, C
		w, b, la, lb, dw, db, dla, dlb = p.AttProjW, p.AttProjB, a.AttProjA, a.AttProjB, g.AttProjW, g.AttProjB, ga.AttProjA, ga.AttProjB
	case projFC:
		v.C, v.OC = C, 4*C
		w, b, la, lb, dw, db, dla, dlb = p.FCW, p.FCB, a.FCA, a.FCB, g.FCW, g.FCB, ga.FCA, ga.FCB
	case projFCProj:
		v.C, v.OC = 4*C, C
		w, b, la, lb, dw, db, dla, dlb = p.FCProjW, p.FCProjB, a.FCProjA, a.FCProjB, g.FCProjW, g.FCProjB, ga.FCProjA, ga.FCProjB
	}
	v.w, v.b = layerSlice(w, l, v.OC*v.C), layerSlice(b, l, v.OC)
	v.dw, v.db = layerSlice(dw, l, v.OC*v.C), layerSlice(db, l, v.OC)
	if la != nil {
		v.r = r
		v.a, v.bm = layerSlice(la, l, r*v.C), layerSlice(lb, l, v.OC*r)
		v.da, v.dbm = layerSlice(dla, l, r*v.C), layerSlice(dlb, l, v.OC*r)
	}
	return v
}

// forward computes out [N,OC] = inp [N,C] @ W^T + b (+ scale * (inp @ A^T) @ B^T, keeping h = inp @ A^T
// [N,r] for backward). Merged adapters are already inside W.
func (v *linearView[F]) forward(p *nn.Pool, out, h, inp []F, N int, scale F, merged bool) {
	if v.a == nil || merged {
		nn.LinearForward(p, out, inp, v.w, v.b, N, v.C, v.OC)
		return
	}
	nn.LoRAForward(p, out, h, inp, v.w, v.b, v.a, v.bm, N, v.C, v.OC, v.r, scale)
}

// backward accumulates dinp and every gradient view that is not nil; dh [N,r] is scratch.
func (v *linearView[F]) backward(p *nn.Pool, dinp, dh, dout, inp, h []F, N int, scale F) {
	if v.a == nil {
		nn.LinearBackward(p, dinp, v.dw, v.db, dout, inp, v.w, N, v.C, v.OC)
		return
	}
	// LoRABackward covers dinp through both paths and the adapter grads; the base grads (full-training
	// mode) come from a LinearBackward without dinp.
	nn.LoRABackward(p, dinp, v.da, v.dbm, dh, dout, inp, h, v.w, v.a, v.bm, N, v.C, v.OC, v.r, scale)
	if v.dw != nil || v.db != nil {
		nn.LinearBackward(p, nil, v.dw, v.db, dout, inp, v.w, N, v.C, v.OC)
	}
}
