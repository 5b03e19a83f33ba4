package experiment

import (
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/mlecs/mlecs/training/payload"
)

// Summarize turns raw measurements into Results, after checking them (errors wrap ErrMeasurements
// and name the method, seed, round and field). The definitions:
//
//   - a metric is its final-round value: the metric measured after the last round of a run;
//   - edge_rougeLsum / edge_accuracy of one seed: the unweighted mean over the edges of that round;
//   - mean and std over seeds: std is the sample standard deviation (n-1), 0 for one seed;
//   - per_edge: each edge's final-round metrics averaged over the seeds it took part in (an edge is
//     its node name and modality set, so a plan that changes with the seed gives separate rows);
//   - bytes_{up,down}_per_edge_round: per seed the mean over all (round, edge) records, then the
//     mean over seeds, rounded to whole bytes (per part likewise);
//   - comm_ratio = (up + down) / (4 x edge_model_params), from the unrounded byte means;
//   - wall_seconds: mean over seeds of each run's wall time.
func Summarize(m Measurements) (Results, error) {
	runIndex, err := m.validate()
	if err != nil {
		return Results{}, err
	}
	r := Results{
		Format:  Format,
		Dataset: m.Dataset,
		Preset:  m.Preset,
		Rounds:  m.Rounds,
		Seeds:   slices.Clone(m.Seeds),
		Methods: make(map[string]MethodResults, len(m.Methods)),
	}
	if len(m.Settings) > 0 {
		r.Settings = maps.Clone(m.Settings)
	}
	for mi := range m.Methods {
		mr := &m.Methods[mi]
		runs := make([]*Run, len(m.Seeds))
		for pos, ri := range runIndex[mi] {
			runs[pos] = &mr.Runs[ri]
		}
		r.Methods[mr.Method] = summarizeMethod(mr.EdgeModelParams, runs, m.Rounds)
	}
	return r, nil
}

// seedSummary is one run reduced to the numbers the results need.
type seedSummary struct {
	rouge, acc, f1   float64 // final round, mean over edges
	hasF1            bool
	anchor           *Eval   // final round
	up, down         float64 // mean bytes per (round, edge)
	upParts, dnParts partsF
	wall             float64
	curveRouge       []float64 // per round, mean over edges
	curveAcc         []float64
	curveAnchor      []float64
	curveUp, curveDn []float64
	curveWall        []float64
	finalEdges       []EdgeRound
}

// partsF accumulates payload part sizes as float64 means.
type partsF [6]float64

func (p *partsF) add(s payload.Sizes) {
	p[0] += float64(s.Header)
	p[1] += float64(s.LoRA)
	p[2] += float64(s.Fused)
	p[3] += float64(s.Predictions)
	p[4] += float64(s.Metrics)
	p[5] += float64(s.Knowledge)
}

func (p *partsF) scale(k float64) {
	for i := range p {
		p[i] *= k
	}
}

func (p partsF) sizes() *payload.Sizes {
	return &payload.Sizes{
		Header: roundBytes(p[0]), LoRA: roundBytes(p[1]), Fused: roundBytes(p[2]),
		Predictions: roundBytes(p[3]), Metrics: roundBytes(p[4]), Knowledge: roundBytes(p[5]),
	}
}

func roundBytes(v float64) int64 { return int64(math.Round(v)) }

func summarizeSeed(run *Run) seedSummary {
	s := seedSummary{hasF1: true}
	records := 0
	for _, rd := range run.Rounds {
		var rouge, acc, up, dn float64
		for _, e := range rd.Edges {
			rouge += e.Eval.RougeLsum
			acc += e.Eval.Accuracy
			up += float64(e.Up.Total())
			dn += float64(e.Down.Total())
			s.upParts.add(e.Up)
			s.dnParts.add(e.Down)
		}
		n := float64(len(rd.Edges))
		records += len(rd.Edges)
		s.up += up
		s.down += dn
		s.curveRouge = append(s.curveRouge, rouge/n)
		s.curveAcc = append(s.curveAcc, acc/n)
		s.curveUp = append(s.curveUp, up/n)
		s.curveDn = append(s.curveDn, dn/n)
		s.curveWall = append(s.curveWall, rd.WallSeconds)
		if rd.Anchor != nil {
			s.curveAnchor = append(s.curveAnchor, rd.Anchor.RougeLsum)
		}
		s.wall += rd.WallSeconds
	}
	k := 1 / float64(records)
	s.up *= k
	s.down *= k
	s.upParts.scale(k)
	s.dnParts.scale(k)
	if run.WallSeconds > 0 {
		s.wall = run.WallSeconds
	}
	final := run.Rounds[len(run.Rounds)-1]
	s.finalEdges = final.Edges
	s.anchor = final.Anchor
	s.rouge, s.acc = s.curveRouge[len(s.curveRouge)-1], s.curveAcc[len(s.curveAcc)-1]
	for _, e := range final.Edges {
		if e.Eval.MacroF1 == nil {
			s.hasF1 = false
			break
		}
		s.f1 += *e.Eval.MacroF1
	}
	s.f1 /= float64(len(final.Edges))
	return s
}

