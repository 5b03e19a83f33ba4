package gpt2

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/safetensors"
)

// Metadata keys written into our safetensors files (named like Hugging Face's config.json fields).
const (
	metaFormat    = "format"
	metaFormatVal = "mlecs-gpt2/1"
	metaVocab     = "vocab_size"
	metaCtx       = "n_ctx"
	metaLayer     = "n_layer"
	metaHead      = "n_head"
	metaEmbd      = "n_embd"
	metaRank      = "lora_rank"
	metaAlpha     = "lora_alpha"
	metaLoRAMLP   = "lora_mlp"
	hfPrefix      = "transformer."
	defaultHeadSz = 64 // every released GPT-2 size uses 64-wide heads
)

// hfTensor maps one Hugging Face tensor to a slice of our buffer. Conv1D weights are stored [in,out] in
// HF files and [out,in] here, hence transpose.
type hfTensor[F nn.Float] struct {
	name      string
	shape     []int // HF shape
	data      []F   // our view
	transpose bool

	// Row selection for loading a larger pretrained table (2-D tensors only): rows gathers the listed
	// rows (a restricted vocabulary), truncate keeps the leading rows (fewer positions).
	rows     []int32
	truncate bool
}

// selectRows applies t's row selection to st, checking the row width and the row ids.
func selectRows[F nn.Float](st safetensors.Tensor, t hfTensor[F]) (safetensors.Tensor, error) {
	want, width := t.shape[0], t.shape[1]
	if len(st.Shape) != 2 || st.Shape[1] != width {
		return st, fmt.Errorf("%w: tensor %q has shape %v, want [*,%d]", ErrCheckpoint, st.Name, st.Shape, width)
	}
	out := safetensors.Tensor{Name: st.Name, Shape: []int{want, width}, Data: make([]float32, want*width)}
	switch {
	case t.rows != nil:
		for i, r := range t.rows {
			if r < 0 || int(r) >= st.Shape[0] {
				return st, fmt.Errorf("%w: tensor %q has %d rows, vocabulary asks for row %d", ErrCheckpoint, st.Name, st.Shape[0], r)
			}
			copy(out.Data[i*width:(i+1)*width], st.Data[int(r)*width:(int(r)+1)*width])
		}
	case st.Shape[0] < want:
		return st, fmt.Errorf("%w: tensor %q has %d rows, want at least %d", ErrCheckpoint, st.Name, st.Shape[0], want)
	default:
		copy(out.Data, st.Data[:want*width])
	}
	return out, nil
}

// baseTensors lists every base tensor of m in HF naming.
func (m *Model[F]) baseTensors() []hfTensor[F] { return hfBase(m.cfg, &m.Base) }

// hfBase lists the tensors of p (parameters or their gradients) in HF naming.
func hfBase[F nn.Float](c Config, p *Params[F]) []hfTensor[F] {
	V, T, C := c.VocabSize, c.MaxSeq, c.Channels
	ts := []hfTensor[F]{
		{name: "wte.weight", shape: []int{V, C}, data: p.Wte},
		{name: "wpe.weight", shape: []int{T, C}, data: p.Wpe},
	}
	vec := func(name string, s []F, l, n int) hfTensor[F] {
		return hfTensor[F]{name: name, shape: []int{n}, data: layerSlice(s, l, n)}
	}
	mat := func(name string, s []F, l, in, out int) hfTensor[F] {
		return hfTensor[F]{name: name, shape: []int{in, out}, data: layerSlice(s, l, in*out), transpose: true}
	}
	for l := range c.NumLayers {
		h := "h." + strconv.Itoa(l) + "."
		ts = append(ts,
			vec(h+"ln_1.weight", p.LN1W, l, C), vec(h+"ln_1.bias", p.LN1B, l, C),
			mat(h+"attn.c_attn.weight", p.QKVW, l, C, 3*C), vec(h+"attn.c_attn.bias", p.QKVB, l, 3*C),
			mat(h+"attn.c_proj.weight", p.AttProjW, l, C, C), vec(h+"attn.c_proj.bias", p.AttProjB, l, C),
			vec(h+"ln_2.weight", p.LN2W, l, C), vec(h+"ln_2.bias", p.LN2B, l, C),
			mat(h+"mlp.c_fc.weight", p.FCW, l, C, 4*C), vec(h+"mlp.c_fc.bias", p.FCB, l, 4*C),
			mat(h+"mlp.c_proj.weight", p.FCProjW, l, 4*C, C), vec(h+"mlp.c_proj.bias", p.FCProjB, l, C),
		)
	}
	return append(ts, vec("ln_f.weight", p.LNFW, 0, C), vec("ln_f.bias", p.LNFB, 0, C))
}

