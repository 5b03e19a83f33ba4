package aggregate

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/payload"
)

func vec(name string, vs ...float32) payload.Tensor {
	return payload.Tensor{Name: name, Shape: []int{len(vs)}, Data: vs}
}

func contrib(edge string, n int64, mods []string, ts ...payload.Tensor) Contribution {
	return Contribution{Edge: edge, Samples: n, Modalities: mods, Tensors: ts}
}

func near(t *testing.T, what string, got []float32, want ...float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-5*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func mustNew(t *testing.T, layout []Spec, opts ...Option) *Aggregator {
	t.Helper()
	a, err := New(layout, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustAggregate(t *testing.T, a *Aggregator, cs []Contribution) *Result {
	t.Helper()
	r, err := a.Aggregate(cs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var img, txt = []string{"img"}, []string{"txt"}
var both = []string{"img", "txt"}

// TestWeightedMean: one shared tensor, three edges.
//
//	e1: n=10, {img}      raw weight 10*1 = 10 -> 1/8, values [ 1, 2]
//	e2: n=20, {img,txt}  raw weight 20*2 = 40 -> 1/2, values [ 3, 4]
//	e3: n=30, {txt}      raw weight 30*1 = 30 -> 3/8, values [-1, 0]
//	MMA:    [1/8 + 3/2 - 3/8, 2/8 + 2] = [1.25, 2.25]
//	FedAvg: weights 1/6, 1/3, 1/2 -> [1/6 + 1 - 1/2, 2/6 + 4/3] = [2/3, 5/3]
func TestWeightedMean(t *testing.T) {
	layout := []Spec{{Name: "h.0.lora_A", Shape: []int{2}}}
	cs := []Contribution{
		contrib("e1", 10, img, vec("h.0.lora_A", 1, 2)),
		contrib("e2", 20, both, vec("h.0.lora_A", 3, 4)),
		contrib("e3", 30, txt, vec("h.0.lora_A", -1, 0)),
	}
	r := mustAggregate(t, mustNew(t, layout), cs)
	near(t, "mma", r.Tensors[0].Data, 1.25, 2.25)
	near(t, "mma weights", []float32{float32(r.Groups[0].Weights[0]), float32(r.Groups[0].Weights[1]), float32(r.Groups[0].Weights[2])}, 0.125, 0.5, 0.375)
	if r.Groups[0].Name != DefaultGroup {
		t.Fatalf("group %q, want %q", r.Groups[0].Name, DefaultGroup)
	}
	r = mustAggregate(t, mustNew(t, layout, WithFedAvg()), cs)
	near(t, "fedavg", r.Tensors[0].Data, 2.0/3, 5.0/3)
}

// TestGroupFiltering: a shared backbone tensor, one tensor per modality, one depending on both.
//
//	e1: n=10 {img}      values shared 1, img 10, txt 100, both 1000
//	e2: n=20 {img,txt}  values        2,     20,     200,      2000
//	e3: n=30 {txt}      values        3,     30,     300,      3000
//	shared (all modalities): raw 10, 40, 30 -> 1/8, 1/2, 3/8 -> 1/8 + 1 + 9/8 = 2.25
//	img (e1, e2): raw 10, 20 -> 1/3, 2/3 -> 10/3 + 40/3 = 50/3
//	txt (e2, e3): raw 20, 30 -> 2/5, 3/5 -> 80 + 180 = 260
//	both, any: raw 10*1, 20*2, 30*1 -> as shared: 125 + 1000 + 1125 = 2250; both, all: only e2 -> 2000
func TestGroupFiltering(t *testing.T) {
	layout := []Spec{{"h.0.lora", []int{1}}, {"enc.img.w", []int{1}}, {"enc.txt.w", []int{1}}, {"fuse.w", []int{1}}}
	groups := WithGroups(
		Group{Name: "img", Prefixes: []string{"enc.img."}, Modalities: img},
		Group{Name: "txt", Prefixes: []string{"enc.txt."}, Modalities: txt},
		Group{Name: "both", Prefixes: []string{"fuse."}, Modalities: both},
	)
	mk := func(edge string, n int64, mods []string, s float32) Contribution {
		return contrib(edge, n, mods, vec("h.0.lora", s), vec("enc.img.w", 10*s), vec("enc.txt.w", 100*s), vec("fuse.w", 1000*s))
	}
	cs := []Contribution{mk("e1", 10, img, 1), mk("e2", 20, both, 2), mk("e3", 30, txt, 3)}
	r := mustAggregate(t, mustNew(t, layout, groups, WithModalities("img", "txt")), cs)
	near(t, "shared", r.Tensors[0].Data, 2.25)
	near(t, "img", r.Tensors[1].Data, 50.0/3)
	near(t, "txt", r.Tensors[2].Data, 260)
	near(t, "both/any", r.Tensors[3].Data, 2250)
	for _, g := range r.Groups {
		if g.Name == "img" && strings.Join(g.Edges, ",") != "e1,e2" {
			t.Fatalf("img group edges %v, want e1,e2", g.Edges)
		}
	}
	r = mustAggregate(t, mustNew(t, layout, groups, WithEligibility(AllModalities)), cs)
	near(t, "both/all", r.Tensors[3].Data, 2000)
	near(t, "img/all", r.Tensors[1].Data, 50.0/3)

	// No edge holds "aud": its group aggregates to a zero delta and reports no edges.
	layout = append(layout, Spec{"enc.aud.w", []int{2}})
	for i := range cs {
		cs[i].Tensors = append(cs[i].Tensors, vec("enc.aud.w", 5, 5))
	}
	r = mustAggregate(t, mustNew(t, layout, groups, WithGroups(Group{Name: "aud", Prefixes: []string{"enc.aud."}, Modalities: []string{"aud"}})), cs)
	near(t, "aud", r.Tensors[4].Data, 0, 0)
	if g := r.Groups[3]; g.Name != "aud" || len(g.Edges) != 0 || g.Tensors != 1 {
		t.Fatalf("aud group report %+v", g)
	}
}

func randContribs(r *rand.Rand, layout []Spec, n int, mods []string) []Contribution {
	cs := make([]Contribution, n)
	for k := range cs {
		cs[k] = Contribution{Edge: "e" + string(rune('a'+k)), Samples: int64(1 + r.IntN(100)), Modalities: mods}
		for _, s := range layout {
			d := make([]float32, s.numel())
			for j := range d {
				d[j] = float32(r.NormFloat64())
			}
			cs[k].Tensors = append(cs[k].Tensors, payload.Tensor{Name: s.Name, Shape: s.Shape, Data: d})
		}
	}
	return cs
}

// TestFedAvgEquivalence: when every edge holds every modality, MMA weights n_i*|M| normalise to FedAvg's.
func TestFedAvgEquivalence(t *testing.T) {
	layout := []Spec{{"h.0.a", []int{3, 4}}, {"h.0.b", []int{5}}, {"enc.img.w", []int{7}}}
	groups := WithGroups(Group{Name: "img", Prefixes: []string{"enc.img."}, Modalities: img})
	cs := randContribs(rand.New(rand.NewPCG(1, 1)), layout, 5, both)
	mma := mustAggregate(t, mustNew(t, layout, groups), cs)
	fed := mustAggregate(t, mustNew(t, layout, groups, WithFedAvg()), cs)
	for i := range layout {
		want := make([]float64, len(fed.Tensors[i].Data))
		for j, v := range fed.Tensors[i].Data {
			want[j] = float64(v)
		}
		near(t, layout[i].Name, mma.Tensors[i].Data, want...)
	}
}

func TestRejections(t *testing.T) {
	layout := []Spec{{"a", []int{2}}, {"b", []int{1}}}
	ok := func(edge string, x float32) Contribution {
		return contrib(edge, 10, img, vec("a", x, x), vec("b", x))
	}
	cs := []Contribution{
		ok("c1", 1), ok("c2", 1.1), ok("c3", 0.9), ok("c4", 1),
		contrib("nan", 10, img, vec("a", 1, float32(math.NaN())), vec("b", 1)),
		contrib("inf", 10, img, vec("a", 1, 1), vec("b", float32(math.Inf(-1)))),
		contrib("shape", 10, img, vec("a", 1, 1, 1), vec("b", 1)),
		contrib("missing", 10, img, vec("a", 1, 1)),
		contrib("extra", 10, img, vec("a", 1, 1), vec("c", 1)),
		contrib("twice", 10, img, vec("a", 1, 1), vec("a", 1, 1)),
		ok("huge", 100), // norm 100*sqrt(3) > 3 x median sqrt(3)
		contrib("", 10, img, vec("a", 1, 1), vec("b", 1)),
		contrib("zero-samples", 0, img, vec("a", 1, 1), vec("b", 1)),
		contrib("no-mods", 10, nil, vec("a", 1, 1), vec("b", 1)),
		contrib("alien", 10, []string{"smell"}, vec("a", 1, 1), vec("b", 1)),
		ok("c1", 1), // second contribution of c1
	}
	want := map[string]error{
		"nan": ErrNonFinite, "inf": ErrNonFinite, "shape": ErrShape, "missing": ErrShape, "extra": ErrShape, "twice": ErrShape,
		"huge": ErrNorm, "": ErrContribution, "zero-samples": ErrContribution, "no-mods": ErrContribution, "alien": ErrContribution,
		"c1": ErrDuplicate,
	}
	r := mustAggregate(t, mustNew(t, layout, WithNormFactor(3), WithModalities("img", "txt")), cs)
	if len(r.Rejected) != len(want) {
		t.Fatalf("%d rejections, want %d: %+v", len(r.Rejected), len(want), r.Rejected)
	}
	for _, rj := range r.Rejected {
		if !errors.Is(rj.Err, want[rj.Edge]) {
			t.Errorf("edge %q: %v, want %v", rj.Edge, rj.Err, want[rj.Edge])
		}
	}
	if len(r.Accepted) != 4 {
		t.Fatalf("accepted %+v", r.Accepted)
	}
	near(t, "a", r.Tensors[0].Data, 1, 1) // mean of 1, 1.1, 0.9, 1 with equal weights
	near(t, "b", r.Tensors[1].Data, 1)

	// Absolute cap: norm sqrt(3)*1.1 = 1.905 > 1.9 rejects c2 only.
	r = mustAggregate(t, mustNew(t, layout, WithMaxNorm(1.9)), cs[:4])
	if len(r.Rejected) != 1 || r.Rejected[0].Edge != "c2" || !errors.Is(r.Rejected[0].Err, ErrNorm) {
		t.Fatalf("absolute cap rejections %+v", r.Rejected)
	}
	// Nothing valid: ErrNoContributions, with the reasons.
	r, err := mustNew(t, layout).Aggregate(cs[4:6])
	if !errors.Is(err, ErrNoContributions) || len(r.Rejected) != 2 {
		t.Fatalf("err %v, rejected %+v", err, r.Rejected)
	}
}

// TestRobustHandComputed: one coordinate, four edges.
//
//	values 1, 2, 3, 100; equal weights: median (2+3)/2 = 2.5; trimmed mean (trim 0.25 -> drop 1 each end) (2+3)/2 = 2.5
//	samples 1, 1, 1, 5: weighted median: cumulative 1, 2, 3, 8 of 8 -> first >= 4 is 100; trimmed mean
//	drops 1 and 100, then (1*2 + 1*3)/2 = 2.5
//	values 1, 2, 3 (odd), equal weights: median 2
func TestRobustHandComputed(t *testing.T) {
	layout := []Spec{{"w", []int{1}}}
	mk := func(ns []int64, vs ...float32) []Contribution {
		cs := make([]Contribution, len(vs))
		for k, v := range vs {
			cs[k] = contrib(string(rune('a'+k)), ns[k], img, vec("w", v))
		}
		return cs
	}
	eq := mk([]int64{1, 1, 1, 1}, 1, 2, 3, 100)
	near(t, "median", mustAggregate(t, mustNew(t, layout, WithMedian()), eq).Tensors[0].Data, 2.5)
	near(t, "trimmed", mustAggregate(t, mustNew(t, layout, WithTrimmedMean(0.25)), eq).Tensors[0].Data, 2.5)
	near(t, "mean", mustAggregate(t, mustNew(t, layout), eq).Tensors[0].Data, 26.5)
	w := mk([]int64{1, 5, 1, 1}, 3, 100, 1, 2) // unsorted on purpose; the weight 5 is on 100
	near(t, "weighted median", mustAggregate(t, mustNew(t, layout, WithMedian()), w).Tensors[0].Data, 100)
	w = mk([]int64{1, 1, 1, 5}, 1, 2, 3, 100)
	near(t, "weighted trimmed", mustAggregate(t, mustNew(t, layout, WithTrimmedMean(0.25)), w).Tensors[0].Data, 2.5)
	near(t, "odd median", mustAggregate(t, mustNew(t, layout, WithMedian()), mk([]int64{1, 1, 1}, 3, 1, 2)).Tensors[0].Data, 2)
}

// TestRobustAgainstPoison: 8 clean edges near a base delta v, one sign-flipped (-v) and one scaled x100.
// Trimmed mean (trim 0.2: drops 2 per end) and median stay within 0.05|v| of the clean mean; the plain
// mean does not (it moves by about (100 - 1 - 1)/10 = 9.8 v), which shows the test can fail.
func TestRobustAgainstPoison(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	layout := []Spec{{"w", []int{64}}}
	base := make([]float32, 64)
	for j := range base {
		base[j] = float32(0.5 + r.Float64()) // |v| in [0.5, 1.5)
	}
	var cs []Contribution
	clean := make([]float64, 64)
	for k := range 8 {
		d := make([]float32, 64)
		for j := range d {
			d[j] = base[j] + float32(0.01*r.NormFloat64())
			clean[j] += float64(d[j]) / 8
		}
		cs = append(cs, contrib("clean"+string(rune('0'+k)), 50, img, payload.Tensor{Name: "w", Shape: []int{64}, Data: d}))
	}
	flip, big := make([]float32, 64), make([]float32, 64)
	for j := range base {
		flip[j], big[j] = -base[j], 100*base[j]
	}
	cs = append(cs, contrib("flip", 50, img, payload.Tensor{Name: "w", Shape: []int{64}, Data: flip}),
		contrib("x100", 50, img, payload.Tensor{Name: "w", Shape: []int{64}, Data: big}))
	for _, c := range []struct {
		name string
		opt  Option
		ok   bool
	}{{"trimmed", WithTrimmedMean(0.2), true}, {"median", WithMedian(), true}, {"mean", WithMean(), false}} {
		out := mustAggregate(t, mustNew(t, layout, c.opt), cs).Tensors[0].Data
		worst := 0.0
		for j := range out {
			worst = math.Max(worst, math.Abs(float64(out[j])-clean[j])/float64(base[j]))
		}
		if (worst <= 0.05) != c.ok {
			t.Errorf("%s: worst relative distance to the clean mean %.3g (robust expected: %v)", c.name, worst, c.ok)
		}
	}
}

// TestSampleCapping: declared 10, 10, 20, 1000 with values 0, 0, 0, 1.
//
//	no cap: 1000/1040 = 0.9615
//	factor 2: lower median of (10, 10, 20, 1000) is 10 -> cap 20 -> weights 10, 10, 20, 20 -> 20/60 = 1/3
//	max 15: 10, 10, 15, 15 -> 15/50 = 0.3
func TestSampleCapping(t *testing.T) {
	layout := []Spec{{"w", []int{1}}}
	cs := []Contribution{
		contrib("a", 10, img, vec("w", 0)), contrib("b", 10, img, vec("w", 0)),
		contrib("c", 20, img, vec("w", 0)), contrib("d", 1000, img, vec("w", 1)),
	}
	near(t, "none", mustAggregate(t, mustNew(t, layout), cs).Tensors[0].Data, 1000.0/1040)
	r := mustAggregate(t, mustNew(t, layout, WithSampleFactor(2)), cs)
	near(t, "factor", r.Tensors[0].Data, 1.0/3)
	if a := r.Accepted[3]; a.Declared != 1000 || a.Samples != 20 {
		t.Fatalf("capped entry %+v", a)
	}
	near(t, "max", mustAggregate(t, mustNew(t, layout, WithMaxSamples(15)), cs).Tensors[0].Data, 0.3)
}

func TestConfigErrors(t *testing.T) {
	l := []Spec{{"a", []int{1}}}
	cases := []struct {
		name   string
		layout []Spec
		opts   []Option
	}{
		{"empty layout", nil, nil},
		{"zero dim", []Spec{{"a", []int{0}}}, nil},
		{"duplicate tensor", []Spec{{"a", []int{1}}, {"a", []int{1}}}, nil},
		{"trim 0.5", l, []Option{WithTrimmedMean(0.5)}},
		{"norm factor 1", l, []Option{WithNormFactor(1)}},
		{"negative max norm", l, []Option{WithMaxNorm(-1)}},
		{"sample factor 0.5", l, []Option{WithSampleFactor(0.5)}},
		{"group without prefix", l, []Option{WithGroups(Group{Name: "g"})}},
		{"reserved group name", l, []Option{WithGroups(Group{Name: DefaultGroup, Prefixes: []string{"x"}})}},
		{"shared prefix", l, []Option{WithGroups(Group{Name: "g", Prefixes: []string{"x"}}, Group{Name: "h", Prefixes: []string{"x"}})}},
		{"undeclared modality", l, []Option{WithModalities("img"), WithGroups(Group{Name: "g", Prefixes: []string{"x"}, Modalities: []string{"aud"}})}},
	}
	for _, c := range cases {
		if _, err := New(c.layout, c.opts...); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", c.name, err)
		}
	}
}

// TestLongestPrefix: a tensor goes to the group with the longest matching prefix.
func TestLongestPrefix(t *testing.T) {
	a := mustNew(t, []Spec{{"enc.img.proj.w", []int{1}}, {"enc.img.stem.w", []int{1}}, {"h.0", []int{1}}},
		WithGroups(Group{Name: "enc", Prefixes: []string{"enc."}}, Group{Name: "proj", Prefixes: []string{"enc.img.proj"}, Modalities: img}))
	got := []string{a.groups[a.groupOf[0]].Name, a.groups[a.groupOf[1]].Name, a.groups[a.groupOf[2]].Name}
	if strings.Join(got, ",") != "proj,enc,"+DefaultGroup {
		t.Fatalf("groups %v", got)
	}
}
