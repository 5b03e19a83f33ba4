package nn

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/training/safetensors"
)

// Cross-checks against PyTorch fixtures (training/testdata/torchref, see its
// README): inputs are float32, references computed by torch in float64, and
// our float32 path must agree within the README's tolerances.

type ref struct {
	t *testing.T
	f *safetensors.File
}

func loadRef(t *testing.T, name string) ref {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join("..", "testdata", "torchref", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return ref{t, f}
}

// get returns a copy of tensor name.
func (r ref) get(name string) []float32 {
	r.t.Helper()
	x, ok := r.f.Tensor(name)
	if !ok {
		r.t.Fatalf("fixture has no tensor %q", name)
	}
	return append([]float32(nil), x.Data...)
}

// near fails if got and the fixture's tensor differ by more than abs + rel*|want|.
func (r ref) near(name string, got []float32, abs, rel float64) {
	r.t.Helper()
	want := r.get(name)
	if len(got) < len(want) {
		r.t.Fatalf("%s: got %d values, want %d", name, len(got), len(want))
	}
	worst := 0.0
	for i, w := range want {
		d := math.Abs(float64(got[i]) - float64(w))
		if !(d <= abs+rel*math.Abs(float64(w))) { // negated so a NaN fails
			r.t.Errorf("%s[%d] = %v, torch %v", name, i, got[i], w)
			return
		}
		worst = max(worst, d)
	}
	r.t.Logf("%s: max abs diff %.2e over %d values", name, worst, len(want))
}

const (
	fwdAbs, fwdRel = 1e-5, 1e-4
	grdAbs, grdRel = 1e-5, 1e-3
)

func TestTorchLayerNormGELUAttention(t *testing.T) {
	r := loadRef(t, "layers.safetensors")
	N, C := 3, 10
	x, w, b, dy := r.get("layernorm.x"), r.get("layernorm.w"), r.get("layernorm.b"), r.get("layernorm.dy")
	y, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	LayerNormForward(nil, y, mean, rstd, x, w, b, N, C)
	r.near("layernorm.y", y, fwdAbs, fwdRel)
	r.near("layernorm.mean", mean, fwdAbs, fwdRel)
	r.near("layernorm.rstd", rstd, fwdAbs, fwdRel)
	dx, dw, db := make([]float32, N*C), make([]float32, C), make([]float32, C)
	LayerNormBackward(nil, dx, dw, db, dy, x, w, mean, rstd, N, C)
	r.near("layernorm.grad.x", dx, grdAbs, grdRel)
	r.near("layernorm.grad.w", dw, grdAbs, grdRel)
	r.near("layernorm.grad.b", db, grdAbs, grdRel)

	gx, gdy := r.get("gelu.x"), r.get("gelu.dy")
	gy, gdx := make([]float32, len(gx)), make([]float32, len(gx))
	GELUForward(nil, gy, gx, len(gx))
	GELUBackward(nil, gdx, gx, gdy, len(gx))
	r.near("gelu.y", gy, fwdAbs, fwdRel)
	r.near("gelu.grad.x", gdx, grdAbs, grdRel)

	B, T, AC, NH := 2, 5, 8, 2
	qkv, dout := r.get("attn.qkv"), r.get("attn.dout")
	out, att := make([]float32, B*T*AC), make([]float32, B*NH*T*T)
	AttentionForward(nil, out, nil, att, qkv, nil, B, T, AC, NH, true)
	r.near("attn.out", out, fwdAbs, fwdRel)
	r.near("attn.att", att, fwdAbs, fwdRel)
	dqkv, datt := make([]float32, len(qkv)), make([]float32, len(att))
	AttentionBackward(nil, dqkv, datt, dout, qkv, att, B, T, AC, NH)
	r.near("attn.grad.qkv", dqkv, grdAbs, grdRel)
}

func TestTorchLinearLoRA(t *testing.T) {
	r := loadRef(t, "lora.safetensors")
	N, C, OC, R := 4, 16, 8, 4
	x, w, bias, a, b, dy := r.get("x"), r.get("W"), r.get("bias"), r.get("A"), r.get("B"), r.get("dy")
	scale := r.get("scale")[0]
	y, h := make([]float32, N*OC), make([]float32, N*R)
	LoRAForward(nil, y, h, x, w, bias, a, b, N, C, OC, R, scale)
	r.near("y", y, fwdAbs, fwdRel)
	dx, da, db, dh := make([]float32, N*C), make([]float32, R*C), make([]float32, OC*R), make([]float32, N*R)
	LoRABackward(nil, dx, da, db, dh, dy, x, h, w, a, b, N, C, OC, R, scale)
	r.near("grad.x", dx, grdAbs, grdRel)
	r.near("grad.A", da, grdAbs, grdRel)
	r.near("grad.B", db, grdAbs, grdRel)
	// the base Linear's own gradients
	dw, dbias := make([]float32, OC*C), make([]float32, OC)
	LinearBackward(nil, nil, dw, dbias, dy, x, w, N, C, OC)
	r.near("grad.W", dw, grdAbs, grdRel)
	r.near("grad.bias", dbias, grdAbs, grdRel)
	LoRAMerge(w, a, b, C, OC, R, scale)
	r.near("merged.W", w, fwdAbs, fwdRel)
}

// TestTorchInfoNCE runs the whole chain normalise -> Linear (no bias) ->
// scale 1/tau -> InfoNCE and back to the unnormalised inputs.
func TestTorchInfoNCE(t *testing.T) {
	r := loadRef(t, "infonce.safetensors")
	n, d := 6, 8
	q, k := r.get("q"), r.get("k")
	tau := r.get("tau")[0]
	qn, kn, qnorm, knorm := make([]float32, n*d), make([]float32, n*d), make([]float32, n), make([]float32, n)
	L2NormalizeForward(qn, qnorm, q, n, d)
	L2NormalizeForward(kn, knorm, k, n, d)
	logits := make([]float32, n*n)
	LinearForward(nil, logits, qn, kn, nil, n, d, n)
	ScaleForward(logits, logits, 1/tau, n*n)
	r.near("logits", logits, fwdAbs, fwdRel)
	for _, sym := range []bool{false, true} {
		pr, pc := make([]float32, n*n), make([]float32, n*n)
		loss := InfoNCEForward(pr, pc, logits, n, sym)
		lname, gname := "loss", "grad."
		if sym {
			lname, gname = "loss_sym", "grad_sym."
		}
		r.near(lname, []float32{loss}, fwdAbs, fwdRel)
		dlog, dl2 := make([]float32, n*n), make([]float32, n*n)
		InfoNCEBackward(dlog, pr, pc, n, sym, 1)
		ScaleBackward(dl2, dlog, 1/tau, n*n)
		dqn, dkn := make([]float32, n*d), make([]float32, n*d)
		LinearBackward(nil, dqn, dkn, nil, dl2, qn, kn, n, d, n)
		dq, dk := make([]float32, n*d), make([]float32, n*d)
		L2NormalizeBackward(dq, dqn, qn, qnorm, n, d)
		L2NormalizeBackward(dk, dkn, kn, knorm, n, d)
		r.near(gname+"q", dq, grdAbs, grdRel)
		r.near(gname+"k", dk, grdAbs, grdRel)
	}
}

func TestTorchGram(t *testing.T) {
	r := loadRef(t, "gram.safetensors")
	n, k, d := 5, 2, 8
	a, m := r.get("a"), r.get("m")
	tau := r.get("tau")[0]
	an, mn, anorm, mnorm := make([]float32, n*d), make([]float32, n*k*d), make([]float32, n), make([]float32, n*k)
	L2NormalizeForward(an, anorm, a, n, d)
	L2NormalizeForward(mn, mnorm, m, n*k, d)
	vol, lg, pr, pc := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	loss, err := GramForward(vol, lg, pr, pc, an, mn, nil, n, k, d, tau)
	if err != nil {
		t.Fatal(err)
	}
	r.near("V", vol, fwdAbs, fwdRel)
	r.near("logits", lg, fwdAbs, fwdRel)
	r.near("loss", []float32{loss}, fwdAbs, fwdRel)
	dan, dmn := make([]float32, n*d), make([]float32, n*k*d)
	if err := GramBackward(dan, dmn, vol, pr, pc, an, mn, nil, n, k, d, tau, 1); err != nil {
		t.Fatal(err)
	}
	da, dm := make([]float32, n*d), make([]float32, n*k*d)
	L2NormalizeBackward(da, dan, an, anorm, n, d)
	L2NormalizeBackward(dm, dmn, mn, mnorm, n*k, d)
	r.near("grad.a", da, grdAbs, grdRel)
	r.near("grad.m", dm, grdAbs, grdRel)
}
