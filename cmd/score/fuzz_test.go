package score

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzParsePair checks that any accepted line has at least one target and
// that re-encoding what was parsed parses back to the same pair.
func FuzzParsePair(f *testing.F) {
	for _, s := range []string{
		`{"target": "a b", "prediction": "a"}`,
		`{"target": ["x", "y"], "prediction": "", "id": 3}`,
		`{"target": [], "prediction": "a"}`,
		`{"target": null}`,
		`[1]`,
		`{"target": "a", "prediction": "b"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		targets, pred, err := parsePair(line)
		if err != nil {
			return
		}
		if len(targets) == 0 {
			t.Fatalf("accepted %q with no targets", line)
		}
		again, err := json.Marshal(map[string]any{"target": targets, "prediction": pred})
		if err != nil {
			t.Fatal(err)
		}
		t2, p2, err := parsePair(again)
		if err != nil || p2 != pred || !slices.Equal(t2, targets) {
			t.Fatalf("re-encoded %q parsed to %q, %q, %v", again, t2, p2, err)
		}
	})
}
