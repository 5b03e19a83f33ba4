package knn

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/metrics"
	"github.com/mlecs/mlecs/training/model"
)

// LabelRule is metrics.json's label_rule for this baseline.
const LabelRule = "label of the nearest train sample (1-NN)"

// Method names the baseline in metrics.json.
const Method = "1-nn"

// DefaultWorkers is the parallelism when none is given: the machines we target have two cores.
const DefaultWorkers = 2

type config struct {
	modalities []string
	features   dataset.Config
	workers    int
	logger     *slog.Logger
}

// Option configures Evaluate.
type Option func(*config) error

// WithModalities restricts the distance to the named modalities (default: every modality of the dataset).
func WithModalities(names ...string) Option {
	return func(c *config) error {
		if len(names) == 0 {
			return fmt.Errorf("%w: empty modality list", ErrConfig)
		}
		for i, n := range names {
			if n == "" {
				return fmt.Errorf("%w: empty modality name", ErrConfig)
			}
			if slices.Contains(names[:i], n) {
				return fmt.Errorf("%w: modality %q given twice", ErrConfig, n)
			}
		}
		c.modalities = slices.Sorted(slices.Values(names))
		return nil
	}
}

// WithFeatures sets the feature pipeline (default dataset.DefaultConfig, as `mlecs train` uses).
func WithFeatures(f dataset.Config) Option {
	return func(c *config) error {
		if err := f.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		c.features = f
		return nil
	}
}

// WithWorkers sets how many goroutines featurise and compute distances (default DefaultWorkers).
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: %d workers", ErrConfig, n)
		}
		c.workers = n
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrConfig)
		}
		c.logger = l
		return nil
	}
}

// Result is the outcome of Evaluate.
type Result struct {
	Modalities []string // sorted
	// Scale is each modality's mean distance over the train-test pairs that hold it (the divisor that puts
	// the modalities on one scale); 0 when no pair shares the modality.
	Scale       map[string]float64
	Train       int      // train samples searched (those holding one of Modalities)
	Neighbours  []string // id of the nearest train sample of each prediction ("" when none shares a modality)
	Unmatched   int      // test samples with no train sample sharing a modality
	Metrics     model.Metrics
	Predictions []model.Prediction // test samples holding one of Modalities, in file order
}

// Evaluate answers every test sample of ds that holds one of the chosen modalities with its nearest train
// sample and scores the answers as `mlecs eval` does.
func Evaluate(ctx context.Context, ds *dataset.Dataset, opts ...Option) (*Result, error) {
	c := config{features: dataset.DefaultConfig(), workers: DefaultWorkers, logger: slog.Default()}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	mods := c.modalities
	if mods == nil {
		mods = ds.ModalityNames()
	}
	for _, m := range mods {
		if _, ok := ds.Modalities[m]; !ok {
			return nil, fmt.Errorf("%w: dataset %s has no modality %q (has %v)", ErrInput, ds.Name, m, ds.ModalityNames())
		}
	}
	feat, err := dataset.NewFeaturizer(ds, c.features)
	if err != nil {
		return nil, fmt.Errorf("knn: %w", err)
	}
	train, test := holding(ds.Split(dataset.SplitTrain), mods), holding(ds.Split(dataset.SplitTest), mods)
	switch {
	case len(train) == 0:
		return nil, fmt.Errorf("%w: no train sample of %s holds any of %v", ErrInput, ds.Name, mods)
	case len(test) == 0:
		return nil, fmt.Errorf("%w: no test sample of %s holds any of %v", ErrInput, ds.Name, mods)
	}
	if err := feat.Fit(ctx, train); err != nil {
		return nil, fmt.Errorf("knn: fitting features: %w", err)
	}
	trainC, err := dataset.BuildCache(ctx, feat, train, c.workers)
	if err != nil {
		return nil, fmt.Errorf("knn: featurising train split: %w", err)
	}
	testC, err := dataset.BuildCache(ctx, feat, test, c.workers)
	if err != nil {
		return nil, fmt.Errorf("knn: featurising test split: %w", err)
	}
	spaces := make([]*space, len(mods))
	for k, m := range mods {
		spaces[k] = newSpace(m, ds.Modalities[m].Kind, trainC, testC)
	}
	nn, scales, err := nearest(ctx, spaces, len(test), len(train), c.workers)
	if err != nil {
		return nil, err
	}
	r := &Result{Modalities: mods, Scale: map[string]float64{}, Train: len(train), Neighbours: make([]string, len(test))}
	for k, m := range mods {
		r.Scale[m] = scales[k]
	}
	if err := r.score(ds.Name, train, test, nn); err != nil {
		return nil, err
	}
	c.logger.Info("knn baseline", "dataset", ds.Name, "modalities", mods, "train", len(train), "test", len(test),
		"unmatched", r.Unmatched, "rougeLsum", r.Metrics.RougeLsum, "accuracy", r.Metrics.Accuracy)
	return r, nil
}

