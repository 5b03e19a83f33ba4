package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFeaturizer(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 6)
	cfg := DefaultConfig()
	cfg.ImageSize, cfg.Frames, cfg.SeriesLength = 8, 20, 5
	f, err := NewFeaturizer(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int{"pic": {8, 8, 3}, "speech": {20, 40}, "imu": {5, 2}, "words": nil}
	for name, want := range shapes {
		if got := f.Shape(name); len(got) != len(want) || (len(want) > 0 && got[0] != want[0]) {
			t.Errorf("%s shape %v, want %v", name, got, want)
		}
	}
	s := d.Samples[1]
	if _, err := f.Featurize(s, "imu"); !errors.Is(err, ErrConfig) {
		t.Fatalf("unfitted series: %v", err)
	}
	if err := f.Fit(context.Background(), d.Split(SplitTrain)); err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stats("imu")
	if len(st.Mean) != 2 || st.Std[0] <= 0 {
		t.Fatalf("stats %+v", st)
	}
	for name := range shapes {
		ft, err := f.Featurize(s, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "words" {
			if ft.Text != "word b" || ft.Data != nil {
				t.Errorf("text feature %+v", ft)
			}
			continue
		}
		if len(ft.Data) != f.Size(name) {
			t.Errorf("%s: %d values, want %d", name, len(ft.Data), f.Size(name))
		}
	}
	// The 0.5 s clip at 16 kHz has 1 + (8000-512)/160 = 47 frames > 20: no padding.
	sp, _ := f.Featurize(s, "speech")
	if last := sp.Data[19*40 : 20*40]; slicesMax(last) < -5 {
		t.Errorf("last frame looks like padding: %v", last)
	}
	if _, err := f.Featurize(d.Samples[0], "pic"); !errors.Is(err, ErrAbsent) {
		t.Errorf("absent: %v", err)
	}
	if _, err := f.Featurize(s, "nope"); !errors.Is(err, ErrUnknownModality) {
		t.Errorf("unknown: %v", err)
	}
}

func TestFeaturizerAudioPadding(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 1)
	cfg := DefaultConfig()
	cfg.Frames = 100 // 0.5 s gives 47 frames: the rest is silence
	f, err := NewFeaturizer(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ft, err := f.Featurize(d.Samples[0], "speech")
	if err != nil {
		t.Fatal(err)
	}
	if got := ft.Data[60*cfg.MelBins]; got > -13.8 || got < -13.9 {
		t.Errorf("padding value %g, want ln(1e-6)", got)
	}
	if got := ft.Data[10*cfg.MelBins+5]; got < -5 {
		t.Errorf("signal frame value %g looks silent", got)
	}
}

func TestFeaturizerSeriesNorm(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 4)
	for _, mode := range []string{NormSample, NormNone} {
		cfg := DefaultConfig()
		cfg.SeriesLength, cfg.SeriesNorm = 3, mode
		f, err := NewFeaturizer(d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ft, err := f.Featurize(d.Samples[0], "imu") // rows (0,1) (2,3) (4,5)
		if err != nil {
			t.Fatal(err)
		}
		want := []float32{0, 1, 2, 3, 4, 5}
		if mode == NormSample {
			want = []float32{-1.2247449, -1.2247449, 0, 0, 1.2247449, 1.2247449}
		}
		for i := range want {
			if !near(ft.Data[i], want[i], 1e-5) {
				t.Fatalf("%s: %v, want %v", mode, ft.Data, want)
			}
		}
	}
	cfg := DefaultConfig()
	f, _ := NewFeaturizer(d, cfg)
	if err := f.SetStats("imu", ChannelStats{Mean: []float64{0, 0}, Std: []float64{1, 0}}); !errors.Is(err, ErrConfig) {
		t.Errorf("zero std: %v", err)
	}
	if err := f.SetStats("pic", ChannelStats{}); !errors.Is(err, ErrConfig) {
		t.Errorf("image stats: %v", err)
	}
	if err := f.SetStats("imu", ChannelStats{Mean: []float64{1, 1}, Std: []float64{2, 2}}); err != nil {
		t.Fatal(err)
	}
	ft, _ := f.Featurize(d.Samples[0], "imu")
	if ft.Data[0] != -0.5 || ft.Data[1] != 0 {
		t.Errorf("with stats: %v", ft.Data[:2])
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.ImageSize = 0 },
		func(c *Config) { c.Frames = 0 },
		func(c *Config) { c.SeriesLength = -1 },
		func(c *Config) { c.SeriesChannels = -1 },
		func(c *Config) { c.SeriesNorm = "zscore" },
		func(c *Config) { c.Hop = 0 },
		func(c *Config) { c.MelBins = 0 },
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for i, mutate := range bad {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

func TestFeaturizerChannelMismatch(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 3)
	// Sample b's inline rows have 2 channels; make c's CSV have 3.
	mustWrite(t, filepath.Join(d.Dir, "imu", "c.csv"), []byte("a,b,c\n1,2,3\n"))
	cfg := DefaultConfig()
	cfg.SeriesNorm = NormNone
	f, err := NewFeaturizer(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Featurize(d.Samples[2], "imu")
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "c.csv has 3 channels") {
		t.Fatalf("err = %v", err)
	}
}

func TestCache(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 7)
	cfg := DefaultConfig()
	cfg.ImageSize, cfg.Frames, cfg.SeriesLength = 8, 10, 4
	f, err := NewFeaturizer(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Fit(context.Background(), d.Split(SplitTrain)); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{0, 1, 2, 16} {
		c, err := BuildCache(context.Background(), f, d.Samples, workers)
		if err != nil {
			t.Fatal(err)
		}
		if c.Len() != 7 || c.Sample(3).ID != "d" {
			t.Fatalf("len %d", c.Len())
		}
		if c.Bytes() != 4*7*int64(8*8*3+10*40+4*2) {
			t.Errorf("bytes %d", c.Bytes())
		}
		for i, s := range d.Samples {
			for _, name := range []string{"pic", "speech", "imu"} {
				got, ok := c.Tensor(i, name)
				if ok != s.Has(name) {
					t.Fatalf("sample %d %s present=%v", i, name, ok)
				}
				if !ok {
					continue
				}
				want, err := f.Featurize(s, name)
				if err != nil {
					t.Fatal(err)
				}
				for k := range want.Data {
					if got[k] != want.Data[k] {
						t.Fatalf("sample %d %s differs at %d", i, name, k)
					}
				}
			}
			if txt, ok := c.Text(i, "words"); !ok || txt != s.Inputs["words"].Text {
				t.Fatalf("text %q %v", txt, ok)
			}
		}
		if _, ok := c.Tensor(99, "pic"); ok {
			t.Error("out of range index found")
		}
		if _, ok := c.Text(0, "pic"); ok {
			t.Error("text of an image modality")
		}
	}
}

func TestCacheErrorNamesFile(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 5)
	broken := filepath.Join(d.Dir, "img", "c.png")
	if err := os.WriteFile(broken, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.SeriesNorm = NormNone
	f, err := NewFeaturizer(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = BuildCache(context.Background(), f, d.Samples, 2)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), `sample "c"`) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BuildCache(ctx, f, d.Samples, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func slicesMax(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// A node holding only some modalities fits what it has; a modality nobody
// holds has unknown width and fails only when used.
func TestFeaturizerPartialModalities(t *testing.T) {
	dir := writeDir(t, `{"format": "mlecs-dataset/1", "name": "p", "modalities": {"a": {"kind": "timeseries"}, "b": {"kind": "timeseries"}, "c": {"kind": "timeseries"}}}`,
		[]string{
			`{"id": "1", "split": "train", "inputs": {"a": [[1, 2], [3, 4]]}, "target": "t"}`,
			`{"id": "2", "split": "train", "inputs": {"b": [[1], [2]]}, "target": "t"}`,
		}, nil)
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFeaturizer(d, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if sh := f.Shape("c"); sh[1] != 0 {
		t.Errorf("c shape %v", sh)
	}
	if err := f.Fit(context.Background(), d.Samples[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Featurize(d.Samples[0], "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Featurize(d.Samples[1], "b"); !errors.Is(err, ErrConfig) {
		t.Errorf("unfitted b: %v", err)
	}
	s := Sample{ID: "x", Inputs: map[string]Input{"c": {Rows: [][]float64{{1}}}}}
	if _, err := f.Featurize(s, "c"); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("c: %v", err)
	}
}

func TestPrepare(t *testing.T) {
	d := writeToy(t, filepath.Join(t.TempDir(), "toy"), 5)
	cfg := DefaultConfig()
	cfg.ImageSize = 4
	p, err := Prepare(context.Background(), d, cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Train.Len() != 4 || p.Test.Len() != 1 || p.Train.Featurizer() != p.Featurizer {
		t.Fatalf("prepared %d/%d", p.Train.Len(), p.Test.Len())
	}
	if _, ok := p.Featurizer.Stats("imu"); !ok {
		t.Error("not fitted")
	}
	if x, ok := p.Test.Tensor(0, "imu"); !ok || len(x) != cfg.SeriesLength*2 {
		t.Errorf("test imu %v %v", len(x), ok)
	}
}
