package experiment

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// designExample is the results.json example of DESIGN.md section 6, verbatim.
const designExample = `{"format": "mlecs-results/1", "dataset": "emoji", "preset": "tiny", "rounds": 10, "seeds": [1, 2, 3],
 "methods": {"mlecs": {
   "edge_rougeLsum": {"mean": 0.0, "std": 0.0, "per_seed": [0.0]},
   "anchor_rougeLsum": {"mean": 0.0, "std": 0.0, "per_seed": [0.0]},
   "edge_accuracy": {"mean": 0.0, "std": 0.0, "per_seed": [0.0]},
   "per_edge": [{"node": "edge-1", "modalities": ["twemoji"], "rougeLsum": 0.0, "accuracy": 0.0}],
   "bytes_up_per_edge_round": 0, "bytes_down_per_edge_round": 0,
   "edge_model_params": 0, "comm_ratio": 0.0, "wall_seconds": 0.0}}}`

// extraKeys are the keys this package adds beyond the contract; anything else is a mistake.
var extraKeys = map[string][]string{
	"top":      {"settings"},
	"method":   {"edge_macro_f1", "anchor_accuracy", "bytes_up_parts", "bytes_down_parts", "curves"},
	"per_edge": {"macro_f1", "seeds"},
}

// sameShape checks that got has every key of want with the same JSON type, recursively (arrays by
// their first element), and that got's other keys are listed extras.
func sameShape(t *testing.T, path, level string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		if got == nil && strings.HasSuffix(path, ".anchor_rougeLsum") {
			return // the one nullable field: methods without an anchor model
		}
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: %T, want an object", path, got)
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s.%s: missing", path, k)
				continue
			}
			sub := level
			switch k {
			case "methods":
				sub = "methods"
			case "per_edge":
				sub = "per_edge"
			}
			if level == "methods" {
				sub = "method"
			}
			sameShape(t, path+"."+k, sub, gv, wv)
		}
		if level == "methods" {
			return // method names are data, not keys of the contract
		}
		for k := range g {
			if _, ok := w[k]; !ok && !slices.Contains(extraKeys[level], k) {
				t.Errorf("%s.%s: key not in the contract nor a known extra", path, k)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: %T, want an array", path, got)
			return
		}
		if len(w) > 0 && len(g) > 0 {
			sameShape(t, path+"[0]", level, g[0], w[0])
		}
	default:
		if reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("%s: %T, want %T", path, got, want)
		}
	}
}

func TestResultsJSONShapeMatchesContract(t *testing.T) {
	dir := t.TempDir()
	r := mustSummarize(t, handMeasurements())
	if err := WriteResults(dir, r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(designExample), &want); err != nil {
		t.Fatal(err)
	}
	// Every method has the shape of the example's mlecs entry; "top" is the top-level object.
	exampleMethod := want["methods"].(map[string]any)["mlecs"]
	methods := map[string]any{}
	for name := range got["methods"].(map[string]any) {
		methods[name] = exampleMethod
	}
	want["methods"] = methods
	sameShape(t, "$", "top", got, want)

	// Integers are written as integers (no fraction, no exponent).
	m := got["methods"].(map[string]any)["fedavg"].(map[string]any)
	for _, k := range []string{"bytes_up_per_edge_round", "bytes_down_per_edge_round", "edge_model_params"} {
		if v := m[k].(float64); v != float64(int64(v)) {
			t.Errorf("%s: %v is not an integer", k, v)
		}
	}
	if !strings.Contains(string(data), `"bytes_up_per_edge_round": 1002,`) {
		t.Errorf("fedavg bytes not an integer literal:\n%s", data)
	}
	// A method without an anchor model keeps the key, with null.
	if v, ok := m["anchor_rougeLsum"]; !ok || v != nil {
		t.Errorf("fedavg anchor_rougeLsum: %v (present %v), want null", v, ok)
	}
	if got["format"] != Format || got["seeds"].([]any)[2] != 3.0 {
		t.Errorf("format/seeds: %v %v", got["format"], got["seeds"])
	}
}

