package dataset_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
	"github.com/mlecs/mlecs/training/dataset/datatest/subset"
	"github.com/mlecs/mlecs/training/dataset/importer"
)

func emojiDataset(b *testing.B) *dataset.Dataset {
	return subset.Emoji(b, filepath.Join(b.TempDir(), "emoji"))
}

func harDataset(b *testing.B) *dataset.Dataset {
	return subset.HAR(b, filepath.Join(b.TempDir(), "har"), importer.HARSubjects("s01", "s02", "s03"))
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

// BenchmarkFeaturizeEmoji: decode two 64x64 PNGs, composite on black and
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
