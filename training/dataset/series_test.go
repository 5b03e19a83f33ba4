package dataset

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/training/dataset/datatest"
)

func TestDecodeCSV(t *testing.T) {
	s, err := DecodeCSV([]byte("\xef\xbb\xbfx, y ,z\n1,2,3\n-4.5, 5e-1 ,6\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Columns, "|") != "x|y|z" || len(s.Rows) != 2 || s.Rows[1][0] != -4.5 || s.Rows[1][1] != 0.5 {
		t.Fatalf("got %+v", s)
	}
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "empty file"},
		{"header only", "a,b\n", "no data rows"},
		{"numeric header", "1,2\n3,4\n", "first row must name"},
		{"not a number", "a,b\n1,2\n3,x\n", `line 3 column 2 (b): "x"`},
		{"nan", "a\nNaN\n", "not a finite number"},
		{"inf", "a\n+Inf\n", "not a finite number"},
		{"empty field", "a,b\n1,\n", "line 2 column 2"},
		{"ragged", "a,b\n1,2\n3\n", "line 3 has 1 fields, header has 2"},
		{"bad quote", "a\n\"1\n", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCSV([]byte(tc.in))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrMalformed with %q", err, tc.want)
			}
		})
	}
}

func TestLoadCSVNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.csv")
	mustWrite(t, path, []byte("a\n1\noops\n"))
	_, err := LoadCSV(path)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v", err)
	}
}

// The raw HAR CSVs carry a text label column: the loader must say so, by
// file, line and column, rather than guess.
func TestLoadCSVRealHARRejectsLabelColumn(t *testing.T) {
	path := filepath.Join(datatest.SharedData(t), "har-phone-watch", "DATA", "s01", "s01_01_sp.csv")
	if _, err := os.Stat(path); err != nil {
		t.Skip(err)
	}
	_, err := LoadCSV(path)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "line 2 column 8 (label)") {
		t.Fatalf("err = %v", err)
	}
}

func TestResampleRows(t *testing.T) {
	ramp := func(n int) [][]float64 {
		rows := make([][]float64, n)
		for i := range rows {
			rows[i] = []float64{float64(i), -float64(i)}
		}
		return rows
	}
	// Same length: unchanged.
	out, err := ResampleRows(ramp(3), 3)
	if err != nil || out[4] != 2 || out[5] != -2 {
		t.Fatalf("identity: %v %v", out, err)
	}
	// Shrink 4 -> 2: averages of (0,1) and (2,3).
	out, _ = ResampleRows(ramp(4), 2)
	if out[0] != 0.5 || out[2] != 2.5 || out[3] != -2.5 {
		t.Fatalf("shrink: %v", out)
	}
	// Shrink 3 -> 2: bins [0,1.5) and [1.5,3): (0 + 0.5*1)/1.5, (0.5*1 + 2)/1.5.
	out, _ = ResampleRows(ramp(3), 2)
	if !near(out[0], 1.0/3, 1e-6) || !near(out[2], 5.0/3, 1e-6) {
		t.Fatalf("fractional shrink: %v", out)
	}
	// Stretch 2 -> 5: linear, endpoints kept.
	out, _ = ResampleRows(ramp(2), 5)
	for i, want := range []float32{0, 0.25, 0.5, 0.75, 1} {
		if !near(out[2*i], want, 1e-6) {
			t.Fatalf("stretch: %v", out)
		}
	}
	// One row stretched: constant.
	out, _ = ResampleRows([][]float64{{7}}, 3)
	if out[0] != 7 || out[2] != 7 {
		t.Fatalf("single row: %v", out)
	}
	// Mean is preserved by shrinking.
	long := make([][]float64, 1000)
	for i := range long {
		long[i] = []float64{math.Sin(float64(i) / 7)}
	}
	out, _ = ResampleRows(long, 64)
	var a, b float64
	for _, r := range long {
		a += r[0]
	}
	for _, v := range out {
		b += float64(v)
	}
	if math.Abs(a/1000-b/64) > 1e-4 {
		t.Fatalf("mean %g -> %g", a/1000, b/64)
	}
	if _, err := ResampleRows(ramp(2), 0); !errors.Is(err, ErrConfig) {
		t.Errorf("length 0: %v", err)
	}
	if _, err := ResampleRows([][]float64{{1, 2}, {3}}, 2); !errors.Is(err, ErrInputType) {
		t.Errorf("ragged: %v", err)
	}
}

func TestChannelStats(t *testing.T) {
	x := []float32{1, 10, 3, 10, 5, 10} // [3][2]
	st := sampleStats(x, 2)
	if st.Mean[0] != 3 || st.Mean[1] != 10 || !near(float32(st.Std[0]), float32(math.Sqrt(8.0/3)), 1e-6) || st.Std[1] != 1 {
		t.Fatalf("stats %+v", st)
	}
	st.apply(x)
	if x[1] != 0 || !near(x[4], float32(2/math.Sqrt(8.0/3)), 1e-6) {
		t.Fatalf("applied %v", x)
	}
}

// FuzzCSV: the CSV decoder never panics and what it accepts is a
// rectangular table of finite numbers under a header.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("x,y\n1,2\n3,4\n"))
	f.Add([]byte("\"a\",b\n1e3,-0\n"))
	f.Add([]byte("a\n\n1\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := DecodeCSV(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		if len(s.Rows) == 0 || len(s.Columns) == 0 {
			t.Fatalf("accepted empty table %+v", s)
		}
		for _, r := range s.Rows {
			if len(r) != len(s.Columns) {
				t.Fatalf("row of %d under %d columns", len(r), len(s.Columns))
			}
			for _, v := range r {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite %g", v)
				}
			}
		}
		if _, err := ResampleRows(s.Rows, 7); err != nil {
			t.Fatalf("resample accepted table: %v", err)
		}
	})
}
