package experiment

import (
	"fmt"
	"math"
	"slices"

	"github.com/mlecs/mlecs/training/payload"
)

// Measurements is everything a runner records for one experiment: the settings and, per method,
// one Run per seed. Summarize turns it into Results.
type Measurements struct {
	Dataset string
	Preset  string
	Rounds  int      // rounds per run; every Run has exactly this many, numbered 1..Rounds
	Seeds   []uint64 // every method has exactly one Run per seed
	// Settings are free-form run settings shown in the report and kept in results.json ("settings"),
	// e.g. edges, modality_plan, codec, public_per_edge.
	Settings map[string]string
	Methods  []MethodRuns
}

// MethodRuns are one method's runs, one per seed.
type MethodRuns struct {
	Method          string
	EdgeModelParams int64 // parameters of one edge's model (denominator of comm_ratio); > 0
	Runs            []Run
}

// Run is one method under one seed.
type Run struct {
	Seed uint64
	// WallSeconds is the whole run's wall time; 0 means the sum of the rounds' wall times.
	WallSeconds float64
	Rounds      []Round
}

// Round is what was measured after round Round (1-based) of a run.
type Round struct {
	Round int
	Edges []EdgeRound
	// Anchor is the anchor model's evaluation; nil for methods without an anchor model. A method
	// either has it in every round of every run or in none.
	Anchor      *Eval
	WallSeconds float64
}

// EdgeRound is one edge in one round: its evaluation after the round and the bytes it sent (Up) and
// received (Down) in the round, per payload part.
type EdgeRound struct {
	Node       string
	Modalities []string
	Eval       Eval
	Up, Down   payload.Sizes
}

// Eval is one model's metrics on its test data, each in [0, 1].
type Eval struct {
	RougeLsum float64
	Accuracy  float64
	MacroF1   *float64 // optional
}

// validate checks the measurements and returns the index of each method's run per seed
// (runIndex[method][seedPosition]).
func (m *Measurements) validate() ([][]int, error) {
	switch {
	case m.Dataset == "":
		return nil, fmt.Errorf("%w: dataset: empty", ErrMeasurements)
	case m.Preset == "":
		return nil, fmt.Errorf("%w: preset: empty", ErrMeasurements)
	case m.Rounds < 1:
		return nil, fmt.Errorf("%w: rounds: %d, want >= 1", ErrMeasurements, m.Rounds)
	case len(m.Seeds) == 0:
		return nil, fmt.Errorf("%w: seeds: none", ErrMeasurements)
	case len(m.Methods) == 0:
		return nil, fmt.Errorf("%w: methods: none", ErrMeasurements)
	}
	for i, s := range m.Seeds {
		if slices.Contains(m.Seeds[:i], s) {
			return nil, fmt.Errorf("%w: seeds: %d listed twice", ErrMeasurements, s)
		}
	}
	runIndex := make([][]int, len(m.Methods))
	for mi := range m.Methods {
		mr := &m.Methods[mi]
		if err := checkMethodName(mr.Method); err != nil {
			return nil, fmt.Errorf("%w: methods[%d]: %w", ErrMeasurements, mi, err)
		}
		for _, prev := range m.Methods[:mi] {
			if prev.Method == mr.Method {
				return nil, fmt.Errorf("%w: method %q listed twice", ErrMeasurements, mr.Method)
			}
		}
		idx, err := mr.validate(m.Seeds, m.Rounds)
		if err != nil {
			return nil, fmt.Errorf("%w: method %q: %w", ErrMeasurements, mr.Method, err)
		}
		runIndex[mi] = idx
	}
	return runIndex, nil
}

// checkMethodName keeps names safe inside markdown tables and file names.
func checkMethodName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("method name %q: want 1..64 characters", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("method name %q: character %q not in [A-Za-z0-9._-]", name, c)
		}
	}
	return nil
}

