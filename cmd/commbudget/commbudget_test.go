package commbudget

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/gpt2"
	"github.com/mlecs/mlecs/training/payload"
)

func execute(args ...string) (string, error) {
	cmd := NewCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr error
	}{
		{"tiny table", []string{"--preset", "tiny", "--codec", "fp16"}, []string{"preset tiny, codec fp16", "lora", "fused reps", "predictions", "comm_ratio =", "edge_model_params"}, nil},
		{"tiny json", []string{"--preset", "tiny", "--json"}, []string{`"bytes_up_per_edge_round"`, `"bytes_down_per_edge_round"`, `"edge_model_params"`, `"comm_ratio"`, `"parts"`}, nil},
		{"bad preset", []string{"--preset", "huge"}, nil, ErrUsage},
		{"bad codec", []string{"--preset", "tiny", "--codec", "bf16"}, nil, payload.ErrCodec},
		{"negative public", []string{"--preset", "tiny", "--public-per-edge", "-1"}, nil, ErrUsage},
		{"vocab too big", []string{"--preset", "tiny", "--vocab", "60000"}, nil, ErrUsage},
		{"too many tokens", []string{"--preset", "tiny", "--pred-tokens", "5000"}, nil, ErrUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := execute(tc.args...)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestJSONConsistent: totals are the sum of the parts, the ratio follows its definition, and the LoRA
// part holds 4, 2 or 1 bytes per shared-LoRA parameter plus per-tensor overhead.
func TestJSONConsistent(t *testing.T) {
	for _, codec := range []string{"fp32", "fp16", "int8"} {
		out, err := execute("--preset", "small", "--codec", codec, "--json", "--vocab", "4000", "--public-per-edge", "100", "--public-down", "300")
		if err != nil {
			t.Fatal(err)
		}
		var b Budget
		if err := json.Unmarshal([]byte(out), &b); err != nil {
			t.Fatalf("%s: %v\n%s", codec, err, out)
		}
		if b.BytesUp != b.Parts.Up.Total() || b.BytesDown != b.Parts.Down.Total() {
			t.Fatalf("%s: totals %d/%d, parts %+v", codec, b.BytesUp, b.BytesDown, b.Parts)
		}
		if want := float64(b.BytesUp+b.BytesDown) / (4 * float64(b.EdgeParams)); b.CommRatio != want {
			t.Fatalf("%s: comm_ratio %v, want %v", codec, b.CommRatio, want)
		}
		if m := b.EdgeModel; m.Total != m.Backbone+m.LoRA+m.Encoders+m.Connector || m.Total != b.EdgeParams || m.LoRA != b.LoRAParams {
			t.Fatalf("%s: edge model %+v", codec, m)
		}
		c, _ := payload.ParseCodec(codec)
		per := map[string]int64{"fp32": 4, "fp16": 2, "int8": 1}[codec]
		if lo, hi := per*b.LoRAParams, per*b.LoRAParams+64*int64(2*4*b.Backbone.Layers); b.Parts.Up.LoRA < lo || b.Parts.Up.LoRA > hi {
			t.Fatalf("%s: lora part %d not in [%d, %d]", codec, b.Parts.Up.LoRA, lo, hi)
		}
		// fused: 100 ids of 10 bytes (+1 length byte) and 100 x 256 values; down has 300
		if want := 8 + 100*11 + c.EncodedSize(100*256); b.Parts.Up.Fused != want {
			t.Fatalf("%s: fused up %d, want %d", codec, b.Parts.Up.Fused, want)
		}
		if want := 8 + 300*11 + c.EncodedSize(300*256); b.Parts.Down.Fused != want {
			t.Fatalf("%s: fused down %d, want %d", codec, b.Parts.Down.Fused, want)
		}
	}
}

// TestPaperTargets records the paper-shape measurements: comm_ratio <= 0.65% in fp32 and <= 0.2% in
// int8 with |D'_j| = 500 (see docs/method.md), and edge_model_params built from GPT-2-large's 774M.
func TestPaperTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates the paper-shaped LoRA and encoders (~100 MB)")
	}
	for codec, limit := range map[payload.Codec]float64{payload.FP32: 0.0065, payload.Int8: 0.002} {
		b, err := Compute(Shape{Preset: "paper", Codec: codec, PublicPerEdge: 500, PublicDown: 500, PredTokens: 8, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if b.EdgeModel.Backbone != 774030080 || b.LoRAParams != 2211840 {
			t.Fatalf("paper edge: backbone %d, LoRA %d; want GPT-2-large's 774030080 and 36*(8*1280*2 + 8*3840 + 8*1280) = 2211840",
				b.EdgeModel.Backbone, b.LoRAParams)
		}
		if b.CommRatio > limit {
			t.Errorf("%v: comm_ratio %.5f%% above the %.2f%% target", codec, 100*b.CommRatio, 100*limit)
		}
		t.Logf("%v: up %d, down %d, edge params %d, comm_ratio %.4f%%", codec, b.BytesUp, b.BytesDown, b.EdgeParams, 100*b.CommRatio)
	}
}

// TestLoRAShapesMatchModel: LoRATensorShapes lists what gpt2.Model.LoRATensors exports, with and without
// MLP adapters.
func TestLoRAShapesMatchModel(t *testing.T) {
	for _, mlp := range []bool{false, true} {
		cfg, err := gpt2.Preset("tiny", gpt2.Edge, 100)
		if err != nil {
			t.Fatal(err)
		}
		cfg.LoRAMLP = mlp
		m, err := gpt2.New[float32](cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := m.LoRATensors()
		got := LoRATensorShapes(cfg)
		if len(got) != len(want) {
			t.Fatalf("mlp=%v: %d tensors, model has %d", mlp, len(got), len(want))
		}
		for i := range want {
			if got[i].Name != want[i].Name || !slices.Equal(got[i].Shape, want[i].Shape) {
				t.Fatalf("mlp=%v tensor %d: %q %v, model %q %v", mlp, i, got[i].Name, got[i].Shape, want[i].Name, want[i].Shape)
			}
		}
	}
}
