package gpt2

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/safetensors"
)

func newRandom(t *testing.T, c Config, seed uint64) *Model[float32] {
	t.Helper()
	m, err := New[float32](c)
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, seed)
	return m
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := checkConfig(true)
	a := newRandom(t, c, 1)
	basePath, loraPath := filepath.Join(dir, "base.safetensors"), filepath.Join(dir, "lora.safetensors")
	if err := a.SaveBase(basePath); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveLoRA(loraPath); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(basePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ConfigFromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	want := c
	want.LoRARank, want.LoRAAlpha, want.LoRAMLP = 0, 0, false
	if got != want {
		t.Fatalf("ConfigFromFile = %+v, want %+v", got, want)
	}
	// HF stores Conv1D weights [in,out]: c_attn is [C,3C].
	if st, _ := f.Tensor("h.0.attn.c_attn.weight"); !slices.Equal(st.Shape, []int{c.Channels, 3 * c.Channels}) {
		t.Fatalf("c_attn saved with shape %v", st.Shape)
	}
	b := newRandom(t, c, 2)
	if err := b.LoadBaseFile(basePath); err != nil {
		t.Fatal(err)
	}
	if err := b.LoadLoRAFile(loraPath); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Buf, b.Buf) {
		t.Fatal("parameters differ after save/load")
	}

	// Real HF files name tensors "transformer.*" and carry lm_head.weight and attn.bias buffers.
	var hf []safetensors.Tensor
	for _, ts := range a.BaseTensors() {
		ts.Name = "transformer." + ts.Name
		hf = append(hf, ts)
	}
	hf = append(hf, safetensors.Tensor{Name: "lm_head.weight", Shape: []int{c.VocabSize, c.Channels}, Data: make([]float32, c.VocabSize*c.Channels)},
		safetensors.Tensor{Name: "transformer.h.0.attn.bias", Shape: []int{1, 1, c.MaxSeq, c.MaxSeq}, Data: make([]float32, c.MaxSeq*c.MaxSeq)})
	hfPath := filepath.Join(dir, "hf.safetensors")
	if err := safetensors.WriteFile(hfPath, hf, nil); err != nil {
		t.Fatal(err)
	}
	d := newRandom(t, c, 3)
	if err := d.LoadBaseFile(hfPath); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Buf[:a.nBase], d.Buf[:d.nBase]) {
		t.Fatal("base differs after loading the transformer.-prefixed file")
	}
	hfFile, err := safetensors.ReadFile(hfPath)
	if err != nil {
		t.Fatal(err)
	}
	// No n_head metadata and C=8 is not a multiple of 64: the head count cannot be guessed.
	if _, err := ConfigFromFile(hfFile); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("ConfigFromFile without n_head: %v", err)
	}
}

