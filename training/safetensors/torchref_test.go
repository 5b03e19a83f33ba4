package safetensors

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"
)

// torchref is where training/testdata/torchref/gen.py writes its fixtures.
const torchref = "../testdata/torchref"

func readFixture(t *testing.T, name string) *File {
	t.Helper()
	f, err := ReadFile(filepath.Join(torchref, name))
	if err != nil {
		t.Fatalf("fixture missing or unreadable (regenerate with /usr/bin/python3 training/testdata/torchref/gen.py): %v", err)
	}
	return f
}

// wantShapes checks that every named tensor exists with the given shape and
// holds only finite values.
func wantShapes(t *testing.T, f *File, shapes map[string][]int) {
	t.Helper()
	for name, shape := range shapes {
		tt, ok := f.Tensor(name)
		if !ok {
			t.Errorf("tensor %q missing", name)
			continue
		}
		if !reflect.DeepEqual(tt.Shape, shape) {
			t.Errorf("tensor %q shape %v, want %v", name, tt.Shape, shape)
		}
		for i, v := range tt.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Errorf("tensor %q[%d] = %v, not finite", name, i, v)
				break
			}
		}
	}
	if len(f.Tensors) != len(shapes) {
		t.Errorf("fixture has %d tensors, want %d", len(f.Tensors), len(shapes))
	}
}

func TestTorchrefGPT2(t *testing.T) {
	f := readFixture(t, "gpt2_tiny.safetensors")
	const V, T, L, C = 64, 16, 2, 32
	for k, v := range map[string]string{"vocab_size": "64", "n_ctx": "16", "n_layer": "2", "n_head": "2", "n_embd": "32"} {
		if f.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, f.Metadata[k], v)
		}
	}
	params := map[string][]int{"wte.weight": {V, C}, "wpe.weight": {T, C}, "ln_f.weight": {C}, "ln_f.bias": {C}}
	for l := range L {
		h := fmt.Sprintf("h.%d.", l)
		params[h+"ln_1.weight"], params[h+"ln_1.bias"] = []int{C}, []int{C}
		params[h+"attn.c_attn.weight"], params[h+"attn.c_attn.bias"] = []int{C, 3 * C}, []int{3 * C}
		params[h+"attn.c_proj.weight"], params[h+"attn.c_proj.bias"] = []int{C, C}, []int{C}
		params[h+"ln_2.weight"], params[h+"ln_2.bias"] = []int{C}, []int{C}
		params[h+"mlp.c_fc.weight"], params[h+"mlp.c_fc.bias"] = []int{C, 4 * C}, []int{4 * C}
		params[h+"mlp.c_proj.weight"], params[h+"mlp.c_proj.bias"] = []int{4 * C, C}, []int{C}
	}
	shapes := map[string][]int{"input_ids": {2, 8}, "targets": {2, 8}, "logits": {2, 8, V}, "loss": {1}}
	for name, s := range params {
		shapes[name], shapes["grad."+name], shapes["step1."+name] = s, s, s
	}
	wantShapes(t, f, shapes)

	ids, _ := f.Tensor("input_ids")
	tg, _ := f.Tensor("targets")
	ignored := 0
	for i := range ids.Data {
		if id := ids.Data[i]; id != float32(int(id)) || id < 0 || id >= V {
			t.Errorf("input_ids[%d] = %v, not a token id", i, id)
		}
		if tg.Data[i] == -1 {
			ignored++
		} else if y := tg.Data[i]; y != float32(int(y)) || y < 0 || y >= V {
			t.Errorf("targets[%d] = %v, not a token id or -1", i, y)
		}
	}
	if ignored != 2 {
		t.Errorf("%d ignored targets, want 2", ignored)
	}
	if loss, _ := f.Tensor("loss"); math.Abs(float64(loss.Data[0])-math.Log(V)) > 0.5 {
		t.Errorf("loss %v is far from ln(%d) for a 0.02-std init", loss.Data[0], V)
	}
}

