package federated

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
	"github.com/mlecs/mlecs/training/dataset/importer"
	"github.com/mlecs/mlecs/training/model"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/payload"
)

// emojiSubset imports the real emoji dataset and keeps nTrain train and nTest test samples spread over
// the file (which is sorted by emoji group).
func emojiSubset(t testing.TB, nTrain, nTest int) *dataset.Dataset {
	t.Helper()
	ds := subset.Emoji(t, filepath.Join(t.TempDir(), "emoji"))
	train, test := ds.Split(dataset.SplitTrain), ds.Split(dataset.SplitTest)
	var keep []dataset.Sample
	for i := range nTrain {
		keep = append(keep, train[i*len(train)/nTrain])
	}
	for i := range nTest {
		keep = append(keep, test[i*len(test)/nTest])
	}
	ds.Samples = keep
	return ds
}

// world is the data and sessions of a simulated run: public ids, per-edge private ids, sessions.
type world struct {
	ds       *dataset.Dataset
	public   map[string]bool
	private  []map[string]bool
	sessions []*model.Session // edges, then the anchor
	mods     [][]string
	li       *model.LabelIndex
}

var edgeModalities = [][]string{{importer.EmojiTwemoji}, {importer.EmojiKeywords}, {importer.EmojiNoto, importer.EmojiKeywords}}