// loraTensors lists the adapters in PEFT naming and layout (lora_A [r,in], lora_B [out,r]; no transpose).
func (m *Model[F]) loraTensors() []hfTensor[F] {
	c := m.cfg
	names := [numProj]string{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}
	var ts []hfTensor[F]
	for l := range c.NumLayers {
		for k := range numProj {
			v := m.proj(k, l)
			if v.a == nil {
				continue
			}
			h := "h." + strconv.Itoa(l) + "." + names[k]
			ts = append(ts,
				hfTensor[F]{name: h + ".lora_A.weight", shape: []int{v.r, v.C}, data: v.a},
				hfTensor[F]{name: h + ".lora_B.weight", shape: []int{v.OC, v.r}, data: v.bm})
		}
	}
	return ts
}

func (c Config) metadata() map[string]string {
	return map[string]string{
		metaFormat: metaFormatVal,
		metaVocab:  strconv.Itoa(c.VocabSize), metaCtx: strconv.Itoa(c.MaxSeq),
		metaLayer: strconv.Itoa(c.NumLayers), metaHead: strconv.Itoa(c.NumHeads), metaEmbd: strconv.Itoa(c.Channels),
		metaRank: strconv.Itoa(c.LoRARank), metaAlpha: strconv.FormatFloat(float64(c.LoRAAlpha), 'g', -1, 32),
		metaLoRAMLP: strconv.FormatBool(c.LoRAMLP),
	}
}

// export converts tensors to float32 safetensors in HF layout.
func export[F nn.Float](ts []hfTensor[F]) []safetensors.Tensor {
	out := make([]safetensors.Tensor, len(ts))
	for i, t := range ts {
		d := make([]float32, len(t.data))
		if t.transpose { // ours [out,in] -> HF [in,out]
			in, o := t.shape[0], t.shape[1]
			for r := range o {
				for k := range in {
					d[k*o+r] = float32(t.data[r*in+k])
				}
			}
		} else {
			for j, x := range t.data {
				d[j] = float32(x)
			}
		}
		out[i] = safetensors.Tensor{Name: t.name, Shape: slices.Clone(t.shape), Data: d}
	}
	return out
}

// load copies the named tensors of f into ts after checking every one is present, well shaped and
// finite; on error nothing is modified.
func load[F nn.Float](f *safetensors.File, prefix string, ts []hfTensor[F]) error {
	src := make([]safetensors.Tensor, len(ts))
	for i, t := range ts {
		st, ok := f.Tensor(prefix + t.name)
		if !ok {
			return fmt.Errorf("%w: tensor %q missing", ErrCheckpoint, prefix+t.name)
		}
		if t.rows != nil || t.truncate {
			var err error
			if st, err = selectRows(st, t); err != nil {
				return err
			}
		}
		if !slices.Equal(st.Shape, t.shape) {
			return fmt.Errorf("%w: tensor %q has shape %v, want %v", ErrCheckpoint, st.Name, st.Shape, t.shape)
		}
		if len(st.Data) != len(t.data) {
			return fmt.Errorf("%w: tensor %q has %d values, want %d", ErrCheckpoint, st.Name, len(st.Data), len(t.data))
		}
		for j, x := range st.Data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("%w: tensor %q has non-finite value %v at index %d", ErrCheckpoint, st.Name, x, j)
			}
		}
		src[i] = st
	}
	for i, t := range ts {
		d := src[i].Data
		if t.transpose { // HF [in,out] -> ours [out,in]
			in, o := t.shape[0], t.shape[1]
			for k := range in {
				for r := range o {
					t.data[r*in+k] = F(d[k*o+r])
				}
			}
		} else {
			for j, x := range d {
				t.data[j] = F(x)
			}
		}
	}
	return nil
}

