package dataset

import (
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodMeta = `{"format": "mlecs-dataset/1", "name": "toy", "description": "d", "license": "CC0",
 "modalities": {"pic": {"kind": "image"}, "speech": {"kind": "audio"}, "imu": {"kind": "timeseries"}, "words": {"kind": "text"}}}`

func goodFiles(t *testing.T) map[string][]byte {
	return map[string][]byte{
		"img/a.png":  pngBytes(t, solidRGBA(4, 4, color.NRGBA{255, 0, 0, 255})),
		"wav/a.wav":  sineWAV(t, 8000, 440, 0.1),
		"csv/a.csv":  []byte("x,y\n1,2\n3,4\n"),
		"img/sub.md": []byte("not used"),
	}
}

func TestOpenValid(t *testing.T) {
	dir := writeDir(t, goodMeta, []string{
		`{"id": "s1", "split": "train", "group": "g1", "inputs": {"pic": "img/a.png", "speech": "wav/a.wav", "imu": "csv/a.csv", "words": "hello"}, "target": "red square", "label": "red"}`,
		``,
		`{"id": "s2", "split": "test", "inputs": {"imu": [[1, 2], [3, 4.5]]}, "target": ["two", "deux"]}`,
	}, goodFiles(t))
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "toy" || d.License != "CC0" || d.Description != "d" || len(d.Modalities) != 4 {
		t.Fatalf("header: %+v", d)
	}
	if len(d.Samples) != 2 {
		t.Fatalf("got %d samples", len(d.Samples))
	}
	s1, s2 := d.Samples[0], d.Samples[1]
	if s1.Line != 1 || s2.Line != 3 {
		t.Errorf("lines %d %d, want 1 3", s1.Line, s2.Line)
	}
	if s1.Inputs["pic"].Path != "img/a.png" || s1.Inputs["words"].Text != "hello" || s1.Group != "g1" || s1.Label != "red" {
		t.Errorf("s1 = %+v", s1)
	}
	if d.Path(s1.Inputs["pic"]) != filepath.Join(dir, "img", "a.png") {
		t.Errorf("Path = %s", d.Path(s1.Inputs["pic"]))
	}
	if got := s2.Inputs["imu"].Rows; len(got) != 2 || got[1][1] != 4.5 {
		t.Errorf("rows = %v", got)
	}
	if len(s2.Targets) != 2 || s2.Targets[1] != "deux" {
		t.Errorf("targets = %v", s2.Targets)
	}
}

func TestOpenErrors(t *testing.T) {
	line := func(fields string) string {
		return `{"id": "s1", "split": "train", "inputs": {"words": "hi"}, "target": "t"` + fields + `}`
	}
	cases := []struct {
		name     string
		meta     string
		lines    []string
		sentinel error
		want     []string // substrings of the error
	}{
		{"no dataset.json", "", []string{line("")}, ErrMissingFile, []string{MetaFile}},
		{"meta malformed", "{\n\"format\": \"mlecs-dataset/1\",\n\"name\" \"x\"}", []string{line("")}, ErrMalformed, []string{MetaFile + ":3"}},
		{"meta unknown field", `{"format": "mlecs-dataset/1", "name": "x", "modalitys": {}}`, nil, ErrMalformed, []string{"modalitys"}},
		{"unknown format", `{"format": "mlecs-dataset/2", "name": "x", "modalities": {"w": {"kind": "text"}}}`, nil, ErrUnknownFormat, []string{"mlecs-dataset/2"}},
		{"missing format", `{"name": "x", "modalities": {"w": {"kind": "text"}}}`, nil, ErrUnknownFormat, []string{"missing"}},
		{"unknown kind", `{"format": "mlecs-dataset/1", "name": "x", "modalities": {"w": {"kind": "video"}}}`, nil, ErrUnknownKind, []string{`"video"`}},
		{"no modalities", `{"format": "mlecs-dataset/1", "name": "x", "modalities": {}}`, nil, ErrMalformed, []string{"no modalities"}},
		{"bad name", `{"format": "mlecs-dataset/1", "name": "a b", "modalities": {"w": {"kind": "text"}}}`, nil, ErrMalformed, []string{"name"}},
		{"no samples file", goodMeta, nil, ErrMissingFile, []string{SamplesFile}},
		{"no samples", goodMeta, []string{""}, ErrMalformed, []string{"no samples"}},
		{"malformed line", goodMeta, []string{line(""), `{"id": "s2",`}, ErrMalformed, []string{SamplesFile + ":2"}},
		{"trailing data", goodMeta, []string{line("") + ` {}`}, ErrMalformed, []string{"trailing"}},
		{"unknown field", goodMeta, []string{line(`, "lable": "x"`)}, ErrMalformed, []string{"lable"}},
		{"missing id", goodMeta, []string{`{"split": "train", "inputs": {"words": "hi"}, "target": "t"}`}, ErrMalformed, []string{`"id"`}},
		{"bad split", goodMeta, []string{`{"id": "s1", "split": "dev", "inputs": {"words": "hi"}, "target": "t"}`}, ErrBadSplit, []string{`"dev"`, ":1"}},
		{"empty target", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"words": "hi"}, "target": " "}`}, ErrEmptyTarget, nil},
		{"empty target array", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"words": "hi"}, "target": []}`}, ErrEmptyTarget, nil},
		{"missing target", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"words": "hi"}}`}, ErrEmptyTarget, nil},
		{"target number", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"words": "hi"}, "target": 3}`}, ErrMalformed, []string{"target"}},
		{"duplicate id", goodMeta, []string{line(""), line("")}, ErrDuplicateID, []string{`"s1"`, "first on line 1", SamplesFile + ":2"}},
		{"unknown modality", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"video": "v.mp4"}, "target": "t"}`}, ErrUnknownModality, []string{`"video"`, "declared: imu, pic, speech, words"}},
		{"no inputs", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {}, "target": "t"}`}, ErrMalformed, []string{"no inputs"}},
		{"missing file", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"pic": "img/nope.png"}, "target": "t"}`}, ErrMissingFile, []string{"nope.png", ":1"}},
		{"directory as file", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"pic": "img"}, "target": "t"}`}, ErrMissingFile, []string{"regular"}},
		{"escaping path", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"pic": "../x.png"}, "target": "t"}`}, ErrMalformed, []string{"inside the dataset"}},
		{"absolute path", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"pic": "/etc/passwd"}, "target": "t"}`}, ErrMalformed, []string{"relative"}},
		{"image as number", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"pic": 5}, "target": "t"}`}, ErrInputType, []string{"a number"}},
		{"text as array", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"words": ["a"]}, "target": "t"}`}, ErrInputType, []string{"an array"}},
		{"empty text", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"words": ""}, "target": "t"}`}, ErrInputType, []string{"empty text"}},
		{"rows of strings", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"imu": [["a"]]}, "target": "t"}`}, ErrInputType, nil},
		{"ragged rows", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"imu": [[1, 2], [3]]}, "target": "t"}`}, ErrInputType, []string{"row 1 has 1"}},
		{"no rows", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"imu": []}, "target": "t"}`}, ErrInputType, []string{"no rows"}},
		{"series object", goodMeta, []string{`{"id": "s1", "split": "train", "inputs": {"imu": {"a": 1}}, "target": "t"}`}, ErrInputType, []string{"an object"}},
		{"invalid utf8", goodMeta, []string{"{\"id\": \"s1\", \"split\": \"train\", \"inputs\": {\"words\": \"\xff\"}, \"target\": \"t\"}"}, ErrMalformed, []string{"UTF-8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, tc.meta, tc.lines, goodFiles(t))
			d, err := Open(dir)
			if err == nil {
				t.Fatalf("Open succeeded: %+v", d)
			}
			if d != nil {
				t.Error("non-nil dataset with an error")
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q is not %v", err, tc.sentinel)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("error %T is not a *ValidationError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestOpenReportsEveryProblem(t *testing.T) {
	var lines []string
	for i := 0; i < maxProblems+5; i++ {
		lines = append(lines, `{"id": "x", "split": "nope", "inputs": {"words": "hi"}, "target": "t"}`)
	}
	lines = append(lines, `{"id": "ok", "split": "train", "inputs": {"words": "hi"}, "target": "t"}`)
	dir := writeDir(t, goodMeta, lines, nil)
	_, err := Open(dir)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	if len(ve.Problems) != maxProblems || ve.Omitted != 5 {
		t.Fatalf("%d problems, %d omitted", len(ve.Problems), ve.Omitted)
	}
	if ve.Problems[3].Line != 4 || ve.Problems[3].File != filepath.Join(dir, SamplesFile) {
		t.Errorf("problem 3 = %+v", ve.Problems[3])
	}
	if !strings.Contains(err.Error(), "105 problems") || !strings.Contains(err.Error(), "and 5 more") {
		t.Errorf("message: %.200s", err)
	}
}

func TestOpenLongLine(t *testing.T) {
	dir := writeDir(t, goodMeta, nil, nil)
	f, err := os.Create(filepath.Join(dir, SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(`{"id": "s1", "split": "train", "inputs": {"words": "`)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(strings.Repeat("a", maxLineBytes+1))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Open(dir); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err = %v", err)
	}
}

func TestQueries(t *testing.T) {
	dir := writeDir(t, goodMeta, []string{
		`{"id": "a", "split": "train", "group": "g1", "inputs": {"words": "x", "imu": [[1]]}, "target": "one", "label": "L1"}`,
		`{"id": "b", "split": "train", "group": "g2", "inputs": {"words": "y"}, "target": ["one", "uno", "one"], "label": "L2"}`,
		`{"id": "c", "split": "test", "group": "g1", "inputs": {"imu": [[2]]}, "target": "two", "label": "L1"}`,
	}, nil)
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.Split(SplitTrain)); got != 2 {
		t.Errorf("train = %d", got)
	}
	if got := len(d.Split(SplitTest)); got != 1 {
		t.Errorf("test = %d", got)
	}
	if got := WithModalities(d.Samples, "words", "imu"); len(got) != 1 || got[0].ID != "a" {
		t.Errorf("WithModalities = %v", got)
	}
	if got := InGroups(d.Samples, "g1"); len(got) != 2 {
		t.Errorf("InGroups = %d", len(got))
	}
	if got := Groups(d.Samples); strings.Join(got, ",") != "g1,g2" {
		t.Errorf("Groups = %v", got)
	}
	if got := Labels(d.Samples); strings.Join(got, ",") != "L1,L2" {
		t.Errorf("Labels = %v", got)
	}
	want := []Count{{"imu", 2}, {"words", 2}}
	if got := ModalityCounts(d.Samples); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ModalityCounts = %v", got)
	}
	if got := GroupCounts(d.Samples); got[0] != (Count{"g1", 2}) {
		t.Errorf("GroupCounts = %v", got)
	}
	// "one" counts once per sample even when repeated among references.
	if got := TargetCounts(d.Samples); len(got) != 3 || got[0] != (Count{"one", 2}) {
		t.Errorf("TargetCounts = %v", got)
	}
	if got := d.Samples[0].ModalityNames(); strings.Join(got, ",") != "imu,words" {
		t.Errorf("sample modalities = %v", got)
	}
}
