package knn

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9 }

func TestTokens(t *testing.T) {
	got := Tokens("Man Firefighter: dark-skin tone; CAFÉ 2nd")
	want := []string{"man", "firefighter", "dark", "skin", "tone", "café", "2nd"}
	if !slices.Equal(got, want) {
		t.Errorf("Tokens = %q, want %q", got, want)
	}
}

func TestTFIDFByHand(t *testing.T) {
	// N = 3 documents; df(a) = 3, df(b) = 1, df(c) = 1.
	// idf(a) = ln(4/4) + 1 = 1, idf(b) = idf(c) = ln(4/2) + 1 = 1 + ln 2 =: l.
	m := FitTFIDF([]string{"a b", "A, c", "a"})
	l := 1 + math.Ln2
	for w, want := range map[string]float64{"a": 1, "b": l, "c": l} {
		if got, ok := m.IDF(w); !ok || !near(got, want) {
			t.Errorf("idf(%s) = %v %v, want %v", w, got, ok, want)
		}
	}
	if _, ok := m.IDF("z"); ok {
		t.Error("unseen word has an idf")
	}
	ab, ac := m.Vector("a b"), m.Vector("a c")
	// "a b" = (1, l) / sqrt(1 + l^2): a unit vector.
	if !slices.Equal(ab.Index, []int{0, 1}) || !near(ab.Value[0], 1/math.Sqrt(1+l*l)) || !near(ab.Value[1], l/math.Sqrt(1+l*l)) {
		t.Errorf(`vector("a b") = %+v`, ab)
	}
	// cos("a b", "a c") shares only a: 1 / (1 + l^2); l^2 = 2.866747, so the distance is 1 - 1/3.866747.
	if d := CosineDistance(ab, ac); !near(d, 1-1/(1+l*l)) || math.Abs(d-0.741385) > 1e-6 {
		t.Errorf("distance(a b, a c) = %v, want 0.741385", d)
	}
	// Counts: "b b a z" = (1, 2l) before normalising (z is unknown and dropped);
	// cos with "a b" = (1 + 2l^2) / (sqrt(1+4l^2) sqrt(1+l^2)).
	want := 1 - (1+2*l*l)/(math.Sqrt(1+4*l*l)*math.Sqrt(1+l*l))
	if d := CosineDistance(m.Vector("b b a z"), ab); !near(d, want) {
		t.Errorf("distance(b b a z, a b) = %v, want %v", d, want)
	}
	if d := CosineDistance(ab, ab); d != 0 {
		t.Errorf("self distance %v, want 0", d)
	}
	// A text with no known word has no direction: distance 1, even to itself.
	z := m.Vector("zebra!")
	if len(z.Index) != 0 || CosineDistance(z, ab) != 1 || CosineDistance(z, z) != 1 {
		t.Errorf("unknown-only text: %+v, distances %v %v", z, CosineDistance(z, ab), CosineDistance(z, z))
	}
}

// tensorSpace builds a space of 1-value tensors; NaN marks an absent input.
func tensorSpace(name string, train, test []float64) *space {
	conv := func(v []float64) ([][]float32, []bool) {
		x, has := make([][]float32, len(v)), make([]bool, len(v))
		for i, f := range v {
			if !math.IsNaN(f) {
				x[i], has[i] = []float32{float32(f)}, true
			}
		}
		return x, has
	}
	sp := &space{name: name}
	sp.trainX, sp.trainHas = conv(train)
	sp.testX, sp.testHas = conv(test)
	return sp
}