// hfPrefixOf returns "" or "transformer." depending on how the file names its embedding.
func hfPrefixOf(f *safetensors.File) string {
	if _, ok := f.Tensor("wte.weight"); ok {
		return ""
	}
	if _, ok := f.Tensor(hfPrefix + "wte.weight"); ok {
		return hfPrefix
	}
	return ""
}

// BaseTensors returns the base weights as float32 tensors in the Hugging Face GPT-2 layout (Conv1D
// weights [in,out]). If the adapters are merged, the merged weights are exported.
func (m *Model[F]) BaseTensors() []safetensors.Tensor { return export(m.baseTensors()) }

// SaveBase writes the base weights to path in the Hugging Face GPT-2 safetensors layout, with the
// config in the metadata.
func (m *Model[F]) SaveBase(path string) error {
	if err := safetensors.WriteFile(path, m.BaseTensors(), m.cfg.metadata()); err != nil {
		return fmt.Errorf("gpt2: save base weights: %w", err)
	}
	return nil
}

// LoadBase copies base weights from a parsed Hugging Face GPT-2 file (names with or without the
// "transformer." prefix; extra tensors such as lm_head.weight and attn.bias are ignored because the
// head is tied and the mask is implicit). Every expected tensor must be present with its exact shape.
func (m *Model[F]) LoadBase(f *safetensors.File) error {
	if m.merged {
		return fmt.Errorf("%w: LoadBase while LoRA is merged", ErrState)
	}
	if err := load(f, hfPrefixOf(f), m.baseTensors()); err != nil {
		return fmt.Errorf("gpt2: load base weights: %w", err)
	}
	return nil
}

// LoadPretrained loads a larger pretrained GPT-2 (e.g. a Hugging Face release with 50257 tokens and
// 1024 positions) into this model's smaller shape: token i of the model takes row vocab[i] of the
// file's wte (len(vocab) must equal VocabSize; nil keeps the file's order and needs the same size), and
// the first MaxSeq rows of wpe are kept. Layers, widths and heads must match exactly.
func (m *Model[F]) LoadPretrained(f *safetensors.File, vocab []int32) error {
	if m.merged {
		return fmt.Errorf("%w: LoadPretrained while LoRA is merged", ErrState)
	}
	if vocab != nil && len(vocab) != m.cfg.VocabSize {
		return fmt.Errorf("%w: vocabulary map has %d ids, model has %d tokens", ErrShape, len(vocab), m.cfg.VocabSize)
	}
	ts := m.baseTensors()
	ts[0].rows = vocab // wte
	ts[1].truncate = true
	if err := load(f, hfPrefixOf(f), ts); err != nil {
		return fmt.Errorf("gpt2: load pretrained weights: %w", err)
	}
	return nil
}

// LoadBaseFile reads path and loads its base weights (see LoadBase).
func (m *Model[F]) LoadBaseFile(path string) error {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("gpt2: %w", err)
	}
	return m.LoadBase(f)
}

// LoRATensors returns the adapters as float32 tensors named like PEFT's
// (h.N.attn.c_attn.lora_A.weight [r,in], ...lora_B.weight [out,r]).
func (m *Model[F]) LoRATensors() []safetensors.Tensor { return export(m.loraTensors()) }

// SaveLoRA writes only the adapters (what the mesh exchanges) with the config in the metadata.
func (m *Model[F]) SaveLoRA(path string) error {
	if m.cfg.LoRARank == 0 {
		return fmt.Errorf("%w: model has no LoRA adapters", ErrState)
	}
	if err := safetensors.WriteFile(path, m.LoRATensors(), m.cfg.metadata()); err != nil {
		return fmt.Errorf("gpt2: save LoRA: %w", err)
	}
	return nil
}

