package experiment

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mlecs/mlecs/training/dataset"
)

func synthetic(n int, groups int) *dataset.Dataset {
	ds := &dataset.Dataset{Name: "syn"}
	for i := range n {
		s := dataset.Sample{ID: fmt.Sprintf("s%04d", i), Split: dataset.SplitTrain, Targets: []string{"t"},
			Inputs: map[string]dataset.Input{"a": {Text: "x"}, "b": {Text: "y"}, "c": {Text: "z"}}}
		if groups > 0 {
			s.Group = fmt.Sprintf("g%d", i%groups)
		}
		ds.Samples = append(ds.Samples, s)
	}
	return ds
}

func TestPartition(t *testing.T) {
	for _, tc := range []struct {
		groups, edges int
		byGroup       bool
	}{{0, 3, false}, {2, 3, false}, {6, 3, true}} {
		w := &world{ds: synthetic(400, tc.groups), owner: map[string]int{}, public: map[string]bool{}}
		c := DefaultRunConfig()
		c.Edges = tc.edges
		if err := w.partition(c); err != nil {
			t.Fatal(err)
		}
		if w.byGroup != tc.byGroup {
			t.Errorf("groups %d: by group %v, want %v", tc.groups, w.byGroup, tc.byGroup)
		}
		if len(w.public) < 20 || len(w.public) > 70 {
			t.Errorf("groups %d: %d public of 400 at fraction 0.1", tc.groups, len(w.public))
		}
		if len(w.public)+len(w.owner) != 400 {
			t.Errorf("groups %d: %d public + %d private != 400", tc.groups, len(w.public), len(w.owner))
		}
		for _, s := range w.ds.Samples {
			o, ok := w.owner[s.ID]
			if ok && w.public[s.ID] {
				t.Errorf("%s is public and private", s.ID)
			}
			if ok && tc.byGroup {
				var g int
				fmt.Sscanf(s.Group, "g%d", &g)
				if o != g%tc.edges {
					t.Errorf("%s of group %s on edge %d", s.ID, s.Group, o)
				}
			}
		}
	}
	w := &world{ds: synthetic(2, 0), owner: map[string]int{}, public: map[string]bool{}}
	c := DefaultRunConfig()
	c.Edges = 8
	if err := w.partition(c); !errors.Is(err, ErrRunConfig) {
		t.Errorf("2 samples over 8 edges: got %v, want ErrRunConfig", err)
	}
}

func TestDropModalities(t *testing.T) {
	ds := synthetic(1000, 0)
	dropModalities(ds, 0.5)
	kept := 0
	for _, s := range ds.Samples {
		if len(s.Inputs) == 0 {
			t.Fatalf("%s lost every modality", s.ID)
		}
		kept += len(s.Inputs)
	}
	// Each of 3 inputs kept with p 0.5, plus one restored when all 3 drop (p 1/8): 1.5 + 0.125 per sample.
	if kept < 1500 || kept > 1750 {
		t.Errorf("%d inputs kept of 3000 at rate 0.5, want about 1625", kept)
	}
	ds2 := synthetic(1000, 0)
	dropModalities(ds2, 0.5)
	for i := range ds.Samples {
		if len(ds.Samples[i].Inputs) != len(ds2.Samples[i].Inputs) {
			t.Fatalf("sample %d: the draw is not deterministic", i)
		}
	}
}
