package federated

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mlecs/mlecs/training/nn"
)

// Aligner is the SE-CCL alignment loss of one side: own representations z [n,dz] are mapped by a
// private projection W [dt,dz] (only when dz != dt) and aligned to fixed target representations
// t [n,dt] of the same samples (row i of z and t is one public sample id) with InfoNCE over the rows:
//
//	loss = mean_i -log softmax_j(<ẑ_i, t̂_j>/τ)[i],   ẑ = normalise(W z), t̂ = normalise(t)
//
// The targets are the other side's representations and receive no gradient. Buffers are allocated
// once for at most maxN rows.
type Aligner[F nn.Float] struct {
	dz, dt, maxN int
	tau          float64

	W, G []F // [dt,dz] projection and its gradient; nil when dz == dt

	n                           int
	z, proj, pn, pNorm, tn, tNm []F
	logits, probs, dlogits      []F
	dpn, dproj                  []F
}

// NewAligner builds the loss for own width dz, target width dt, at most maxN rows, temperature tau.
// The projection (if any) is initialised N(0, 1/dz) from seed.
func NewAligner[F nn.Float](dz, dt, maxN int, tau float64, seed uint64) (*Aligner[F], error) {
	if dz < 1 || dt < 1 || maxN < 2 || !(tau > 0) || math.IsInf(tau, 0) {
		return nil, fmt.Errorf("%w: aligner dz %d, dt %d, maxN %d (>= 2), tau %v (> 0)", ErrConfig, dz, dt, maxN, tau)
	}
	a := &Aligner[F]{dz: dz, dt: dt, maxN: maxN, tau: tau,
		z: make([]F, maxN*dz), proj: make([]F, maxN*dt), pn: make([]F, maxN*dt), pNorm: make([]F, maxN),
		tn: make([]F, maxN*dt), tNm: make([]F, maxN), logits: make([]F, maxN*maxN), probs: make([]F, maxN*maxN),
		dlogits: make([]F, maxN*maxN), dpn: make([]F, maxN*dt), dproj: make([]F, maxN*dt)}
	if dz != dt {
		a.W, a.G = make([]F, dt*dz), make([]F, dt*dz)
		rng := rand.New(rand.NewPCG(seed, 0x5eCC1))
		std := 1 / math.Sqrt(float64(dz))
		for i := range a.W {
			a.W[i] = F(rng.NormFloat64() * std)
		}
	}
	return a, nil
}

// Forward computes the loss for n rows (2 <= n <= maxN) of z [n,dz] against t [n,dt].
func (a *Aligner[F]) Forward(z, t []F, n int) (F, error) {
	if n < 2 || n > a.maxN || len(z) != n*a.dz || len(t) != n*a.dt {
		return 0, fmt.Errorf("%w: align %d rows (want 2..%d) of z %d and t %d values", ErrConfig, n, a.maxN, len(z), len(t))
	}
	a.n = n
	dz, dt := a.dz, a.dt
	copy(a.z, z)
	p := a.proj[:n*dt]
	if a.W != nil {
		nn.LinearForward(nil, p, a.z[:n*dz], a.W, nil, n, dz, dt)
	} else {
		copy(p, z)
	}
	nn.L2NormalizeForward(a.pn[:n*dt], a.pNorm[:n], p, n, dt)
	nn.L2NormalizeForward(a.tn[:n*dt], a.tNm[:n], t, n, dt)
	lg := a.logits[:n*n]
	nn.LinearForward(nil, lg, a.pn[:n*dt], a.tn[:n*dt], nil, n, dt, n) // [n,n] = pn @ tn^T
	inv := F(1 / a.tau)
	for i := range lg {
		lg[i] *= inv
	}
	return nn.InfoNCEForward(a.probs[:n*n], nil, lg, n, false), nil
}

// Backward writes dz [n,dz] = weight · dLoss/dz of the last Forward and accumulates weight · dLoss/dW
// into G.
func (a *Aligner[F]) Backward(dz []F, weight F) error {
	n, dZ, dt := a.n, a.dz, a.dt
	if n == 0 || len(dz) != n*dZ {
		return fmt.Errorf("%w: align backward into %d values after a forward of %d rows", ErrConfig, len(dz), n)
	}
	dl := a.dlogits[:n*n]
	clear(dl)
	nn.InfoNCEBackward(dl, a.probs[:n*n], nil, n, false, weight)
	inv := F(1 / a.tau)
	for i := range dl {
		dl[i] *= inv
	}
	dpn := a.dpn[:n*dt]
	clear(dpn)
	nn.Gemm(nil, false, false, n, dt, n, 1, dl, n, a.tn[:n*dt], dt, 0, dpn, dt) // dpn = dlogits @ tn
	dp := a.dproj[:n*dt]
	clear(dp)
	nn.L2NormalizeBackward(dp, dpn, a.pn[:n*dt], a.pNorm[:n], n, dt)
	clear(dz)
	if a.W == nil {
		copy(dz, dp)
		return nil
	}
	nn.LinearBackward(nil, dz, a.G, nil, dp, a.z[:n*dZ], a.W, n, dZ, dt)
	return nil
}

// ZeroGrad clears the projection gradient.
func (a *Aligner[F]) ZeroGrad() { clear(a.G) }
