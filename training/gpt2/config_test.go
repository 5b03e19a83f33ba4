package gpt2

import (
	"errors"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := checkConfig(true)
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(*Config){
		"vocab":      func(c *Config) { c.VocabSize = 0 },
		"seq":        func(c *Config) { c.MaxSeq = -1 },
		"layers":     func(c *Config) { c.NumLayers = 0 },
		"heads":      func(c *Config) { c.NumHeads = 0 },
		"channels":   func(c *Config) { c.Channels = 0 },
		"divisible":  func(c *Config) { c.NumHeads = 3 },
		"rank":       func(c *Config) { c.LoRARank = -1 },
		"rank>C":     func(c *Config) { c.LoRARank = c.Channels + 1 },
		"alpha":      func(c *Config) { c.LoRAAlpha = 0 },
		"mlp no r":   func(c *Config) { c.LoRARank = 0 },
		"huge model": func(c *Config) { c.Channels, c.NumHeads, c.NumLayers = 1<<16, 1, 1<<10 },
		"huge vocab": func(c *Config) { c.VocabSize = 1 << 40 },
		"overflow":   func(c *Config) { c.VocabSize, c.Channels, c.NumHeads = 1<<40, 1<<40, 1 },
	} {
		c := ok
		f(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Validate() = %v, want ErrConfig", name, err)
		}
		if _, err := New[float32](c); err == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
	if _, err := New[float32](ok, WithMaxBatch(1<<40)); !errors.Is(err, ErrConfig) {
		t.Errorf("WithMaxBatch(1<<40): %v", err)
	}
	if _, err := New[float32](ok, WithMaxBatch(0)); !errors.Is(err, ErrConfig) {
		t.Errorf("WithMaxBatch(0): %v", err)
	}
}

func TestPresets(t *testing.T) {
	// The paper preset is GPT-2-large (edge) and GPT-2-XL (anchor); the counts are the published ones.
	for _, tc := range []struct {
		name       string
		role       Role
		vocab      int
		params     int64
		loraParams int64
	}{
		{"paper", Edge, 0, 774_030_080, 6 * 1280 * 8 * 36},
		{"paper", Anchor, 0, 1_557_611_200, 6 * 1600 * 8 * 48},
		{"tiny", Edge, 1000, 1000*128 + 64*128 + 2*(12*128*128+13*128) + 2*128, 6 * 128 * 8 * 2},
	} {
		c, err := Preset(tc.name, tc.role, tc.vocab)
		if err != nil {
			t.Fatal(err)
		}
		if got := ParamCount(c); got != tc.params {
			t.Errorf("%s %v: ParamCount %d, want %d", tc.name, tc.role, got, tc.params)
		}
		if got := LoRAParamCount(c); got != tc.loraParams {
			t.Errorf("%s %v: LoRAParamCount %d, want %d", tc.name, tc.role, got, tc.loraParams)
		}
	}
	for _, name := range PresetNames() {
		e, err := Preset(name, Edge, 500)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Preset(name, Anchor, 500)
		if err != nil {
			t.Fatal(err)
		}
		if ParamCount(a) <= ParamCount(e) {
			t.Errorf("%s: anchor (%d params) is not larger than edge (%d)", name, ParamCount(a), ParamCount(e))
		}
	}
	if _, err := Preset("huge", Edge, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown preset: %v", err)
	}
	if _, err := Preset("tiny", Edge, -1); !errors.Is(err, ErrConfig) {
		t.Errorf("negative vocab: %v", err)
	}
}

func TestForwardRejectsBadInput(t *testing.T) {
	c := checkConfig(false)
	m, err := New[float32](c, WithMaxBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	ids := []int32{1, 2, 3, 4}
	for name, tc := range map[string]struct {
		ids, targets []int32
		prefix       []float32
		B            int
	}{
		"batch 0":       {ids, nil, nil, 0},
		"batch > max":   {ids, nil, nil, 4},
		"ragged ids":    {ids[:3], nil, nil, 2},
		"no ids":        {nil, nil, nil, 1},
		"targets len":   {ids, ids[:2], nil, 2},
		"id range":      {[]int32{1, 2, int32(c.VocabSize), 0}, nil, nil, 2},
		"negative id":   {[]int32{1, -1, 0, 0}, nil, nil, 2},
		"target range":  {ids, []int32{1, 2, 3, int32(c.VocabSize)}, nil, 2},
		"target -2":     {ids, []int32{1, 2, 3, -2}, nil, 2},
		"ragged prefix": {ids, nil, make([]float32, 2*c.Channels+1), 2},
		"too long":      {ids, nil, make([]float32, 2*c.MaxSeq*c.Channels), 2},
	} {
		if _, err := m.Forward(tc.ids, tc.targets, tc.prefix, tc.B); err == nil {
			t.Errorf("%s: no error", name)
		}
		if err := m.Backward(); !errors.Is(err, ErrState) {
			t.Errorf("%s: Backward after a failed Forward: %v", name, err)
		}
	}
	// All targets ignored: loss 0 and zero gradients.
	loss, err := m.Forward(ids, []int32{-1, -1, -1, -1}, nil, 2)
	if err != nil || loss != 0 {
		t.Fatalf("all ignored: loss %v, err %v", loss, err)
	}
	m.ZeroGrad()
	if err := m.Backward(); err != nil {
		t.Fatal(err)
	}
	for _, g := range m.GradBuf {
		if g != 0 {
			t.Fatal("all-ignored batch produced a nonzero gradient")
		}
	}
	if err := m.Backward(); !errors.Is(err, ErrState) {
		t.Errorf("second Backward after one Forward: %v", err)
	}
}
