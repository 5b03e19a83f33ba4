package federated

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/mlecs/mlecs/training/optim"
	"github.com/mlecs/mlecs/training/payload"
)

// ErrState reports a saved edge state that does not fit the edge it is restored into.
var ErrState = errors.New("federated: unusable edge state")

// stateFormat names the layout State writes; Restore accepts only this one.
const stateFormat = "mlecs-edge-state/1"

// Meta keys of an edge state. Per-group keys are built by optStepKey and cursorKey.
const (
	metaFormat     = "format"
	metaRun        = "run"
	metaEdge       = "edge"
	metaComponents = "components"
	metaRound      = "round"
	metaAlignDim   = "seccl/dt" // target width of the SE-CCL aligner (absent: none built yet)
)

// Tensor names of an edge state.
const (
	tensorProjection = "seccl/projection" // SE-CCL projection W [dt, C] (only when dt != C)
	alignOptName     = "seccl"            // its optimiser's name in opt/<name>/{m,v,step}
)

func paramTensor(name string) string { return "param/" + name }
func optTensors(name string) (m, v string) {
	return "opt/" + name + "/m", "opt/" + name + "/v"
}
func optStepKey(name string) string   { return "opt/" + name + "/step" }
func cursorPerm(name string) string   { return "cursor/" + name + "/perm" }
func cursorKey(name, f string) string { return "cursor/" + name + "/" + f }

// maxPermLen bounds a saved data order: its indices travel as float32, exact up to 2^24.
const maxPermLen = 1 << 24

// State returns everything the edge trains and keeps across rounds, so that Restore on a freshly built
// edge of the same config and data makes its next LocalRound compute exactly what this edge's would:
// every trained parameter group (encoders, connector, CCL projection, the LoRA or the AMT private and
// shared branches and gates), the AdamW moments and step counts, the SE-CCL projection and its
// optimiser once built, the data-order cursors (permutation, position, generator state) and the round.
// The frozen base weights are not included: NewEdge copies them from the template. Tensors are copies.
func (e *Edge) State() (map[string]string, []payload.Tensor, error) {
	l := e.l
	meta := map[string]string{
		metaFormat:     stateFormat,
		metaRun:        e.cfg.RunID,
		metaEdge:       e.cfg.ID,
		metaComponents: componentsKey(e.cfg.Components),
		metaRound:      strconv.FormatUint(e.round, 10),
	}
	var ts []payload.Tensor
	for _, p := range l.params {
		if len(p.p) == 0 {
			continue
		}
		ts = append(ts, flatTensor(paramTensor(p.name), p.p))
		if p.optimize {
			ts = appendOpt(ts, meta, p.name, p.opt)
		}
	}
	if l.al != nil {
		meta[metaAlignDim] = strconv.Itoa(l.al.dt)
		if l.al.W != nil {
			ts = append(ts, payload.Tensor{Name: tensorProjection, Shape: []int{l.al.dt, l.al.dz}, Data: slices.Clone(l.al.W)})
			ts = appendOpt(ts, meta, alignOptName, l.alOpt)
		}
	}
	for _, c := range []struct {
		name string
		c    *cursor
	}{{"private", e.priv}, {"public", e.pub}} {
		if len(c.c.perm) > maxPermLen {
			return nil, nil, fmt.Errorf("edge %s: state: %d %s examples, at most %d can be saved", e.cfg.ID, len(c.c.perm), c.name, maxPermLen)
		}
		rng, err := c.c.src.MarshalBinary()
		if err != nil {
			return nil, nil, fmt.Errorf("edge %s: state: cursor %s: %w", e.cfg.ID, c.name, err)
		}
		perm := make([]float32, len(c.c.perm))
		for i, v := range c.c.perm {
			perm[i] = float32(v)
		}
		ts = append(ts, payload.Tensor{Name: cursorPerm(c.name), Shape: []int{len(perm)}, Data: perm})
		meta[cursorKey(c.name, "pos")] = strconv.Itoa(c.c.pos)
		meta[cursorKey(c.name, "rng")] = hex.EncodeToString(rng)
	}
	return meta, ts, nil
}

func flatTensor(name string, data []float32) payload.Tensor {
	return payload.Tensor{Name: name, Shape: []int{len(data)}, Data: slices.Clone(data)}
}

func appendOpt(ts []payload.Tensor, meta map[string]string, name string, o *optim.AdamW) []payload.Tensor {
	t, m, v := o.State()
	mn, vn := optTensors(name)
	meta[optStepKey(name)] = strconv.Itoa(t)
	return append(ts, flatTensor(mn, m), flatTensor(vn, v))
}

