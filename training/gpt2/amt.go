package gpt2

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/mlecs/mlecs/training/nn"
)

// AMT is adaptive multimodal tuning on a backbone: every adapted projection carries a PRIVATE LoRA
// (never leaves the node) and a SHARED LoRA (aggregated over the mesh), and a per-layer gate
// g_l = sigmoid(θ_l) scales the shared branch:
//
//	out = W x + s·(B_p A_p x) + g_l·s·(B_s A_s x),   s = alpha/r
//
// Both branches have rank r. They are packed into the backbone's own adapters, which therefore have rank
// 2r (build the backbone with AMTBackbone): A = [A_p ; A_s] [2r,in] and B = [B_p , g_l·B_s] [out,2r], so
// B·A = B_p A_p + g_l B_s A_s and the backbone's Forward, Backward, Merge and Generate run unchanged.
// The gradients of the packed adapters are mapped back to the branches and the gate by AccumulateGrads:
//
//	dA_p = dA[:r], dA_s = dA[r:], dB_p = dB[:, :r], dB_s = g_l·dB[:, r:], dθ_l = g_l(1-g_l)·Σ dB[:, r:]⊙B_s
//
// Call Pack after any change to a branch or a gate and before Forward or Generate.
type AMT[F nn.Float] struct {
	m      *Model[F]
	branch Config // the shape of one branch: rank r, alpha/2 (same scale as the packed adapters)

	PrivateBuf, SharedBuf         []F // flat branch adapters, in the layout of a rank-r backbone (LoRASpecs)
	GradPrivateBuf, GradSharedBuf []F
	Gate, GradGate                []F // [L] gate logits θ_l and their gradients

	private, shared, gPrivate, gShared LoRA[F]
}

// AMTBackbone is the backbone config that hosts AMT branches of config c: rank and alpha doubled, so the
// packed adapters have rank 2r and the same scale alpha/r.
func AMTBackbone(c Config) Config {
	c.LoRARank *= 2
	c.LoRAAlpha *= 2
	return c
}

// NewAMT attaches private and shared branches to m, whose adapters must have an even rank 2r (see
// AMTBackbone). Branches start as InitAMT(0) would leave them; gates start at θ = 0 (g = 0.5).
func NewAMT[F nn.Float](m *Model[F]) (*AMT[F], error) {
	c := m.cfg
	if c.LoRARank < 2 || c.LoRARank%2 != 0 {
		return nil, fmt.Errorf("%w: AMT needs a backbone LoRA rank 2r, got %d", ErrConfig, c.LoRARank)
	}
	if m.merged {
		return nil, fmt.Errorf("%w: AMT on a merged backbone", ErrState)
	}
	b := c
	b.LoRARank, b.LoRAAlpha = c.LoRARank/2, c.LoRAAlpha/2
	ls := loraShapes(b)
	n := sumShapes(ls)
	a := &AMT[F]{m: m, branch: b,
		PrivateBuf: make([]F, n), SharedBuf: make([]F, n), GradPrivateBuf: make([]F, n), GradSharedBuf: make([]F, n),
		Gate: make([]F, c.NumLayers), GradGate: make([]F, c.NumLayers)}
	bind(a.private.fields(), ls, a.PrivateBuf)
	bind(a.shared.fields(), ls, a.SharedBuf)
	bind(a.gPrivate.fields(), ls, a.GradPrivateBuf)
	bind(a.gShared.fields(), ls, a.GradSharedBuf)
	a.Init(0)
	return a, nil
}

// BranchConfig is the config of one branch (rank r): the shape of the shared LoRA the mesh exchanges.
func (a *AMT[F]) BranchConfig() Config { return a.branch }

// Model is the backbone the branches are packed into.
func (a *AMT[F]) Model() *Model[F] { return a.m }

// Init resets both branches as InitLoRA does (A uniform, B = 0; the private branch from seed, the
// shared one from seed+1) and every gate logit to 0, then packs.
func (a *AMT[F]) Init(seed uint64) {
	initBranch(&a.private, a.branch, seed)
	initBranch(&a.shared, a.branch, seed+1)
	clear(a.Gate)
	_ = a.Pack() // only fails on a merged backbone; the next Pack reports it
}

func initBranch[F nn.Float](l *LoRA[F], c Config, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	C := c.Channels
	uniform := func(s []F, fanIn int) {
		bound := 1 / math.Sqrt(float64(fanIn))
		for i := range s {
			s[i] = F((2*rng.Float64() - 1) * bound)
		}
	}
	uniform(l.QKVA, C)
	uniform(l.AttProjA, C)
	uniform(l.FCA, C)
	uniform(l.FCProjA, 4*C)
	for _, s := range [][]F{l.QKVB, l.AttProjB, l.FCB, l.FCProjB} {
		clear(s)
	}
}

// GateValue is g_l = sigmoid(θ_l).
func (a *AMT[F]) GateValue(l int) F { return sigmoid(a.Gate[l]) }