func TestMergeUnmerge(t *testing.T) {
	c := checkConfig(true)
	m := newRandom(t, c, 4)
	base := slices.Clone(m.Buf[:m.nBase])
	ids := []int32{1, 2, 3, 4}
	if _, err := m.Forward(ids, nil, nil, 1); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(m.Logits())
	if err := m.Merge(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(ids, nil, nil, 1); err != nil {
		t.Fatal(err)
	}
	if e := relErr(m.Logits(), want); e > 1e-5 {
		t.Errorf("merged logits differ by %.1e", e)
	}
	if err := m.Merge(); !errors.Is(err, ErrState) {
		t.Errorf("double Merge: %v", err)
	}
	if _, err := m.Forward(ids, ids, nil, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(); !errors.Is(err, ErrState) {
		t.Errorf("Backward while merged: %v", err)
	}
	if err := m.Unmerge(); err != nil {
		t.Fatal(err)
	}
	if e := relErr(m.Buf[:m.nBase], base); e > 1e-6 {
		t.Errorf("unmerged base differs by %.1e", e)
	}
}

func writeTensors(t *testing.T, ts []safetensors.Tensor, meta map[string]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "w.safetensors")
	if err := safetensors.WriteFile(p, ts, meta); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMalformedCheckpoints(t *testing.T) {
	c := checkConfig(true)
	m := newRandom(t, c, 5)
	good := m.BaseTensors()
	edit := func(f func([]safetensors.Tensor) []safetensors.Tensor) []safetensors.Tensor {
		ts := make([]safetensors.Tensor, len(good))
		for i, x := range good {
			ts[i] = safetensors.Tensor{Name: x.Name, Shape: slices.Clone(x.Shape), Data: slices.Clone(x.Data)}
		}
		return f(ts)
	}
	idx := func(ts []safetensors.Tensor, name string) int {
		return slices.IndexFunc(ts, func(x safetensors.Tensor) bool { return x.Name == name })
	}
	cases := map[string]struct {
		ts   []safetensors.Tensor
		name string // must appear in the error
	}{
		"missing": {edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return slices.Delete(ts, idx(ts, "h.1.mlp.c_fc.bias"), idx(ts, "h.1.mlp.c_fc.bias")+1)
		}), "h.1.mlp.c_fc.bias"},
		"transposed": {edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			i := idx(ts, "h.0.attn.c_attn.weight")
			ts[i].Shape = []int{ts[i].Shape[1], ts[i].Shape[0]}
			return ts
		}), "h.0.attn.c_attn.weight"},
		"wrong vocab": {edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			i := idx(ts, "wte.weight")
			ts[i].Shape[0]--
			ts[i].Data = ts[i].Data[:len(ts[i].Data)-c.Channels]
			return ts
		}), "wte.weight"},
		"nan": {edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[idx(ts, "ln_f.weight")].Data[3] = float32(math.NaN())
			return ts
		}), "ln_f.weight"},
	}
	for name, tc := range cases {
		before := slices.Clone(m.Buf)
		err := m.LoadBaseFile(writeTensors(t, tc.ts, nil))
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: got %v, want ErrCheckpoint naming %s", name, err, tc.name)
		}
		if !slices.Equal(before, m.Buf) {
			t.Errorf("%s: a failed load modified the model", name)
		}
	}

	// Adapters: wrong rank in the metadata, a missing tensor, a different shape.
	lora := m.LoRATensors()
	meta := c.metadata()
	meta[metaRank] = "4"
	if err := m.LoadLoRAFile(writeTensors(t, lora, meta)); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("rank mismatch: %v", err)
	}
	if err := m.LoadLoRAFile(writeTensors(t, lora[1:], nil)); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), lora[0].Name) {
		t.Errorf("missing adapter: %v", err)
	}
	small := c
	small.LoRARank = 1
	m1 := newRandom(t, small, 6)
	if err := m.LoadLoRAFile(writeTensors(t, m1.LoRATensors(), nil)); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("rank-1 adapters into rank-2 model: %v", err)
	}

	// Not a safetensors file at all, and a missing file.
	junk := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(junk, []byte("not a safetensors file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.LoadBaseFile(junk); err == nil {
		t.Error("junk file: no error")
	}
	if err := m.LoadBaseFile(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestLoadPretrainedSubset(t *testing.T) {
	c := checkConfig(false)
	a := newRandom(t, c, 7)
	path := filepath.Join(t.TempDir(), "big.safetensors")
	if err := a.SaveBase(path); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	small := c
	small.VocabSize, small.MaxSeq = 4, 5
	b := newRandom(t, small, 8)
	vocab := []int32{3, 0, 7, 10}
	if err := b.LoadPretrained(f, vocab); err != nil {
		t.Fatal(err)
	}
	C := c.Channels
	for i, r := range vocab {
		if !slices.Equal(b.Base.Wte[i*C:(i+1)*C], a.Base.Wte[int(r)*C:(int(r)+1)*C]) {
			t.Errorf("wte row %d is not row %d of the file", i, r)
		}
	}
	if !slices.Equal(b.Base.Wpe, a.Base.Wpe[:small.MaxSeq*C]) {
		t.Error("wpe is not the file's leading rows")
	}
	if !slices.Equal(b.Base.QKVW, a.Base.QKVW) || !slices.Equal(b.Base.LNFB, a.Base.LNFB) {
		t.Error("block weights differ")
	}
	// The restricted model computes the same hidden states: its logits are the big model's logits
	// at the kept vocabulary columns (given the same adapters).
	copy(b.Buf[b.nBase:], a.Buf[a.nBase:])
	ids := []int32{0, 1, 2, 3}
	big := make([]int32, len(ids))
	for i, id := range ids {
		big[i] = vocab[id]
	}
	if _, err := a.Forward(big, nil, nil, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Forward(ids, nil, nil, 1); err != nil {
		t.Fatal(err)
	}
	la, lb := a.Logits(), b.Logits()
	for p := range ids {
		for i, r := range vocab {
			if d := math.Abs(float64(lb[p*4+i] - la[p*c.VocabSize+int(r)])); d > 1e-5 {
				t.Fatalf("position %d token %d: logits differ by %g", p, i, d)
			}
		}
	}
	if err := b.LoadPretrained(f, []int32{0, 1, 2, 11}); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("out-of-range vocabulary id: %v", err)
	}
	if err := b.LoadPretrained(f, []int32{0}); !errors.Is(err, ErrShape) {
		t.Errorf("short vocabulary map: %v", err)
	}
	long := small
	long.MaxSeq = c.MaxSeq + 1
	d := newRandom(t, long, 9)
	if err := d.LoadPretrained(f, vocab); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "wpe.weight") {
		t.Errorf("more positions than the file: %v", err)
	}
}
