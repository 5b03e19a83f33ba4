package nn

import "math"

// AttentionForward is multi-head scaled dot-product attention over packed
// q,k,v (the layout of GPT-2's c_attn output), as in llm.c:
//
//	out    [B,T,C]
//	preatt [B,NH,T,T] scaled scores (nil: computed in att's storage)
//	att    [B,NH,T,T] softmax weights, kept for backward
//	inp    [B,T,3C]   q | k | v, head h at columns h*hs .. (h+1)*hs, hs = C/NH
//	valid  [B] or nil: for sample b keys t >= valid[b] are masked (padding)
//
// With causal, query t sees keys <= t. A query with no visible key gets zero
// weights and a zero output. Masked entries of preatt and att are zero.
func AttentionForward[F Float](p *Pool, out, preatt, att, inp []F, valid []int32, B, T, C, NH int, causal bool) {
	var t task
	t.kind = kAttnFwd
	setSlot(&t, 0, out)
	setSlot(&t, 1, preatt)
	setSlot(&t, 2, att)
	setSlot(&t, 3, inp)
	t.ids = valid
	t.n = [10]int{B, T, C, NH, b2i(causal)}
	p.run(&t, B*NH, 1)
}

// keyLimit is the number of keys query t of sample b may see.
func keyLimit(valid []int32, b, t, T int, causal bool) int {
	lim := T
	if valid != nil {
		lim = min(max(int(valid[b]), 0), T)
	}
	if causal {
		lim = min(lim, t+1)
	}
	return lim
}

// gemmSerial runs a whole Gemm on the calling goroutine.
func gemmSerial[F Float](transA, transB bool, M, N, K int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	tiles := ((M + tileM - 1) / tileM) * ((N + tileN - 1) / tileN)
	gemmTiles(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, 0, tiles)
}

func attentionForwardRange[F Float](out, preatt, att, inp []F, valid []int32, B, T, C, NH int, causal bool, lo, hi int) {
	hs, C3 := C/NH, 3*C
	scale := F(1 / math.Sqrt(float64(hs)))
	for bh := lo; bh < hi; bh++ {
		b, h := bh/NH, bh%NH
		q := inp[b*T*C3+h*hs:]
		k := inp[b*T*C3+C+h*hs:]
		v := inp[b*T*C3+2*C+h*hs:]
		a := att[bh*T*T : (bh+1)*T*T]
		pre := a
		if preatt != nil {
			pre = preatt[bh*T*T : (bh+1)*T*T]
		}
		gemmSerial(false, true, T, T, hs, scale, q, C3, k, C3, 0, pre, T)
		for t := range T {
			lim := keyLimit(valid, b, t, T, causal)
			pr, ar := pre[t*T:(t+1)*T], a[t*T:(t+1)*T]
			clear(pr[lim:])
			if lim == 0 {
				clear(ar)
				continue
			}
			mx := pr[0]
			for _, x := range pr[1:lim] {
				mx = max(mx, x)
			}
			var sum float64
			for j := range lim {
				e := math.Exp(float64(pr[j] - mx))
				ar[j] = F(e)
				sum += e
			}
			inv := F(1 / sum)
			for j := range lim {
				ar[j] *= inv
			}
			clear(ar[lim:])
		}
		gemmSerial(false, false, T, hs, T, 1, a, T, v, C3, 0, out[b*T*C+h*hs:], C)
	}
}

// AttentionBackward accumulates the gradient of AttentionForward into dinp.
// The mask is read from att (masked weights are zero), so valid and causal
// are not needed.
//
//	dinp [B,T,3C] +=, datt [B,NH,T,T] scratch (overwritten),
//	dout [B,T,C], inp [B,T,3C], att [B,NH,T,T] from the forward pass
func AttentionBackward[F Float](p *Pool, dinp, datt, dout, inp, att []F, B, T, C, NH int) {
	var t task
	t.kind = kAttnBwd
	setSlot(&t, 0, dinp)
	setSlot(&t, 1, datt)
	setSlot(&t, 2, dout)
	setSlot(&t, 3, inp)
	setSlot(&t, 4, att)
	t.n = [10]int{B, T, C, NH}
	p.run(&t, B*NH, 1)
}

func attentionBackwardRange[F Float](dinp, datt, dout, inp, att []F, _ []int32, B, T, C, NH int, lo, hi int) {
	hs, C3 := C/NH, 3*C
	scale := F(1 / math.Sqrt(float64(hs)))
	for bh := lo; bh < hi; bh++ {
		b, h := bh/NH, bh%NH
		off := b*T*C3 + h*hs
		q, k, v := inp[off:], inp[off+C:], inp[off+2*C:]
		dq, dk, dv := dinp[off:], dinp[off+C:], dinp[off+2*C:]
		do := dout[b*T*C+h*hs:]
		a := att[bh*T*T : (bh+1)*T*T]
		da := datt[bh*T*T : (bh+1)*T*T]
		// datt = dout @ v^T ; dv += att^T @ dout
		gemmSerial(false, true, T, T, hs, 1, do, C, v, C3, 0, da, T)
		gemmSerial(true, false, T, hs, T, 1, a, T, do, C, 1, dv, C3)
		// softmax backward in place: dpreatt = att * (datt - <att, datt>) * scale
		for t := range T {
			ar, dr := a[t*T:(t+1)*T], da[t*T:(t+1)*T]
			var s float64
			for j, x := range ar {
				s += float64(x * dr[j])
			}
			sf := F(s)
			for j, x := range ar {
				dr[j] = x * (dr[j] - sf) * scale
			}
		}
		// dq += dpreatt @ k ; dk += dpreatt^T @ q
		gemmSerial(false, false, T, hs, T, 1, da, T, k, C3, 1, dq, C3)
		gemmSerial(true, false, T, hs, T, 1, da, T, q, C3, 1, dk, C3)
	}
}