func TestNearestCombination(t *testing.T) {
	nan := math.NaN()
	// Train j0..j3, test i0..i3; j3 and i2 hold neither modality.
	a := tensorSpace("a", []float64{0, 1, nan, nan}, []float64{0, nan, nan, 0.9})
	b := tensorSpace("b", []float64{nan, 0, 2, nan}, []float64{2, 0, nan, 0})
	// Pairs holding a: i0-j0 0, i0-j1 1, i3-j0 0.9, i3-j1 0.1: mean 2/4 = 0.5.
	// Pairs holding b: i0-j1 2, i0-j2 0, i1-j1 0, i1-j2 2, i3-j1 0, i3-j2 2: mean 6/6 = 1.
	// Combined (a/0.5 + b/1 over shared modalities):
	//   i0: j0 0, j1 1/0.5+2 = 4, j2 0, j3 +Inf -> j0 (tie with j2: lowest index)
	//   i1: j1 0, j2 2 -> j1
	//   i2: all +Inf -> -1
	//   i3: j0 0.9/0.5 = 1.8, j1 0.1/0.5+0 = 0.2, j2 2 -> j1
	for _, workers := range []int{1, 3} {
		nn, scales, err := nearest(context.Background(), []*space{a, b}, 4, 4, workers)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(nn, []int{0, 1, -1, 1}) {
			t.Errorf("workers %d: neighbours %v, want [0 1 -1 1]", workers, nn)
		}
		if len(scales) != 2 || !near(scales[0], 0.5) || !near(scales[1], 1) {
			t.Errorf("workers %d: scales %v, want [0.5 1]", workers, scales)
		}
	}
	// The scale decides: one test sample, two train samples. Raw distances c: 1 and 9 (mean 5), d: 0.48 and
	// 0.02 (mean 0.25). Unscaled sums pick j0 (1.48 vs 9.02); scaled ones pick j1 (0.2 + 1.92 = 2.12 vs
	// 1.8 + 0.08 = 1.88), because d's small raw distances count as much as c's large ones.
	c := tensorSpace("c", []float64{0, 10}, []float64{1})
	d := tensorSpace("d", []float64{0, 0.5}, []float64{0.48})
	nn, scales, err := nearest(context.Background(), []*space{c, d}, 1, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if nn[0] != 1 || !near(scales[0], 5) || math.Abs(scales[1]-0.25) > 1e-7 {
		t.Errorf("scaled combination: neighbour %d scales %v, want 1 and [5 0.25]", nn[0], scales)
	}
}

func TestNearestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := tensorSpace("a", []float64{0, 1}, []float64{0, 1})
	if _, _, err := nearest(ctx, []*space{a}, 2, 2, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// synthetic is a dataset with a text and a timeseries modality, held in memory (inline inputs need no files).
func synthetic() *dataset.Dataset {
	kw := func(s string) map[string]dataset.Input { return map[string]dataset.Input{"kw": {Text: s}} }
	ts := func(v float64) map[string]dataset.Input {
		return map[string]dataset.Input{"ts": {Rows: [][]float64{{v}, {v}}}}
	}
	both := kw("red apple")
	both["ts"] = ts(0)["ts"]
	return &dataset.Dataset{Name: "synthetic", Modalities: map[string]dataset.Modality{
		"kw": {Kind: dataset.KindText}, "ts": {Kind: dataset.KindTimeseries}},
		Samples: []dataset.Sample{
			{ID: "tr0", Split: "train", Inputs: both, Targets: []string{"apple red", "apple"}, Label: "fruit"},
			{ID: "tr1", Split: "train", Inputs: kw("yellow banana"), Targets: []string{"banana"}, Label: "fruit"},
			{ID: "tr2", Split: "train", Inputs: kw("red car"), Targets: []string{"car"}, Label: "vehicle"},
			{ID: "tr3", Split: "train", Inputs: ts(4), Targets: []string{"truck"}, Label: "vehicle"},
			{ID: "te0", Split: "test", Inputs: kw("red car fast"), Targets: []string{"car"}, Label: "vehicle"},
			{ID: "te1", Split: "test", Inputs: kw("Banana"), Targets: []string{"banana split"}, Label: "fruit"},
			{ID: "te2", Split: "test", Inputs: kw("zebra"), Targets: []string{"zebra"}, Label: "animal"},
			{ID: "te3", Split: "test", Inputs: ts(5), Targets: []string{"truck"}, Label: "vehicle"},
			{ID: "te4", Split: "test", Inputs: kw("car"), Targets: []string{"car"}},
		}}
}

func TestEvaluateSynthetic(t *testing.T) {
	feat := dataset.DefaultConfig()
	feat.SeriesLength, feat.SeriesNorm = 2, dataset.NormNone
	r, err := Evaluate(context.Background(), synthetic(), WithFeatures(feat), WithWorkers(2),
		WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	// te0 shares red and car with tr2; te1 is banana; te2's only word is unknown, so it is at distance 1 from
	// every text and the tie goes to tr0; te3 (ts 5) is nearer tr3 (4) than tr0 (0); te4 is unlabelled.
	if want := []string{"tr2", "tr1", "tr0", "tr3", "tr2"}; !slices.Equal(r.Neighbours, want) {
		t.Fatalf("neighbours %v, want %v", r.Neighbours, want)
	}
	wantPred := []string{"car", "banana", "apple red", "truck", "car"}
	wantLabel := []string{"vehicle", "fruit", "fruit", "vehicle", ""}
	for i, p := range r.Predictions {
		if p.Prediction != wantPred[i] || p.PredictedLabel != wantLabel[i] {
			t.Errorf("%s: predicted %q/%q, want %q/%q", p.ID, p.Prediction, p.PredictedLabel, wantPred[i], wantLabel[i])
		}
	}
	// ROUGE-Lsum F: 1, banana vs "banana split" P 1 R 1/2 -> 2/3, 0, 1, 1: mean 11/15.
	// Labels over the 4 labelled samples: 3 right. Macro-F1: vehicle 1, fruit (tp 1, fp 1) 2/3, animal 0 -> 5/9.
	mt := r.Metrics
	if mt.N != 5 || mt.Labeled != 4 || !near(mt.RougeLsum, 11.0/15) || !near(mt.Accuracy, 0.75) || !near(mt.MacroF1, 5.0/9) {
		t.Errorf("metrics %+v, want n 5 labeled 4 rougeLsum 11/15 accuracy 3/4 macro-F1 5/9", mt)
	}
	if mt.LabelRule != LabelRule || mt.Split != "test" || mt.Dataset != "synthetic" || r.Unmatched != 0 || r.Train != 4 {
		t.Errorf("metadata %+v unmatched %d train %d", mt, r.Unmatched, r.Train)
	}
	// ts pairs: te3 with tr0 |5-0|*sqrt2 and tr3 |5-4|*sqrt2: mean 3 sqrt2.
	if !near(r.Scale["ts"], 3*math.Sqrt2) || !(r.Scale["kw"] > 0 && r.Scale["kw"] <= 1) {
		t.Errorf("scales %v, want ts %v and kw in (0, 1]", r.Scale, 3*math.Sqrt2)
	}

	// Text alone: te3 holds no text and drops out; tr3 holds no text and is never searched.
	r, err = Evaluate(context.Background(), synthetic(), WithModalities("kw"), WithFeatures(feat),
		WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tr2", "tr1", "tr0", "tr2"}; !slices.Equal(r.Neighbours, want) || r.Train != 3 {
		t.Errorf("kw only: neighbours %v train %d, want %v and 3", r.Neighbours, r.Train, want)
	}
}

func TestOptionsAndInputErrors(t *testing.T) {
	ds := synthetic()
	for name, o := range map[string]Option{
		"dup modality": WithModalities("kw", "kw"), "no modality": WithModalities(), "empty name": WithModalities(""),
		"workers": WithWorkers(0), "logger": WithLogger(nil), "features": WithFeatures(dataset.Config{}),
	} {
		if _, err := Evaluate(context.Background(), ds, o); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
	if _, err := Evaluate(context.Background(), ds, WithModalities("img")); !errors.Is(err, ErrInput) {
		t.Errorf("unknown modality: got %v, want ErrInput", err)
	}
	noTest := &dataset.Dataset{Name: "x", Modalities: ds.Modalities,
		Samples: dataset.Filter(ds.Samples, func(s dataset.Sample) bool { return s.Split == "train" })}
	if _, err := Evaluate(context.Background(), noTest, WithLogger(slog.New(slog.DiscardHandler))); !errors.Is(err, ErrInput) {
		t.Errorf("no test split: got %v, want ErrInput", err)
	}
}