// LoadLoRA copies adapters from a parsed file. Every adapter tensor must be present with its exact shape;
// a file that records a different rank or alpha in its metadata is rejected, because the same A and B
// would mean a different update.
func (m *Model[F]) LoadLoRA(f *safetensors.File) error {
	c := m.cfg
	if c.LoRARank == 0 {
		return fmt.Errorf("%w: model has no LoRA adapters", ErrState)
	}
	if m.merged {
		return fmt.Errorf("%w: LoadLoRA while LoRA is merged", ErrState)
	}
	if s, ok := f.Metadata[metaAlpha]; ok {
		a, err := strconv.ParseFloat(s, 32)
		if err != nil || float32(a) != c.LoRAAlpha {
			return fmt.Errorf("%w: LoRA file has %s %q, model has %v", ErrCheckpoint, metaAlpha, s, c.LoRAAlpha)
		}
	}
	if s, ok := f.Metadata[metaRank]; ok && s != strconv.Itoa(c.LoRARank) {
		return fmt.Errorf("%w: LoRA file has %s %q, model has %d", ErrCheckpoint, metaRank, s, c.LoRARank)
	}
	if err := load(f, hfPrefixOf(f), m.loraTensors()); err != nil {
		return fmt.Errorf("gpt2: load LoRA: %w", err)
	}
	return nil
}

// LoadLoRAFile reads path and loads its adapters (see LoadLoRA).
func (m *Model[F]) LoadLoRAFile(path string) error {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("gpt2: %w", err)
	}
	return m.LoadLoRA(f)
}

// ConfigFromFile derives the base shape (VocabSize, MaxSeq, NumLayers, Channels, NumHeads) of a GPT-2
// weights file; the LoRA fields are left zero for the caller to set. NumHeads comes from the metadata
// we write, or, for Hugging Face files that carry none, from the 64-wide heads of every GPT-2 release.
func ConfigFromFile(f *safetensors.File) (Config, error) {
	pre := hfPrefixOf(f)
	wte, ok := f.Tensor(pre + "wte.weight")
	if !ok || len(wte.Shape) != 2 {
		return Config{}, fmt.Errorf("%w: tensor %q missing or not 2-D", ErrCheckpoint, pre+"wte.weight")
	}
	wpe, ok := f.Tensor(pre + "wpe.weight")
	if !ok || len(wpe.Shape) != 2 {
		return Config{}, fmt.Errorf("%w: tensor %q missing or not 2-D", ErrCheckpoint, pre+"wpe.weight")
	}
	c := Config{VocabSize: wte.Shape[0], Channels: wte.Shape[1], MaxSeq: wpe.Shape[0]}
	if wpe.Shape[1] != c.Channels {
		return Config{}, fmt.Errorf("%w: tensor %q has shape %v, want [%d %d]", ErrCheckpoint, wpe.Name, wpe.Shape, c.MaxSeq, c.Channels)
	}
	for {
		if _, ok := f.Tensor(pre + "h." + strconv.Itoa(c.NumLayers) + ".ln_1.weight"); !ok {
			break
		}
		c.NumLayers++
	}
	if c.NumLayers == 0 {
		return Config{}, fmt.Errorf("%w: tensor %q missing (no transformer blocks)", ErrCheckpoint, pre+"h.0.ln_1.weight")
	}
	if s, ok := f.Metadata[metaHead]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return Config{}, fmt.Errorf("%w: metadata %s %q: %w", ErrCheckpoint, metaHead, s, err)
		}
		c.NumHeads = n
	} else if c.Channels%defaultHeadSz == 0 {
		c.NumHeads = c.Channels / defaultHeadSz
	} else {
		return Config{}, fmt.Errorf("%w: no %s metadata and n_embd %d is not a multiple of %d", ErrCheckpoint, metaHead, c.Channels, defaultHeadSz)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	return c, nil
}