func TestDesignExamplePassesSchema(t *testing.T) {
	// The example is schematic (one per_seed value for three seeds, zero parameters): its fields and
	// types pass the schema check; its values are then rejected by name.
	_, err := DecodeResults([]byte(designExample))
	if !errors.Is(err, ErrResults) || !strings.Contains(err.Error(), "methods.mlecs.edge_rougeLsum.per_seed: 1 values for 3 seeds") {
		t.Fatalf("got %v", err)
	}
	fixed := strings.ReplaceAll(designExample, `"per_seed": [0.0]`, `"per_seed": [0.0, 0.0, 0.0]`)
	fixed = strings.Replace(fixed, `"edge_model_params": 0`, `"edge_model_params": 1000`, 1)
	r, err := DecodeResults([]byte(fixed))
	if err != nil {
		t.Fatal(err)
	}
	if r.Methods["mlecs"].PerEdge[0].Modalities[0] != "twemoji" || r.Rounds != 10 {
		t.Errorf("decoded: %+v", r)
	}
}

func TestResultsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []Results{mustSummarize(t, handMeasurements()), mustSummarize(t, curvedMeasurements(4, []uint64{5}))} {
		if err := WriteResults(dir, r); err != nil { // the second write replaces the first
			t.Fatal(err)
		}
		back, err := ReadResults(filepath.Join(dir, ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("round trip differs:\n got %+v\nwant %+v", back, r)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != ResultsFile {
		t.Errorf("dir holds %v, want only %s (no temporary files)", entries, ResultsFile)
	}
}

func TestWriteResultsRejectsInvalid(t *testing.T) {
	dir := t.TempDir()
	r := mustSummarize(t, handMeasurements())
	m := r.Methods["fedavg"]
	m.EdgeRougeLsum.PerSeed = m.EdgeRougeLsum.PerSeed[:1]
	r.Methods["fedavg"] = m
	if err := WriteResults(dir, r); !errors.Is(err, ErrResults) || !strings.Contains(err.Error(), "methods.fedavg.edge_rougeLsum.per_seed") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ResultsFile)); !os.IsNotExist(err) {
		t.Errorf("invalid results were written: %v", err)
	}
	if err := WriteResults(filepath.Join(dir, "missing"), mustSummarize(t, handMeasurements())); err == nil {
		t.Error("write into a missing dir succeeded")
	}
}

