package nn

// LinearForward computes out = inp @ w^T + bias.
//
//	out [N,OC], inp [N,C], w [OC,C], bias [OC] or nil
func LinearForward[F Float](p *Pool, out, inp, w, bias []F, N, C, OC int) {
	beta := F(0)
	if bias != nil {
		for n := range N {
			copy(out[n*OC:(n+1)*OC], bias[:OC])
		}
		beta = 1
	}
	Gemm(p, false, true, N, OC, C, 1, inp, C, w, C, beta, out, OC)
}

// LinearBackward accumulates the gradients of LinearForward.
//
//	dinp [N,C] += dout @ w        (nil: skip)
//	dw   [OC,C] += dout^T @ inp   (nil: skip)
//	dbias [OC] += sum_n dout[n]   (nil: skip)
//	dout [N,OC], inp [N,C], w [OC,C]
func LinearBackward[F Float](p *Pool, dinp, dw, dbias, dout, inp, w []F, N, C, OC int) {
	if dinp != nil {
		Gemm(p, false, false, N, C, OC, 1, dout, OC, w, C, 1, dinp, C)
	}
	if dw != nil {
		Gemm(p, true, false, OC, C, N, 1, dout, OC, inp, C, 1, dw, C)
	}
	if dbias != nil {
		ColSum(p, dbias, dout, N, OC)
	}
}

// LoRAForward is a Linear layer with a frozen weight w (and optional bias)
// adapted by the trainable low-rank pair a, b:
//
//	h   [N,R]  = inp @ a^T              (kept for the backward pass)
//	out [N,OC] = inp @ w^T + bias + scale * h @ b^T
//	inp [N,C], w [OC,C], bias [OC] or nil, a [R,C], b [OC,R], scale = alpha/r
func LoRAForward[F Float](p *Pool, out, h, inp, w, bias, a, b []F, N, C, OC, R int, scale F) {
	LinearForward(p, out, inp, w, bias, N, C, OC)
	Gemm(p, false, true, N, R, C, 1, inp, C, a, C, 0, h, R)
	Gemm(p, false, true, N, OC, R, scale, h, R, b, R, 1, out, OC)
}

// LoRABackward accumulates the gradients of LoRAForward. The frozen w and
// bias get none.
//
//	dinp [N,C]  += dout @ w + dh @ a     (nil: skip)
//	da   [R,C]  += dh^T @ inp            (nil: skip)
//	db   [OC,R] += scale * dout^T @ h    (nil: skip)
//	dh   [N,R]  scratch, overwritten with scale * dout @ b
//	dout [N,OC], inp [N,C], h [N,R], w [OC,C], a [R,C], b [OC,R]
func LoRABackward[F Float](p *Pool, dinp, da, db, dh, dout, inp, h, w, a, b []F, N, C, OC, R int, scale F) {
	if db != nil {
		Gemm(p, true, false, OC, R, N, scale, dout, OC, h, R, 1, db, R)
	}
	if dinp == nil && da == nil {
		return
	}
	Gemm(p, false, false, N, R, OC, scale, dout, OC, b, R, 0, dh, R)
	if da != nil {
		Gemm(p, true, false, R, C, N, 1, dh, R, inp, C, 1, da, C)
	}
	if dinp != nil {
		Gemm(p, false, false, N, C, OC, 1, dout, OC, w, C, 1, dinp, C)
		Gemm(p, false, false, N, C, R, 1, dh, R, a, C, 1, dinp, C)
	}
}

// LoRAMerge folds the adapter into the weight: w [OC,C] += scale * b [OC,R] @ a [R,C].
func LoRAMerge[F Float](w, a, b []F, C, OC, R int, scale F) {
	Gemm(nil, false, false, OC, C, R, scale, b, R, a, C, 1, w, C)
}

// LoRAUnmerge undoes LoRAMerge: w [OC,C] -= scale * b [OC,R] @ a [R,C].
func LoRAUnmerge[F Float](w, a, b []F, C, OC, R int, scale F) {
	Gemm(nil, false, false, OC, C, R, -scale, b, R, a, C, 1, w, C)
}
