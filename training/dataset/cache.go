package dataset

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// DefaultCacheWorkers is the parallelism of BuildCache when none is given:
// the machines we target have two cores.
const DefaultCacheWorkers = 2

// Cache holds the featurised tensors of a fixed list of samples, computed
// once so that every epoch after the first reads memory only. Each
// modality's tensors live in one contiguous slice. A built Cache is
// read-only and safe for concurrent use.
type Cache struct {
	f       *Featurizer
	samples []Sample
	size    map[string]int       // values per tensor, per modality
	data    map[string][]float32 // [len(samples) * size]
	present map[string][]bool    // [len(samples)]
	text    map[string][]string  // text modalities
}

// BuildCache featurises every modality of every sample with workers
// goroutines (<= 0 means DefaultCacheWorkers). The first error cancels the
// rest and is returned.
func BuildCache(ctx context.Context, f *Featurizer, samples []Sample, workers int) (*Cache, error) {
	if workers <= 0 {
		workers = DefaultCacheWorkers
	}
	workers = min(workers, runtime.GOMAXPROCS(0), max(1, len(samples)))
	c := &Cache{f: f, samples: samples, size: map[string]int{}, data: map[string][]float32{},
		present: map[string][]bool{}, text: map[string][]string{}}
	for _, name := range f.d.ModalityNames() {
		c.present[name] = make([]bool, len(samples))
		if f.d.Modalities[name].Kind == KindText {
			c.text[name] = make([]string, len(samples))
			continue
		}
		c.size[name] = f.Size(name)
		c.data[name] = make([]float32, len(samples)*f.Size(name))
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := c.fill(f, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
feed:
	for i := range samples {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("dataset: build cache: %w", err)
	}
	return c, nil
}

// fill featurises sample i into its slots; workers write disjoint ranges.
func (c *Cache) fill(f *Featurizer, i int) error {
	s := c.samples[i]
	for name := range s.Inputs {
		ft, err := f.Featurize(s, name)
		if err != nil {
			return err
		}
		c.present[name][i] = true
		if ft.Kind == KindText {
			c.text[name][i] = ft.Text
			continue
		}
		n := c.size[name]
		copy(c.data[name][i*n:(i+1)*n], ft.Data)
	}
	return nil
}

// Featurizer is the featurizer the cache was built with (shapes, config).
func (c *Cache) Featurizer() *Featurizer { return c.f }

// Len is the number of samples.
func (c *Cache) Len() int { return len(c.samples) }

// Sample returns sample i (ids, targets, labels).
func (c *Cache) Sample(i int) Sample { return c.samples[i] }

// Tensor returns the tensor of modality name for sample i, or false when
// the sample lacks it. The slice aliases the cache: do not modify it.
func (c *Cache) Tensor(i int, name string) ([]float32, bool) {
	p, ok := c.present[name]
	if !ok || i < 0 || i >= len(p) || !p[i] {
		return nil, false
	}
	n, ok := c.size[name]
	if !ok {
		return nil, false
	}
	return c.data[name][i*n : (i+1)*n : (i+1)*n], true
}

// Text returns the text of modality name for sample i, or false when absent.
func (c *Cache) Text(i int, name string) (string, bool) {
	t, ok := c.text[name]
	if !ok || i < 0 || i >= len(t) || !c.present[name][i] {
		return "", false
	}
	return t[i], true
}

// Bytes is the memory held by the cached tensors.
func (c *Cache) Bytes() int64 {
	var n int64
	for _, d := range c.data {
		n += 4 * int64(len(d))
	}
	return n
}

// Prepared is a dataset ready for centralised training: a featurizer fitted
// on the train split and both splits cached.
type Prepared struct {
	Featurizer  *Featurizer
	Train, Test *Cache
}

// Prepare fits a featurizer of cfg on d's train split and caches the train
// and test splits with workers goroutines (see BuildCache).
func Prepare(ctx context.Context, d *Dataset, cfg Config, workers int) (Prepared, error) {
	f, err := NewFeaturizer(d, cfg)
	if err != nil {
		return Prepared{}, err
	}
	train, test := d.Split(SplitTrain), d.Split(SplitTest)
	if err := f.Fit(ctx, train); err != nil {
		return Prepared{}, err
	}
	p := Prepared{Featurizer: f}
	if p.Train, err = BuildCache(ctx, f, train, workers); err != nil {
		return Prepared{}, err
	}
	if p.Test, err = BuildCache(ctx, f, test, workers); err != nil {
		return Prepared{}, err
	}
	return p, nil
}
