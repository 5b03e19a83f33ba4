package dataset

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Writer builds a dataset in a temporary directory beside its destination and
// moves it into place on Commit, so that readers never see a half-written
// dataset and a failed import leaves the previous one intact.
type Writer struct {
	out, tmp string
	h        Header
	f        *os.File
	bw       *bufio.Writer
	ids      map[string]struct{}
	closed   bool
}

// Create starts writing a dataset that will live at out. Referenced files
// must be written under w.Dir() with the same relative paths the samples use.
func Create(out string, h Header) (*Writer, error) {
	h.Format = Format
	if !validName(h.Name) {
		return nil, fmt.Errorf("%w: dataset name %q", ErrConfig, h.Name)
	}
	if len(h.Modalities) == 0 {
		return nil, fmt.Errorf("%w: no modalities", ErrConfig)
	}
	for name, m := range h.Modalities {
		if !validName(name) || !m.Kind.Valid() {
			return nil, fmt.Errorf("%w: modality %q kind %q", ErrConfig, name, m.Kind)
		}
	}
	out = filepath.Clean(out)
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("dataset: create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("dataset: create temp dir: %w", err)
	}
	f, err := os.Create(filepath.Join(tmp, SamplesFile))
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return &Writer{out: out, tmp: tmp, h: h, f: f, bw: bufio.NewWriterSize(f, 1<<20), ids: map[string]struct{}{}}, nil
}

// Dir is the temporary directory that becomes the dataset on Commit.
func (w *Writer) Dir() string { return w.tmp }

// Len is the number of samples added so far.
func (w *Writer) Len() int { return len(w.ids) }

// Add appends one sample. It checks what can be checked without the files
// (ids, split, targets, kinds); Commit validates the rest by reading back.
func (w *Writer) Add(s Sample) error {
	if w.closed {
		return fmt.Errorf("%w: writer already closed", ErrConfig)
	}
	if s.ID == "" {
		return fmt.Errorf("%w: sample without id", ErrMalformed)
	}
	if _, dup := w.ids[s.ID]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateID, s.ID)
	}
	if s.Split != SplitTrain && s.Split != SplitTest {
		return fmt.Errorf("%w: sample %q split %q", ErrBadSplit, s.ID, s.Split)
	}
	if len(s.Targets) == 0 || slices.ContainsFunc(s.Targets, func(t string) bool { return strings.TrimSpace(t) == "" }) {
		return fmt.Errorf("%w: sample %q", ErrEmptyTarget, s.ID)
	}
	if len(s.Inputs) == 0 {
		return fmt.Errorf("%w: sample %q has no inputs", ErrMalformed, s.ID)
	}
	for name, in := range s.Inputs {
		m, ok := w.h.Modalities[name]
		if !ok {
			return fmt.Errorf("%w: sample %q input %q", ErrUnknownModality, s.ID, name)
		}
		if err := checkInputKind(in, m.Kind); err != nil {
			return fmt.Errorf("sample %q input %q: %w", s.ID, name, err)
		}
	}
	line, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("dataset: encode sample %q: %w", s.ID, err)
	}
	line = append(line, '\n')
	if _, err := w.bw.Write(line); err != nil {
		return fmt.Errorf("dataset: write %s: %w", SamplesFile, err)
	}
	w.ids[s.ID] = struct{}{}
	return nil
}

// checkInputKind rejects an input whose form does not fit the kind.
func checkInputKind(in Input, k Kind) error {
	set := 0
	for _, b := range []bool{in.Path != "", in.Text != "", in.Rows != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("%w: exactly one of path, text, rows must be set", ErrInputType)
	}
	switch {
	case k == KindText && in.Text == "",
		(k == KindImage || k == KindAudio) && in.Path == "",
		k == KindTimeseries && in.Text != "":
		return fmt.Errorf("%w: input does not fit kind %s", ErrInputType, k)
	}
	if in.Rows != nil {
		return checkRows(in.Rows)
	}
	return nil
}

// Commit writes dataset.json, validates the whole dataset by opening it and
// renames it into place. An existing destination is replaced only if it is
// empty or is itself a dataset (has dataset.json); anything else is refused.
func (w *Writer) Commit() (*Dataset, error) {
	if w.closed {
		return nil, fmt.Errorf("%w: writer already closed", ErrConfig)
	}
	w.closed = true
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = writeJSON(filepath.Join(w.tmp, MetaFile), w.h)
	}
	if err != nil {
		os.RemoveAll(w.tmp)
		return nil, fmt.Errorf("dataset: write %s: %w", w.tmp, err)
	}
	d, err := Open(w.tmp)
	if err != nil {
		os.RemoveAll(w.tmp)
		return nil, fmt.Errorf("dataset: written dataset is invalid: %w", err)
	}
	if err := replaceDir(w.tmp, w.out); err != nil {
		os.RemoveAll(w.tmp)
		return nil, err
	}
	d.Dir = w.out
	return d, nil
}

// Abort discards everything written. It is safe to call after Commit.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.f.Close()
	if err := os.RemoveAll(w.tmp); err != nil {
		return fmt.Errorf("dataset: remove %s: %w", w.tmp, err)
	}
	return nil
}

// replaceDir moves the directory src to dst, replacing an empty dst or a
// previous dataset at dst (whose removal is the only non-atomic step).
func replaceDir(src, dst string) error {
	fi, err := os.Stat(dst)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return renameDir(src, dst)
	case err != nil:
		return fmt.Errorf("dataset: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s exists and is not a directory", ErrConfig, dst)
	}
	entries, err := os.ReadDir(dst)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if len(entries) == 0 {
		if err := os.Remove(dst); err != nil {
			return fmt.Errorf("dataset: %w", err)
		}
		return renameDir(src, dst)
	}
	if _, err := os.Stat(filepath.Join(dst, MetaFile)); err != nil {
		return fmt.Errorf("%w: %s is not empty and holds no %s; refusing to replace it", ErrConfig, dst, MetaFile)
	}
	// os.Rename will not replace a directory: park the old one under a fresh
	// name first, and put it back if the swap fails.
	old, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".old-")
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if err := os.Remove(old); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if err := os.Rename(dst, old); err != nil {
		return fmt.Errorf("dataset: move old %s aside: %w", dst, err)
	}
	if err := renameDir(src, dst); err != nil {
		os.Rename(old, dst) // best effort: the previous dataset comes back
		return err
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("dataset: remove previous %s: %w", old, err)
	}
	return nil
}

func renameDir(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("dataset: move %s to %s: %w", src, dst, err)
	}
	return nil
}

// writeJSON writes v indented, with a trailing newline.
func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}
