package optim

import (
	"errors"
	"math"
	"testing"
)

// Reference values from torch 1.13 (Debian python3-torch):
//
//	p = tensor([0.5,-1.25,2.0,0.0,3e-4]); AdamW([p], lr=0.01, betas=(0.9,0.98),
//	eps=1e-6, weight_decay=0.1), three steps with the grads below.
func TestAdamWMatchesTorch(t *testing.T) {
	p := []float32{0.5, -1.25, 2.0, 0.0, 3e-4}
	grads := [][]float32{{0.1, -0.2, 0.3, 1e-3, -5.0}, {-0.4, 0.0, 0.25, 2.0, 1.0}, {1.5, -0.7, 0.0, -3.0, 0.01}}
	want := [][]float64{
		{0.48950010538101196, -1.2387499809265137, 1.9880000352859497, -0.009990010410547256, 0.010299698449671268},
		{0.49458208680152893, -1.2307783365249634, 1.9760918617248535, -0.017389267683029175, 0.015422464348375797},
		{0.48911741375923157, -1.2220443487167358, 1.9664101600646973, -0.015260867774486542, 0.019381513819098473},
	}
	opt, err := New(len(p), Config{LR: 0.01, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	for s, g := range grads {
		if err := opt.Step(p, g); err != nil {
			t.Fatal(err)
		}
		for i := range p {
			if d := math.Abs(float64(p[i]) - want[s][i]); !(d <= 2e-7*(1+math.Abs(want[s][i]))) {
				t.Errorf("step %d p[%d] = %.9g want %.9g", s+1, i, p[i], want[s][i])
			}
		}
	}
	if st, _, _ := opt.State(); st != 3 {
		t.Fatalf("step count %d", st)
	}
}

func TestAdamWDeterministicAndRestore(t *testing.T) {
	run := func(split bool) []float32 {
		p := []float32{1, 2, 3}
		g := []float32{0.3, -0.1, 0.2}
		o, _ := New(3, DefaultConfig())
		for i := range 4 {
			if split && i == 2 {
				st, m, v := o.State()
				o2, _ := New(3, DefaultConfig())
				if err := o2.Restore(st, m, v); err != nil {
					t.Fatal(err)
				}
				o = o2
			}
			if err := o.Step(p, g); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	a, b := run(false), run(true)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("restore changed result: %v vs %v", a, b)
		}
	}
}

func TestAdamWRejects(t *testing.T) {
	bad := []Config{
		{LR: -1, Beta1: 0.9, Beta2: 0.999},
		{LR: math.NaN(), Beta1: 0.9, Beta2: 0.999},
		{LR: 1e-3, Beta1: 1, Beta2: 0.999},
		{LR: 1e-3, Beta1: 0.9, Beta2: -0.1},
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: -1},
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, WeightDecay: math.Inf(1)},
	}
	for _, c := range bad {
		if _, err := New(1, c); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v accepted: %v", c, err)
		}
	}
	o, _ := New(2, DefaultConfig())
	if err := o.Step(make([]float32, 2), make([]float32, 3)); !errors.Is(err, ErrSize) {
		t.Errorf("size mismatch accepted: %v", err)
	}
	if err := Update(make([]float32, 1), make([]float32, 1), make([]float32, 1), make([]float32, 1), 0, DefaultConfig()); !errors.Is(err, ErrConfig) {
		t.Errorf("step 0 accepted: %v", err)
	}
	if err := o.SetLR(-1); !errors.Is(err, ErrConfig) {
		t.Errorf("negative lr accepted: %v", err)
	}
}

// Reference: torch.nn.utils.clip_grad_norm_([3,4],[12]) with max_norm 6.5
// returns 13 and scales the grads by 6.5/(13+1e-6).
func TestClipGradNormMatchesTorch(t *testing.T) {
	a, b := []float32{3, 4}, []float32{12}
	n := ClipGradNorm(6.5, a, b)
	if n != 13 {
		t.Fatalf("norm %v", n)
	}
	want := []float64{1.4999998807907104, 1.9999998807907104, 5.999999523162842}
	got := []float32{a[0], a[1], b[0]}
	for i := range got {
		if !(math.Abs(float64(got[i])-want[i]) <= 1e-6) {
			t.Fatalf("clipped %v want %v", got, want)
		}
	}
	c := []float32{0.1}
	if n := ClipGradNorm(1, c); math.Abs(n-0.1) > 1e-7 || c[0] != 0.1 {
		t.Fatalf("below max changed: %v %v", n, c)
	}
	d := []float32{float32(math.NaN()), 1}
	if n := ClipGradNorm(1, d); !math.IsNaN(n) || d[1] != 1 {
		t.Fatalf("nan norm: %v %v", n, d)
	}
}

func TestAdamWNoAllocs(t *testing.T) {
	p, g := make([]float32, 1000), make([]float32, 1000)
	o, _ := New(1000, DefaultConfig())
	if a := testing.AllocsPerRun(10, func() { _ = o.Step(p, g); ClipGradNorm(1, g) }); a != 0 {
		t.Fatalf("allocs per step %v", a)
	}
}