// componentsKey pins the strategy a state was trained under: another strategy's tensors could fit by
// shape and still mean something else.
func componentsKey(c Components) string { return fmt.Sprintf("%+v", c) }

// Restore makes the edge continue from a State of the same edge (run, id, strategy, model and data
// sizes). Everything is validated before anything is written: the format, run, edge id and strategy,
// every expected tensor present once with its exact shape and finite values (second moments >= 0),
// no tensor or meta key left over, the cursors' permutations and positions. On error, which names the
// tensor or field and wraps ErrState, the edge is unchanged.
func (e *Edge) Restore(meta map[string]string, tensors []payload.Tensor) error {
	r, err := e.checkState(meta, tensors)
	if err != nil {
		return fmt.Errorf("%w: edge %s: %w", ErrState, e.cfg.ID, err)
	}
	// From here on nothing can fail: every value was checked and every optimiser built.
	l := e.l
	for i := range l.params {
		p := &l.params[i]
		if len(p.p) == 0 {
			continue
		}
		copy(p.p, r.params[p.name])
		if p.optimize {
			p.opt = r.opts[p.name]
		}
	}
	l.al, l.alOpt = r.al, r.alOpt
	*e.priv, *e.pub = r.priv, r.pub
	e.round = r.round
	return nil
}

// restored is a checked state, ready to be installed.
type restored struct {
	round     uint64
	params    map[string][]float32
	opts      map[string]*optim.AdamW
	al        *Aligner[float32]
	alOpt     *optim.AdamW
	priv, pub cursor
}

// stateReader hands out the tensors and meta keys of a state once each, so that leftovers show.
type stateReader struct {
	meta    map[string]string
	tensors map[string]payload.Tensor
}

func (s *stateReader) str(key string) (string, error) {
	v, ok := s.meta[key]
	if !ok {
		return "", fmt.Errorf("meta %q missing", key)
	}
	delete(s.meta, key)
	return v, nil
}

func (s *stateReader) int(key string, lo, hi int) (int, error) {
	v, err := s.str(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("meta %q is %q, want an integer in [%d, %d]", key, v, lo, hi)
	}
	return n, nil
}

// tensor takes the tensor name of exactly shape, with finite values (and none negative if nonNeg).
func (s *stateReader) tensor(name string, shape []int, nonNeg bool) ([]float32, error) {
	t, ok := s.tensors[name]
	if !ok {
		return nil, fmt.Errorf("tensor %q missing", name)
	}
	delete(s.tensors, name)
	n := 1
	for _, d := range shape {
		n *= d
	}
	if !slices.Equal(t.Shape, shape) || len(t.Data) != n {
		return nil, fmt.Errorf("tensor %q has shape %v and %d values, want shape %v", name, t.Shape, len(t.Data), shape)
	}
	for i, v := range t.Data {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) || (nonNeg && v < 0) {
			return nil, fmt.Errorf("tensor %q: value %d is %v", name, i, v)
		}
	}
	return t.Data, nil
}

