package importer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest"
)

// harRow is one raw HAR CSV row.
type harRow struct {
	t     int64
	v     float64 // all six channels
	label string
}

func writeHARFile(t *testing.T, path string, rows []harRow) {
	var b strings.Builder
	b.WriteString("x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%g,%g,%g,%g,%g,%g,%d,%s\n", r.v, r.v, r.v, -r.v, -r.v, -r.v, r.t, r.label)
	}
	mustWrite(t, path, []byte(b.String()))
}

// synthHAR writes a 6 s execution s01_01 with phone at 100 Hz and the watch
// at 80 Hz starting 100 ms later; the value of both is the time in seconds
// since the phone's start, so interpolation is exact. Labels: SEATED 0-1 s,
// TURNING 1-2.4 s, WALKING 2.4-3 s, TURNING 3-5 s, SEATED after.
func synthHAR(t *testing.T) string {
	src := t.TempDir()
	const t0 = 1_657_000_000_000
	label := func(ms int64) string {
		switch {
		case ms < 1000:
			return "SEATED"
		case ms < 2400:
			return "TURNING"
		case ms < 3000:
			return "WALKING"
		case ms < 5000:
			return "TURNING"
		}
		return "SEATED"
	}
	var phone, watch []harRow
	for ms := int64(0); ms <= 6000; ms += 10 {
		phone = append(phone, harRow{t0 + ms, float64(ms) / 1000, label(ms)})
		if ms == 2000 { // a duplicate timestamp: averaged with its twin
			phone = append(phone, harRow{t0 + ms, float64(ms) / 1000, label(ms)})
		}
	}
	for ms := int64(100); ms <= 6100; ms += 12 {
		watch = append(watch, harRow{t0 + ms, float64(ms) / 1000, label(ms)})
	}
	writeHARFile(t, filepath.Join(src, "DATA", "s01", "s01_01_sp.csv"), phone)
	writeHARFile(t, filepath.Join(src, "DATA", "s01", "s01_01_sw.csv"), watch)
	writeHARFile(t, filepath.Join(src, "DATA", "s02", "s02_01_sp.csv"), phone)
	writeHARFile(t, filepath.Join(src, "DATA", "s02", "s02_01_sw.csv"), watch)
	mustWrite(t, filepath.Join(src, "DATA", "executions_info.csv"),
		[]byte("execution_id,orientation,first_turn,second_turn\ns01_01,back,l,r\ns02_01,back,r,r\n"))
	return src
}

func TestImportHARSynthetic(t *testing.T) {
	src := synthHAR(t)
	out := filepath.Join(t.TempDir(), "har")
	d, st, err := ImportHAR(context.Background(), src, out, HARLogger(quiet()), HARTestSubjects("s02"))
	if err != nil {
		t.Fatal(err)
	}
	// Common span 0.1-6.0 s at 50 Hz: 296 steps; windows of 100 every 50: 4.
	if st.Executions != 2 || st.Windows != 8 || len(d.Samples) != 8 {
		t.Fatalf("stats %+v, %d samples", st, len(d.Samples))
	}
	wantTargets := []string{"turning left", "turning left", "turning right", "turning right"}
	for i, s := range d.Samples[:4] {
		if s.ID != fmt.Sprintf("s01_01_w%02d", i) || s.Group != "s01" || s.Split != dataset.SplitTrain {
			t.Errorf("sample %d = %+v", i, s)
		}
		if s.Targets[0] != wantTargets[i] || s.Label != "TURNING" {
			t.Errorf("window %d: target %q label %q, want %q", i, s.Targets[0], s.Label, wantTargets[i])
		}
	}
	if s := d.Samples[4]; s.Split != dataset.SplitTest || s.Targets[0] != "turning right" {
		t.Errorf("s02 first window %+v (second execution turns r, r)", s)
	}
	// Window 1 starts at 0.1 + 50*0.02 = 1.1 s: both devices read the time.
	for _, mod := range []string{HARPhone, HARWatch} {
		ser, err := dataset.LoadCSV(d.Path(d.Samples[1].Inputs[mod]))
		if err != nil {
			t.Fatal(err)
		}
		if len(ser.Rows) != 100 || strings.Join(ser.Columns, ",") != harHeader {
			t.Fatalf("%s: %d rows, columns %v", mod, len(ser.Rows), ser.Columns)
		}
		for k, r := range ser.Rows {
			want := 1.1 + 0.02*float64(k)
			if math.Abs(r[0]-want) > 1e-4 || math.Abs(r[5]+want) > 1e-4 {
				t.Fatalf("%s row %d = %v, want %g", mod, k, r, want)
			}
		}
	}
}

