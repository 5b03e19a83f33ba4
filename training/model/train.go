package model

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/mlecs/mlecs/training/optim"
)

// TrainOptions configures Train.
type TrainOptions struct {
	Epochs      int
	Batch       int
	LR          float64
	WeightDecay float64
	Clip        float64 // global gradient-norm clip; <= 0 disables
	Seed        uint64  // data order
	// ModalityDropout hides each modality a training sample holds with this probability, drawn anew every
	// step from (Seed, step), never all of a sample's modalities. The model then cannot lean on one
	// modality alone (emoji keywords), and it trains on the missing-modality cases it will meet.
	ModalityDropout float64
	Resume          bool // continue from out's newest checkpoint
	Progress        func(Progress)
	Log             *slog.Logger
}

func (o TrainOptions) validate(maxBatch int) error {
	switch {
	case o.Epochs < 1:
		return fmt.Errorf("%w: epochs %d", ErrConfig, o.Epochs)
	case o.Batch < 1 || o.Batch > maxBatch:
		return fmt.Errorf("%w: batch %d not in [1,%d]", ErrConfig, o.Batch, maxBatch)
	case !(o.LR > 0) || o.WeightDecay < 0:
		return fmt.Errorf("%w: lr %v, weight decay %v", ErrConfig, o.LR, o.WeightDecay)
	case !(o.ModalityDropout >= 0 && o.ModalityDropout < 1):
		return fmt.Errorf("%w: modality dropout %v not in [0,1)", ErrConfig, o.ModalityDropout)
	}
	return nil
}

// TrainResult summarises a run.
type TrainResult struct {
	Epochs    int     // epochs completed (including resumed ones)
	Steps     int     // optimiser steps completed
	LastLoss  float64 // mean total loss of the last epoch run
	FirstLoss float64 // loss of the first step run in this call
}

