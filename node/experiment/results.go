// Package experiment runs ML-ECS and its baselines side by side and writes what came out. This part
// (results*.go, report*.go, plot*.go) turns the per-seed, per-round measurements of a runner into the
// files of an experiment directory: results.json (format mlecs-results/1, DESIGN.md section 6),
// report.md and PNG plots.
//
// Flow: a runner fills Measurements, Summarize checks them and returns Results, WriteAll writes
// results.json, the plots and the report. ReadResults reads a results.json back (e.g. to re-render a
// report), rejecting files that break the contract with an error naming the field.
package experiment

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mlecs/mlecs/training/payload"
)

// Format is the value of the "format" field of every results.json this package writes and reads.
const Format = "mlecs-results/1"

// ResultsFile, ReportFile and the plot names are the files an experiment writes into its output dir.
const (
	ResultsFile     = "results.json"
	ReportFile      = "report.md"
	PlotRouge       = "rouge_per_round.png"
	PlotAnchorRouge = "anchor_rouge_per_round.png"
	PlotBytes       = "bytes_per_round.png"
)

const (
	methodMLECS       = "mlecs"
	methodCentralized = "centralized"
	ablationPrefix    = "mlecs-"
	// maxResultsBytes caps what ReadResults reads: a results file is kilobytes, never this.
	maxResultsBytes int64 = 64 << 20
)

var (
	// ErrMeasurements marks raw measurements that cannot be summarised (missing seeds, NaN, ...).
	ErrMeasurements = errors.New("bad experiment measurements")
	// ErrResults marks a results value or results.json that breaks the mlecs-results/1 contract.
	ErrResults = errors.New("bad experiment results")
	// ErrNoGain is returned by Results.Gain when there is no mlecs run or no baseline to compare with.
	ErrNoGain = errors.New("no gain to compute")
	// ErrPlot marks a plot that cannot be drawn from the results (e.g. no per-round curves).
	ErrPlot = errors.New("cannot plot results")
)

// Stat is a final-round metric over seeds: PerSeed follows Results.Seeds, Std is the sample standard
// deviation (n-1 denominator; 0 for a single seed).
type Stat struct {
	Mean    float64   `json:"mean"`
	Std     float64   `json:"std"`
	PerSeed []float64 `json:"per_seed"`
}

// EdgeResult is one edge's final-round metrics averaged over the seeds in which it took part.
type EdgeResult struct {
	Node       string   `json:"node"`
	Modalities []string `json:"modalities"`
	RougeLsum  float64  `json:"rougeLsum"`
	Accuracy   float64  `json:"accuracy"`
	// Extras beyond the contract.
	MacroF1 *float64 `json:"macro_f1,omitempty"`
	Seeds   int      `json:"seeds,omitempty"` // how many seeds the averages are over
}

// Curve is a per-round series: Mean[i] and Std[i] are over seeds for round Curves.Rounds[i].
type Curve struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// Curves are a method's per-round series (an extra key of the contract); edge metrics are the
// unweighted mean over edges in each seed, bytes the mean per edge.
type Curves struct {
	Rounds          []int  `json:"rounds"`
	EdgeRougeLsum   Curve  `json:"edge_rougeLsum"`
	EdgeAccuracy    Curve  `json:"edge_accuracy"`
	AnchorRougeLsum *Curve `json:"anchor_rougeLsum,omitempty"`
	BytesUp         Curve  `json:"bytes_up_per_edge"`
	BytesDown       Curve  `json:"bytes_down_per_edge"`
	WallSeconds     Curve  `json:"wall_seconds"`
}

