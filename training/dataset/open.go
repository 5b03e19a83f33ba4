package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits that keep a hostile or broken dataset from exhausting memory.
const (
	maxMetaBytes   = 1 << 20  // dataset.json
	maxLineBytes   = 64 << 20 // one samples.jsonl line (inline series can be long)
	maxIDBytes     = 256
	maxProblems    = 100 // problems reported in detail; the rest are counted
	maxInlineCells = 1 << 22
)

// Problem is one validation failure, located by file and (1-based) line.
type Problem struct {
	File string // path of the offending file
	Line int    // 0 when the problem concerns the whole file
	Err  error  // wraps one of the package's sentinel errors
}

func (p Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", p.File, p.Line, p.Err)
	}
	return fmt.Sprintf("%s: %v", p.File, p.Err)
}

func (p Problem) Unwrap() error { return p.Err }

// ValidationError lists every problem Open found in a dataset.
type ValidationError struct {
	Problems []Problem // the first maxProblems problems, in file order
	Omitted  int       // problems found beyond those listed
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Problems) + e.Omitted
	if n == 1 {
		return e.Problems[0].Error()
	}
	fmt.Fprintf(&b, "%d problems:", n)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", e.Omitted)
	}
	return b.String()
}

// Unwrap lets errors.Is find the sentinel of any listed problem.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// problems accumulates Problems up to maxProblems.
type problems struct{ ValidationError }

func (ps *problems) add(file string, line int, err error) {
	if len(ps.Problems) >= maxProblems {
		ps.Omitted++
		return
	}
	ps.Problems = append(ps.Problems, Problem{File: file, Line: line, Err: err})
}

func (ps *problems) err() error {
	if len(ps.Problems) == 0 {
		return nil
	}
	return &ps.ValidationError
}

// Open reads and validates the mlecs-dataset/1 directory dir. On any problem
// it returns a nil Dataset and an error; format problems come as a
// *ValidationError listing each one with its file and line.
func Open(dir string) (*Dataset, error) {
	dir = filepath.Clean(dir)
	metaPath := filepath.Join(dir, MetaFile)
	h, err := readHeader(metaPath)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Dir: dir, Name: h.Name, Description: h.Description, License: h.License, Modalities: h.Modalities}
	samplesPath := filepath.Join(dir, SamplesFile)
	f, err := os.Open(samplesPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &ValidationError{Problems: []Problem{{File: samplesPath, Err: fmt.Errorf("%w: %s not found", ErrMissingFile, SamplesFile)}}}
		}
		return nil, fmt.Errorf("dataset: open %s: %w", samplesPath, err)
	}
	defer f.Close()
	var ps problems
	d.Samples, err = readSamples(f, samplesPath, d, &ps)
	if err != nil {
		return nil, err
	}
	if len(d.Samples) == 0 && len(ps.Problems) == 0 {
		ps.add(samplesPath, 0, fmt.Errorf("%w: no samples", ErrMalformed))
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return d, nil
}

// readHeader reads and validates dataset.json.
func readHeader(path string) (Header, error) {
	var h Header
	raw, err := readFileLimited(path, maxMetaBytes)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return h, &ValidationError{Problems: []Problem{{File: path, Err: fmt.Errorf("%w: %s not found", ErrMissingFile, MetaFile)}}}
		}
		return h, err
	}
	var ps problems
	if err := decodeStrict(raw, &h); err != nil {
		ps.add(path, lineOfOffset(raw, err), fmt.Errorf("%w: %v", ErrMalformed, jsonError(err)))
		return h, ps.err()
	}
	switch {
	case h.Format == "":
		ps.add(path, 0, fmt.Errorf("%w: missing \"format\" (want %q)", ErrUnknownFormat, Format))
	case h.Format != Format:
		ps.add(path, 0, fmt.Errorf("%w: %q (want %q)", ErrUnknownFormat, h.Format, Format))
	}
	if !validName(h.Name) {
		ps.add(path, 0, fmt.Errorf("%w: name %q must be 1-64 letters, digits, '_', '.', '-'", ErrMalformed, h.Name))
	}
	if len(h.Modalities) == 0 {
		ps.add(path, 0, fmt.Errorf("%w: no modalities", ErrMalformed))
	}
	for _, name := range sortedKeys(h.Modalities) {
		if !validName(name) {
			ps.add(path, 0, fmt.Errorf("%w: modality name %q must be 1-64 letters, digits, '_', '.', '-'", ErrMalformed, name))
		}
		if k := h.Modalities[name].Kind; !k.Valid() {
			ps.add(path, 0, fmt.Errorf("%w: modality %q has kind %q (want image, audio, timeseries or text)", ErrUnknownKind, name, k))
		}
	}
	return h, ps.err()
}

