package model

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestShapes(t *testing.T) {
	cfg := tinyConfig(t, true)
	m, err := New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range m.Groups() {
		names = append(names, g.Name)
		if len(g.Params) == 0 || len(g.Params) != len(g.Grads) {
			t.Errorf("group %s: %d params, %d grads", g.Name, len(g.Params), len(g.Grads))
		}
	}
	want := []string{"encoder/img", "encoder/ser", "encoder/txt", "connector", "ccl", "lora"}
	if !slices.Equal(names, want) {
		t.Errorf("groups %v, want %v", names, want)
	}
	for _, B := range []int{1, 2, 4} {
		batch := randomExamples(cfg, B, 1)
		soft, err := m.encode(batch)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(soft), B*cfg.SoftTokens*cfg.Backbone.Channels; got != want {
			t.Errorf("B=%d: soft prompt of %d values, want %d", B, got, want)
		}
		fused, err := m.Represent(batch)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(fused), B*cfg.Fused; got != want {
			t.Errorf("B=%d: fused of %d values, want %d", B, got, want)
		}
		l, err := m.Forward(batch)
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(float64(l.Total)) || l.Gen <= 0 {
			t.Errorf("B=%d: loss %+v", B, l)
		}
		if B == 1 && l.CCL != 0 {
			t.Errorf("B=1: CCL %v, want 0 (no negatives)", l.CCL)
		}
		gen, err := m.Generate(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gen {
			if len(g) > cfg.MaxTarget {
				t.Errorf("generated %d tokens, max %d", len(g), cfg.MaxTarget)
			}
		}
	}
	if _, err := m.Forward(randomExamples(cfg, 5, 1)); !errors.Is(err, ErrInput) {
		t.Errorf("batch above MaxBatch: %v, want ErrInput", err)
	}
	bad := randomExamples(cfg, 2, 1)
	bad[0].Inputs[0] = bad[0].Inputs[0][:3]
	if _, err := m.Forward(bad); !errors.Is(err, ErrInput) {
		t.Errorf("short image: %v, want ErrInput", err)
	}
	bad = randomExamples(cfg, 2, 1)
	bad[0].Target[0] = 99
	if _, err := m.Forward(bad); !errors.Is(err, ErrInput) {
		t.Errorf("target outside vocab: %v, want ErrInput", err)
	}
}

// TestMissingModality: a sample lacking a modality gives finite outputs, and the encoder of that modality
// gets exactly no gradient from it (its input, whatever it is, is never read).
func TestMissingModality(t *testing.T) {
	cfg := tinyConfig(t, true)
	m, err := New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	grads := func(batch []Example) ([]float32, float32) {
		m.ZeroGrad()
		l, err := m.Forward(batch)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), m.Groups()[0].Grads...), l.Total
	}
	// Sample 1 lacks the image (slot 0); alone, it must leave the image encoder's gradient at zero.
	batch := randomExamples(cfg, 4, 2)
	g, loss := grads(batch[1:2])
	if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
		t.Fatalf("loss %v", loss)
	}
	for i, v := range g {
		if v != 0 {
			t.Fatalf("image encoder gradient [%d] = %v from a sample without an image", i, v)
		}
	}
	// In a batch, the image gradient does not depend on the absent sample's (unused) data.
	m.cfg.CCL = false // the CCL term couples the samples of a batch; check the generation path alone
	g1, _ := grads(batch)
	other := slices.Clone(batch)
	other[1].Tokens = slices.Clone(other[1].Tokens)
	other[1].Tokens[2] = []int32{1, 2} // change a present modality of the image-less sample
	g2, _ := grads(other)
	if !slices.Equal(g1, g2) {
		t.Error("image encoder gradient changed with the text of the sample that has no image")
	}
	// A slot absent from the whole batch works too.
	for b := range batch {
		batch[b].Inputs[1] = nil
	}
	if _, loss := grads(batch); math.IsNaN(float64(loss)) {
		t.Fatalf("loss %v with the series absent from the batch", loss)
	}
	for _, v := range m.Groups()[1].Grads {
		if v != 0 {
			t.Fatal("series encoder got gradient with no series in the batch")
		}
	}
}

