package commbudget

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"

	"github.com/mlecs/mlecs/training/encoder"
	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/payload"
)

// Shape is what one budget is computed for: the edge model of a preset and the per-round traffic.
type Shape struct {
	Preset        string
	Codec         payload.Codec
	Vocab         int // backbone (and text encoder) vocabulary; 0 = full GPT-2
	PublicPerEdge int // |D'_j|: public samples each edge holds, encodes and sends up
	PublicDown    int // anchor representations each edge pulls per round (|D'_j| or all of |D'|)
	PredTokens    int // SLM prediction tokens per public sample sent up (0: none)
	Seed          uint64
}

// encoderShape is the encoder/connector size of a preset's edge: tiny matches the small models that
// train here in seconds; small and paper follow the paper's d_s = 64, fused 256, P = 16 soft tokens.
type encoderShape struct{ width, depth, heads, latent, fused, soft int }

func encoderShapeOf(preset string) (encoderShape, error) {
	switch preset {
	case "tiny":
		return encoderShape{width: 64, depth: 1, heads: 4, latent: 64, fused: 128, soft: 8}, nil
	case "small", "paper":
		return encoderShape{width: 128, depth: 2, heads: 4, latent: 64, fused: 256, soft: 16}, nil
	}
	return encoderShape{}, fmt.Errorf("%w: unknown preset %q (want one of %v)", ErrUsage, preset, gpt2.PresetNames())
}

// DefaultPublicPerEdge is |D'_j| per preset (documented in docs/method.md).
func DefaultPublicPerEdge(preset string) int {
	switch preset {
	case "tiny":
		return 64
	case "small":
		return 128
	}
	return 500
}

// EdgeModel is the parameter count of the budget's edge: a GPT-2 backbone with its shared LoRA, an
// image encoder (32x32 RGB, 8x8 patches) and a text encoder (32 tokens) of the preset's width, and the
// connector to the backbone's width.
type EdgeModel struct {
	Modalities []string `json:"modalities"`
	Backbone   int64    `json:"backbone"`
	LoRA       int64    `json:"lora"`
	Encoders   int64    `json:"encoders"`
	Connector  int64    `json:"connector"`
	Total      int64    `json:"total"`
}

// Budget is the measured traffic of one edge in one round.
type Budget struct {
	Preset         string         `json:"preset"`
	Codec          string         `json:"codec"`
	PublicPerEdge  int            `json:"public_per_edge"`
	PublicDown     int            `json:"public_down"`
	PredTokens     int            `json:"pred_tokens"`
	FusedDim       int            `json:"fused_dim"`
	LoRAParams     int64          `json:"lora_params"`
	BytesUp        int64          `json:"bytes_up_per_edge_round"`
	BytesDown      int64          `json:"bytes_down_per_edge_round"`
	EdgeParams     int64          `json:"edge_model_params"`
	CommRatio      float64        `json:"comm_ratio"`
	EdgeModel      EdgeModel      `json:"edge_model"`
	Parts          PartsByDir     `json:"parts"`
	Backbone       Backbone       `json:"backbone"`
	BackboneConfig gpt2.Config    `json:"-"`
	Encoder        map[string]int `json:"encoder_shape"`
}

// Backbone is the edge backbone's shape.
type Backbone struct {
	Layers   int  `json:"layers"`
	Channels int  `json:"channels"`
	Heads    int  `json:"heads"`
	Vocab    int  `json:"vocab"`
	LoRARank int  `json:"lora_rank"`
	LoRAMLP  bool `json:"lora_mlp"`
}

// PartsByDir holds the bytes per payload part for each direction.
type PartsByDir struct {
	Up   payload.Sizes `json:"up"`
	Down payload.Sizes `json:"down"`
}

// LoRATensorShapes lists the shared-LoRA tensors of a backbone config in PEFT naming and layout, as
// gpt2.Model.LoRATensors does, without allocating the model.
func LoRATensorShapes(c gpt2.Config) []payload.Tensor {
	type proj struct {
		name    string
		in, out int
	}
	C := c.Channels
	projs := []proj{{"attn.c_attn", C, 3 * C}, {"attn.c_proj", C, C}}
	if c.LoRAMLP {
		projs = append(projs, proj{"mlp.c_fc", C, 4 * C}, proj{"mlp.c_proj", 4 * C, C})
	}
	var ts []payload.Tensor
	if c.LoRARank == 0 {
		return nil
	}
	for l := range c.NumLayers {
		for _, p := range projs {
			h := "h." + strconv.Itoa(l) + "." + p.name
			ts = append(ts,
				payload.Tensor{Name: h + ".lora_A.weight", Shape: []int{c.LoRARank, p.in}},
				payload.Tensor{Name: h + ".lora_B.weight", Shape: []int{p.out, c.LoRARank}})
		}
	}
	return ts
}

