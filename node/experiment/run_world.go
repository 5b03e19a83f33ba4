package experiment

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mlecs/mlecs/node/fedtrainer"
	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
)

// world is the data side of an experiment, shared by every method and seed: the (subsetted,
// modality-dropped) dataset, who holds which modalities and samples, and the pretrained base.
type world struct {
	ds       *dataset.Dataset
	mods     []string   // every modality, sorted
	edgeMods [][]string // per edge
	owner    map[string]int
	public   map[string]bool
	byGroup  bool
	base     string
	bpe      string
	li       *model.LabelIndex
	nPrivate []int
	sessions map[string]*seedSession // by seed and modality key
}

// seedSession is a model template for one modality set and seed, with its featurised examples.
type seedSession struct {
	sess        *model.Session
	train, test []model.Example
}

// loadWorld opens the dataset, caps and drops modalities as configured, assigns D' and the edges'
// private shares, and pretrains a base LM when none is given.
func loadWorld(ctx context.Context, c RunConfig, work string, pool *nn.Pool) (*world, error) {
	ds, err := dataset.Open(c.Dataset)
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	ds.Samples = append(spread(ds.Split(dataset.SplitTrain), c.TrainSamples), spread(ds.Split(dataset.SplitTest), c.TestSamples)...)
	w := &world{ds: ds, mods: ds.ModalityNames(), owner: map[string]int{}, public: map[string]bool{},
		sessions: map[string]*seedSession{}}
	if len(w.mods) == 0 || len(ds.Split(dataset.SplitTrain)) == 0 || len(ds.Split(dataset.SplitTest)) == 0 {
		return nil, fmt.Errorf("%w: dataset %s: %d modalities, %d train and %d test samples", ErrRunConfig, ds.Name,
			len(w.mods), len(ds.Split(dataset.SplitTrain)), len(ds.Split(dataset.SplitTest)))
	}
	dropModalities(ds, c.MissingRate)
	w.edgeMods = modalityPlan(c.ModalityPlan, w.mods, c.Edges)
	if err := w.partition(c); err != nil {
		return nil, err
	}
	w.li = model.NewLabelIndex(ds.Split(dataset.SplitTrain))
	if w.bpe, err = model.FindBPEDir(c.BPEDir); err != nil && (c.Base == "" || strings.HasSuffix(c.Base, ".safetensors")) {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	w.base = c.Base
	if w.base == "" {
		w.base = filepath.Join(work, "base")
		c.Log.Info("pretraining a base LM", "steps", c.PretrainSteps, "dir", w.base)
		fmt.Fprintf(c.Progress, "pretraining the base LM (%d steps)\n", c.PretrainSteps)
		if _, err := model.Pretrain(ctx, ds, w.base, model.PretrainOptions{Preset: c.Preset, Steps: c.PretrainSteps,
			Batch: 16, LR: 3e-3, Seed: c.Seeds[0], BPEDir: w.bpe, Pool: pool}); err != nil {
			return nil, fmt.Errorf("experiment: pretrain: %w", err)
		}
	}
	return w, nil
}

// spread keeps n samples evenly spread over ss (files are often sorted by class); n = 0 keeps all.
func spread(ss []dataset.Sample, n int) []dataset.Sample {
	if n == 0 || n >= len(ss) {
		return ss
	}
	out := make([]dataset.Sample, n)
	for i := range out {
		out[i] = ss[i*len(ss)/n]
	}
	return out
}

// dropModalities removes each input of each sample with probability rate, keeping at least one; the
// draw is fixed (not per seed) so every method and seed sees the same data.
func dropModalities(ds *dataset.Dataset, rate float64) {
	if rate <= 0 {
		return
	}
	r := rand.New(rand.NewPCG(0x6d697373, 0x696e67))
	for i := range ds.Samples {
		s := &ds.Samples[i]
		names := make([]string, 0, len(s.Inputs))
		for k := range s.Inputs {
			names = append(names, k)
		}
		sort.Strings(names)
		var keep []string
		for _, k := range names {
			if r.Float64() >= rate {
				keep = append(keep, k)
			}
		}
		if len(keep) == 0 && len(names) > 0 {
			keep = []string{names[r.IntN(len(names))]}
		}
		in := make(map[string]dataset.Input, len(keep))
		for _, k := range keep {
			in[k] = s.Inputs[k]
		}
		s.Inputs = in
	}
}

// modalityPlan returns the modalities of each of n edges.
func modalityPlan(plan string, mods []string, n int) [][]string {
	out := make([][]string, n)
	switch plan {
	case PlanFull:
		for j := range out {
			out[j] = slices.Clone(mods)
		}
	case PlanSingle:
		for j := range out {
			out[j] = []string{mods[j%len(mods)]}
		}
	default: // mixed: all, each single, then the remaining subsets from the largest down
		subsets := [][]string{slices.Clone(mods)}
		if len(mods) > 1 {
			for _, m := range mods {
				subsets = append(subsets, []string{m})
			}
			var rest [][]string
			for mask := 1; mask < 1<<len(mods) && len(mods) <= 8; mask++ {
				var s []string
				for k, m := range mods {
					if mask&(1<<k) != 0 {
						s = append(s, m)
					}
				}
				if len(s) > 1 && len(s) < len(mods) {
					rest = append(rest, s)
				}
			}
			sort.SliceStable(rest, func(a, b int) bool { return len(rest[a]) > len(rest[b]) })
			subsets = append(subsets, rest...)
		}
		for j := range out {
			out[j] = slices.Clone(subsets[j%len(subsets)])
		}
	}
	return out
}

func hashID(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// partition marks D' (fedtrainer.IsPublic) and gives every other train sample to
// an edge: by group (sorted groups round-robin) when the dataset has at least N groups, else by hash.
func (w *world) partition(c RunConfig) error {
	train := w.ds.Split(dataset.SplitTrain)
	groups := map[string]bool{}
	for _, s := range train {
		if s.Group != "" {
			groups[s.Group] = true
		}
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	w.byGroup = len(names) >= c.Edges
	w.nPrivate = make([]int, c.Edges)
	for _, s := range train {
		// The daemon's rule (fedtrainer.IsPublic: the low 20 bits of the id hash), so a run here and a
		// run of mlecs nodes on the same data agree on D'; the bits above choose the owner.
		if fedtrainer.IsPublic(s.ID, c.PublicFraction) {
			w.public[s.ID] = true
			continue
		}
		j := int((hashID(s.ID) >> 20) % uint64(c.Edges))
		if w.byGroup && s.Group != "" {
			j = sort.SearchStrings(names, s.Group) % c.Edges
		}
		w.owner[s.ID] = j
		w.nPrivate[j]++
	}
	if len(w.public) == 0 {
		return fmt.Errorf("%w: public_fraction %v of %d train samples selects none", ErrRunConfig, c.PublicFraction, len(train))
	}
	for j, n := range w.nPrivate {
		if n == 0 {
			return fmt.Errorf("%w: edge %d gets no private train sample (%d train samples, %d edges)", ErrRunConfig, j+1, len(train), c.Edges)
		}
	}
	return nil
}

// settings are the run settings recorded in results.json and the report.
func (w *world) settings(c RunConfig) map[string]string {
	plan := make([]string, len(w.edgeMods))
	for j, ms := range w.edgeMods {
		plan[j] = fmt.Sprintf("edge-%d=%s(%d)", j+1, strings.Join(ms, "+"), w.nPrivate[j])
	}
	part := "hash of id"
	if w.byGroup {
		part = "group"
	}
	s := map[string]string{
		"edges": strconv.Itoa(c.Edges), "modality_plan": c.ModalityPlan, "edge_modalities": strings.Join(plan, " "),
		"partition": part, "public_fraction": strconv.FormatFloat(c.PublicFraction, 'g', -1, 64),
		"public_samples": strconv.Itoa(len(w.public)), "missing_rate": strconv.FormatFloat(c.MissingRate, 'g', -1, 64),
		"train_samples": strconv.Itoa(len(w.ds.Split(dataset.SplitTrain))), "test_samples": strconv.Itoa(len(w.ds.Split(dataset.SplitTest))),
		"steps": strconv.Itoa(c.Steps), "public_steps": strconv.Itoa(c.PublicSteps), "anchor_steps": strconv.Itoa(c.AnchorSteps),
		"batch": strconv.Itoa(c.Batch), "lr": strconv.FormatFloat(c.LR, 'g', -1, 64), "codec": c.Codec,
		"transport": "in-process libp2p mesh on loopback (1 anchor + N edges) for communicating methods",
	}
	maps.Copy(s, c.attackSettings())
	return s
}

// session returns the model template and examples of a modality set under a seed (built once).
func (w *world) session(ctx context.Context, c RunConfig, work string, pool *nn.Pool, seed uint64, mods []string) (*seedSession, error) {
	key := strconv.FormatUint(seed, 10) + "/" + strings.Join(mods, "+")
	if s, ok := w.sessions[key]; ok {
		return s, nil
	}
	dir := filepath.Join(work, "sessions", strconv.FormatUint(seed, 10), strings.Join(mods, "+"))
	sess, err := model.Setup(ctx, w.ds, dir, fedtrainer.ModelOptions(c.Preset, mods, w.base, w.bpe, c.Batch, seed, c.WordHead, pool))
	if err != nil {
		return nil, fmt.Errorf("model for %v: %w", mods, err)
	}
	s := &seedSession{sess: sess}
	if s.train, err = sess.Examples(ctx, w.ds, dataset.SplitTrain); err != nil {
		return nil, err
	}
	if s.test, err = sess.Examples(ctx, w.ds, dataset.SplitTest); err != nil {
		return nil, err
	}
	w.sessions[key] = s
	return s, nil
}

// split returns the examples of edge j's private share (j < 0: every private sample) and of D'.
func (w *world) split(exs []model.Example, j int) (private, public []model.Example) {
	for _, ex := range exs {
		switch o, ok := w.owner[ex.ID]; {
		case w.public[ex.ID]:
			public = append(public, ex)
		case ok && (j < 0 || o == j):
			private = append(private, ex)
		}
	}
	return private, public
}
