package experiment

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mlecs/mlecs/training/payload"
)

// WriteReport renders the report of r into dir/report.md atomically; plots are the plot file names
// (relative to dir) to link, as returned by WritePlots.
func WriteReport(dir string, r Results, plots []string) error {
	var buf bytes.Buffer
	if err := RenderReport(&buf, r, plots); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, ReportFile), buf.Bytes())
}

// RenderReport writes the markdown report of r to w: run settings, a table of methods x metrics with
// the best edge ROUGE-Lsum in bold, the gain of mlecs over the best baseline, per-edge tables, the
// bytes per payload part, and links to plots.
func RenderReport(w io.Writer, r Results, plots []string) error {
	if err := r.Validate(); err != nil {
		return err
	}
	var b strings.Builder
	names := r.MethodNames()
	fmt.Fprintf(&b, "# Experiment report: %s, preset %s\n\n", r.Dataset, r.Preset)
	reportSettings(&b, r)
	reportMain(&b, r, names)
	reportGain(&b, r)
	reportPerEdge(&b, r, names)
	reportParts(&b, r, names)
	reportPlots(&b, plots)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("experiment: write report: %w", err)
	}
	return nil
}

func reportSettings(b *strings.Builder, r Results) {
	seeds := make([]string, len(r.Seeds))
	for i, s := range r.Seeds {
		seeds[i] = strconv.FormatUint(s, 10)
	}
	b.WriteString("## Settings\n\n| setting | value |\n|---|---|\n")
	rows := [][2]string{
		{"dataset", r.Dataset}, {"preset", r.Preset}, {"rounds", strconv.Itoa(r.Rounds)},
		{"seeds", strings.Join(seeds, ", ")},
	}
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rows = append(rows, [2]string{k, r.Settings[k]})
	}
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", mdCell(row[0]), mdCell(row[1]))
	}
	b.WriteString("\n")
}

func reportMain(b *strings.Builder, r Results, names []string) {
	seeds := fmt.Sprintf("%d seeds", len(r.Seeds))
	if len(r.Seeds) == 1 {
		seeds = "1 seed (std 0)"
	}
	fmt.Fprintf(b, "## Results\n\nFinal-round values (measured after round %d), mean ± sample std over %s. "+
		"Edge metrics are the unweighted mean over edges; bytes are per edge per round, averaged over rounds "+
		"and edges; comm_ratio = (up + down) / (4 × edge model parameters). The `local` row's anchor is the "+
		"anchor trained alone on D'.\n\n", r.Rounds, seeds)
	best := math.Inf(-1)
	for _, n := range names {
		best = math.Max(best, r.Methods[n].EdgeRougeLsum.Mean)
	}
	b.WriteString("| method | edge ROUGE-Lsum | anchor ROUGE-Lsum | edge accuracy | bytes up / edge / round | bytes down / edge / round | comm_ratio | edge params | wall s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range names {
		m := r.Methods[n]
		rouge := fmtStat(m.EdgeRougeLsum)
		if m.EdgeRougeLsum.Mean == best {
			rouge = "**" + rouge + "**"
		}
		anchor := "—"
		if m.AnchorRougeLsum != nil {
			anchor = fmtStat(*m.AnchorRougeLsum)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n", n, rouge, anchor, fmtStat(m.EdgeAccuracy),
			fmtBytesSI(float64(m.BytesUpPerEdgeRound)), fmtBytesSI(float64(m.BytesDownPerEdgeRound)),
			fmtPercent(m.CommRatio), fmtCount(m.EdgeModelParams), m.WallSeconds)
	}
	b.WriteString("\n")
}

func reportGain(b *strings.Builder, r Results) {
	b.WriteString("## Gain of ML-ECS\n\n")
	g, err := r.Gain()
	if err != nil {
		fmt.Fprintf(b, "Not computed: %s.\n\n", strings.TrimPrefix(err.Error(), ErrNoGain.Error()+": "))
		return
	}
	fmt.Fprintf(b, "Edge ROUGE-Lsum of `mlecs` %.4f vs the best baseline `%s` %.4f "+
		"(baselines exclude `centralized` and the `mlecs-*` ablations): %s absolute",
		g.MLECS, g.Baseline, g.Best, signed(g.Absolute, 4))
	if g.HasRelative {
		fmt.Fprintf(b, ", %s %% relative", signed(100*g.Relative, 2))
	} else {
		b.WriteString(" (relative gain undefined: the baseline scores 0)")
	}
	b.WriteString(".\n\n")
	m, alone := r.Methods[methodMLECS], r.Methods["local"]
	if m.AnchorRougeLsum != nil && alone.AnchorRougeLsum != nil {
		fmt.Fprintf(b, "Anchor ROUGE-Lsum of `mlecs` %s vs the anchor trained alone on D' (the `local` run's anchor) %s: %s absolute.\n\n",
			fmtStat(*m.AnchorRougeLsum), fmtStat(*alone.AnchorRougeLsum), signed(m.AnchorRougeLsum.Mean-alone.AnchorRougeLsum.Mean, 4))
	}
}