// Train runs the single-node loop: for every epoch a permutation of train drawn from (Seed, epoch),
// batches of Batch examples, the generation loss (+ CCL), one AdamW per parameter group, a checkpoint in
// out at the end of every epoch. The learning rate warms up over 5% of the steps and decays by cosine
// to a tenth, as a function of the global step, so an interrupted run resumed with the same options
// ends bit-identical to an uninterrupted one.
func Train(ctx context.Context, m *Model[float32], train []Example, out string, o TrainOptions) (TrainResult, error) {
	if err := o.validate(m.cfg.MaxBatch); err != nil {
		return TrainResult{}, err
	}
	if len(train) == 0 {
		return TrainResult{}, fmt.Errorf("%w: no training examples", ErrInput)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	oc := optim.DefaultConfig()
	oc.LR, oc.WeightDecay = o.LR, o.WeightDecay
	groups := m.Groups()
	opts := make([]*optim.AdamW, len(groups))
	for i, g := range groups {
		var err error
		if opts[i], err = optim.New(len(g.Params), oc); err != nil {
			return TrainResult{}, fmt.Errorf("optimiser %s: %w", g.Name, err)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return TrainResult{}, fmt.Errorf("train: %w", err)
	}
	st := trainState{Epochs: o.Epochs, Seed: o.Seed}
	if o.Resume {
		var err error
		if st, err = loadCheckpoint(out, m, opts); err != nil {
			return TrainResult{}, fmt.Errorf("resume: %w", err)
		}
		if st.Seed != o.Seed {
			return TrainResult{}, fmt.Errorf("%w: resume: checkpoint seed %d, options %d", ErrConfig, st.Seed, o.Seed)
		}
		log.Info("resumed", "dir", out, "epoch", st.Epoch, "step", st.Step)
		st.Epochs = o.Epochs
	}
	perEpoch := (len(train) + o.Batch - 1) / o.Batch
	total := perEpoch * o.Epochs
	all := make([][]float32, len(groups))
	for i, g := range groups {
		all[i] = g.Grads
	}
	res := TrainResult{Epochs: st.Epoch, Steps: st.Step, FirstLoss: math.NaN()}
	batch := make([]Example, 0, o.Batch)
	for epoch := st.Epoch + 1; epoch <= o.Epochs; epoch++ {
		perm := rand.New(rand.NewPCG(o.Seed, uint64(epoch))).Perm(len(train))
		start, sum := time.Now(), 0.0
		for s := range perEpoch {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("train: %w", err)
			}
			batch = batch[:0]
			step := st.Step + 1
			drop := rand.New(rand.NewPCG(o.Seed^0x6d6f64, uint64(step)))
			for _, i := range perm[s*o.Batch : min(len(perm), (s+1)*o.Batch)] {
				batch = append(batch, dropModalities(train[i], o.ModalityDropout, drop))
			}
			for _, opt := range opts {
				if err := opt.SetLR(o.LR * lrSchedule(step, total)); err != nil {
					return res, fmt.Errorf("train: %w", err)
				}
			}
			m.ZeroGrad()
			loss, err := m.Forward(batch)
			if err != nil {
				return res, fmt.Errorf("train step %d: %w", step, err)
			}
			if err := m.Backward(); err != nil {
				return res, fmt.Errorf("train step %d: %w", step, err)
			}
			norm := optim.GlobalNorm(all...)
			if math.IsNaN(norm) || math.IsInf(norm, 0) || math.IsNaN(float64(loss.Total)) {
				return res, fmt.Errorf("%w: train step %d: non-finite loss %v or gradient norm %v", ErrInput, step, loss.Total, norm)
			}
			if o.Clip > 0 {
				optim.ClipGradNorm(o.Clip, all...)
			}
			for i, g := range groups {
				if err := opts[i].Step(g.Params, g.Grads); err != nil {
					return res, fmt.Errorf("train step %d %s: %w", step, g.Name, err)
				}
			}
			st.Step = step
			res.Steps = step
			if math.IsNaN(res.FirstLoss) {
				res.FirstLoss = float64(loss.Total)
			}
			sum += float64(loss.Total)
			if o.Progress != nil {
				o.Progress(Progress{Epoch: epoch, Epochs: o.Epochs, Step: s + 1, Steps: perEpoch, Loss: float64(loss.Total),
					SamplesPerSec: float64(min(len(train), (s+1)*o.Batch)) / time.Since(start).Seconds()})
			}
		}
		st.Epoch = epoch
		res.Epochs, res.LastLoss = epoch, sum/float64(perEpoch)
		if err := saveCheckpoint(out, m, opts, st); err != nil {
			return res, err
		}
		log.Info("epoch done", "epoch", epoch, "loss", res.LastLoss, "seconds", time.Since(start).Seconds())
	}
	return res, nil
}

// dropModalities returns ex with each modality it holds hidden with probability p, keeping at least one
// (a shallow copy: the input tensors are shared, never written).
func dropModalities(ex Example, p float64, rng *rand.Rand) Example {
	if p == 0 {
		return ex
	}
	var held []int
	for k := range max(len(ex.Inputs), len(ex.Tokens)) {
		if ex.has(k) {
			held = append(held, k)
		}
	}
	var hide []int
	for _, k := range held {
		if rng.Float64() < p {
			hide = append(hide, k)
		}
	}
	if len(hide) == len(held) && len(held) > 0 {
		j := rng.IntN(len(hide)) // keep one, chosen at random
		hide = append(hide[:j:j], hide[j+1:]...)
	}
	if len(hide) == 0 {
		return ex
	}
	ex.Inputs, ex.Tokens = append([][]float32(nil), ex.Inputs...), append([][]int32(nil), ex.Tokens...)
	for _, k := range hide {
		if k < len(ex.Inputs) {
			ex.Inputs[k] = nil
		}
		if k < len(ex.Tokens) {
			ex.Tokens[k] = nil
		}
	}
	return ex
}