// MethodResults is one method's entry under "methods". The first block is the mlecs-results/1
// contract; AnchorRougeLsum is present as null for methods without an anchor model. The rest are
// extras that readers may ignore.
type MethodResults struct {
	EdgeRougeLsum         Stat         `json:"edge_rougeLsum"`
	AnchorRougeLsum       *Stat        `json:"anchor_rougeLsum"`
	EdgeAccuracy          Stat         `json:"edge_accuracy"`
	PerEdge               []EdgeResult `json:"per_edge"`
	BytesUpPerEdgeRound   int64        `json:"bytes_up_per_edge_round"`
	BytesDownPerEdgeRound int64        `json:"bytes_down_per_edge_round"`
	EdgeModelParams       int64        `json:"edge_model_params"`
	CommRatio             float64      `json:"comm_ratio"`
	WallSeconds           float64      `json:"wall_seconds"`

	EdgeMacroF1    *Stat          `json:"edge_macro_f1,omitempty"`
	AnchorAccuracy *Stat          `json:"anchor_accuracy,omitempty"`
	BytesUpParts   *payload.Sizes `json:"bytes_up_parts,omitempty"`
	BytesDownParts *payload.Sizes `json:"bytes_down_parts,omitempty"`
	Curves         *Curves        `json:"curves,omitempty"`
}

// Results is the content of results.json (format mlecs-results/1).
type Results struct {
	Format   string                   `json:"format"`
	Dataset  string                   `json:"dataset"`
	Preset   string                   `json:"preset"`
	Rounds   int                      `json:"rounds"`
	Seeds    []uint64                 `json:"seeds"`
	Methods  map[string]MethodResults `json:"methods"`
	Settings map[string]string        `json:"settings,omitempty"` // extra: run settings for the report
}

// IsBaseline reports whether a method is a baseline for the gain of mlecs: anything but mlecs, its
// ablations (mlecs-...) and the centralised upper bound.
func IsBaseline(method string) bool {
	return method != methodMLECS && method != methodCentralized && !strings.HasPrefix(method, ablationPrefix)
}

// canonicalOrder is the table and legend order of the methods named in the design.
var canonicalOrder = []string{
	methodMLECS, "mlecs-no-ccl", "mlecs-no-amt", "mlecs-no-mma", "mlecs-no-seccl",
	"local", "fedavg", "fedprox", "fedmkt", "creamfl", methodCentralized,
}

// MethodNames returns the methods of r in display order: mlecs, its ablations, the baselines of the
// design, the centralised bound, then any other method by name.
func (r Results) MethodNames() []string {
	names := make([]string, 0, len(r.Methods))
	for name := range r.Methods {
		names = append(names, name)
	}
	rank := func(name string) int {
		if i := slices.Index(canonicalOrder, name); i >= 0 {
			return i
		}
		return len(canonicalOrder)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

// Gain is the edge ROUGE-Lsum gain of mlecs over the best baseline (final-round means).
type Gain struct {
	Baseline string  // the best baseline by mean edge ROUGE-Lsum
	MLECS    float64 // mean edge ROUGE-Lsum of mlecs
	Best     float64 // mean edge ROUGE-Lsum of Baseline
	Absolute float64 // MLECS - Best
	Relative float64 // (MLECS - Best) / Best; valid only when HasRelative
	// HasRelative is false when Best is 0 (a relative gain is undefined).
	HasRelative bool
}

// Gain computes the gain of mlecs over the best baseline (see IsBaseline); ties go to the first
// baseline in MethodNames order.
func (r Results) Gain() (Gain, error) {
	m, ok := r.Methods[methodMLECS]
	if !ok {
		return Gain{}, fmt.Errorf("%w: no mlecs method in the results", ErrNoGain)
	}
	g := Gain{MLECS: m.EdgeRougeLsum.Mean}
	found := false
	for _, name := range r.MethodNames() {
		if !IsBaseline(name) {
			continue
		}
		v := r.Methods[name].EdgeRougeLsum.Mean
		if !found || v > g.Best {
			g.Baseline, g.Best, found = name, v, true
		}
	}
	if !found {
		return Gain{}, fmt.Errorf("%w: no baseline method (local, fedavg, ...) in the results", ErrNoGain)
	}
	g.Absolute = g.MLECS - g.Best
	if g.Best > 0 {
		g.Relative, g.HasRelative = g.Absolute/g.Best, true
	}
	return g, nil
}
