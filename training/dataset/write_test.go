package dataset

import (
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"testing"
)

func toyHeader() Header {
	return Header{Name: "toy", Description: "a toy", License: "CC0", Modalities: map[string]Modality{
		"pic": {Kind: KindImage}, "speech": {Kind: KindAudio}, "imu": {Kind: KindTimeseries}, "words": {Kind: KindText}}}
}

// writeToy builds a small dataset of every kind with the Writer: n samples,
// every third without an image, CSV and inline series alternating.
func writeToy(t *testing.T, out string, n int) *Dataset {
	t.Helper()
	w, err := Create(out, toyHeader())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		id := string(rune('a' + i))
		in := map[string]Input{"words": {Text: "word " + id}}
		if i%3 != 0 {
			p := "img/" + id + ".png"
			mustWrite(t, filepath.Join(w.Dir(), p), pngBytes(t, solidRGBA(8, 6, color.NRGBA{uint8(20 * i), 0, 0, 255})))
			in["pic"] = Input{Path: p}
		}
		p := "wav/" + id + ".wav"
		mustWrite(t, filepath.Join(w.Dir(), p), sineWAV(t, 8000, 200*float64(i+1), 0.5))
		in["speech"] = Input{Path: p}
		if i%2 == 0 {
			p := "imu/" + id + ".csv"
			mustWrite(t, filepath.Join(w.Dir(), p), []byte("a,b\n0,1\n2,3\n4,5\n"))
			in["imu"] = Input{Path: p}
		} else {
			in["imu"] = Input{Rows: [][]float64{{float64(i), 1}, {float64(i), 2}}}
		}
		split := SplitTrain
		if i == n-1 {
			split = SplitTest
		}
		if err := w.Add(Sample{ID: id, Split: split, Group: "g" + string(rune('0'+i%2)), Inputs: in, Targets: []string{"target " + id}, Label: "L" + string(rune('0'+i%2))}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWriterRoundTrip(t *testing.T) {
	out := filepath.Join(t.TempDir(), "toy")
	d := writeToy(t, out, 5)
	if d.Dir != out {
		t.Errorf("Dir = %s", d.Dir)
	}
	back, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name != "toy" || back.License != "CC0" || len(back.Samples) != 5 {
		t.Fatalf("read back %+v", back)
	}
	if s := back.Samples[1]; s.Inputs["imu"].Rows[1][1] != 2 || s.Inputs["pic"].Path != "img/b.png" || s.Targets[0] != "target b" {
		t.Errorf("sample 1 = %+v", s)
	}
	if back.Samples[0].Has("pic") {
		t.Error("sample 0 should lack pic")
	}
	// No temporary directories are left beside the dataset.
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestWriterReplace(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "ds")
	writeToy(t, out, 3)
	writeToy(t, out, 4) // replaces the previous dataset
	d, err := Open(out)
	if err != nil || len(d.Samples) != 4 {
		t.Fatalf("after replace: %v, %v", d, err)
	}
	// An empty directory is replaced too.
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	writeToy(t, empty, 2)
	// A non-empty directory that is not a dataset is refused and left alone.
	other := filepath.Join(root, "other")
	mustWrite(t, filepath.Join(other, "precious.txt"), []byte("keep"))
	w, err := Create(other, toyHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(Sample{ID: "x", Split: SplitTrain, Inputs: map[string]Input{"words": {Text: "w"}}, Targets: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); !errors.Is(err, ErrConfig) {
		t.Fatalf("commit over non-dataset: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(other, "precious.txt")); err != nil || string(b) != "keep" {
		t.Fatal("non-dataset directory was touched")
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 3 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestWriterRejects(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "x"), toyHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	ok := Sample{ID: "a", Split: SplitTrain, Inputs: map[string]Input{"words": {Text: "w"}}, Targets: []string{"t"}}
	if err := w.Add(ok); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name     string
		mutate   func(*Sample)
		sentinel error
	}{
		{"duplicate", func(s *Sample) {}, ErrDuplicateID},
		{"no id", func(s *Sample) { s.ID = "" }, ErrMalformed},
		{"split", func(s *Sample) { s.ID, s.Split = "b", "val" }, ErrBadSplit},
		{"target", func(s *Sample) { s.ID, s.Targets = "b", []string{""} }, ErrEmptyTarget},
		{"no inputs", func(s *Sample) { s.ID, s.Inputs = "b", nil }, ErrMalformed},
		{"unknown modality", func(s *Sample) { s.ID, s.Inputs = "b", map[string]Input{"x": {Text: "w"}} }, ErrUnknownModality},
		{"text as path", func(s *Sample) { s.ID, s.Inputs = "b", map[string]Input{"words": {Path: "w.txt"}} }, ErrInputType},
		{"image as text", func(s *Sample) { s.ID, s.Inputs = "b", map[string]Input{"pic": {Text: "w"}} }, ErrInputType},
		{"two forms", func(s *Sample) {
			s.ID, s.Inputs = "b", map[string]Input{"imu": {Path: "a.csv", Rows: [][]float64{{1}}}}
		}, ErrInputType},
		{"ragged rows", func(s *Sample) { s.ID, s.Inputs = "b", map[string]Input{"imu": {Rows: [][]float64{{1}, {}}}} }, ErrInputType},
	}
	for _, tc := range bad {
		s := ok
		tc.mutate(&s)
		if err := w.Add(s); !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.sentinel)
		}
	}
	if _, err := Create(t.TempDir(), Header{Name: "x"}); !errors.Is(err, ErrConfig) {
		t.Errorf("no modalities: %v", err)
	}
}

// Commit validates by reading back: a sample whose file was never written
// fails the commit and leaves nothing behind.
func TestWriterCommitValidates(t *testing.T) {
	root := t.TempDir()
	w, err := Create(filepath.Join(root, "ds"), toyHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(Sample{ID: "a", Split: SplitTrain, Inputs: map[string]Input{"pic": {Path: "missing.png"}}, Targets: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); !errors.Is(err, ErrMissingFile) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
