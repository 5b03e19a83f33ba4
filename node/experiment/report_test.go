package experiment

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/payload"
)

func TestReportTablesAndGain(t *testing.T) {
	dir := t.TempDir()
	r := mustSummarize(t, handMeasurements())
	if err := WriteReport(dir, r, []string{PlotRouge, PlotBytes}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)
	for _, want := range []string{
		"| dataset | emoji |", "| rounds | 2 |", "| seeds | 1, 2, 3 |", "| modality_plan | mixed |",
		// Main table, in display order; centralized (0.90) has the best edge ROUGE-Lsum, in bold.
		"| mlecs | 0.6000 ± 0.1000 | 0.5000 ± 0.2646 | 0.7333 ± 0.1528 | 2.5 kB | 500 B | 7.50 % | 10,000 | 7.0 |",
		"| fedavg | 0.4500 ± 0.0000 | — | 0.4500 ± 0.0000 | 1 kB | 1 kB | 5.01 % | 10,000 | 3.0 |",
		"| centralized | **0.9000 ± 0.0000** | — |",
		"| local | 0.3000 ± 0.0000 | — | 0.3000 ± 0.0000 | 0 B | 0 B | 0 % |",
		// Gain: (0.60 - 0.45) / 0.45.
		"`mlecs` 0.6000 vs the best baseline `fedavg` 0.4500", "+0.1500 absolute, +33.33 % relative",
		// Per-edge tables.
		"| node | modalities | mlecs | mlecs-no-ccl | local | fedavg | centralized |",
		"| edge-1 | twemoji | 0.5000 | 0.5500 | 0.3000 | 0.4500 | 0.9000 |",
		"| edge-2 | twemoji, text | 0.8333 | 0.5500 | 0.3000 | 0.4500 | 0.9000 |",
		// Parts.
		"| mlecs | up | 10 | 990 | 1250 | 250 | 0 | 0 | 2500 |",
		"![Edge ROUGE-Lsum per round](rouge_per_round.png)", "(bytes_per_round.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n%s", want, md)
		}
	}
	if strings.Index(md, "| mlecs |") > strings.Index(md, "| mlecs-no-ccl |") ||
		strings.Index(md, "| mlecs-no-ccl |") > strings.Index(md, "| local |") ||
		strings.Index(md, "| fedavg |") > strings.Index(md, "| centralized |") {
		t.Error("methods not in display order")
	}
	if strings.Count(md, "**") != 2 {
		t.Errorf("want exactly one bold cell, got %d markers", strings.Count(md, "**"))
	}
	if strings.Contains(md, "anchor_rouge_per_round.png") {
		t.Error("links a plot that was not passed")
	}
}

func TestReportGainNegativeAndMissing(t *testing.T) {
	m := handMeasurements()
	m.Methods[1] = flatMethod("fedavg", m.Seeds, 2, 0.75, payload.Sizes{}, payload.Sizes{}, 10000)
	r := mustSummarize(t, m)
	var b strings.Builder
	if err := RenderReport(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	// (0.60 - 0.75) / 0.75 = -20 %.
	if !strings.Contains(b.String(), "-0.1500 absolute, -20.00 % relative") || strings.Contains(b.String(), "## Plots") {
		t.Errorf("report:\n%s", b.String())
	}
	delete(r.Methods, "mlecs")
	b.Reset()
	if err := RenderReport(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Not computed: no mlecs method in the results.") {
		t.Errorf("report:\n%s", b.String())
	}
	r.Methods = nil
	if err := RenderReport(&b, r, nil); !errors.Is(err, ErrResults) {
		t.Errorf("invalid results: %v", err)
	}
}

func TestFormatters(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtPercent(0.075), "7.50 %"}, {fmtPercent(0.00123), "0.123 %"}, {fmtPercent(0.0000123), "0.00123 %"},
		{fmtPercent(0), "0 %"}, {fmtPercent(1.5), "150.00 %"},
		{fmtCount(0), "0"}, {fmtCount(999), "999"}, {fmtCount(1000), "1,000"}, {fmtCount(1234567), "1,234,567"},
		{fmtBytesSI(0), "0 B"}, {fmtBytesSI(999), "999 B"}, {fmtBytesSI(2500), "2.5 kB"}, {fmtBytesSI(1_234_567), "1.23 MB"},
		{fmtTick(0.4, 0.1), "0.4"}, {fmtTick(0.25, 0.05), "0.25"}, {fmtTick(0.75, 0.25), "0.75"}, {fmtTick(20, 5), "20"},
		{mdCell("a|b\nc"), `a\|b c`}, {signed(0.5, 2), "+0.50"}, {signed(-0.5, 1), "-0.5"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
