package experiment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// WriteResults validates r and writes it to dir/results.json atomically (a temporary file in dir,
// synced, then renamed over the target), so a reader never sees a half-written file.
func WriteResults(dir string, r Results) error {
	if err := r.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("experiment: encode results: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, ResultsFile), append(data, '\n'))
}

// ReadResults reads and checks a results.json: the format field first, then every field of the
// mlecs-results/1 contract (presence and JSON type), then the values. Errors wrap ErrResults and name
// the field, e.g. `methods.fedavg.edge_rougeLsum.per_seed: missing`.
func ReadResults(path string) (Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return Results{}, fmt.Errorf("experiment: read results: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResultsBytes+1))
	if err != nil {
		return Results{}, fmt.Errorf("experiment: read results %s: %w", path, err)
	}
	if int64(len(data)) > maxResultsBytes {
		return Results{}, fmt.Errorf("%w: %s: larger than %d bytes", ErrResults, path, maxResultsBytes)
	}
	r, err := DecodeResults(data)
	if err != nil {
		return Results{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// DecodeResults is ReadResults on bytes already in memory.
func DecodeResults(data []byte) (Results, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return Results{}, fmt.Errorf("%w: not JSON: %w", ErrResults, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Results{}, fmt.Errorf("%w: trailing data after the JSON object", ErrResults)
	}
	if err := checkSchema(doc); err != nil {
		return Results{}, fmt.Errorf("%w: %w", ErrResults, err)
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return Results{}, fmt.Errorf("%w: %w", ErrResults, err)
	}
	if err := r.Validate(); err != nil {
		return Results{}, err
	}
	return r, nil
}

// Validate checks the values of r against the contract (errors wrap ErrResults and name the field).
func (r Results) Validate() error {
	err := r.validate()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrResults, err)
	}
	return nil
}

func (r Results) validate() error {
	switch {
	case r.Format != Format:
		return fmt.Errorf("format: %q, want %q", r.Format, Format)
	case r.Dataset == "":
		return errors.New("dataset: empty")
	case r.Preset == "":
		return errors.New("preset: empty")
	case r.Rounds < 1:
		return fmt.Errorf("rounds: %d, want >= 1", r.Rounds)
	case len(r.Seeds) == 0:
		return errors.New("seeds: empty")
	case len(r.Methods) == 0:
		return errors.New("methods: empty")
	}
	for _, name := range r.MethodNames() {
		if err := checkMethodName(name); err != nil {
			return fmt.Errorf("methods: %w", err)
		}
		if err := r.Methods[name].validate(len(r.Seeds)); err != nil {
			return fmt.Errorf("methods.%s.%w", name, err)
		}
	}
	return nil
}

func (m MethodResults) validate(nSeeds int) error {
	stats := []struct {
		name string
		st   *Stat
	}{{"edge_rougeLsum", &m.EdgeRougeLsum}, {"anchor_rougeLsum", m.AnchorRougeLsum}, {"edge_accuracy", &m.EdgeAccuracy},
		{"edge_macro_f1", m.EdgeMacroF1}, {"anchor_accuracy", m.AnchorAccuracy}}
	for _, s := range stats {
		if s.st == nil {
			continue
		}
		if err := s.st.validate(nSeeds); err != nil {
			return fmt.Errorf("%s.%w", s.name, err)
		}
	}
	if len(m.PerEdge) == 0 {
		return errors.New("per_edge: empty")
	}
	for i, e := range m.PerEdge {
		if e.Node == "" {
			return fmt.Errorf("per_edge[%d].node: empty", i)
		}
		if len(e.Modalities) == 0 {
			return fmt.Errorf("per_edge[%d].modalities: empty", i)
		}
		if err := checkUnit("rougeLsum", e.RougeLsum); err != nil {
			return fmt.Errorf("per_edge[%d].%w", i, err)
		}
		if err := checkUnit("accuracy", e.Accuracy); err != nil {
			return fmt.Errorf("per_edge[%d].%w", i, err)
		}
	}
	switch {
	case m.BytesUpPerEdgeRound < 0:
		return fmt.Errorf("bytes_up_per_edge_round: %d, want >= 0", m.BytesUpPerEdgeRound)
	case m.BytesDownPerEdgeRound < 0:
		return fmt.Errorf("bytes_down_per_edge_round: %d, want >= 0", m.BytesDownPerEdgeRound)
	case m.EdgeModelParams <= 0:
		return fmt.Errorf("edge_model_params: %d, want > 0", m.EdgeModelParams)
	}
	if err := checkNonNeg("comm_ratio", m.CommRatio); err != nil {
		return err
	}
	if err := checkNonNeg("wall_seconds", m.WallSeconds); err != nil {
		return err
	}
	if m.BytesUpParts != nil {
		if err := checkSizes("bytes_up_parts", *m.BytesUpParts); err != nil {
			return err
		}
	}
	if m.BytesDownParts != nil {
		if err := checkSizes("bytes_down_parts", *m.BytesDownParts); err != nil {
			return err
		}
	}
	if c := m.Curves; c != nil {
		if err := c.validate(); err != nil {
			return fmt.Errorf("curves.%w", err)
		}
	}
	return nil
}

func (s *Stat) validate(nSeeds int) error {
	if len(s.PerSeed) != nSeeds {
		return fmt.Errorf("per_seed: %d values for %d seeds", len(s.PerSeed), nSeeds)
	}
	if err := checkUnit("mean", s.Mean); err != nil {
		return err
	}
	if !(s.Std >= 0) || math.IsInf(s.Std, 1) {
		return fmt.Errorf("std: %v, want a finite value >= 0", s.Std)
	}
	for i, v := range s.PerSeed {
		if err := checkUnit(fmt.Sprintf("per_seed[%d]", i), v); err != nil {
			return err
		}
	}
	return nil
}

func (c *Curves) validate() error {
	n := len(c.Rounds)
	if n == 0 {
		return errors.New("rounds: empty")
	}
	for i := 1; i < n; i++ {
		if c.Rounds[i] <= c.Rounds[i-1] {
			return fmt.Errorf("rounds: %d after %d, want increasing round numbers", c.Rounds[i], c.Rounds[i-1])
		}
	}
	series := []struct {
		name string
		cv   *Curve
	}{{"edge_rougeLsum", &c.EdgeRougeLsum}, {"edge_accuracy", &c.EdgeAccuracy}, {"anchor_rougeLsum", c.AnchorRougeLsum},
		{"bytes_up_per_edge", &c.BytesUp}, {"bytes_down_per_edge", &c.BytesDown}, {"wall_seconds", &c.WallSeconds}}
	for _, s := range series {
		if s.cv == nil {
			continue
		}
		if len(s.cv.Mean) != n || len(s.cv.Std) != n {
			return fmt.Errorf("%s: %d means and %d stds for %d rounds", s.name, len(s.cv.Mean), len(s.cv.Std), n)
		}
		for i := range n {
			if err := checkNonNeg(fmt.Sprintf("%s.mean[%d]", s.name, i), s.cv.Mean[i]); err != nil {
				return err
			}
			if err := checkNonNeg(fmt.Sprintf("%s.std[%d]", s.name, i), s.cv.Std[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and renames it over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("experiment: write %s: %w", path, err)
	}
	name := tmp.Name()
	cleanup := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("experiment: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return cleanup(err)
	}
	if err := tmp.Sync(); err != nil {
		return cleanup(err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return cleanup(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("experiment: write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("experiment: write %s: %w", path, err)
	}
	return nil
}

// WriteAll writes everything an experiment leaves in dir (created if missing): results.json, the
// plots and report.md linking them. It returns the names written, relative to dir.
func WriteAll(dir string, r Results) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("experiment: output dir: %w", err)
	}
	if err := WriteResults(dir, r); err != nil {
		return nil, err
	}
	files := []string{ResultsFile}
	plots, err := WritePlots(dir, r)
	files = append(files, plots...)
	if err != nil {
		return files, err
	}
	if err := WriteReport(dir, r, plots); err != nil {
		return files, err
	}
	return append(files, ReportFile), nil
}
