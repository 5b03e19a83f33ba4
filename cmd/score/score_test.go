package score

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/metrics"
)

func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := NewCmd()
	var out bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// parseOutput splits the per-pair lines from the final mean line.
func parseOutput(t *testing.T, out string) ([]metrics.Scores, metrics.Scores) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var rows []metrics.Scores
	for _, l := range lines[:len(lines)-1] {
		var s metrics.Scores
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("pair line %q: %v", l, err)
		}
		rows = append(rows, s)
	}
	var m struct {
		Mean *metrics.Scores `json:"mean"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil || m.Mean == nil {
		t.Fatalf("final line %q is not {\"mean\": ...}: %v", lines[len(lines)-1], err)
	}
	return rows, *m.Mean
}

func TestScore(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pairs.jsonl")
	pairs := `{"target": "testing one two", "prediction": "testing"}` + "\n" +
		"\n" + // blank lines are skipped
		`{"id": "x", "target": ["w1 w2 w3 w4 w5", "w9"], "prediction": "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5"}` + "\n"
	if err := os.WriteFile(file, []byte(pairs), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantErr error
		errText string
		check   func(t *testing.T, rows []metrics.Scores, mean metrics.Scores)
	}{
		{name: "file", args: []string{"--pairs", file}, check: func(t *testing.T, rows []metrics.Scores, mean metrics.Scores) {
			if len(rows) != 2 {
				t.Fatalf("%d rows, want 2", len(rows))
			}
			if r := rows[0].Rouge1; r.Precision != 1 || math.Abs(r.Recall-1.0/3) > 1e-15 || r.F != 0.5 {
				t.Errorf("row 1 rouge1 = %+v", r)
			}
			// rougeLsum of the paper example: p=0.4 r=0.8 (the first target wins).
			if r := rows[1].RougeLsum; r.Precision != 0.4 || r.Recall != 0.8 {
				t.Errorf("row 2 rougeLsum = %+v", r)
			}
			if want := (rows[0].RougeL.F + rows[1].RougeL.F) / 2; mean.RougeL.F != want {
				t.Errorf("mean rougeL f = %v, want %v", mean.RougeL.F, want)
			}
		}},
		{name: "stdin with stem", stdin: `{"target": "the dogs were running", "prediction": "dog runs"}`,
			args: []string{"--pairs", "-", "--stem"}, check: func(t *testing.T, rows []metrics.Scores, _ metrics.Scores) {
				if r := rows[0].Rouge1; r.Precision != 1 || r.Recall != 0.5 {
					t.Errorf("stemmed rouge1 = %+v, want p=1 r=0.5", r)
				}
			}},
		{name: "stdin without stem", stdin: `{"target": "the dogs were running", "prediction": "dog runs"}`,
			args: []string{"--pairs", "-"}, check: func(t *testing.T, rows []metrics.Scores, _ metrics.Scores) {
				if rows[0].Rouge1.F != 0 {
					t.Errorf("unstemmed rouge1 = %+v, want 0", rows[0].Rouge1)
				}
			}},
		{name: "no flag", wantErr: ErrUsage},
		{name: "extra arg", args: []string{"--pairs", "-", "extra"}, errText: "unknown command"},
		{name: "missing file", args: []string{"--pairs", filepath.Join(dir, "none.jsonl")}, wantErr: os.ErrNotExist},
		{name: "empty input", stdin: "\n\n", args: []string{"--pairs", "-"}, wantErr: ErrInput, errText: "no pairs"},
		{name: "bad json", stdin: `{"target": "a", "prediction": "a"}` + "\n{oops\n", args: []string{"--pairs", "-"}, wantErr: ErrInput, errText: "stdin line 2"},
		{name: "missing prediction", stdin: `{"target": "a"}`, args: []string{"--pairs", "-"}, wantErr: ErrInput, errText: "line 1: \"prediction\""},
		{name: "null target", stdin: `{"target": null, "prediction": "a"}`, args: []string{"--pairs", "-"}, wantErr: ErrInput, errText: "\"target\""},
		{name: "number target", stdin: `{"target": 3, "prediction": "a"}`, args: []string{"--pairs", "-"}, wantErr: ErrInput, errText: "\"target\""},
		{name: "empty target list", stdin: `{"target": [], "prediction": "a"}`, args: []string{"--pairs", "-"}, wantErr: ErrInput, errText: "empty array"},
		{name: "mixed target list", stdin: `{"target": ["a", 1], "prediction": "a"}`, args: []string{"--pairs", "-"}, wantErr: ErrInput},
		{name: "array line", stdin: `["a", "b"]`, args: []string{"--pairs", "-"}, wantErr: ErrInput},
		{name: "trailing data", stdin: `{"target": "a", "prediction": "a"} {}`, args: []string{"--pairs", "-"}, wantErr: ErrInput, errText: "trailing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, tc.stdin, tc.args...)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.errText)
			}
			if tc.wantErr == nil && tc.errText == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				rows, mean := parseOutput(t, out)
				tc.check(t, rows, mean)
			}
		})
	}
}
