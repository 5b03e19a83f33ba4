package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/dataset/datatest"
)

// run executes `data ARGS...` with captured output.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := NewCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// writeDataset writes a text-only dataset with the given sample lines.
func writeDataset(t *testing.T, lines ...string) string {
	t.Helper()
	dir := t.TempDir()
	meta := `{"format": "mlecs-dataset/1", "name": "words", "license": "CC0", "modalities": {"w": {"kind": "text"}, "s": {"kind": "timeseries"}}}`
	if err := os.WriteFile(filepath.Join(dir, "dataset.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "samples.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheck(t *testing.T) {
	good := writeDataset(t,
		`{"id": "a", "split": "train", "group": "g1", "inputs": {"w": "hello", "s": [[1, 2]]}, "target": "greeting", "label": "hi"}`,
		`{"id": "b", "split": "train", "group": "g1", "inputs": {"w": "bye"}, "target": "farewell", "label": "bye"}`,
		`{"id": "c", "split": "test", "group": "g2", "inputs": {"s": [[3, 4]]}, "target": "greeting"}`)
	bad := writeDataset(t,
		`{"id": "a", "split": "dev", "inputs": {"w": "hello"}, "target": "x"}`,
		`{"id": "b", "split": "train", "inputs": {"video": "v.mp4"}, "target": "x"}`,
		`{"id": "c", "split": "train", "inputs": {"s": "missing.csv"}, "target": "x"}`)
	brokenCSV := writeDataset(t, `{"id": "a", "split": "train", "inputs": {"s": "a.csv"}, "target": "x"}`)
	os.WriteFile(filepath.Join(brokenCSV, "a.csv"), []byte("x\nnot-a-number\n"), 0o644)

	cases := []struct {
		name    string
		args    []string
		wantErr error
		want    []string
		notWant []string
	}{
		{"summary", []string{"check", good}, nil, []string{`OK, dataset "words"`, "samples:    3 (train 2, test 1)",
			"s            timeseries train 1, test 1", "w            text       train 2, test 0",
			`groups:     2 distinct; top: "g1" 2, "g2" 1`, `targets:    2 distinct; top: "greeting" 2, "farewell" 1`,
			"labels:     2 distinct", "unlabelled: 1 samples", "license:    CC0"}, nil},
		{"top 1", []string{"check", "--top", "1", good}, nil, []string{`top: "g1" 2` + "\n"}, []string{`"g2"`}},
		{"invalid", []string{"check", bad}, ErrInvalid, []string{"INVALID, 3 problems", "samples.jsonl:1: bad split",
			"samples.jsonl:2: unknown modality", "samples.jsonl:3:", "missing.csv"}, nil},
		{"shallow misses corrupt csv", []string{"check", brokenCSV}, nil, []string{"OK"}, nil},
		{"deep finds corrupt csv", []string{"check", "--deep", brokenCSV}, ErrInvalid, []string{"INVALID, 1 problems", `line 2 column 1 (x): "not-a-number"`}, nil},
		{"missing dir", []string{"check", filepath.Join(good, "nope")}, ErrInvalid, []string{"dataset.json not found"}, nil},
		{"no arg", []string{"check"}, nil, nil, nil},
		{"negative top", []string{"check", "--top", "-1", good}, ErrUsage, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := run(t, tc.args...)
			if tc.name == "no arg" {
				if err == nil {
					t.Fatal("check without DIR succeeded")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v\n%s", err, tc.wantErr, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	good := writeDataset(t, `{"id": "a", "split": "train", "inputs": {"w": "hello"}, "target": "greeting", "label": "hi"}`)
	out, _, err := run(t, "check", "--json", good)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Valid   bool `json:"valid"`
		Summary struct {
			Name    string         `json:"name"`
			Samples int            `json:"samples"`
			Splits  map[string]int `json:"splits"`
			Labels  struct {
				Distinct int `json:"distinct"`
			} `json:"labels"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if !rep.Valid || rep.Summary.Name != "words" || rep.Summary.Samples != 1 || rep.Summary.Splits["test"] != 0 || rep.Summary.Labels.Distinct != 1 {
		t.Errorf("report %+v", rep)
	}

	bad := writeDataset(t, `{"id": "a", "split": "train", "inputs": {"w": 3}, "target": "x"}`)
	out, _, err = run(t, "check", "--json", bad)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	var badRep struct {
		Valid    bool `json:"valid"`
		Problems []struct {
			File  string `json:"file"`
			Line  int    `json:"line"`
			Error string `json:"error"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &badRep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if badRep.Valid || len(badRep.Problems) != 1 || badRep.Problems[0].Line != 1 ||
		!strings.HasSuffix(badRep.Problems[0].File, "samples.jsonl") || !strings.Contains(badRep.Problems[0].Error, "wrong input type") {
		t.Errorf("report %+v", badRep)
	}
}

func TestImportUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want error
	}{
		{"unknown dataset", []string{"import", "mnist", "--src", "x", "--out", "y"}, ErrUsage},
		{"no src", []string{"import", "har", "--out", "y"}, ErrUsage},
		{"no out", []string{"import", "emoji", "--src", "x"}, ErrUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := run(t, tc.args...); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, _, err := run(t, "import", "har", "--src", t.TempDir(), "--out", filepath.Join(t.TempDir(), "o")); err == nil || !strings.Contains(err.Error(), "executions_info.csv") {
		t.Errorf("empty src: %v", err)
	}
	if _, _, err := run(t, "import", "har", "--src", t.TempDir(), "--out", t.TempDir(), "--window", "10", "--hop", "20"); err == nil || !strings.Contains(err.Error(), "hop") {
		t.Errorf("bad window: %v", err)
	}
}

func TestImportThenCheckReal(t *testing.T) {
	data := datatest.SharedData(t)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"har", []string{"import", "har", "--src", filepath.Join(data, "har-phone-watch"), "--subjects", "s01,s03"},
			[]string{"imported har-phone-watch", "test subjects s03,s08,s13,s18,s23"}},
		{"emoji", []string{"import", "emoji", "--src", filepath.Join(data, "emoji"), "--test-percent", "30"},
			[]string{"imported emoji", "3781 samples", "1906 base emoji, 5 excluded"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outDir := filepath.Join(t.TempDir(), tc.name)
			out, _, err := run(t, append(tc.args, "--out", outDir)...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q: %s", w, out)
				}
			}
			out, _, err = run(t, "check", outDir)
			if err != nil || !strings.Contains(out, "OK") {
				t.Fatalf("check: %v\n%s", err, out)
			}
		})
	}
}
