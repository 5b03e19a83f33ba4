package gpt2

import (
	"slices"
	"testing"

	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/optim"
)

const overfitText = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs."

// charTokens maps the text to ids over its own character set.
func charTokens(s string) ([]int32, int) {
	set := []rune(s)
	slices.Sort(set)
	set = slices.Compact(set)
	ids := make([]int32, 0, len(s))
	for _, r := range s {
		i, _ := slices.BinarySearch(set, r)
		ids = append(ids, int32(i))
	}
	return ids, len(set)
}

// trainText runs AdamW steps on B fixed windows of the text, spread from its start to its end (fixed so
// that every target is determined by its position and context and zero loss is reachable), and returns
// the first and last loss.
func trainText(t *testing.T, m *Model[float32], text []int32, steps int, lr float64) (first, last float32) {
	t.Helper()
	B, T := m.MaxBatch(), m.cfg.MaxSeq
	params, grads := m.Trainable()
	opt, err := optim.New(len(params), optim.Config{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	ids, targets := make([]int32, B*T), make([]int32, B*T)
	for b := range B {
		o := b * (len(text) - T - 1) / max(B-1, 1)
		copy(ids[b*T:(b+1)*T], text[o:o+T])
		copy(targets[b*T:(b+1)*T], text[o+1:o+T+1])
	}
	for s := range steps {
		loss, err := m.Forward(ids, targets, nil, B)
		if err != nil {
			t.Fatal(err)
		}
		if s == 0 {
			first = loss
		}
		last = loss
		m.ZeroGrad()
		if err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(params, grads); err != nil {
			t.Fatal(err)
		}
	}
	return first, last
}

func TestOverfitFull(t *testing.T) {
	if testing.Short() {
		t.Skip("training run; covered by the non-short test pass")
	}
	text, V := charTokens(overfitText)
	c := Config{VocabSize: V, MaxSeq: 32, NumLayers: 2, NumHeads: 4, Channels: 64}
	pool := nn.NewPool(0)
	defer pool.Close()
	m, err := New[float32](c, WithMaxBatch(4), WithTrainBase(true), WithPool(pool))
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	first, last := trainText(t, m, text, 100, 3e-3)
	t.Logf("full training: loss %.3f -> %.4f", first, last)
	if last > 0.05 {
		t.Errorf("tiny GPT-2 did not overfit %d characters: loss %.3f -> %.4f", len(text), first, last)
	}
}

// LoRA alone on a frozen random base has little to work with (rank 8 updates of a network whose
// features are random), but it must still cut the loss well below chance.
func TestLearnLoRA(t *testing.T) {
	if testing.Short() {
		t.Skip("training run; covered by the non-short test pass")
	}
	text, V := charTokens(overfitText)
	c := Config{VocabSize: V, MaxSeq: 32, NumLayers: 2, NumHeads: 4, Channels: 64, LoRARank: 8, LoRAAlpha: 16, LoRAMLP: true}
	pool := nn.NewPool(0)
	defer pool.Close()
	m, err := New[float32](c, WithMaxBatch(4), WithPool(pool))
	if err != nil {
		t.Fatal(err)
	}
	m.Init(2)
	base := slices.Clone(m.Buf[:m.nBase])
	first, last := trainText(t, m, text, 80, 1e-2)
	t.Logf("LoRA training: loss %.3f -> %.4f", first, last)
	if last > 0.75*first {
		t.Errorf("LoRA did not learn: loss %.3f -> %.4f", first, last)
	}
	if !slices.Equal(base, m.Buf[:m.nBase]) {
		t.Error("LoRA training changed the frozen base weights")
	}
}

// A training step (forward, backward, AdamW) allocates nothing once warm, with and without a pool.
func TestTrainStepNoAllocs(t *testing.T) {
	c := Config{VocabSize: 50, MaxSeq: 16, NumLayers: 2, NumHeads: 2, Channels: 32, LoRARank: 4, LoRAAlpha: 8, LoRAMLP: true}
	pool := nn.NewPool(2)
	defer pool.Close()
	for _, full := range []bool{false, true} {
		m, err := New[float32](c, WithMaxBatch(2), WithTrainBase(full), WithPool(pool))
		if err != nil {
			t.Fatal(err)
		}
		m.Init(1)
		params, grads := m.Trainable()
		opt, err := optim.New(len(params), optim.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int32, 2*10)
		prefix := make([]float32, 2*3*c.Channels)
		step := func() {
			if _, err := m.Forward(ids, ids, prefix, 2); err != nil {
				t.Fatal(err)
			}
			m.ZeroGrad()
			if err := m.Backward(); err != nil {
				t.Fatal(err)
			}
			if err := opt.Step(params, grads); err != nil {
				t.Fatal(err)
			}
		}
		if n := testing.AllocsPerRun(5, step); n != 0 {
			t.Errorf("full=%v: %v allocations per training step", full, n)
		}
	}
}