func buildWorld(t *testing.T, ctx context.Context, pool *nn.Pool, nTrain, nTest, pretrainSteps, maxBatch int) *world {
	t.Helper()
	ds := emojiSubset(t, nTrain, nTest)
	dir := t.TempDir()
	bpe := filepath.Join(datatest.SharedData(t), "gpt2-bpe")
	if _, err := model.Pretrain(ctx, ds, filepath.Join(dir, "base"), model.PretrainOptions{Preset: "tiny", Steps: pretrainSteps,
		Batch: 16, LR: 3e-3, Seed: 1, BPEDir: bpe, Pool: pool}); err != nil {
		t.Fatal(err)
	}
	w := &world{ds: ds, public: map[string]bool{}, li: model.NewLabelIndex(ds.Split(dataset.SplitTrain))}
	w.private = make([]map[string]bool, len(edgeModalities))
	for i := range w.private {
		w.private[i] = map[string]bool{}
	}
	for i, s := range ds.Split(dataset.SplitTrain) {
		if i%5 == 0 { // every 5th train sample is public (D')
			w.public[s.ID] = true
			continue
		}
		w.private[i%len(edgeModalities)][s.ID] = true
	}
	mods := append(slices.Clone(edgeModalities), nil) // the anchor holds every modality
	for i, ms := range mods {
		sess, err := model.Setup(ctx, ds, filepath.Join(dir, "m", string(rune('a'+i))), model.SetupOptions{Preset: "tiny",
			Modalities: ms, Base: filepath.Join(dir, "base"), CCL: true, CCLWeight: 0.1, CCLTau: 0.1, MaxBatch: maxBatch, Seed: uint64(1 + i),
			Features: dataset.DefaultConfig(), Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		w.sessions = append(w.sessions, sess)
	}
	w.mods = mods
	return w
}

// examples featurises the samples of split that satisfy keep, with session i.
func (w *world) examples(t *testing.T, ctx context.Context, i int, split string, keep func(string) bool) []model.Example {
	t.Helper()
	all, err := w.sessions[i].Examples(ctx, w.ds, split)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.Example
	for _, ex := range all {
		if keep(ex.ID) {
			out = append(out, ex)
		}
	}
	return out
}

func (w *world) evaluate(t *testing.T, ctx context.Context, i int, m *model.Model[float32]) float64 {
	t.Helper()
	test := w.examples(t, ctx, i, dataset.SplitTest, func(string) bool { return true })
	sess := &model.Session{Spec: w.sessions[i].Spec, Model: m, Vocab: w.sessions[i].Vocab}
	met, _, err := model.Evaluate(ctx, sess, test, w.li)
	if err != nil {
		t.Fatal(err)
	}
	return met.RougeLsum
}

// TestSimulateMLECS runs ML-ECS with three edges holding different modality subsets of a real emoji
// subset (one edge with a deeper, wider encoder) and an all-modality anchor, in memory through the
// codecs. It checks that payload bytes match the reported sizes, that the updates carry what the round
// needs, and (long variant) that edge and anchor ROUGE-Lsum on the test split rise above their values
// before training.
func TestSimulateMLECS(t *testing.T) {
	start := time.Now()
	ctx := context.Background()
	pool := nn.NewPool(2)
	defer pool.Close()
	nTrain, nTest, pre, rounds, steps := 360, 48, 40, 3, 16
	if testing.Short() {
		nTrain, nTest, pre, rounds, steps = 80, 8, 5, 2, 1
	}
	batch := 16
	w := buildWorld(t, ctx, pool, nTrain, nTest, pre, batch)
	t.Logf("data, base and sessions ready after %v", time.Since(start))
	comp, err := ComponentsOf(MLECS)
	if err != nil {
		t.Fatal(err)
	}
	tc := TrainConfig{Batch: batch, LR: 5e-3, WeightDecay: 0.01, Clip: 1, SECCLWeight: 0.1, SECCLTau: 0.2, Seed: 3}
	isPublic := func(id string) bool { return w.public[id] }
	var edges []*Edge
	before := make([]float64, len(edgeModalities)+1)
	for i, ms := range edgeModalities {
		cfg := EdgeConfig{ID: "edge-" + string(rune('a'+i)), RunID: "run-test", Components: comp, Steps: steps,
			PublicSteps: max(1, steps/4), Predictions: 4, Train: tc}
		if i == 2 {
			cfg.Encoders = map[string]EncoderShape{importer.EmojiNoto: {Width: 32, Depth: 2}}
		}
		priv := w.examples(t, ctx, i, dataset.SplitTrain, func(id string) bool { return w.private[i][id] })
		pub := w.examples(t, ctx, i, dataset.SplitTrain, isPublic)
		e, err := NewEdge(cfg, w.sessions[i].Model, ms, priv, pub, pool)
		if err != nil {
			t.Fatal(err)
		}
		m, err := e.Model()
		if err != nil {
			t.Fatal(err)
		}
		if !testing.Short() {
			before[i] = w.evaluate(t, ctx, i, m)
		}
		edges = append(edges, e)
	}
	ai := len(edgeModalities)
	shared, err := InitShared(edges[0].SharedConfig(), 11)
	if err != nil {
		t.Fatal(err)
	}
	// The anchor (the cloud node) takes twice the edges' steps per round on D'.
	anchor, err := NewAnchor(AnchorConfig{RunID: "run-test", Components: comp, Steps: 2 * steps, Train: tc},
		w.sessions[ai].Model, shared, w.examples(t, ctx, ai, dataset.SplitTrain, isPublic), pool)
	if err != nil {
		t.Fatal(err)
	}
	if !testing.Short() {
		before[ai] = w.evaluate(t, ctx, ai, anchor.Model())
	}
	sim := &Sim{Anchor: anchor, Edges: edges, Codec: payload.FP32}
	t.Logf("edges and anchor ready after %v", time.Since(start))
	stats, err := sim.Run(ctx, rounds)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != rounds {
		t.Fatalf("%d rounds of stats, want %d", len(stats), rounds)
	}
	for _, st := range stats {
		if st.Down.Bytes != st.Down.Sizes.Total() || st.Down.Sizes.LoRA == 0 || st.Down.Sizes.Fused == 0 {
			t.Errorf("round %d: global %d bytes, sizes %+v (total %d)", st.Round, st.Down.Bytes, st.Down.Sizes, st.Down.Sizes.Total())
		}
		if st.Rejected != 0 {
			t.Errorf("round %d: %d updates rejected", st.Round, st.Rejected)
		}
		for id, up := range st.Up {
			if up.Bytes != up.Sizes.Total() || up.Sizes.LoRA == 0 || up.Sizes.Fused == 0 || up.Sizes.Predictions == 0 {
				t.Errorf("round %d edge %s: update %d bytes, sizes %+v (total %d)", st.Round, id, up.Bytes, up.Sizes, up.Sizes.Total())
			}
		}
		for _, u := range st.Updates {
			if u.Round != st.Round || len(u.Fused.IDs) == 0 || len(u.Predictions) != 4 || u.Metrics["loss"] <= 0 {
				t.Errorf("update of %s: round %d (want %d), %d reps, %d predictions, metrics %v", u.Edge, u.Round, st.Round,
					len(u.Fused.IDs), len(u.Predictions), u.Metrics)
			}
			if st.Round > 1 && !(u.Metrics["public_seccl_loss"] > 0) {
				t.Errorf("round %d edge %s: no SE-CCL loss (metrics %v)", st.Round, u.Edge, u.Metrics)
			}
		}
		t.Logf("round %d: down %d B (%+v); up %v", st.Round, st.Down.Bytes, st.Down.Sizes, st.Up)
	}
	t.Logf("%d rounds done after %v", rounds, time.Since(start))
	last := stats[len(stats)-1].Updates
	for _, u := range last {
		t.Logf("edge %s: metrics %v", u.Edge, u.Metrics)
	}
	if r := anchor.LastAggregation(); r == nil || len(r.Accepted) != len(edges) {
		t.Fatalf("last aggregation %+v: want every edge accepted", r)
	}
	if testing.Short() {
		return
	}
	for i, e := range edges {
		m, err := e.Model()
		if err != nil {
			t.Fatal(err)
		}
		after := w.evaluate(t, ctx, i, m)
		t.Logf("edge %s %v: ROUGE-Lsum %.3f -> %.3f, gates %.3f", e.ID(), edgeModalities[i], before[i], after, e.Gates())
		if !(after > before[i]+0.1) {
			t.Errorf("edge %s: ROUGE-Lsum %.3f after, %.3f before: want a rise above 0.1", e.ID(), after, before[i])
		}
	}
	after := w.evaluate(t, ctx, ai, anchor.Model())
	t.Logf("anchor: ROUGE-Lsum %.3f -> %.3f (%v)", before[ai], after, time.Since(start))
	if !(after > before[ai]+0.1) {
		t.Errorf("anchor: ROUGE-Lsum %.3f after, %.3f before: want a rise above 0.1", after, before[ai])
	}
}