func reportPerEdge(b *strings.Builder, r Results, names []string) {
	type row struct {
		node, mods string
	}
	var rows []row
	cells := map[row]map[string]EdgeResult{}
	for _, n := range names {
		for _, e := range r.Methods[n].PerEdge {
			k := row{e.Node, strings.Join(e.Modalities, ", ")}
			if cells[k] == nil {
				cells[k] = map[string]EdgeResult{}
				rows = append(rows, k)
			}
			cells[k][n] = e
		}
	}
	b.WriteString("## Per edge\n\nFinal-round metrics of each edge, averaged over seeds.\n\n")
	for _, metric := range []string{"ROUGE-Lsum", "accuracy"} {
		fmt.Fprintf(b, "%s:\n\n| node | modalities | %s |\n|---|---|%s\n", metric, strings.Join(names, " | "),
			strings.Repeat("---|", len(names)))
		for _, k := range rows {
			fmt.Fprintf(b, "| %s | %s |", mdCell(k.node), mdCell(k.mods))
			for _, n := range names {
				e, ok := cells[k][n]
				switch {
				case !ok:
					b.WriteString(" — |")
				case metric == "accuracy":
					fmt.Fprintf(b, " %.4f |", e.Accuracy)
				default:
					fmt.Fprintf(b, " %.4f |", e.RougeLsum)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
}

func reportParts(b *strings.Builder, r Results, names []string) {
	b.WriteString("## Bytes per payload part\n\nBytes per edge per round, averaged over rounds, edges and seeds.\n\n")
	b.WriteString("| method | direction | header | lora | fused | predictions | metrics | knowledge | total |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	wrote := false
	for _, n := range names {
		m := r.Methods[n]
		for _, d := range []struct {
			dir string
			s   *payload.Sizes
		}{{"up", m.BytesUpParts}, {"down", m.BytesDownParts}} {
			if d.s == nil {
				continue
			}
			wrote = true
			s := d.s
			fmt.Fprintf(b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d |\n", n, d.dir,
				s.Header, s.LoRA, s.Fused, s.Predictions, s.Metrics, s.Knowledge, s.Total())
		}
	}
	if !wrote {
		b.WriteString("| — | — | — | — | — | — | — | — | — |\n")
	}
	b.WriteString("\n")
}

func reportPlots(b *strings.Builder, plots []string) {
	if len(plots) == 0 {
		return
	}
	b.WriteString("## Plots\n\n")
	titles := map[string]string{
		PlotRouge:       "Edge ROUGE-Lsum per round",
		PlotAnchorRouge: "Anchor ROUGE-Lsum per round",
		PlotBytes:       "Bytes per edge per round",
	}
	for _, p := range plots {
		t, ok := titles[filepath.Base(p)]
		if !ok {
			t = filepath.Base(p)
		}
		fmt.Fprintf(b, "- [%s](%s)\n\n  ![%s](%s)\n\n", t, p, t, p)
	}
}

func fmtStat(s Stat) string { return fmt.Sprintf("%.4f ± %.4f", s.Mean, s.Std) }

func signed(v float64, prec int) string {
	if v >= 0 {
		return "+" + strconv.FormatFloat(v, 'f', prec, 64)
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// fmtPercent prints a ratio as a percentage with about three significant digits.
func fmtPercent(ratio float64) string {
	pct := 100 * ratio
	if pct == 0 {
		return "0 %"
	}
	digits := 2
	if pct < 1 {
		digits = min(8, 2-int(math.Floor(math.Log10(pct))))
	}
	return strconv.FormatFloat(pct, 'f', digits, 64) + " %"
}

// fmtCount prints a count with thousands separators.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// mdCell escapes what would break a markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
