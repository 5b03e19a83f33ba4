package soak

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLeastSquares(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5}
	a, b := LeastSquares(xs, []float64{3, 5, 7, 9, 11})
	if math.Abs(a-2) > 1e-12 || math.Abs(b-1) > 1e-12 {
		t.Fatalf("exact line: slope %g intercept %g, want 2, 1", a, b)
	}
	// Symmetric noise around a flat line fits a zero slope.
	if a, _ := LeastSquares(xs, []float64{10, 12, 10, 12, 10}); math.Abs(a) > 1e-12 {
		t.Fatalf("flat noise: slope %g", a)
	}
	if a, _ := LeastSquares([]float64{2, 2}, []float64{1, 5}); !math.IsNaN(a) {
		t.Fatalf("one distinct x: slope %g, want NaN", a)
	}
}

func TestAnalyzeJudgesSlopesAfterWarmup(t *testing.T) {
	var ss []Sample
	for r := 1; r <= 40; r++ {
		s := Sample{Round: r, RSS: 100 << 20, Goroutines: 50, FDs: 10}
		if r <= 10 {
			s.RSS += int64(r) * (5 << 20) // fast growth during warm-up only: not judged
		} else {
			s.RSS += 50 << 20
		}
		if r > 10 {
			s.Goroutines += r - 10 // one leaked goroutine per round
		}
		ss = append(ss, s)
	}
	rep, err := Analyze(ss, 10, DefaultMetrics())
	if err != nil {
		t.Fatal(err)
	}
	failed := rep.Failed()
	if len(failed) != 1 || failed[0].Metric.Name != "goroutines" || math.Abs(failed[0].Slope-1) > 1e-9 {
		t.Fatalf("failed = %+v, want goroutines at slope 1", failed)
	}
	if rep.FitRounds != 30 || rep.Fits[0].Slope != 0 || rep.Fits[0].Start != 150<<20 {
		t.Fatalf("rss fit %+v over %d rounds", rep.Fits[0], rep.FitRounds)
	}
	var tbl bytes.Buffer
	if err := rep.WriteTable(&tbl); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GROWS", "64.0 KiB", "+1.000", "rounds 11..40"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tbl.String())
		}
	}
	if _, err := Analyze(ss[:12], 10, DefaultMetrics()); !errors.Is(err, ErrSoak) {
		t.Fatalf("2 samples after warm-up: %v, want ErrSoak", err)
	}
}

func TestSamplerTakesOneSamplePerRoundLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 10000), 0o600); err != nil {
		t.Fatal(err)
	}
	var seen []int
	s := NewSampler(dir, func(x Sample) { seen = append(seen, x.Round) })
	// Lines may arrive split across writes; only round lines count.
	for _, p := range []string{"pretraining the base LM (20 steps)\n", "mlecs seed 1 round 1/3: edge rougeLsum 0.1", "000, elapsed 1.0s\nmlecs seed 1 round 2/3: x\n",
		"not a round 3/3 line\n"} {
		if _, err := s.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	got := s.Samples()
	if len(got) != 2 || got[0].Round != 1 || got[1].Round != 2 || len(seen) != 2 {
		t.Fatalf("samples %+v, seen %v", got, seen)
	}
	x := got[1]
	if x.RSS < 1<<20 || x.RSSAnon <= 0 || x.Goroutines < 1 || x.FDs < 3 || x.HeapLive <= 0 || x.DiskBytes < 10000 || x.Elapsed <= 0 || x.Elapsed > time.Minute {
		t.Fatalf("implausible sample %+v", x)
	}
}

func TestWriteOutputs(t *testing.T) {
	var ss []Sample
	for r := 1; r <= 12; r++ {
		ss = append(ss, Sample{Round: r, Elapsed: time.Duration(r) * time.Second, RSS: int64(100+r) << 20, RSSAnon: 90 << 20,
			RSSFile: int64(10+r) << 20, HeapLive: 50 << 20, Goroutines: 40 + r%2, FDs: 12, DiskBytes: int64(r) << 20})
	}
	rep, err := Analyze(ss, 2, DefaultMetrics())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteOutputs(dir, ss, rep); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join(dir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != 13 || !strings.HasPrefix(lines[0], "round,") || !strings.HasPrefix(lines[12], "12,12.000,") {
		t.Fatalf("csv:\n%s", csv)
	}
	png, err := os.ReadFile(filepath.Join(dir, PlotFile))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10000 {
		t.Fatalf("plot: %d bytes, %v", len(png), err)
	}
}
