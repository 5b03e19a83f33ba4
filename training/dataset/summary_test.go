package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 6)
	s := Summarize(d, 1)
	if s.Name != "toy" || s.Samples != 6 || s.Splits[SplitTrain] != 5 || s.Splits[SplitTest] != 1 {
		t.Fatalf("summary %+v", s)
	}
	// Samples 0 and 3 lack the image; sample 5 (the test one) has it.
	want := map[string][2]int{"imu": {5, 1}, "pic": {3, 1}, "speech": {5, 1}, "words": {5, 1}}
	if len(s.Modalities) != 4 {
		t.Fatalf("modalities %+v", s.Modalities)
	}
	for _, m := range s.Modalities {
		if w := want[m.Name]; m.Train != w[0] || m.Test != w[1] {
			t.Errorf("%s: train %d test %d, want %v", m.Name, m.Train, m.Test, w)
		}
	}
	if s.Groups.Distinct != 2 || len(s.Groups.Top) != 1 || s.Targets.Distinct != 6 || s.Labels.Distinct != 2 || s.Unlabelled != 0 {
		t.Errorf("tallies %+v %+v %+v", s.Groups, s.Targets, s.Labels)
	}
}

func TestVerifyInputs(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 6)
	if err := VerifyInputs(context.Background(), d, DefaultConfig(), 2); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d.Dir, "img", "e.png"), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(d.Dir, "wav", "b.wav"), []byte("RIFF"), 0o644)
	err := VerifyInputs(context.Background(), d, DefaultConfig(), 2)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 || !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
	if ve.Problems[0].Line != 2 || !strings.Contains(ve.Problems[0].Error(), "b.wav") || ve.Problems[1].Line != 5 {
		t.Errorf("problems %v", ve.Problems)
	}
}