// readSamples parses samples.jsonl line by line; format problems go to ps,
// only I/O failures are returned.
func readSamples(r io.Reader, path string, d *Dataset, ps *problems) ([]Sample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	firstLine := map[string]int{}
	var out []Sample
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue // blank lines (e.g. a trailing one) carry nothing
		}
		s, err := parseSample(raw, d)
		if err != nil {
			ps.add(path, line, err)
			continue
		}
		s.Line = line
		if first, dup := firstLine[s.ID]; dup {
			ps.add(path, line, fmt.Errorf("%w: %q (first on line %d)", ErrDuplicateID, s.ID, first))
			continue
		}
		firstLine[s.ID] = line
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			ps.add(path, line+1, fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, maxLineBytes))
			return out, nil
		}
		return nil, fmt.Errorf("dataset: read %s: %w", path, err)
	}
	return out, nil
}

// parseSample decodes and validates one samples.jsonl line. The error names
// the first problem of the line (file and line are added by the caller).
func parseSample(raw []byte, d *Dataset) (Sample, error) {
	var s Sample
	if !utf8.Valid(raw) {
		return s, fmt.Errorf("%w: line is not valid UTF-8", ErrMalformed)
	}
	var w sampleJSON
	if err := decodeStrict(raw, &w); err != nil {
		return s, fmt.Errorf("%w: %v", ErrMalformed, jsonError(err))
	}
	switch {
	case w.ID == "":
		return s, fmt.Errorf("%w: missing \"id\"", ErrMalformed)
	case len(w.ID) > maxIDBytes:
		return s, fmt.Errorf("%w: id longer than %d bytes", ErrMalformed, maxIDBytes)
	}
	if w.Split != SplitTrain && w.Split != SplitTest {
		return s, fmt.Errorf("%w: sample %q has split %q (want %q or %q)", ErrBadSplit, w.ID, w.Split, SplitTrain, SplitTest)
	}
	targets, err := parseTarget(w.Target)
	if err != nil {
		return s, fmt.Errorf("sample %q: %w", w.ID, err)
	}
	if len(w.Inputs) == 0 {
		return s, fmt.Errorf("%w: sample %q has no inputs", ErrMalformed, w.ID)
	}
	s = Sample{ID: w.ID, Split: w.Split, Group: w.Group, Label: w.Label, Targets: targets, Inputs: make(map[string]Input, len(w.Inputs))}
	for _, name := range sortedKeys(w.Inputs) {
		m, ok := d.Modalities[name]
		if !ok {
			return Sample{}, fmt.Errorf("%w: sample %q input %q is not declared in %s (declared: %s)",
				ErrUnknownModality, w.ID, name, MetaFile, strings.Join(sortedKeys(d.Modalities), ", "))
		}
		in, err := parseInput(w.Inputs[name], m.Kind, d.Dir)
		if err != nil {
			return Sample{}, fmt.Errorf("sample %q input %q (%s): %w", w.ID, name, m.Kind, err)
		}
		s.Inputs[name] = in
	}
	return s, nil
}

// parseTarget accepts a non-empty string or a non-empty array of them.
func parseTarget(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, fmt.Errorf("%w: missing \"target\"", ErrEmptyTarget)
	}
	var targets []string
	if raw[0] == '"' {
		var t string
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("%w: target: %v", ErrMalformed, err)
		}
		targets = []string{t}
	} else if err := json.Unmarshal(raw, &targets); err != nil {
		return nil, fmt.Errorf("%w: target must be a string or an array of strings", ErrMalformed)
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: target array is empty", ErrEmptyTarget)
	}
	for i, t := range targets {
		if strings.TrimSpace(t) == "" {
			return nil, fmt.Errorf("%w: target %d is blank", ErrEmptyTarget, i)
		}
	}
	return targets, nil
}