// score fills the predictions and metrics from the neighbour of each test sample.
func (r *Result) score(name string, train, test []dataset.Sample, nn []int) error {
	var sc metrics.Scorer // no stemming, as `mlecs eval`
	scores := make([]metrics.Scores, len(test))
	labels, got := make([]string, len(test)), make([]string, len(test))
	r.Predictions = make([]model.Prediction, len(test))
	for i, s := range test {
		text, label := "", ""
		if j := nn[i]; j >= 0 {
			text, label, r.Neighbours[i] = train[j].Targets[0], train[j].Label, train[j].ID
		} else {
			r.Unmatched++
		}
		sv, err := sc.ScoreMulti(s.Targets, text)
		if err != nil {
			return fmt.Errorf("knn: sample %q: %w", s.ID, err)
		}
		scores[i], labels[i], got[i] = sv, s.Label, label
		p := model.Prediction{ID: s.ID, Target: s.Targets, Prediction: text, Label: s.Label, RougeLsum: sv.RougeLsum.F}
		if s.Label != "" {
			p.PredictedLabel = label
		}
		r.Predictions[i] = p
	}
	avg, err := metrics.Average(scores)
	if err != nil {
		return fmt.Errorf("knn: %w", err)
	}
	mt := model.Metrics{Dataset: name, Split: dataset.SplitTest, N: len(test), RougeLsum: avg.RougeLsum.F,
		Rouge1: avg.Rouge1.F, Rouge2: avg.Rouge2.F, RougeL: avg.RougeL.F, LabelRule: LabelRule}
	if mt.Accuracy, mt.MacroF1, mt.Labeled, err = metrics.LabelScores(labels, got); err != nil {
		return fmt.Errorf("knn: %w", err)
	}
	r.Metrics = mt
	return nil
}

// holding keeps the samples that hold at least one of mods, with their other inputs dropped so that only
// the chosen modalities are featurised.
func holding(samples []dataset.Sample, mods []string) []dataset.Sample {
	var out []dataset.Sample
	for _, s := range samples {
		in := make(map[string]dataset.Input, len(mods))
		for _, m := range mods {
			if v, ok := s.Inputs[m]; ok {
				in[m] = v
			}
		}
		if len(in) > 0 {
			s.Inputs = in
			out = append(out, s)
		}
	}
	return out
}

// space is one modality of both splits, featurised: tensors, or tf-idf vectors for text.
type space struct {
	name              string
	trainHas, testHas []bool
	trainX, testX     [][]float32
	trainV, testV     []Sparse
}

