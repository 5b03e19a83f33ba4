package federated

import (
	"context"
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/payload"
)

// stateEdge is tinyEdge with a chosen id.
func stateEdge(t *testing.T, s Strategy, id string) *Edge {
	t.Helper()
	comp, err := ComponentsOf(s)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEdge(EdgeConfig{ID: id, RunID: "r", Components: comp, Steps: 6, PublicSteps: 2, Predictions: 2,
		Train: TrainConfig{Batch: 4, LR: 1e-2, Clip: 1, SECCLWeight: 0.5, SECCLTau: 0.2, Seed: 1}},
		tinyModel(t), []string{"img", "txt"}, tinyExamples("p", 7, 1), tinyExamples("pub", 4, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// stateGlobal is the global of round r for e's strategy: the initial shared LoRA and anchor reps of
// width 5 (not the edge's 8, so SE-CCL builds a projection); nil for a local strategy.
func stateGlobal(t *testing.T, e *Edge, r uint64) *payload.Global {
	t.Helper()
	if !e.cfg.Components.Communicate {
		return nil
	}
	shared, err := InitShared(e.SharedConfig(), 7)
	if err != nil {
		t.Fatal(err)
	}
	reps := payload.Reps{Dim: 5, IDs: []string{"pub-0", "pub-1", "pub-2", "pub-3"}, Data: make([]float32, 20)}
	for i := range reps.Data {
		reps.Data[i] = float32(math.Sin(float64(i) + float64(r)))
	}
	return &payload.Global{RunID: "r", Round: r, LoRA: shared, Fused: reps}
}

type edgeState struct {
	meta    map[string]string
	tensors []payload.Tensor
}

func snapshot(t *testing.T, e *Edge) edgeState {
	t.Helper()
	m, ts, err := e.State()
	if err != nil {
		t.Fatal(err)
	}
	return edgeState{m, ts}
}

// TestEdgeStateRestoreResumesExactly: an edge trained a round, saved and restored into a freshly built
// edge, computes the next round bit for bit as the original does (update and the whole state after
// it); a fresh edge without the state does not.
func TestEdgeStateRestoreResumesExactly(t *testing.T) {
	ctx := context.Background()
	for _, s := range []Strategy{MLECS, FedProx, Local} {
		t.Run(string(s), func(t *testing.T) {
			orig := stateEdge(t, s, "e1")
			if _, err := orig.LocalRound(ctx, stateGlobal(t, orig, 1)); err != nil {
				t.Fatal(err)
			}
			st := snapshot(t, orig)
			if s == MLECS {
				for _, name := range []string{"param/amt/private", "param/amt/gate", "param/encoder/img", "opt/amt/private/m", tensorProjection, "opt/seccl/v"} {
					if !slices.ContainsFunc(st.tensors, func(x payload.Tensor) bool { return x.Name == name }) {
						t.Fatalf("state lacks %s", name)
					}
				}
			}
			back := stateEdge(t, s, "e1")
			control := stateEdge(t, s, "e1")
			if err := back.Restore(st.meta, st.tensors); err != nil {
				t.Fatal(err)
			}
			if back.Round() != 1 {
				t.Fatalf("restored round %d, want 1", back.Round())
			}
			if got := snapshot(t, back); !reflect.DeepEqual(got, st) {
				t.Fatal("State after Restore differs from the state restored")
			}
			want, err := orig.LocalRound(ctx, stateGlobal(t, orig, 2))
			if err != nil {
				t.Fatal(err)
			}
			got, err := back.LocalRound(ctx, stateGlobal(t, back, 2))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("restored edge's round 2 differs: metrics %v, want %v", got.Metrics, want.Metrics)
			}
			if !reflect.DeepEqual(snapshot(t, back), snapshot(t, orig)) {
				t.Fatal("state after round 2 differs between the restored and the original edge")
			}
			// The control: without the state, round 2 comes out differently (so the check above can fail).
			other, err := control.LocalRound(ctx, stateGlobal(t, control, 2))
			if err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(other, want) {
				t.Fatal("a fresh edge computes the same round 2: the test cannot tell restored state apart")
			}
		})
	}
}

// TestEdgeRestoreRejects: a state of another edge, run or strategy, or with a tensor missing, extra,
// misshapen or non-finite, or a broken cursor, is refused with an error naming what is wrong, and the
// edge is left exactly as it was.
func TestEdgeRestoreRejects(t *testing.T) {
	ctx := context.Background()
	src := stateEdge(t, MLECS, "e1")
	if _, err := src.LocalRound(ctx, stateGlobal(t, src, 1)); err != nil {
		t.Fatal(err)
	}
	good := snapshot(t, src)
	// The target has trained too, so "unchanged" is not just "still fresh".
	dst := stateEdge(t, MLECS, "e1")
	g := stateGlobal(t, dst, 1)
	g.Fused.Data[0] = 3
	if _, err := dst.LocalRound(ctx, g); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dst)

	edit := func(f func(m map[string]string, ts []payload.Tensor) []payload.Tensor) edgeState {
		m := maps.Clone(good.meta)
		ts := make([]payload.Tensor, len(good.tensors))
		for i, x := range good.tensors {
			ts[i] = payload.Tensor{Name: x.Name, Shape: slices.Clone(x.Shape), Data: slices.Clone(x.Data)}
		}
		return edgeState{m, f(m, ts)}
	}
	setMeta := func(key, value string) edgeState {
		return edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor { m[key] = value; return ts })
	}
	index := func(ts []payload.Tensor, name string) int {
		i := slices.IndexFunc(ts, func(x payload.Tensor) bool { return x.Name == name })
		if i < 0 {
			t.Fatalf("no tensor %s in the state", name)
		}
		return i
	}
	cases := []struct {
		name, want string
		st         edgeState
	}{
		{"wrong edge id", `"edge"`, setMeta(metaEdge, "e2")},
		{"wrong run", `"run"`, setMeta(metaRun, "other")},
		{"wrong format", `"format"`, setMeta(metaFormat, "mlecs-edge-state/0")},
		{"other strategy", `"components"`, setMeta(metaComponents, componentsKey(Components{Communicate: true, ShareLoRA: true}))},
		{"bad round", `"round"`, setMeta(metaRound, "-1")},
		{"missing tensor", `"param/amt/gate" missing`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			return slices.Delete(ts, index(ts, "param/amt/gate"), index(ts, "param/amt/gate")+1)
		})},
		{"wrong shape", `"param/connector" has shape`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			i := index(ts, "param/connector")
			ts[i].Shape = []int{2, len(ts[i].Data) / 2}
			return ts
		})},
		{"short data", `"opt/amt/shared/m" has shape`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			i := index(ts, "opt/amt/shared/m")
			ts[i].Data = ts[i].Data[1:]
			return ts
		})},
		{"NaN", `"param/encoder/txt": value 3 is NaN`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			ts[index(ts, "param/encoder/txt")].Data[3] = float32(math.NaN())
			return ts
		})},
		{"Inf in the projection", `"seccl/projection": value 0 is +Inf`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			ts[index(ts, tensorProjection)].Data[0] = float32(math.Inf(1))
			return ts
		})},
		{"negative second moment", `"opt/connector/v": value 1 is -1`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			ts[index(ts, "opt/connector/v")].Data[1] = -1
			return ts
		})},
		{"unexpected tensor", `unexpected tensor "param/extra"`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			return append(ts, payload.Tensor{Name: "param/extra", Shape: []int{1}, Data: []float32{1}})
		})},
		{"duplicate tensor", `"param/ccl" appears twice`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			return append(ts, ts[index(ts, "param/ccl")])
		})},
		{"unexpected meta", `unexpected meta "note"`, setMeta("note", "x")},
		{"missing step count", `"opt/amt/gate/step" missing`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			delete(m, optStepKey("amt/gate"))
			return ts
		})},
		{"perm not a permutation", `"cursor/private/perm": value 1`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			p := ts[index(ts, cursorPerm("private"))].Data
			p[1] = p[0]
			return ts
		})},
		{"other data set size", `"cursor/public/perm" has shape`, edit(func(m map[string]string, ts []payload.Tensor) []payload.Tensor {
			i := index(ts, cursorPerm("public"))
			ts[i].Shape, ts[i].Data = []int{3}, []float32{0, 1, 2}
			return ts
		})},
		{"cursor past the end", `"cursor/private/pos"`, setMeta(cursorKey("private", "pos"), "8")},
		{"bad generator state", `"cursor/public/rng"`, setMeta(cursorKey("public", "rng"), "zz")},
		{"SE-CCL width without its projection", `"seccl/projection" has shape`, setMeta(metaAlignDim, "6")},
	}
	for _, tc := range cases {
		err := dst.Restore(tc.st.meta, tc.st.tensors)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", tc.name)
		case !errors.Is(err, ErrState) || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error %q, want ErrState naming %s", tc.name, err, tc.want)
		}
		if !reflect.DeepEqual(snapshot(t, dst), before) {
			t.Fatalf("%s: the refused state changed the edge", tc.name)
		}
	}
	// Another edge's state, as it saved it.
	other := stateEdge(t, MLECS, "e2")
	if err := other.Restore(good.meta, good.tensors); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), `"edge" is "e1"`) {
		t.Errorf("edge e2 restoring e1's state: %v", err)
	}
	// And the good state is accepted by dst after all those refusals.
	if err := dst.Restore(good.meta, good.tensors); err != nil {
		t.Fatal(err)
	}
}