func sigmoid[F nn.Float](x F) F { return F(1 / (1 + math.Exp(-float64(x)))) }

// branchPair returns the A [r,in] and B [out,r] views of projection k in layer l of a branch (nil when
// the projection is not adapted), with in and out.
func branchPair[F nn.Float](lo *LoRA[F], c Config, k, l int) (A, B []F, in, out int) {
	f := lo.fields()
	C, r := c.Channels, c.LoRARank
	switch k {
	case projQKV:
		in, out = C, 3*C
	case projAttProj:
		in, out = C, C
	case projFC:
		in, out = C, 4*C
	default:
		in, out = 4*C, C
	}
	return layerSlice(*f[2*k], l, r*in), layerSlice(*f[2*k+1], l, out*r), in, out
}

// Pack writes the branches and gates into the backbone's adapters. It fails if they are merged.
func (a *AMT[F]) Pack() error {
	if a.m.merged {
		return fmt.Errorf("%w: AMT Pack while LoRA is merged", ErrState)
	}
	r := a.branch.LoRARank
	for l := range a.branch.NumLayers {
		g := a.GateValue(l)
		for k := range numProj {
			v := a.m.proj(k, l)
			if v.a == nil {
				continue
			}
			ap, bp, in, out := branchPair(&a.private, a.branch, k, l)
			as, bs, _, _ := branchPair(&a.shared, a.branch, k, l)
			copy(v.a[:r*in], ap) // v.a [2r,in]
			copy(v.a[r*in:], as)
			for o := range out { // v.bm [out,2r]
				row := v.bm[o*2*r : (o+1)*2*r]
				copy(row[:r], bp[o*r:(o+1)*r])
				for j := range r {
					row[r+j] = g * bs[o*r+j]
				}
			}
		}
	}
	return nil
}

// AccumulateGrads adds the backbone's adapter gradients (of the last Backward) to the branch and gate
// gradients. Call ZeroGrad on both the backbone and the AMT before each step.
func (a *AMT[F]) AccumulateGrads() {
	r := a.branch.LoRARank
	gm := &a.m.GradAdapter
	for l := range a.branch.NumLayers {
		g := a.GateValue(l)
		var dg float64
		for k := range numProj {
			dA, dB, _, _ := branchPair(gm, a.m.cfg, k, l)
			if dA == nil {
				continue
			}
			dap, dbp, in, out := branchPair(&a.gPrivate, a.branch, k, l)
			das, dbs, _, _ := branchPair(&a.gShared, a.branch, k, l)
			_, bs, _, _ := branchPair(&a.shared, a.branch, k, l)
			for i := range r * in {
				dap[i] += dA[i]
				das[i] += dA[r*in+i]
			}
			for o := range out {
				row := dB[o*2*r : (o+1)*2*r]
				for j := range r {
					dbp[o*r+j] += row[j]
					dbs[o*r+j] += g * row[r+j]
					dg += float64(row[r+j]) * float64(bs[o*r+j])
				}
			}
		}
		a.GradGate[l] += F(float64(g) * (1 - float64(g)) * dg)
	}
}

// ZeroGrad clears the branch and gate gradients (not the backbone's).
func (a *AMT[F]) ZeroGrad() {
	clear(a.GradPrivateBuf)
	clear(a.GradSharedBuf)
	clear(a.GradGate)
}

// LoRASpec locates one named adapter tensor in a flat adapter buffer (Model.AdapterBuf, or an AMT branch).
type LoRASpec struct {
	Name   string // PEFT naming, as LoRATensors: h.N.attn.c_attn.lora_A.weight
	Shape  []int  // [r,in] for A, [out,r] for B
	Offset int    // start in the flat buffer
}

// LoRASpecs lists the adapter tensors of config c in LoRATensors order (by layer, then projection, A then
// B) with their offsets in the flat adapter buffer of a model of config c.
func LoRASpecs(c Config) []LoRASpec {
	if c.LoRARank == 0 {
		return nil
	}
	ls := loraShapes(c)
	starts := make([]int, len(ls))
	off := 0
	for i, s := range ls {
		starts[i] = off
		off += int(s.numel())
	}
	names := [numProj]string{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}
	r, C := c.LoRARank, c.Channels
	dims := [numProj][2]int{{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}}
	var out []LoRASpec
	for l := range c.NumLayers {
		for k := range numProj {
			if ls[2*k].numel() == 0 {
				continue
			}
			in, o := dims[k][0], dims[k][1]
			h := "h." + strconv.Itoa(l) + "." + names[k]
			out = append(out,
				LoRASpec{Name: h + ".lora_A.weight", Shape: []int{r, in}, Offset: starts[2*k] + l*r*in},
				LoRASpec{Name: h + ".lora_B.weight", Shape: []int{o, r}, Offset: starts[2*k+1] + l*o*r})
		}
	}
	return out
}