// opt builds a fresh optimiser of config oc and loads the saved moments and step count of name into it.
func (s *stateReader) opt(name string, oc optim.Config, n int) (*optim.AdamW, error) {
	mn, vn := optTensors(name)
	m, err := s.tensor(mn, []int{n}, false)
	if err != nil {
		return nil, err
	}
	v, err := s.tensor(vn, []int{n}, true)
	if err != nil {
		return nil, err
	}
	t, err := s.int(optStepKey(name), 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	o, err := optim.New(n, oc)
	if err == nil {
		err = o.Restore(t, m, v)
	}
	if err != nil {
		return nil, fmt.Errorf("optimiser %s: %w", name, err)
	}
	return o, nil
}

func (e *Edge) checkState(meta map[string]string, tensors []payload.Tensor) (*restored, error) {
	s := &stateReader{meta: make(map[string]string, len(meta)), tensors: make(map[string]payload.Tensor, len(tensors))}
	for k, v := range meta {
		s.meta[k] = v
	}
	for _, t := range tensors {
		if _, dup := s.tensors[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		s.tensors[t.Name] = t
	}
	for _, f := range []struct{ key, want string }{
		{metaFormat, stateFormat},
		{metaRun, e.cfg.RunID},
		{metaEdge, e.cfg.ID},
		{metaComponents, componentsKey(e.cfg.Components)},
	} {
		got, err := s.str(f.key)
		if err != nil {
			return nil, err
		}
		if got != f.want {
			return nil, fmt.Errorf("meta %q is %q, this edge's is %q", f.key, got, f.want)
		}
	}
	r := &restored{params: map[string][]float32{}, opts: map[string]*optim.AdamW{}}
	rs, err := s.str(metaRound)
	if err != nil {
		return nil, err
	}
	if r.round, err = strconv.ParseUint(rs, 10, 64); err != nil {
		return nil, fmt.Errorf("meta %q is %q, want an unsigned integer", metaRound, rs)
	}
	l := e.l
	for _, p := range l.params {
		if len(p.p) == 0 {
			continue
		}
		if r.params[p.name], err = s.tensor(paramTensor(p.name), []int{len(p.p)}, false); err != nil {
			return nil, err
		}
		if p.optimize {
			if r.opts[p.name], err = s.opt(p.name, p.opt.Config(), len(p.p)); err != nil {
				return nil, err
			}
		}
	}
	if err := e.checkAligner(s, r); err != nil {
		return nil, err
	}
	if err := checkCursor(s, "private", e.priv, &r.priv); err != nil {
		return nil, err
	}
	if err := checkCursor(s, "public", e.pub, &r.pub); err != nil {
		return nil, err
	}
	for name := range s.tensors {
		return nil, fmt.Errorf("unexpected tensor %q", name)
	}
	for key := range s.meta {
		return nil, fmt.Errorf("unexpected meta %q", key)
	}
	return r, nil
}

// checkAligner rebuilds the SE-CCL aligner a state had (the same init as alignGrad's) with its saved
// projection and optimiser.
func (e *Edge) checkAligner(s *stateReader, r *restored) error {
	l := e.l
	if _, ok := s.meta[metaAlignDim]; !ok {
		return nil
	}
	if l.cfg.SECCLWeight == 0 {
		return fmt.Errorf("meta %q present, but this edge has SE-CCL off", metaAlignDim)
	}
	C := l.lm.Config().Channels
	dt, err := s.int(metaAlignDim, 1, math.MaxInt32)
	if err != nil {
		return err
	}
	var w []float32
	if dt != C {
		// Checked before NewAligner, so that a bogus width cannot make it allocate much.
		if w, err = s.tensor(tensorProjection, []int{dt, C}, false); err != nil {
			return err
		}
	}
	if r.al, err = NewAligner[float32](C, dt, l.m.Config().MaxBatch, l.cfg.SECCLTau, l.cfg.Seed+3); err != nil {
		return fmt.Errorf("SE-CCL aligner: %w", err)
	}
	if w == nil {
		return nil
	}
	copy(r.al.W, w)
	oc := optim.DefaultConfig() // as alignGrad builds it
	oc.LR, oc.WeightDecay = l.cfg.LR, l.cfg.WeightDecay
	r.alOpt, err = s.opt(alignOptName, oc, len(w))
	return err
}

// checkCursor reads cursor name into out: a permutation of the data set's indices, a position in it
// and the generator state of its shuffles.
func checkCursor(s *stateReader, name string, c *cursor, out *cursor) error {
	n := len(c.perm)
	if n > maxPermLen {
		return fmt.Errorf("cursor %s: %d examples, at most %d can be saved", name, n, maxPermLen)
	}
	pf, err := s.tensor(cursorPerm(name), []int{n}, false)
	if err != nil {
		return fmt.Errorf("cursor %s: %w (the data set has %d examples)", name, err, n)
	}
	perm, seen := make([]int, n), make([]bool, n)
	for i, v := range pf {
		k := int(v)
		if float32(k) != v || k < 0 || k >= n || seen[k] {
			return fmt.Errorf("tensor %q: value %d is %v, not a permutation of [0, %d)", cursorPerm(name), i, v, n)
		}
		perm[i], seen[k] = k, true
	}
	pos, err := s.int(cursorKey(name, "pos"), 0, n)
	if err != nil {
		return err
	}
	hx, err := s.str(cursorKey(name, "rng"))
	if err != nil {
		return err
	}
	raw, err := hex.DecodeString(hx)
	src := &rand.PCG{}
	if err == nil {
		err = src.UnmarshalBinary(raw)
	}
	if err != nil {
		return fmt.Errorf("meta %q: %w", cursorKey(name, "rng"), err)
	}
	*out = cursor{perm: perm, pos: pos, src: src, rng: rand.New(src)}
	return nil
}