func TestImportHARErrors(t *testing.T) {
	cases := []struct {
		name     string
		breakSrc func(t *testing.T, src string)
		want     string
	}{
		{"no executions_info", func(t *testing.T, src string) { os.Remove(filepath.Join(src, "DATA", "executions_info.csv")) }, "executions_info.csv"},
		{"missing watch", func(t *testing.T, src string) { os.Remove(filepath.Join(src, "DATA", "s02", "s02_01_sw.csv")) }, "no watch partner"},
		{"unknown activity", func(t *testing.T, src string) {
			writeHARFile(t, filepath.Join(src, "DATA", "s02", "s02_01_sw.csv"), []harRow{{1, 0, "SEATED"}, {2, 0, "JUMPING"}})
		}, `s02_01_sw.csv line 3: unknown activity "JUMPING"`},
		{"bad number", func(t *testing.T, src string) {
			mustWrite(t, filepath.Join(src, "DATA", "s01", "s01_01_sp.csv"), []byte("x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label\n1,2,x,4,5,6,7,SEATED\n"))
		}, `s01_01_sp.csv line 2: z_acc = "x"`},
		{"missing column", func(t *testing.T, src string) {
			mustWrite(t, filepath.Join(src, "DATA", "s01", "s01_01_sp.csv"), []byte("x_acc,timestamp,label\n1,7,SEATED\n"))
		}, `no "y_acc" column`},
		{"bad turn", func(t *testing.T, src string) {
			mustWrite(t, filepath.Join(src, "DATA", "executions_info.csv"), []byte("execution_id,orientation,first_turn,second_turn\ns01_01,back,up,r\n"))
		}, `line 2: turn "up"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := synthHAR(t)
			tc.breakSrc(t, src)
			out := filepath.Join(t.TempDir(), "har")
			_, _, err := ImportHAR(context.Background(), src, out, HARLogger(quiet()))
			if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrSource with %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Error("a failed import left an output directory")
			}
		})
	}
	src := synthHAR(t)
	for _, o := range []HAROption{HARRate(0), HARWindow(10, 11), HARWindow(1, 1), HARTestSubjects("x1"), HARSubjects("s1x"), HARWorkers(0), HARLogger(nil)} {
		if _, _, err := ImportHAR(context.Background(), src, t.TempDir(), o); !errors.Is(err, ErrOption) {
			t.Errorf("option accepted: %v", err)
		}
	}
	if _, _, err := ImportHAR(context.Background(), src, t.TempDir(), HARSubjects("s09"), HARLogger(quiet())); !errors.Is(err, ErrSource) {
		t.Errorf("no executions: %v", err)
	}
}

func TestMajority(t *testing.T) {
	cases := []struct {
		labels []string
		turns  []int
		want   string
		turn   int
	}{
		{[]string{"A", "B", "B"}, []int{0, 0, 0}, "B", 0},
		{[]string{"A", "B", "B", "A"}, []int{0, 0, 0, 0}, "A", 0}, // tie: first seen
		{[]string{"TURNING", "TURNING", "WALKING", "TURNING"}, []int{1, 1, 0, 2}, "TURNING", 1},
		{[]string{"TURNING", "TURNING", "TURNING"}, []int{1, 2, 2}, "TURNING", 2},
	}
	for _, tc := range cases {
		got, turn := majority(tc.labels, tc.turns)
		if got != tc.want || turn != tc.turn {
			t.Errorf("majority(%v, %v) = %q %d, want %q %d", tc.labels, tc.turns, got, turn, tc.want, tc.turn)
		}
	}
}

// TestImportHARReal imports the real recordings (a subset in -short mode)
// and checks the result against what the source README promises.
func TestImportHARReal(t *testing.T) {
	src := filepath.Join(datatest.SharedData(t), "har-phone-watch")
	if _, err := os.Stat(src); err != nil {
		t.Skip(err)
	}
	opts := []HAROption{HARLogger(quiet())}
	if testing.Short() {
		opts = append(opts, HARSubjects("s01", "s03"))
	}
	out := filepath.Join(t.TempDir(), "har")
	d, st, err := ImportHAR(context.Background(), src, out, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !testing.Short() && (st.Executions != 223 || st.Skipped != 0) {
		t.Errorf("stats %+v, want 223 executions", st)
	}
	// ~13 s per execution: about 10-13 windows each.
	if per := float64(st.Windows) / float64(st.Executions); per < 8 || per > 15 {
		t.Errorf("%.1f windows per execution", per)
	}
	targets := dataset.TargetCounts(d.Samples)
	var names []string
	for _, c := range targets {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	if want := "seated,sitting down,standing up,turning left,turning right,walking"; strings.Join(names, ",") != want {
		t.Errorf("targets %v, want %s", names, want)
	}
	if targets[0].Name != "walking" {
		t.Errorf("most frequent target %q, want walking", targets[0].Name)
	}
	for _, s := range d.Samples {
		wantSplit := dataset.SplitTrain
		if slices.Contains(DefaultHARTestSubjects(), s.Group) {
			wantSplit = dataset.SplitTest
		}
		if s.Split != wantSplit || !strings.HasPrefix(s.ID, s.Group+"_") {
			t.Fatalf("sample %+v", s)
		}
	}
	// The windows featurise: 6 channels each, finite, fitted on train.
	f, err := dataset.NewFeaturizer(d, dataset.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if sh := f.Shape(HARPhone); sh[0] != 100 || sh[1] != 6 {
		t.Fatalf("phone shape %v", sh)
	}
	if err := f.Fit(context.Background(), d.Split(dataset.SplitTrain)); err != nil {
		t.Fatal(err)
	}
	// Gravity: in any window of either device |acc| averages ~9.8 m/s^2.
	for _, mod := range []string{HARPhone, HARWatch} {
		ser, err := dataset.LoadCSV(d.Path(d.Samples[0].Inputs[mod]))
		if err != nil {
			t.Fatal(err)
		}
		var g float64
		for _, r := range ser.Rows {
			g += math.Sqrt(r[0]*r[0]+r[1]*r[1]+r[2]*r[2]) / float64(len(ser.Rows))
		}
		if g < 8.5 || g > 11 {
			t.Errorf("%s: mean |acc| %.2f, want ~9.8", mod, g)
		}
	}
	// Deterministic: a second import writes the same samples.jsonl.
	if testing.Short() {
		out2 := filepath.Join(t.TempDir(), "har")
		if _, _, err := ImportHAR(context.Background(), src, out2, opts...); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(filepath.Join(out, dataset.SamplesFile))
		b, _ := os.ReadFile(filepath.Join(out2, dataset.SamplesFile))
		if string(a) != string(b) {
			t.Error("two imports differ")
		}
	}
}
