package fedtrainer

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/payload"
)

// This file holds the construction of learners from a dataset directory that the daemon and the
// experiment runner share: the D' rule, the optimiser and model settings, and the edge and anchor
// learners of one node.

// Fixed loss and optimiser settings of every learner (as in the paper's setup): AdamW weight decay,
// gradient clip, CCL weight/temperature, SE-CCL weight/temperature.
const (
	weightDecay = 0.01
	clipNorm    = 1
	cclWeight   = 0.1
	cclTau      = 0.1
	secclWeight = 0.1
	secclTau    = 0.2
	// sharedSeedOffset derives the seed of the initial shared LoRA from the anchor's seed.
	sharedSeedOffset = 100
)

// IsPublic reports whether a train sample belongs to the public set D': the FNV-64a hash of its id,
// taken modulo 2^20, falls below fraction·2^20. Every node applies the same rule to the ids it holds,
// so D' is the same set of samples on all of them without any coordination.
func IsPublic(id string, fraction float64) bool {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()%(1<<20) < uint64(fraction*(1<<20))
}

// TrainSettings are the optimiser settings of an edge or anchor learner.
func TrainSettings(batch int, lr float64, seed uint64) federated.TrainConfig {
	return federated.TrainConfig{Batch: batch, LR: lr, WeightDecay: weightDecay, Clip: clipNorm,
		SECCLWeight: secclWeight, SECCLTau: secclTau, Seed: seed}
}

// ModelOptions are the model.Setup options of a learner template for a modality set: CCL on (the
// strategy may switch it off), default features, activations for batch examples.
func ModelOptions(preset string, mods []string, base, bpe string, batch int, seed uint64, wordHead bool, pool *nn.Pool) model.SetupOptions {
	return model.SetupOptions{Preset: preset, Modalities: slices.Clone(mods), Base: base, BPEDir: bpe,
		CCL: true, CCLWeight: cclWeight, CCLTau: cclTau, WordHead: wordHead, MaxBatch: batch, Seed: seed,
		Features: dataset.DefaultConfig(), Pool: pool}
}

// Spec is how one node builds its learners from its dataset directory.
type Spec struct {
	Dataset string // this node's mlecs-dataset/1 directory: its private share and (a part of) D'
	Base    string // pretrained base directory (model.Pretrain) shared by the run
	BPE     string // GPT-2 BPE directory, only needed when Base is a .safetensors file
	Preset  string // tiny or small
	Method  string // a communicating strategy (federated.ParseStrategy)
	// Modalities the edge learner uses; nil: every modality of the dataset. The anchor learner always
	// uses every modality the dataset has.
	Modalities     []string
	ID             string // edge id in updates (unique in the run)
	RunID          string
	Steps          int // edge steps on D_j per round
	PublicSteps    int // edge steps on D'_j per round
	AnchorSteps    int // anchor steps on D' per round
	Predictions    int // public predictions per update
	Batch          int
	LR             float64
	PublicFraction float64 // see IsPublic
	Seed           uint64
	WordHead       bool     // see model.Config.WordHead
	WorkDir        string   // model directories are written under it
	Pool           *nn.Pool // nil: a pool of all cores, owned by the Builder
	Log            *slog.Logger
}

// Builder opens a node's dataset once and builds its edge and anchor learners from it.
type Builder struct {
	s    Spec
	ds   *dataset.Dataset
	comp federated.Components
	mods []string // the edge's modalities
	pool *nn.Pool
	own  bool // the pool is the builder's
}

// NewBuilder validates s and opens its dataset.
func NewBuilder(s Spec) (*Builder, error) {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: spec %s: %v, want %s", ErrOption, field, v, want)
	}
	switch {
	case s.Dataset == "":
		return nil, bad("dataset", `""`, "a dataset directory")
	case s.Base == "":
		return nil, bad("base", `""`, "a pretrained base directory")
	case s.Preset != "tiny" && s.Preset != "small":
		return nil, bad("preset", s.Preset, "tiny or small")
	case s.ID == "":
		return nil, bad("id", `""`, "the edge id")
	case s.WorkDir == "":
		return nil, bad("work_dir", `""`, "a writable directory")
	case !(s.PublicFraction > 0 && s.PublicFraction < 1):
		return nil, bad("public_fraction", s.PublicFraction, "in (0, 1)")
	case s.Batch < 1:
		return nil, bad("batch", s.Batch, ">= 1")
	}
	st, err := federated.ParseStrategy(s.Method)
	if err != nil {
		return nil, fmt.Errorf("%w: spec method: %w", ErrOption, err)
	}
	comp, err := federated.ComponentsOf(st)
	if err != nil {
		return nil, err
	}
	if !comp.Communicate {
		return nil, bad("method", s.Method, "a strategy that communicates")
	}
	ds, err := dataset.Open(s.Dataset)
	if err != nil {
		return nil, fmt.Errorf("fedtrainer: %w", err)
	}
	mods := s.Modalities
	if len(mods) == 0 {
		mods = ds.ModalityNames()
	}
	for _, m := range mods {
		if _, ok := ds.Modalities[m]; !ok {
			return nil, fmt.Errorf("%w: spec modalities: dataset %s has no modality %q (has %v)", ErrOption, s.Dataset, m, ds.ModalityNames())
		}
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	b := &Builder{s: s, ds: ds, comp: comp, mods: slices.Clone(mods), pool: s.Pool}
	if b.pool == nil {
		b.pool, b.own = nn.NewPool(0), true
	}
	return b, nil
}

