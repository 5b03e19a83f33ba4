package dataset_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/importer"
)

// realData finds ../shared/data above the module root or skips.
func realData(b *testing.B) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			b.Skip("no go.mod")
		}
		dir = filepath.Dir(dir)
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		b.Skipf("real data absent: %v", err)
	}
	return data
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func emojiDataset(b *testing.B) *dataset.Dataset {
	d, _, err := importer.ImportEmoji(context.Background(), filepath.Join(realData(b), "emoji"), filepath.Join(b.TempDir(), "emoji"),
		importer.EmojiLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func harDataset(b *testing.B) *dataset.Dataset {
	d, _, err := importer.ImportHAR(context.Background(), filepath.Join(realData(b), "har-phone-watch"), filepath.Join(b.TempDir(), "har"),
		importer.HARSubjects("s01", "s02", "s03"), importer.HARLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// benchFeaturize featurises every modality of n samples per iteration on
// one goroutine and reports samples/s.
func benchFeaturize(b *testing.B, d *dataset.Dataset, samples []dataset.Sample) {
	f, err := dataset.NewFeaturizer(d, dataset.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Fit(context.Background(), samples); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		s := samples[n%len(samples)]
		for _, m := range s.ModalityNames() {
			if _, err := f.Featurize(s, m); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkFeaturizeEmoji: decode two 64x64 PNGs, composite on white and
// resize to 32x32, per sample.
func BenchmarkFeaturizeEmoji(b *testing.B) {
	d := emojiDataset(b)
	benchFeaturize(b, d, d.Samples)
}

// BenchmarkFeaturizeHAR: parse two 100x6 CSV windows and normalise them.
func BenchmarkFeaturizeHAR(b *testing.B) {
	d := harDataset(b)
	benchFeaturize(b, d, d.Samples)
}

// BenchmarkBuildCache featurises a whole split with 1 and 2 workers
// (samples/s), and BenchmarkCachedEpoch reads it back as an epoch does.
func BenchmarkBuildCache(b *testing.B) {
	d := emojiDataset(b)
	f, err := dataset.NewFeaturizer(d, dataset.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	train := d.Split(dataset.SplitTrain)
	for _, workers := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[workers], func(b *testing.B) {
			for b.Loop() {
				if _, err := dataset.BuildCache(context.Background(), f, train, workers); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(train))/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

func BenchmarkCachedEpoch(b *testing.B) {
	d := emojiDataset(b)
	f, err := dataset.NewFeaturizer(d, dataset.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	c, err := dataset.BuildCache(context.Background(), f, d.Samples, 2)
	if err != nil {
		b.Fatal(err)
	}
	var sink float32
	n := 0
	for b.Loop() {
		i := n % c.Len()
		for _, m := range []string{importer.EmojiTwemoji, importer.EmojiNoto} {
			if x, ok := c.Tensor(i, m); ok {
				sink += x[0]
			}
		}
		if t, ok := c.Text(i, importer.EmojiKeywords); ok {
			sink += float32(len(t))
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "samples/s")
	_ = sink
}