// parseInput decodes one input value according to its modality's kind.
func parseInput(raw json.RawMessage, kind Kind, dir string) (Input, error) {
	raw = bytes.TrimSpace(raw)
	isString := len(raw) > 0 && raw[0] == '"'
	var str string
	if isString {
		if err := json.Unmarshal(raw, &str); err != nil {
			return Input{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	switch kind {
	case KindText:
		if !isString {
			return Input{}, fmt.Errorf("%w: want an inline string, got %s", ErrInputType, jsonType(raw))
		}
		if strings.TrimSpace(str) == "" {
			return Input{}, fmt.Errorf("%w: empty text (omit the input instead)", ErrInputType)
		}
		return Input{Text: str}, nil
	case KindImage, KindAudio:
		if !isString {
			return Input{}, fmt.Errorf("%w: want a file path string, got %s", ErrInputType, jsonType(raw))
		}
		return pathInput(str, dir)
	case KindTimeseries:
		if isString {
			return pathInput(str, dir)
		}
		if len(raw) == 0 || raw[0] != '[' {
			return Input{}, fmt.Errorf("%w: want a CSV path or an array of rows, got %s", ErrInputType, jsonType(raw))
		}
		var rows [][]float64
		if err := json.Unmarshal(raw, &rows); err != nil {
			return Input{}, fmt.Errorf("%w: rows must be arrays of numbers: %v", ErrInputType, err)
		}
		if err := checkRows(rows); err != nil {
			return Input{}, err
		}
		return Input{Rows: rows}, nil
	}
	return Input{}, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
}

// checkRows requires a non-empty rectangular table.
func checkRows(rows [][]float64) error {
	if len(rows) == 0 {
		return fmt.Errorf("%w: no rows", ErrInputType)
	}
	width := len(rows[0])
	if width == 0 {
		return fmt.Errorf("%w: row 0 is empty", ErrInputType)
	}
	if len(rows)*width > maxInlineCells {
		return fmt.Errorf("%w: %d inline cells exceed %d (use a CSV file)", ErrInputType, len(rows)*width, maxInlineCells)
	}
	for i, r := range rows {
		if len(r) != width {
			return fmt.Errorf("%w: row %d has %d values, row 0 has %d", ErrInputType, i, len(r), width)
		}
	}
	return nil
}

// pathInput validates a relative, slash-separated path that stays inside dir
// and names an existing regular file.
func pathInput(p, dir string) (Input, error) {
	if p == "" {
		return Input{}, fmt.Errorf("%w: empty path", ErrInputType)
	}
	native := filepath.FromSlash(p)
	if strings.Contains(p, `\`) || !filepath.IsLocal(native) {
		return Input{}, fmt.Errorf("%w: path %q must be relative, slash-separated and inside the dataset directory", ErrMalformed, p)
	}
	full := filepath.Join(dir, native)
	fi, err := os.Stat(full)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Input{}, fmt.Errorf("%w: %s", ErrMissingFile, full)
		}
		return Input{}, fmt.Errorf("%w: %s: %v", ErrMissingFile, full, err)
	}
	if !fi.Mode().IsRegular() {
		return Input{}, fmt.Errorf("%w: %s is not a regular file", ErrMissingFile, full)
	}
	return Input{Path: p}, nil
}

// decodeStrict decodes exactly one JSON value, rejecting unknown fields (a
// misspelt "lable" must not vanish silently) and trailing data.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// jsonError rephrases type errors in the file's terms rather than Go's
// ("field "label": got number, want string").
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	want := "a " + te.Type.Kind().String()
	switch te.Type.Kind() {
	case reflect.Slice, reflect.Array:
		want = "an array"
	case reflect.Map, reflect.Struct:
		want = "an object"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64:
		want = "a number"
	}
	return fmt.Errorf("field %q: got %s, want %s", te.Field, te.Value, want)
}

// lineOfOffset maps a JSON syntax error to the 1-based line it occurred on.
func lineOfOffset(raw []byte, err error) int {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset <= int64(len(raw)) {
		return 1 + bytes.Count(raw[:se.Offset], []byte("\n"))
	}
	return 0
}

// jsonType names the JSON type of raw for error messages.
func jsonType(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// readFileLimited reads a whole file, refusing files larger than limit.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("dataset: read %s: %w", path, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformed, path, limit)
	}
	return raw, nil
}

// sortProblems orders problems by file then line.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
}