func (mr *MethodRuns) validate(seeds []uint64, rounds int) ([]int, error) {
	if mr.EdgeModelParams <= 0 {
		return nil, fmt.Errorf("edge_model_params: %d, want > 0", mr.EdgeModelParams)
	}
	idx := make([]int, len(seeds))
	for i := range idx {
		idx[i] = -1
	}
	hasAnchor := len(mr.Runs) > 0 && len(mr.Runs[0].Rounds) > 0 && mr.Runs[0].Rounds[0].Anchor != nil
	for ri := range mr.Runs {
		run := &mr.Runs[ri]
		pos := slices.Index(seeds, run.Seed)
		switch {
		case pos < 0:
			return nil, fmt.Errorf("run for seed %d: seed not in the experiment's seeds %v", run.Seed, seeds)
		case idx[pos] >= 0:
			return nil, fmt.Errorf("seed %d: two runs", run.Seed)
		}
		idx[pos] = ri
		if err := run.validate(rounds, hasAnchor); err != nil {
			return nil, fmt.Errorf("seed %d: %w", run.Seed, err)
		}
	}
	for pos, ri := range idx {
		if ri < 0 {
			return nil, fmt.Errorf("seed %d: no run", seeds[pos])
		}
	}
	return idx, nil
}

func (run *Run) validate(rounds int, hasAnchor bool) error {
	if err := checkNonNeg("wall_seconds", run.WallSeconds); err != nil {
		return err
	}
	if len(run.Rounds) != rounds {
		return fmt.Errorf("%d rounds recorded, want %d", len(run.Rounds), rounds)
	}
	for i := range run.Rounds {
		rd := &run.Rounds[i]
		if rd.Round != i+1 {
			return fmt.Errorf("rounds[%d]: round number %d, want %d", i, rd.Round, i+1)
		}
		if err := rd.validate(hasAnchor); err != nil {
			return fmt.Errorf("round %d: %w", rd.Round, err)
		}
	}
	return nil
}

func (rd *Round) validate(hasAnchor bool) error {
	if err := checkNonNeg("wall_seconds", rd.WallSeconds); err != nil {
		return err
	}
	if (rd.Anchor != nil) != hasAnchor {
		return fmt.Errorf("anchor metrics present in some rounds and absent in others")
	}
	if rd.Anchor != nil {
		if err := rd.Anchor.validate(); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
	}
	if len(rd.Edges) == 0 {
		return fmt.Errorf("no edges")
	}
	for i := range rd.Edges {
		e := &rd.Edges[i]
		if err := e.validate(); err != nil {
			return fmt.Errorf("edge %q: %w", e.Node, err)
		}
		for _, prev := range rd.Edges[:i] {
			if prev.Node == e.Node {
				return fmt.Errorf("edge %q listed twice", e.Node)
			}
		}
	}
	return nil
}

func (e *EdgeRound) validate() error {
	if e.Node == "" {
		return fmt.Errorf("node name: empty")
	}
	if len(e.Modalities) == 0 {
		return fmt.Errorf("modalities: none")
	}
	for _, mod := range e.Modalities {
		if mod == "" {
			return fmt.Errorf("modalities: empty name")
		}
	}
	if err := e.Eval.validate(); err != nil {
		return err
	}
	if err := checkSizes("bytes up", e.Up); err != nil {
		return err
	}
	return checkSizes("bytes down", e.Down)
}

func checkSizes(what string, s payload.Sizes) error {
	if s.Header < 0 || s.LoRA < 0 || s.Fused < 0 || s.Predictions < 0 || s.Metrics < 0 || s.Knowledge < 0 {
		return fmt.Errorf("%s: negative part in %+v", what, s)
	}
	return nil
}

func (ev *Eval) validate() error {
	if err := checkUnit("rougeLsum", ev.RougeLsum); err != nil {
		return err
	}
	if err := checkUnit("accuracy", ev.Accuracy); err != nil {
		return err
	}
	if ev.MacroF1 != nil {
		return checkUnit("macro_f1", *ev.MacroF1)
	}
	return nil
}

func checkUnit(field string, v float64) error {
	if !(v >= 0 && v <= 1) { // also rejects NaN
		return fmt.Errorf("%s: %v, want a value in [0, 1]", field, v)
	}
	return nil
}

func checkNonNeg(field string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 1) {
		return fmt.Errorf("%s: %v, want a finite value >= 0", field, v)
	}
	return nil
}