func summarizeMethod(params int64, runs []*Run, rounds int) MethodResults {
	seeds := make([]seedSummary, len(runs))
	for i, run := range runs {
		seeds[i] = summarizeSeed(run)
	}
	pick := func(f func(*seedSummary) float64) Stat {
		vals := make([]float64, len(seeds))
		for i := range seeds {
			vals[i] = f(&seeds[i])
		}
		mean, std := meanStd(vals)
		return Stat{Mean: mean, Std: std, PerSeed: vals}
	}
	res := MethodResults{
		EdgeRougeLsum:   pick(func(s *seedSummary) float64 { return s.rouge }),
		EdgeAccuracy:    pick(func(s *seedSummary) float64 { return s.acc }),
		EdgeModelParams: params,
		PerEdge:         perEdge(seeds),
	}
	if seeds[0].anchor != nil { // validated: all seeds or none
		st := pick(func(s *seedSummary) float64 { return s.anchor.RougeLsum })
		res.AnchorRougeLsum = &st
		acc := pick(func(s *seedSummary) float64 { return s.anchor.Accuracy })
		res.AnchorAccuracy = &acc
	}
	if !slices.ContainsFunc(seeds, func(s seedSummary) bool { return !s.hasF1 }) {
		st := pick(func(s *seedSummary) float64 { return s.f1 })
		res.EdgeMacroF1 = &st
	}
	up := pick(func(s *seedSummary) float64 { return s.up }).Mean
	down := pick(func(s *seedSummary) float64 { return s.down }).Mean
	res.BytesUpPerEdgeRound, res.BytesDownPerEdgeRound = roundBytes(up), roundBytes(down)
	res.CommRatio = (up + down) / (4 * float64(params))
	res.WallSeconds = pick(func(s *seedSummary) float64 { return s.wall }).Mean
	var upParts, dnParts partsF
	for i := range seeds {
		for p := range upParts {
			upParts[p] += seeds[i].upParts[p]
			dnParts[p] += seeds[i].dnParts[p]
		}
	}
	upParts.scale(1 / float64(len(seeds)))
	dnParts.scale(1 / float64(len(seeds)))
	res.BytesUpParts, res.BytesDownParts = upParts.sizes(), dnParts.sizes()
	res.Curves = curves(seeds, rounds)
	return res
}

func curves(seeds []seedSummary, rounds int) *Curves {
	c := &Curves{Rounds: make([]int, rounds)}
	for i := range c.Rounds {
		c.Rounds[i] = i + 1
	}
	series := func(f func(*seedSummary) []float64) Curve {
		cv := Curve{Mean: make([]float64, rounds), Std: make([]float64, rounds)}
		vals := make([]float64, len(seeds))
		for i := range rounds {
			for s := range seeds {
				vals[s] = f(&seeds[s])[i]
			}
			cv.Mean[i], cv.Std[i] = meanStd(vals)
		}
		return cv
	}
	c.EdgeRougeLsum = series(func(s *seedSummary) []float64 { return s.curveRouge })
	c.EdgeAccuracy = series(func(s *seedSummary) []float64 { return s.curveAcc })
	c.BytesUp = series(func(s *seedSummary) []float64 { return s.curveUp })
	c.BytesDown = series(func(s *seedSummary) []float64 { return s.curveDn })
	c.WallSeconds = series(func(s *seedSummary) []float64 { return s.curveWall })
	if seeds[0].anchor != nil {
		a := series(func(s *seedSummary) []float64 { return s.curveAnchor })
		c.AnchorRougeLsum = &a
	}
	return c
}

// perEdge averages each edge's final-round metrics over the seeds, in order of first appearance.
func perEdge(seeds []seedSummary) []EdgeResult {
	type acc struct {
		res    EdgeResult
		f1     float64
		allF1  bool
		nSeeds int
	}
	byKey := map[string]*acc{}
	var order []string
	for _, s := range seeds {
		for _, e := range s.finalEdges {
			mods := slices.Clone(e.Modalities)
			slices.Sort(mods)
			key := e.Node + "\x00" + strings.Join(mods, "\x00")
			a, ok := byKey[key]
			if !ok {
				a = &acc{res: EdgeResult{Node: e.Node, Modalities: slices.Clone(e.Modalities)}, allF1: true}
				byKey[key] = a
				order = append(order, key)
			}
			a.nSeeds++
			a.res.RougeLsum += e.Eval.RougeLsum
			a.res.Accuracy += e.Eval.Accuracy
			if e.Eval.MacroF1 != nil {
				a.f1 += *e.Eval.MacroF1
			} else {
				a.allF1 = false
			}
		}
	}
	out := make([]EdgeResult, 0, len(order))
	for _, key := range order {
		a := byKey[key]
		n := float64(a.nSeeds)
		a.res.RougeLsum /= n
		a.res.Accuracy /= n
		a.res.Seeds = a.nSeeds
		if a.allF1 {
			f1 := a.f1 / n
			a.res.MacroF1 = &f1
		}
		out = append(out, a.res)
	}
	return out
}

// meanStd returns the mean and the sample standard deviation (n-1; 0 when n < 2).
func meanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1))
}