func TestTorchrefLoRA(t *testing.T) {
	f := readFixture(t, "lora.safetensors")
	wantShapes(t, f, map[string][]int{
		"x": {4, 16}, "W": {8, 16}, "bias": {8}, "A": {4, 16}, "B": {8, 4}, "dy": {4, 8}, "scale": {1},
		"y": {4, 8}, "grad.x": {4, 16}, "grad.A": {4, 16}, "grad.B": {8, 4}, "grad.W": {8, 16}, "grad.bias": {8},
		"merged.W": {8, 16},
	})
	// Pin the layout: merged.W = W + scale * B @ A with W [out,in].
	W, _ := f.Tensor("W")
	A, _ := f.Tensor("A")
	B, _ := f.Tensor("B")
	s, _ := f.Tensor("scale")
	merged, _ := f.Tensor("merged.W")
	if s.Data[0] != 2 {
		t.Errorf("scale = %v, want 2", s.Data[0])
	}
	for o := range 8 {
		for i := range 16 {
			want := float64(W.Data[o*16+i])
			for r := range 4 {
				want += float64(s.Data[0]) * float64(B.Data[o*4+r]) * float64(A.Data[r*16+i])
			}
			if got := float64(merged.Data[o*16+i]); math.Abs(got-want) > 1e-6 {
				t.Fatalf("merged.W[%d,%d] = %v, want %v", o, i, got, want)
			}
		}
	}
}

func TestTorchrefInfoNCE(t *testing.T) {
	f := readFixture(t, "infonce.safetensors")
	wantShapes(t, f, map[string][]int{
		"q": {6, 8}, "k": {6, 8}, "tau": {1}, "logits": {6, 6}, "loss": {1}, "loss_sym": {1},
		"grad.q": {6, 8}, "grad.k": {6, 8}, "grad_sym.q": {6, 8}, "grad_sym.k": {6, 8},
	})
}

func TestTorchrefGram(t *testing.T) {
	f := readFixture(t, "gram.safetensors")
	wantShapes(t, f, map[string][]int{
		"a": {5, 8}, "m": {5, 2, 8}, "tau": {1}, "eps": {1}, "V": {5, 5}, "logits": {5, 5}, "loss": {1},
		"grad.a": {5, 8}, "grad.m": {5, 2, 8},
	})
	V, _ := f.Tensor("V")
	for i, v := range V.Data {
		if v <= 0 || v > 1 { // volume of unit vectors lies in (0, 1]
			t.Errorf("V[%d] = %v outside (0, 1]", i, v)
		}
	}
}

func TestTorchrefLayers(t *testing.T) {
	f := readFixture(t, "layers.safetensors")
	wantShapes(t, f, map[string][]int{
		"layernorm.x": {3, 10}, "layernorm.w": {10}, "layernorm.b": {10}, "layernorm.dy": {3, 10},
		"layernorm.y": {3, 10}, "layernorm.mean": {3}, "layernorm.rstd": {3}, "layernorm.grad.x": {3, 10},
		"layernorm.grad.w": {10}, "layernorm.grad.b": {10},
		"gelu.x": {4, 10}, "gelu.dy": {4, 10}, "gelu.y": {4, 10}, "gelu.grad.x": {4, 10},
		"attn.qkv": {2, 5, 24}, "attn.dout": {2, 5, 8}, "attn.out": {2, 5, 8}, "attn.att": {2, 2, 5, 5},
		"attn.grad.qkv": {2, 5, 24},
	})
}

// TestTorchrefDTypes reads the mixed-dtype file PyTorch produced: torch did
// the float32 -> f16/bf16 narrowing, and *.expected holds torch's widening
// back, which must match ours bit for bit (NaN included).
func TestTorchrefDTypes(t *testing.T) {
	f := readFixture(t, "dtypes.safetensors")
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata = %v, want format=pt", f.Metadata)
	}
	for _, name := range []string{"f16", "bf16"} {
		got, _ := f.Tensor(name)
		want, ok := f.Tensor(name + ".expected")
		if !ok || !reflect.DeepEqual(got.Shape, want.Shape) {
			t.Fatalf("%s: shape %v, expected %v", name, got.Shape, want.Shape)
		}
		sameBits(t, name, got.Data, want.Data)
	}
	f32, _ := f.Tensor("f32")
	if len(f32.Data) != 16 || f32.Data[2] != 1 || f32.Data[12] != 1e-40 || !math.IsNaN(float64(f32.Data[15])) {
		t.Errorf("f32 = %v", f32.Data)
	}
	s, _ := f.Tensor("scalar")
	if len(s.Shape) != 0 || len(s.Data) != 1 || s.Data[0] != -1.75 {
		t.Errorf("scalar = %+v, want shape [] value -1.75", s)
	}
	e, _ := f.Tensor("empty")
	if !reflect.DeepEqual(e.Shape, []int{0, 3}) || len(e.Data) != 0 {
		t.Errorf("empty = %+v, want shape [0 3] and no data", e)
	}
}