// Close releases the builder's own compute pool (not one given in the Spec). Learners built from
// the builder must not be used after it.
func (b *Builder) Close() {
	if b.own {
		b.pool.Close()
	}
}

// Modalities are the edge learner's modalities.
func (b *Builder) Modalities() []string { return slices.Clone(b.mods) }

// Split returns the private and public train samples of the node's dataset (see IsPublic).
func (b *Builder) Split() (private, public []dataset.Sample) {
	for _, s := range b.ds.Split(dataset.SplitTrain) {
		if IsPublic(s.ID, b.s.PublicFraction) {
			public = append(public, s)
		} else {
			private = append(private, s)
		}
	}
	return private, public
}

// session builds a model template for mods on the samples given (only these are featurised: an
// anchor holding a whole dataset needs D' alone in memory).
func (b *Builder) session(ctx context.Context, name string, mods []string, samples []dataset.Sample) (*model.Session, []model.Example, error) {
	ds := *b.ds
	ds.Samples = samples
	sess, err := model.Setup(ctx, &ds, filepath.Join(b.s.WorkDir, name), ModelOptions(b.s.Preset, mods, b.s.Base, b.s.BPE, b.s.Batch, b.s.Seed, b.s.WordHead, b.pool))
	if err != nil {
		return nil, nil, fmt.Errorf("fedtrainer: %s model for %v: %w", name, mods, err)
	}
	exs, err := sess.Examples(ctx, &ds, dataset.SplitTrain)
	if err != nil {
		return nil, nil, fmt.Errorf("fedtrainer: %s examples: %w", name, err)
	}
	return sess, exs, nil
}

// Edge builds the edge learner: D_j = the private train samples, D'_j = the public ones, both with the
// edge's modalities.
func (b *Builder) Edge(ctx context.Context) (*federated.Edge, error) {
	_, public := b.Split()
	if len(public) == 0 && b.s.PublicSteps > 0 {
		return nil, fmt.Errorf("%w: dataset %s: public_fraction %v selects no train sample for %d public steps", ErrOption, b.s.Dataset, b.s.PublicFraction, b.s.PublicSteps)
	}
	sess, exs, err := b.session(ctx, "edge", b.mods, b.ds.Split(dataset.SplitTrain))
	if err != nil {
		return nil, err
	}
	var priv, pub []model.Example
	for _, ex := range exs {
		if IsPublic(ex.ID, b.s.PublicFraction) {
			pub = append(pub, ex)
		} else {
			priv = append(priv, ex)
		}
	}
	cfg := federated.EdgeConfig{ID: b.s.ID, RunID: b.s.RunID, Components: b.comp, Steps: b.s.Steps, PublicSteps: b.s.PublicSteps,
		Predictions: b.s.Predictions, Train: TrainSettings(b.s.Batch, b.s.LR, b.s.Seed), Log: b.s.Log}
	e, err := federated.NewEdge(cfg, sess.Model, b.mods, priv, pub, b.pool)
	if err != nil {
		return nil, fmt.Errorf("fedtrainer: %w", err)
	}
	b.s.Log.Info("edge learner built", "modalities", b.mods, "private", len(priv), "public", len(pub),
		"params", sess.Model.ParamCount(), "method", b.s.Method)
	return e, nil
}

// Anchor builds the anchor learner on D' (the public train samples of the dataset, with every
// modality it has). from == nil starts a new run (the shared LoRA initialised from the seed);
// otherwise the anchor resumes from that global (a node elected or restarted mid-run).
func (b *Builder) Anchor(ctx context.Context, from *payload.Global) (*federated.Anchor, error) {
	_, public := b.Split()
	if len(public) == 0 {
		return nil, fmt.Errorf("%w: dataset %s: public_fraction %v selects no train sample: the anchor has no D'", ErrOption, b.s.Dataset, b.s.PublicFraction)
	}
	sess, pub, err := b.session(ctx, "anchor", b.ds.ModalityNames(), public)
	if err != nil {
		return nil, err
	}
	shared, err := federated.InitShared(federated.SharedConfigOf(sess.Model), b.s.Seed+sharedSeedOffset)
	if err != nil {
		return nil, fmt.Errorf("fedtrainer: %w", err)
	}
	a, err := federated.NewAnchor(federated.AnchorConfig{RunID: b.s.RunID, Components: b.comp, Steps: b.s.AnchorSteps,
		Train: TrainSettings(b.s.Batch, b.s.LR, b.s.Seed), Log: b.s.Log}, sess.Model, shared, pub, b.pool)
	if err != nil {
		return nil, fmt.Errorf("fedtrainer: %w", err)
	}
	if from != nil {
		if err := a.Resume(from); err != nil {
			return nil, fmt.Errorf("fedtrainer: %w", err)
		}
	}
	b.s.Log.Info("anchor learner built", "modalities", b.ds.ModalityNames(), "public", len(pub),
		"params", sess.Model.ParamCount(), "resumed_round", a.LastRound())
	return a, nil
}