func TestReadResultsErrors(t *testing.T) {
	valid, err := json.Marshal(mustSummarize(t, handMeasurements()))
	if err != nil {
		t.Fatal(err)
	}
	// edit decodes the valid file, applies f and re-encodes it.
	edit := func(f func(doc map[string]any)) string {
		var doc map[string]any
		if err := json.Unmarshal(valid, &doc); err != nil {
			t.Fatal(err)
		}
		f(doc)
		out, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	method := func(doc map[string]any, name string) map[string]any {
		return doc["methods"].(map[string]any)[name].(map[string]any)
	}
	cases := []struct {
		name, body, want string
	}{
		{"not json", "{", "not JSON"},
		{"array", "[1]", "top level: an array, want an object"},
		{"trailing", string(valid) + "{}", "trailing data"},
		{"no format", edit(func(d map[string]any) { delete(d, "format") }), "format: missing"},
		{"other format", edit(func(d map[string]any) { d["format"] = "mlecs-results/2" }), `format: mlecs-results/2, want "mlecs-results/1"`},
		{"rounds string", edit(func(d map[string]any) { d["rounds"] = "10" }), "rounds: a string, want an integer"},
		{"rounds fraction", edit(func(d map[string]any) { d["rounds"] = 2.5 }), "rounds: 2.5, want an integer"},
		{"negative seed", edit(func(d map[string]any) { d["seeds"] = []any{1, -2, 3} }), "seeds[1]: -2"},
		{"no methods", edit(func(d map[string]any) { delete(d, "methods") }), "methods: missing"},
		{"empty methods", edit(func(d map[string]any) { d["methods"] = map[string]any{} }), "methods: empty"},
		{"no per_seed", edit(func(d map[string]any) { delete(method(d, "fedavg")["edge_accuracy"].(map[string]any), "per_seed") }),
			"methods.fedavg.edge_accuracy.per_seed: missing"},
		{"no anchor key", edit(func(d map[string]any) { delete(method(d, "fedavg"), "anchor_rougeLsum") }),
			"methods.fedavg.anchor_rougeLsum: missing"},
		{"anchor number", edit(func(d map[string]any) { method(d, "mlecs")["anchor_rougeLsum"] = 0.5 }),
			"methods.mlecs.anchor_rougeLsum: a number, want an object"},
		{"bytes fraction", edit(func(d map[string]any) { method(d, "local")["bytes_down_per_edge_round"] = 1.5 }),
			"methods.local.bytes_down_per_edge_round: 1.5, want an integer"},
		{"comm string", edit(func(d map[string]any) { method(d, "local")["comm_ratio"] = "0" }),
			"methods.local.comm_ratio: a string, want a number"},
		{"no wall", edit(func(d map[string]any) { delete(method(d, "mlecs"), "wall_seconds") }), "methods.mlecs.wall_seconds: missing"},
		{"modalities string", edit(func(d map[string]any) {
			method(d, "mlecs")["per_edge"].([]any)[1].(map[string]any)["modalities"] = "twemoji"
		}), "methods.mlecs.per_edge[1].modalities: a string, want an array"},
		{"edge node missing", edit(func(d map[string]any) {
			delete(method(d, "mlecs")["per_edge"].([]any)[0].(map[string]any), "node")
		}), "methods.mlecs.per_edge[0].node: missing"},
		{"negative std", edit(func(d map[string]any) { method(d, "fedavg")["edge_rougeLsum"].(map[string]any)["std"] = -0.1 }),
			"methods.fedavg.edge_rougeLsum.std: -0.1"},
		{"mean above 1", edit(func(d map[string]any) { method(d, "fedavg")["edge_accuracy"].(map[string]any)["mean"] = 3 }),
			"methods.fedavg.edge_accuracy.mean: 3"},
		{"zero params", edit(func(d map[string]any) { method(d, "fedavg")["edge_model_params"] = 0 }),
			"methods.fedavg.edge_model_params: 0, want > 0"},
		{"bad extra", edit(func(d map[string]any) { method(d, "fedavg")["curves"] = "none" }), "curves"},
		{"short curve", edit(func(d map[string]any) {
			c := method(d, "mlecs")["curves"].(map[string]any)["edge_rougeLsum"].(map[string]any)
			c["mean"] = []any{0.1}
		}), "methods.mlecs.curves.edge_rougeLsum: 1 means and 2 stds for 2 rounds"},
		{"curve rounds", edit(func(d map[string]any) { method(d, "mlecs")["curves"].(map[string]any)["rounds"] = []any{2, 1} }),
			"methods.mlecs.curves.rounds: 1 after 2"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadResults(path)
			if !errors.Is(err, ErrResults) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant ErrResults containing %q", err, tc.want)
			}
		})
	}
	if _, err := ReadResults(filepath.Join(dir, "absent.json")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

func FuzzDecodeResults(f *testing.F) {
	f.Add([]byte(designExample))
	f.Add([]byte(`{"format": "mlecs-results/1"}`))
	r, err := Summarize(handMeasurements())
	if err != nil {
		f.Fatal(err)
	}
	valid, err := json.Marshal(r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResults(data)
		if err != nil {
			if !errors.Is(err, ErrResults) {
				t.Fatalf("error without ErrResults: %v", err)
			}
			return
		}
		// Whatever is accepted re-encodes into something accepted and equal.
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeResults(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip differs")
		}
	})
}