func newSpace(name string, kind dataset.Kind, train, test *dataset.Cache) *space {
	sp := &space{name: name, trainHas: make([]bool, train.Len()), testHas: make([]bool, test.Len())}
	if kind == dataset.KindText {
		var docs []string
		for i := range train.Len() {
			if t, ok := train.Text(i, name); ok {
				docs = append(docs, t)
			}
		}
		tf := FitTFIDF(docs)
		vectors := func(c *dataset.Cache, has []bool) []Sparse {
			out := make([]Sparse, c.Len())
			for i := range out {
				if t, ok := c.Text(i, name); ok {
					out[i], has[i] = tf.Vector(t), true
				}
			}
			return out
		}
		sp.trainV, sp.testV = vectors(train, sp.trainHas), vectors(test, sp.testHas)
		return sp
	}
	tensors := func(c *dataset.Cache, has []bool) [][]float32 {
		out := make([][]float32, c.Len())
		for i := range out {
			out[i], has[i] = c.Tensor(i, name)
		}
		return out
	}
	sp.trainX, sp.testX = tensors(train, sp.trainHas), tensors(test, sp.testHas)
	return sp
}

// dist is the distance of test sample i to train sample j; both must hold the modality.
func (sp *space) dist(i, j int) float64 {
	if sp.testV != nil {
		return CosineDistance(sp.testV[i], sp.trainV[j])
	}
	return euclidean(sp.testX[i], sp.trainX[j])
}

func euclidean(a, b []float32) float64 {
	s := 0.0
	for k, v := range a {
		d := float64(v) - float64(b[k])
		s += d * d
	}
	return math.Sqrt(s)
}

// nearest returns, for each of nTest test samples, the index of its nearest train sample under the combined
// distance (-1 when no train sample shares a modality with it), and each space's scale (mean train-test
// distance over the pairs holding it).
func nearest(ctx context.Context, spaces []*space, nTest, nTrain, workers int) ([]int, []float64, error) {
	comb := make([]float64, nTest*nTrain)
	for k := range comb {
		comb[k] = math.Inf(1)
	}
	buf := make([]float64, nTest*nTrain)
	scales := make([]float64, len(spaces))
	for k, sp := range spaces {
		err := parallelRows(ctx, nTest, workers, func(i int) {
			row := buf[i*nTrain : (i+1)*nTrain]
			if !sp.testHas[i] {
				return
			}
			for j := range row {
				if sp.trainHas[j] {
					row[j] = sp.dist(i, j)
				}
			}
		})
		if err != nil {
			return nil, nil, err
		}
		// Sequential sum: the scale, and so every tie, must not depend on scheduling.
		sum, n := 0.0, 0
		for i := range nTest {
			if !sp.testHas[i] {
				continue
			}
			for j, d := range buf[i*nTrain : (i+1)*nTrain] {
				if !sp.trainHas[j] {
					continue
				}
				if math.IsNaN(d) || math.IsInf(d, 0) {
					return nil, nil, fmt.Errorf("%w: modality %q: distance %v between test %d and train %d (non-finite features)", ErrInput, sp.name, d, i, j)
				}
				sum += d
				n++
			}
		}
		if n == 0 {
			continue // no pair shares this modality: it adds nothing
		}
		scales[k] = sum / float64(n)
		for i := range nTest {
			if !sp.testHas[i] {
				continue
			}
			for j := range nTrain {
				if !sp.trainHas[j] {
					continue
				}
				term := 0.0 // every pair at distance 0: the modality cannot tell samples apart
				if scales[k] > 0 {
					term = buf[i*nTrain+j] / scales[k]
				}
				if c := &comb[i*nTrain+j]; math.IsInf(*c, 1) {
					*c = term
				} else {
					*c += term
				}
			}
		}
	}
	nn := make([]int, nTest)
	for i := range nTest {
		best, bestD := -1, math.Inf(1)
		for j, d := range comb[i*nTrain : (i+1)*nTrain] {
			if d < bestD { // strict: ties keep the lowest train index
				best, bestD = j, d
			}
		}
		nn[i] = best
	}
	return nn, scales, nil
}

// parallelRows runs fn(i) for i in [0, n) on workers goroutines, stopping early when ctx is done.
func parallelRows(ctx context.Context, n, workers int, fn func(i int)) error {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(1, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("knn: distances: %w", err)
	}
	return nil
}