// TestSaveLoadRoundTrip: a model reloaded from SaveTrainable (same config and base) predicts the same.
func TestSaveLoadRoundTrip(t *testing.T) {
	cfg := tinyConfig(t, true)
	a, err := New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	train := randomExamples(cfg, 4, 7)
	if _, err := Train(context.Background(), a, train, t.TempDir(), TrainOptions{Epochs: 3, Batch: 4, LR: 1e-2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), TrainableFile)
	if err := a.SaveTrainable(path); err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 99 // different initialisation of everything trainable...
	b, err := New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	nLoRA := len(b.Groups()[5].Params)
	copy(b.lm.Buf[:len(b.lm.Buf)-nLoRA], a.lm.Buf) // ...on the same base weights (Buf: base, then LoRA)
	if err := b.LoadTrainable(path); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pa, err := a.Generate(ctx, train)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Generate(ctx, train)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pa {
		if !slices.Equal(pa[i], pb[i]) {
			t.Errorf("sample %d: %v before save, %v after load", i, pa[i], pb[i])
		}
	}
	la, _ := a.Forward(train)
	lb, _ := b.Forward(train)
	if la != lb {
		t.Errorf("loss %v before save, %v after load", la, lb)
	}
	// A file missing a group is rejected.
	if err := b.LoadTrainable(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("missing file: %v, want ErrCheckpoint", err)
	}
}

