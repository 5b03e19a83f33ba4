package dataset

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// Format is the only value of dataset.json's "format" field this package reads.
const Format = "mlecs-dataset/1"

// File names inside a dataset directory.
const (
	MetaFile    = "dataset.json"
	SamplesFile = "samples.jsonl"
)

// Splits a sample can belong to; the public set D' is carved from train later.
const (
	SplitTrain = "train"
	SplitTest  = "test"
)

// Kind is the type of data a modality holds.
type Kind string

// The four kinds of mlecs-dataset/1.
const (
	KindImage      Kind = "image"      // PNG or JPEG file
	KindAudio      Kind = "audio"      // WAV file, PCM 16-bit
	KindTimeseries Kind = "timeseries" // CSV file or inline rows
	KindText       Kind = "text"       // inline UTF-8 string
)

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindImage, KindAudio, KindTimeseries, KindText:
		return true
	}
	return false
}

// Modality describes one input channel of the dataset.
type Modality struct {
	Kind Kind `json:"kind"`
}

// Dataset is a parsed, validated mlecs-dataset/1 directory.
type Dataset struct {
	Dir         string // directory the dataset was opened from; input paths are relative to it
	Name        string
	Description string
	License     string
	Modalities  map[string]Modality
	Samples     []Sample // in file order
}

// Sample is one line of samples.jsonl.
type Sample struct {
	ID      string
	Split   string // SplitTrain or SplitTest
	Group   string // optional natural owner (subject, speaker)
	Inputs  map[string]Input
	Targets []string // at least one non-empty reference text
	Label   string   // optional class label
	Line    int      // 1-based line in samples.jsonl (0 for samples not read from a file)
}

// Input is one modality's data for a sample: exactly one of Path (image,
// audio, timeseries CSV; relative to the dataset directory, slash-separated),
// Text (text) or Rows (inline timeseries) is set.
type Input struct {
	Path string
	Text string
	Rows [][]float64
}

// Header is the content of dataset.json.
type Header struct {
	Format      string              `json:"format"`
	Name        string              `json:"name"`
	Description string              `json:"description,omitempty"`
	License     string              `json:"license,omitempty"`
	Modalities  map[string]Modality `json:"modalities"`
}

// validName reports whether s may name a dataset or modality: 1-64 ASCII
// letters, digits, '_', '.', '-', starting with a letter or digit, so that
// names stay usable as flags, file names and metric labels.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// Header returns the dataset.json view of d.
func (d *Dataset) Header() Header {
	return Header{Format: Format, Name: d.Name, Description: d.Description, License: d.License, Modalities: d.Modalities}
}

// Path returns the absolute (or Dir-relative) file path of a path input.
func (d *Dataset) Path(in Input) string {
	return filepath.Join(d.Dir, filepath.FromSlash(in.Path))
}

// sampleJSON is the wire shape of one samples.jsonl line.
type sampleJSON struct {
	ID     string                     `json:"id"`
	Split  string                     `json:"split"`
	Group  string                     `json:"group,omitempty"`
	Inputs map[string]json.RawMessage `json:"inputs"`
	Target json.RawMessage            `json:"target"`
	Label  string                     `json:"label,omitempty"`
}

// MarshalJSON writes the sample as one samples.jsonl object: a single target
// as a string, several as an array; inputs as a path or text string or rows.
func (s Sample) MarshalJSON() ([]byte, error) {
	out := sampleJSON{ID: s.ID, Split: s.Split, Group: s.Group, Label: s.Label, Inputs: map[string]json.RawMessage{}}
	for name, in := range s.Inputs {
		var (
			raw []byte
			err error
		)
		switch {
		case in.Rows != nil:
			raw, err = json.Marshal(in.Rows)
		case in.Path != "":
			raw, err = json.Marshal(in.Path)
		default:
			raw, err = json.Marshal(in.Text)
		}
		if err != nil {
			return nil, fmt.Errorf("sample %q input %q: %w", s.ID, name, err)
		}
		out.Inputs[name] = raw
	}
	var err error
	if len(s.Targets) == 1 {
		out.Target, err = json.Marshal(s.Targets[0])
	} else {
		out.Target, err = json.Marshal(s.Targets)
	}
	if err != nil {
		return nil, fmt.Errorf("sample %q target: %w", s.ID, err)
	}
	return json.Marshal(out)
}
