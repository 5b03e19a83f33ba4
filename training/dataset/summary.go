package dataset

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
)

// Summary describes a dataset for people and tools (mlecs data check).
type Summary struct {
	Dir         string            `json:"dir"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	License     string            `json:"license,omitempty"`
	Samples     int               `json:"samples"`
	Splits      map[string]int    `json:"splits"`
	Modalities  []ModalitySummary `json:"modalities"`
	Groups      Tally             `json:"groups"`
	Targets     Tally             `json:"targets"`
	Labels      Tally             `json:"labels"`
	Unlabelled  int               `json:"unlabelled"` // samples without a label
}

// ModalitySummary counts the samples holding one modality, per split.
type ModalitySummary struct {
	Name  string `json:"name"`
	Kind  Kind   `json:"kind"`
	Train int    `json:"train"`
	Test  int    `json:"test"`
}

// Tally is the number of distinct values and the most frequent ones.
type Tally struct {
	Distinct int     `json:"distinct"`
	Top      []Count `json:"top"`
}

func tally(c []Count, top int) Tally {
	return Tally{Distinct: len(c), Top: c[:min(top, len(c))]}
}

// Summarize counts d's samples per split, modality, group, target and
// label, keeping the top most frequent groups, targets and labels.
func Summarize(d *Dataset, top int) Summary {
	s := Summary{Dir: d.Dir, Name: d.Name, Description: d.Description, License: d.License, Samples: len(d.Samples),
		Splits: map[string]int{SplitTrain: 0, SplitTest: 0}}
	perSplit := map[string]map[string]int{SplitTrain: {}, SplitTest: {}}
	for _, smp := range d.Samples {
		s.Splits[smp.Split]++
		for name := range smp.Inputs {
			perSplit[smp.Split][name]++
		}
		if smp.Label == "" {
			s.Unlabelled++
		}
	}
	for _, name := range d.ModalityNames() {
		s.Modalities = append(s.Modalities, ModalitySummary{Name: name, Kind: d.Modalities[name].Kind,
			Train: perSplit[SplitTrain][name], Test: perSplit[SplitTest][name]})
	}
	s.Groups = tally(GroupCounts(d.Samples), top)
	s.Targets = tally(TargetCounts(d.Samples), top)
	s.Labels = tally(LabelCounts(d.Samples), top)
	return s
}

// VerifyInputs decodes every input of every sample with the loaders of cfg
// (a corrupt PNG, WAV or CSV is found here rather than mid-training) and
// returns a *ValidationError listing each failure by samples.jsonl line.
// Series statistics are not needed: it decodes with NormNone.
func VerifyInputs(ctx context.Context, d *Dataset, cfg Config, workers int) error {
	cfg.SeriesNorm = NormNone
	path := filepath.Join(d.Dir, SamplesFile)
	var (
		mu   sync.Mutex
		ps   problems
		wg   sync.WaitGroup
		next = make(chan int)
		bad  = map[string]bool{} // samples already reported while inferring channels
	)
	f, err := newFeaturizer(d, cfg, func(s Sample, err error) {
		ps.add(path, s.Line, err)
		bad[s.ID] = true
	})
	if err != nil {
		return err
	}
	workers = max(1, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := d.Samples[i]
				if bad[s.ID] {
					continue
				}
				for _, name := range s.ModalityNames() {
					if _, err := f.Featurize(s, name); err != nil {
						mu.Lock()
						ps.add(path, s.Line, err)
						mu.Unlock()
					}
				}
			}
		}()
	}
feed:
	for i := range d.Samples {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataset: verify inputs: %w", err)
	}
	// Workers finish out of order; report in file order.
	sortProblems(ps.Problems)
	return ps.err()
}