// TestResumeBitIdentical: a run interrupted mid-epoch and resumed from its last checkpoint ends with the
// same bytes as an uninterrupted run.
func TestResumeBitIdentical(t *testing.T) {
	cfg := tinyConfig(t, true)
	train := randomExamples(cfg, 4, 7)
	train = append(train, randomExamples(cfg, 4, 8)...)
	opts := TrainOptions{Epochs: 3, Batch: 3, LR: 5e-3, WeightDecay: 0.01, Clip: 1, Seed: 4, ModalityDropout: 0.3}
	full, err := New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), full, train, t.TempDir(), opts); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, err := New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := opts
	o.Progress = func(p Progress) {
		if p.Epoch == 2 && p.Step == 2 {
			cancel()
		}
	}
	if _, err := Train(ctx, first, train, dir, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	resumed, err := New[float32](cfg) // a fresh process: nothing but the checkpoint carries over
	if err != nil {
		t.Fatal(err)
	}
	o = opts
	o.Resume = true
	res, err := Train(context.Background(), resumed, train, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Epochs != 3 {
		t.Errorf("resumed run ended at epoch %d, want 3", res.Epochs)
	}
	want, got := full.TrainableTensors(), resumed.TrainableTensors()
	for i := range want {
		if !slices.Equal(want[i].Data, got[i].Data) {
			t.Errorf("group %s differs after resume", want[i].Name)
		}
	}
}

// TestTextPrompt checks the rows the backbone reads: [text tokens (at most PromptTokens); instruction;
// target], so that generation can attend to the words of a text modality.
func TestTextPrompt(t *testing.T) {
	cfg := tinyConfig(t, false)
	cfg.PromptTokens = 3
	m, err := New[float64](cfg)
	if err != nil {
		t.Fatal(err)
	}
	batch := randomExamples(cfg, 3, 4)
	batch[0].Tokens[2] = []int32{7, 8, 9, 10} // longer than PromptTokens: truncated
	batch[1].Tokens[2] = []int32{5}
	if _, err := m.Forward(batch); err != nil {
		t.Fatal(err)
	}
	want := [][]int32{
		append([]int32{7, 8, 9, 3, 4}, batch[0].Target...),
		append([]int32{5, 3, 4}, batch[1].Target...),
		append([]int32{3, 4}, batch[2].Target...), // sample 2 has no text
	}
	Tt := 0
	for _, w := range want {
		Tt = max(Tt, len(w))
	}
	for b, w := range want {
		got := m.ids[b*Tt : b*Tt+len(w)]
		if !slices.Equal(got, w) {
			t.Errorf("sample %d: backbone reads %v, want %v", b, got, w)
		}
	}
}

// TestConfigValidate checks that the fields a user or a model.json can get wrong are named in the error.
func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"negative prompt", func(c *Config) { c.PromptTokens = -1 }, "prompt tokens"},
		{"prompt overflows positions", func(c *Config) { c.PromptTokens = 9 }, "exceed the backbone's 16 positions"},
		{"unknown encoder", func(c *Config) { c.Modalities[0].Encoder = "rnn" }, `encoder "rnn"`},
		{"cnn for text", func(c *Config) { c.Modalities[2].Encoder = EncoderCNN }, `modality "txt": encoder "cnn"`},
	} {
		cfg := tinyConfig(t, true)
		c.edit(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrConfig naming %q", c.name, err, c.want)
		}
	}
	cfg := tinyConfig(t, true)
	cfg.PromptTokens, cfg.Modalities[0].Encoder, cfg.Modalities[1].Encoder = 3, EncoderCNN, EncoderCNN
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// TestModalityDropout checks what training relies on: every sample keeps at least one modality, hidden
// ones are gone from the copy only, and the rate is close to p.
func TestModalityDropout(t *testing.T) {
	cfg := tinyConfig(t, false)
	exs := randomExamples(cfg, 4, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	held, hidden := 0, 0
	for range 2000 {
		for _, ex := range exs {
			got := dropModalities(ex, 0.5, rng)
			kept := 0
			for k := range cfg.Modalities {
				if !ex.has(k) {
					if got.has(k) {
						t.Fatalf("sample %s: modality %d appeared", ex.ID, k)
					}
					continue
				}
				held++
				if got.has(k) {
					kept++
				} else {
					hidden++
				}
			}
			if kept == 0 {
				t.Fatalf("sample %s: every modality hidden", ex.ID)
			}
		}
	}
	for _, ex := range exs { // the originals are untouched
		if ex.ID == "a" && !(ex.has(0) && ex.has(1) && ex.has(2)) {
			t.Fatalf("sample a lost a modality in the original")
		}
	}
	// Samples with one modality never drop it and with several keep one, so the rate is below p.
	if r := float64(hidden) / float64(held); r < 0.3 || r > 0.5 {
		t.Errorf("hidden rate %.3f, want in [0.3, 0.5] for p = 0.5", r)
	}
	if got := dropModalities(exs[0], 0, rng); &got.Inputs[0][0] != &exs[0].Inputs[0][0] {
		t.Errorf("p = 0 must return the example as is")
	}
}

// TestWordHeadCopies: a word head whose copy gain dominates the logits makes generation write only the
// tokens of the sample's text prompt, so the bias reaches decoding as it reaches training.
func TestWordHeadCopies(t *testing.T) {
	cfg := tinyConfig(t, false)
	cfg.PromptTokens = 3
	cfg.WordHead = true
	m, err := New[float64](cfg)
	if err != nil {
		t.Fatal(err)
	}
	batch := randomExamples(cfg, 3, 5)
	batch[0].Tokens[2] = []int32{7, 8, 9, 10} // only the first 3 are in the prompt
	batch[1].Tokens[2] = []int32{5}
	batch[2].Tokens[2] = []int32{11, 6}
	m.head[len(m.head)-1] = 100
	out, err := m.Generate(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for b, toks := range out {
		text := batch[b].Tokens[2][:min(3, len(batch[b].Tokens[2]))]
		if len(toks) == 0 {
			t.Errorf("sample %d: nothing generated", b)
		}
		for _, id := range toks {
			if !slices.Contains(text, id) {
				t.Errorf("sample %d: generated %v, want only tokens of its text %v", b, toks, text)
				break
			}
		}
	}
}
