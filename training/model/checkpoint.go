package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mlecs/mlecs/training/optim"
	"github.com/mlecs/mlecs/training/safetensors"
)

// CheckpointDir is the folder of a model directory that holds one sub-folder per saved epoch.
const CheckpointDir = "checkpoints"

// TrainableTensors returns every trainable group as one flat float32 tensor named by the group.
func (m *Model[F]) TrainableTensors() []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, g := range m.Groups() {
		d := make([]float32, len(g.Params))
		for i, v := range g.Params {
			d[i] = float32(v)
		}
		ts = append(ts, safetensors.Tensor{Name: g.Name, Shape: []int{len(d)}, Data: d})
	}
	return ts
}

// SaveTrainable writes every trainable group (encoders, connector, CCL projection, LoRA) to path.
func (m *Model[F]) SaveTrainable(path string) error {
	if err := safetensors.WriteFile(path, m.TrainableTensors(), map[string]string{"format": SpecFormat}); err != nil {
		return fmt.Errorf("saving trainable state: %w", err)
	}
	return nil
}

// LoadTrainable reads a file written by SaveTrainable; every group must be present with its exact size.
func (m *Model[F]) LoadTrainable(path string) error {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	for _, g := range m.Groups() {
		t, ok := f.Tensor(g.Name)
		if !ok || len(t.Data) != len(g.Params) {
			return fmt.Errorf("%w: %s: group %q missing or of the wrong size (want %d values)", ErrCheckpoint, path, g.Name, len(g.Params))
		}
		for i, v := range t.Data {
			g.Params[i] = F(v)
		}
	}
	return nil
}

// trainState is state.json of a checkpoint.
type trainState struct {
	Epoch  int    `json:"epoch"` // epochs completed
	Step   int    `json:"step"`  // optimiser steps completed
	Epochs int    `json:"epochs"`
	Seed   uint64 `json:"seed"`
}

// saveCheckpoint writes the trainable state, the optimiser moments and the train state into a fresh
// folder, renames it into place and then points out/latest at it, so that a crash at any moment leaves
// the previous checkpoint intact.
func saveCheckpoint(out string, m *Model[float32], opts []*optim.AdamW, st trainState) error {
	rel := filepath.Join(CheckpointDir, fmt.Sprintf("epoch-%04d", st.Epoch))
	dir := filepath.Join(out, rel)
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := m.SaveTrainable(filepath.Join(tmp, TrainableFile)); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	meta := map[string]string{}
	for i, g := range m.Groups() {
		t, mm, vv := opts[i].State()
		meta["t."+g.Name] = strconv.Itoa(t)
		ts = append(ts, safetensors.Tensor{Name: "m." + g.Name, Shape: []int{len(mm)}, Data: mm},
			safetensors.Tensor{Name: "v." + g.Name, Shape: []int{len(vv)}, Data: vv})
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, OptimFile), ts, meta); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(tmp, StateFile), raw); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(out, LatestFile), []byte(rel+"\n")); err != nil {
		return err
	}
	// Older checkpoints are no longer needed once latest points past them.
	entries, _ := os.ReadDir(filepath.Join(out, CheckpointDir))
	for _, e := range entries {
		if e.Name() != filepath.Base(dir) {
			os.RemoveAll(filepath.Join(out, CheckpointDir, e.Name()))
		}
	}
	return nil
}

// latestCheckpoint resolves out/latest to a checkpoint folder.
func latestCheckpoint(out string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(out, LatestFile))
	if err != nil {
		return "", fmt.Errorf("%w: no checkpoint in %s: %w", ErrCheckpoint, out, err)
	}
	rel := strings.TrimSpace(string(raw))
	if rel == "" || filepath.IsAbs(rel) || strings.Contains(rel, "..") {
		return "", fmt.Errorf("%w: %s: bad checkpoint path %q", ErrCheckpoint, filepath.Join(out, LatestFile), rel)
	}
	return filepath.Join(out, rel), nil
}

// loadCheckpoint restores the trainable state and optimisers from the newest checkpoint of out.
func loadCheckpoint(out string, m *Model[float32], opts []*optim.AdamW) (trainState, error) {
	dir, err := latestCheckpoint(out)
	if err != nil {
		return trainState{}, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return trainState{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	var st trainState
	if err := json.Unmarshal(raw, &st); err != nil {
		return trainState{}, fmt.Errorf("%w: %s: %w", ErrCheckpoint, filepath.Join(dir, StateFile), err)
	}
	if err := m.LoadTrainable(filepath.Join(dir, TrainableFile)); err != nil {
		return trainState{}, err
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, OptimFile))
	if err != nil {
		return trainState{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	for i, g := range m.Groups() {
		mt, ok1 := f.Tensor("m." + g.Name)
		vt, ok2 := f.Tensor("v." + g.Name)
		t, err := strconv.Atoi(f.Metadata["t."+g.Name])
		if !ok1 || !ok2 || err != nil {
			return trainState{}, fmt.Errorf("%w: %s: optimiser state of %q missing", ErrCheckpoint, dir, g.Name)
		}
		if err := opts[i].Restore(t, mt.Data, vt.Data); err != nil {
			return trainState{}, fmt.Errorf("%w: %s: %q: %w", ErrCheckpoint, dir, g.Name, err)
		}
	}
	return st, nil
}
