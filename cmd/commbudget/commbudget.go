// Package commbudget implements `mlecs comm-budget`: the bytes one edge sends and receives per round
// and comm_ratio = (up + down) / (4 x edge_model_params), measured by encoding real payloads of the
// preset's shapes with training/payload.
package commbudget

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/payload"
)

// ErrUsage is returned for invalid flags.
var ErrUsage = errors.New("usage")

type options struct {
	preset        string
	codec         string
	json          bool
	vocab         int
	publicPerEdge int
	publicDown    int
	predTokens    int
}

// NewCmd returns the comm-budget command.
func NewCmd() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "comm-budget --preset tiny|small|paper --codec fp32|fp16|int8 [--json]",
		Short: "Bytes up and down per edge per round, and comm_ratio against sending the edge model once",
		Long: "comm-budget builds an edge update (shared-LoRA delta, fused representations of the edge's public\n" +
			"share D'_j, SLM predictions, metrics) and the anchor's global payload (aggregated LoRA, the anchor's\n" +
			"fused representations) in the preset's shapes, encodes them with the chosen codec, and reports the\n" +
			"bytes per part and comm_ratio = (up + down) / (4 x edge_model_params), where edge_model_params is\n" +
			"the edge's backbone, shared LoRA, encoders (image + text) and connector.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("public-per-edge") {
				o.publicPerEdge = DefaultPublicPerEdge(o.preset)
			}
			if !cmd.Flags().Changed("public-down") {
				o.publicDown = o.publicPerEdge
			}
			s, err := o.validate()
			if err != nil {
				return err
			}
			return run(cmd.OutOrStdout(), s, o.json)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.preset, "preset", "paper", "model preset: tiny, small or paper")
	f.StringVar(&o.codec, "codec", "fp32", "tensor codec: fp32, fp16 or int8")
	f.BoolVar(&o.json, "json", false, "print machine-readable JSON")
	f.IntVar(&o.vocab, "vocab", 0, "backbone vocabulary for tiny/small (0: full GPT-2, 50257; paper always uses it)")
	f.IntVar(&o.publicPerEdge, "public-per-edge", 0, "|D'_j|, public samples per edge (default: tiny 64, small 128, paper 500)")
	f.IntVar(&o.publicDown, "public-down", 0, "anchor representations each edge pulls per round (default: --public-per-edge; |D'| if the anchor publishes all of D')")
	f.IntVar(&o.predTokens, "pred-tokens", 8, "SLM prediction tokens per public sample in the update (0: no predictions)")
	return cmd
}

func (o *options) validate() (Shape, error) {
	if !slices.Contains(gpt2.PresetNames(), o.preset) {
		return Shape{}, fmt.Errorf("%w: --preset %q (want one of %v)", ErrUsage, o.preset, gpt2.PresetNames())
	}
	c, err := payload.ParseCodec(o.codec)
	if err != nil {
		return Shape{}, fmt.Errorf("%w: --codec: %w", ErrUsage, err)
	}
	switch {
	case o.vocab < 0 || o.vocab > gpt2.GPT2Vocab:
		return Shape{}, fmt.Errorf("%w: --vocab %d not in [0, %d]", ErrUsage, o.vocab, gpt2.GPT2Vocab)
	case o.publicPerEdge < 0 || o.publicPerEdge > 1<<20:
		return Shape{}, fmt.Errorf("%w: --public-per-edge %d not in [0, %d]", ErrUsage, o.publicPerEdge, 1<<20)
	case o.publicDown < 0 || o.publicDown > 1<<20:
		return Shape{}, fmt.Errorf("%w: --public-down %d not in [0, %d]", ErrUsage, o.publicDown, 1<<20)
	case o.predTokens < 0 || o.predTokens > payload.MaxPredTokens:
		return Shape{}, fmt.Errorf("%w: --pred-tokens %d not in [0, %d]", ErrUsage, o.predTokens, payload.MaxPredTokens)
	}
	return Shape{Preset: o.preset, Codec: c, Vocab: o.vocab, PublicPerEdge: o.publicPerEdge, PublicDown: o.publicDown,
		PredTokens: o.predTokens, Seed: 1}, nil
}

func run(w io.Writer, s Shape, asJSON bool) error {
	b, err := Compute(s)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	return printTable(w, b)
}

func printTable(w io.Writer, b Budget) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	c := b.BackboneConfig
	fmt.Fprintf(w, "preset %s, codec %s: edge backbone %d layers x %d channels, vocab %d, LoRA r=%d (attention%s)\n",
		b.Preset, b.Codec, c.NumLayers, c.Channels, c.VocabSize, c.LoRARank, map[bool]string{true: " + MLP"}[c.LoRAMLP])
	fmt.Fprintf(w, "public samples: %d up (|D'_j|), %d down; fused dim %d; %d prediction tokens per sample\n\n",
		b.PublicPerEdge, b.PublicDown, b.FusedDim, b.PredTokens)
	fmt.Fprintln(tw, "part\tup (edge->anchor)\tdown (anchor->edge)\t")
	rows := []struct {
		name     string
		up, down int64
	}{
		{"header", b.Parts.Up.Header, b.Parts.Down.Header},
		{"lora", b.Parts.Up.LoRA, b.Parts.Down.LoRA},
		{"fused reps", b.Parts.Up.Fused, b.Parts.Down.Fused},
		{"predictions", b.Parts.Up.Predictions, b.Parts.Down.Predictions},
		{"metrics", b.Parts.Up.Metrics, b.Parts.Down.Metrics},
		{"total", b.BytesUp, b.BytesDown},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", r.name, r.up, r.down)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("comm-budget: write table: %w", err)
	}
	m := b.EdgeModel
	fmt.Fprintf(w, "\nedge_model_params %d = backbone %d + shared LoRA %d + encoders (%v) %d + connector %d\n",
		m.Total, m.Backbone, m.LoRA, m.Modalities, m.Encoders, m.Connector)
	fmt.Fprintf(w, "shared LoRA %d params; bytes per edge per round: up %d, down %d\n", b.LoRAParams, b.BytesUp, b.BytesDown)
	_, err := fmt.Fprintf(w, "comm_ratio = (up + down) / (4 x edge_model_params) = %.4f%%\n", 100*b.CommRatio)
	return err
}