// edgeModel counts the edge's parameters. Encoders and connector are built (for one sample) to count
// exactly what package encoder allocates; the backbone is counted without allocation.
func edgeModel(c gpt2.Config, es encoderShape) (EdgeModel, error) {
	trunk := encoder.TrunkConfig{Width: es.width, Depth: es.depth, Heads: es.heads, Latent: es.latent, MaxBatch: 1, Seed: 1}
	im, err := encoder.NewImage[float32](encoder.ImageConfig{Trunk: trunk, Height: 32, Width: 32, Channels: 3, Patch: 8})
	if err != nil {
		return EdgeModel{}, fmt.Errorf("image encoder: %w", err)
	}
	tx, err := encoder.NewText[float32](encoder.TextConfig{Trunk: trunk, Vocab: c.VocabSize, MaxTokens: 32})
	if err != nil {
		return EdgeModel{}, fmt.Errorf("text encoder: %w", err)
	}
	conn, err := encoder.NewConnector[float32](encoder.ConnectorConfig{Modalities: 2, Latent: es.latent, Fused: es.fused,
		SoftTokens: es.soft, Width: c.Channels, MaxBatch: 1, Seed: 1})
	if err != nil {
		return EdgeModel{}, fmt.Errorf("connector: %w", err)
	}
	m := EdgeModel{
		Modalities: []string{"image", "text"},
		Backbone:   gpt2.ParamCount(c),
		LoRA:       gpt2.LoRAParamCount(c),
		Encoders:   int64(len(im.Params()) + len(tx.Params())),
		Connector:  int64(len(conn.Params())),
	}
	m.Total = m.Backbone + m.LoRA + m.Encoders + m.Connector
	return m, nil
}

// countWriter counts bytes and discards them.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// Compute builds an Update and a Global of the shape's sizes, fills them with random values, encodes
// them with payload and reports the bytes.
func Compute(s Shape) (Budget, error) {
	es, err := encoderShapeOf(s.Preset)
	if err != nil {
		return Budget{}, err
	}
	cfg, err := gpt2.Preset(s.Preset, gpt2.Edge, s.Vocab)
	if err != nil {
		return Budget{}, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	em, err := edgeModel(cfg, es)
	if err != nil {
		return Budget{}, err
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x6275646765))
	lora := LoRATensorShapes(cfg)
	var loraN int64
	for i := range lora {
		lora[i].Data = randn(r, lora[i].Numel(), 0.02)
		loraN += int64(len(lora[i].Data))
	}
	up := &payload.Update{RunID: "run-budget", Round: 1, Edge: "edge-01", Samples: 1000, Modalities: em.Modalities,
		LoRA: lora, Fused: reps(r, s.PublicPerEdge, es.fused),
		Metrics: map[string]float64{"loss": 2.5, "ccl_loss": 1.1, "seccl_loss": 0.9, "rougeLsum": 0.31, "accuracy": 0.62}}
	if s.PredTokens > 0 {
		up.Predictions = make([]payload.Prediction, s.PublicPerEdge)
		for i := range up.Predictions {
			toks := make([]int32, s.PredTokens)
			for k := range toks {
				toks[k] = int32(r.IntN(cfg.VocabSize))
			}
			up.Predictions[i] = payload.Prediction{ID: up.Fused.IDs[i], Tokens: toks}
		}
	}
	down := &payload.Global{RunID: "run-budget", Round: 2, Term: 1, LoRA: lora, Fused: reps(r, s.PublicDown, es.fused)}
	var cu, cd countWriter
	su, err := up.Encode(&cu, s.Codec)
	if err != nil {
		return Budget{}, fmt.Errorf("encode update: %w", err)
	}
	sd, err := down.Encode(&cd, s.Codec)
	if err != nil {
		return Budget{}, fmt.Errorf("encode global: %w", err)
	}
	b := Budget{
		Preset: s.Preset, Codec: s.Codec.String(), PublicPerEdge: s.PublicPerEdge, PublicDown: s.PublicDown,
		PredTokens: s.PredTokens, FusedDim: es.fused, LoRAParams: loraN,
		BytesUp: cu.n, BytesDown: cd.n, EdgeParams: em.Total, EdgeModel: em,
		Parts:          PartsByDir{Up: su, Down: sd},
		BackboneConfig: cfg,
		Backbone: Backbone{Layers: cfg.NumLayers, Channels: cfg.Channels, Heads: cfg.NumHeads, Vocab: cfg.VocabSize,
			LoRARank: cfg.LoRARank, LoRAMLP: cfg.LoRAMLP},
		Encoder: map[string]int{"width": es.width, "depth": es.depth, "heads": es.heads, "latent": es.latent,
			"fused": es.fused, "soft_tokens": es.soft},
	}
	b.CommRatio = float64(b.BytesUp+b.BytesDown) / (4 * float64(b.EdgeParams))
	return b, nil
}

func randn(r *rand.Rand, n int, std float64) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(r.NormFloat64() * std)
	}
	return d
}

// reps makes n fused representations of width dim with ids like the public split's ("pub-000001").
func reps(r *rand.Rand, n, dim int) payload.Reps {
	if n == 0 {
		return payload.Reps{}
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("pub-%06d", i+1)
	}
	return payload.Reps{IDs: ids, Dim: dim, Data: randn(r, n*dim, 1)}
}
