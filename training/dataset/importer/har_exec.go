package importer

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mlecs/mlecs/training/dataset"
)

// HAR activity classes (upstream label values).
const (
	harSeated      = "SEATED"
	harStandingUp  = "STANDING_UP"
	harWalking     = "WALKING"
	harTurning     = "TURNING"
	harSittingDown = "SITTING_DOWN"
)

// harWords is the target text of a class; TURNING gets its direction added.
func harWords(class string) (string, bool) {
	switch class {
	case harSeated:
		return "seated", true
	case harStandingUp:
		return "standing up", true
	case harWalking:
		return "walking", true
	case harTurning:
		return "turning", true
	case harSittingDown:
		return "sitting down", true
	}
	return "", false
}

// turnInfo is the direction ("left"/"right") of an execution's two turns.
type turnInfo [2]string

// readExecutionsInfo reads execution_id,orientation,first_turn,second_turn.
func readExecutionsInfo(path string) (map[string]turnInfo, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	r := csv.NewReader(bytes.NewReader(raw))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSource, path, err)
	}
	col, err := columnIndex(header, path, "execution_id", "first_turn", "second_turn")
	if err != nil {
		return nil, err
	}
	out := map[string]turnInfo{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrSource, path, err)
		}
		var ti turnInfo
		for i, c := range []int{col["first_turn"], col["second_turn"]} {
			switch rec[c] {
			case "l":
				ti[i] = "left"
			case "r":
				ti[i] = "right"
			default:
				line, _ := r.FieldPos(c)
				return nil, fmt.Errorf("%w: %s line %d: turn %q (want l or r)", ErrSource, path, line, rec[c])
			}
		}
		out[rec[col["execution_id"]]] = ti
	}
	return out, nil
}

// columnIndex maps the wanted column names to their positions in header.
func columnIndex(header []string, path string, want ...string) (map[string]int, error) {
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	for _, w := range want {
		if _, ok := idx[w]; !ok {
			return nil, fmt.Errorf("%w: %s: no %q column in header %v", ErrSource, path, w, header)
		}
	}
	return idx, nil
}

// stream is one device's recording, sorted by time with unique timestamps.
type stream struct {
	t     []int64      // ms
	v     [][6]float64 // channels of harHeader
	label []string
}

// readStream parses a raw HAR CSV (6 channels, timestamp, label) by hand:
// 1.2M rows over the whole dataset make encoding/csv's generality costly.
func readStream(path string) (stream, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return stream{}, fmt.Errorf("%w: %v", ErrSource, err)
	}
	lines := bytes.Split(bytes.TrimRight(raw, "\r\n"), []byte("\n"))
	header := strings.Split(strings.TrimSpace(string(lines[0])), ",")
	names := append(strings.Split(harHeader, ","), "timestamp", "label")
	col, err := columnIndex(header, path, names...)
	if err != nil {
		return stream{}, err
	}
	var s stream
	fields := make([][]byte, 0, len(header))
	for i, line := range lines[1:] {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		fields = fields[:0]
		for f := range bytes.SplitSeq(line, []byte(",")) {
			fields = append(fields, f)
		}
		if len(fields) != len(header) {
			return stream{}, fmt.Errorf("%w: %s line %d: %d fields, header has %d", ErrSource, path, i+2, len(fields), len(header))
		}
		var v [6]float64
		for c := range 6 {
			x, err := strconv.ParseFloat(string(fields[col[names[c]]]), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return stream{}, fmt.Errorf("%w: %s line %d: %s = %q is not a finite number", ErrSource, path, i+2, names[c], fields[col[names[c]]])
			}
			v[c] = x
		}
		ts, err := strconv.ParseInt(string(fields[col["timestamp"]]), 10, 64)
		if err != nil {
			return stream{}, fmt.Errorf("%w: %s line %d: timestamp %q", ErrSource, path, i+2, fields[col["timestamp"]])
		}
		lab := string(fields[col["label"]])
		if _, ok := harWords(lab); !ok {
			return stream{}, fmt.Errorf("%w: %s line %d: unknown activity %q", ErrSource, path, i+2, lab)
		}
		s.t = append(s.t, ts)
		s.v = append(s.v, v)
		s.label = append(s.label, lab)
	}
	if len(s.t) < 2 {
		return stream{}, fmt.Errorf("%w: %s: fewer than 2 samples", ErrSource, path)
	}
	return s.normalise(), nil
}

// normalise sorts by time (stable: the files are already in order) and
// averages samples that share a timestamp, so interpolation sees a strictly
// increasing clock.
func (s stream) normalise() stream {
	if !slices.IsSorted(s.t) {
		idx := make([]int, len(s.t))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(s.t[a], s.t[b]) })
		var o stream
		for _, i := range idx {
			o.t, o.v, o.label = append(o.t, s.t[i]), append(o.v, s.v[i]), append(o.label, s.label[i])
		}
		s = o
	}
	var o stream
	for i := 0; i < len(s.t); {
		j := i + 1
		for j < len(s.t) && s.t[j] == s.t[i] {
			j++
		}
		var v [6]float64
		for k := i; k < j; k++ {
			for c := range v {
				v[c] += s.v[k][c]
			}
		}
		for c := range v {
			v[c] /= float64(j - i)
		}
		o.t, o.v, o.label = append(o.t, s.t[i]), append(o.v, v), append(o.label, s.label[i])
		i = j
	}
	return o
}

// at interpolates the stream linearly at time t (ms), which must lie in
// [s.t[0], s.t[last]]; hint is the index search starts from (times are
// visited in increasing order) and the updated hint is returned.
func (s stream) at(t float64, hint int) ([6]float64, int) {
	for hint+1 < len(s.t)-1 && float64(s.t[hint+1]) <= t {
		hint++
	}
	a, b := float64(s.t[hint]), float64(s.t[hint+1])
	f := math.Max(0, math.Min(1, (t-a)/(b-a)))
	var v [6]float64
	for c := range v {
		v[c] = s.v[hint][c] + f*(s.v[hint+1][c]-s.v[hint][c])
	}
	return v, hint
}

// nearestLabel returns the label of the sample nearest to t, with hint as in at.
func (s stream) nearestLabel(t float64, hint int) (string, int, int) {
	for hint+1 < len(s.t) && float64(s.t[hint+1]) <= t {
		hint++
	}
	i := hint
	if i+1 < len(s.t) && float64(s.t[i+1])-t < t-float64(s.t[i]) {
		i++
	}
	return s.label[i], i, hint
}

// turnNumbers gives each sample of s the 1-based index of the TURNING run it
// belongs to (0 outside turns).
func (s stream) turnNumbers() []int {
	out := make([]int, len(s.label))
	run := 0
	for i, l := range s.label {
		if l == harTurning {
			if i == 0 || s.label[i-1] != harTurning {
				run++
			}
			out[i] = run
		}
	}
	return out
}

// importExecution aligns, resamples and windows one execution, writes the
// window CSVs under dir and returns their samples in time order.
func importExecution(e execution, turns map[string]turnInfo, cfg harConfig, dir string) ([]dataset.Sample, error) {
	phone, err := readStream(e.phone)
	if err != nil {
		return nil, err
	}
	watch, err := readStream(e.watch)
	if err != nil {
		return nil, err
	}
	start := float64(max(phone.t[0], watch.t[0]))
	end := float64(min(phone.t[len(phone.t)-1], watch.t[len(watch.t)-1]))
	step := 1000 / float64(cfg.rate)
	n := 0
	if end > start {
		n = int(math.Floor((end-start)/step)) + 1
	}
	if n < cfg.window {
		return nil, nil
	}
	// Resample both devices and the phone's labels onto the common grid.
	pv, wv := make([][6]float64, n), make([][6]float64, n)
	labels, turnIdx := make([]string, n), make([]int, n)
	runs := phone.turnNumbers()
	var hp, hw, hl int
	for k := range n {
		t := start + float64(k)*step
		pv[k], hp = phone.at(t, hp)
		wv[k], hw = watch.at(t, hw)
		var i int
		labels[k], i, hl = phone.nearestLabel(t, hl)
		turnIdx[k] = runs[i]
	}
	ti, haveTurns := turns[e.id]
	var out []dataset.Sample
	for w, from := 0, 0; from+cfg.window <= n; w, from = w+1, from+cfg.hop {
		class, turn := majority(labels[from:from+cfg.window], turnIdx[from:from+cfg.window])
		target, _ := harWords(class)
		if class == harTurning && haveTurns && turn >= 1 && turn <= 2 {
			target += " " + ti[turn-1]
		}
		id := fmt.Sprintf("%s_w%02d", e.id, w)
		paths := map[string]string{}
		for name, rows := range map[string][][6]float64{HARPhone: pv[from : from+cfg.window], HARWatch: wv[from : from+cfg.window]} {
			rel := name + "/" + e.subject + "/" + id + ".csv"
			if err := writeRowsCSV(filepath.Join(dir, filepath.FromSlash(rel)), rows); err != nil {
				return nil, err
			}
			paths[name] = rel
		}
		split := dataset.SplitTrain
		if slices.Contains(cfg.testSubjects, e.subject) {
			split = dataset.SplitTest
		}
		out = append(out, dataset.Sample{ID: id, Split: split, Group: e.subject, Targets: []string{target}, Label: class,
			Inputs: map[string]dataset.Input{HARPhone: {Path: paths[HARPhone]}, HARWatch: {Path: paths[HARWatch]}}})
	}
	return out, nil
}

// majority returns the most frequent label of a window (ties: the one seen
// first) and, for TURNING, the most frequent turn number among its steps.
func majority(labels []string, turns []int) (string, int) {
	best := firstMostFrequent(labels)
	if best != harTurning {
		return best, 0
	}
	var turnOf []int
	for i, l := range labels {
		if l == harTurning {
			turnOf = append(turnOf, turns[i])
		}
	}
	return best, firstMostFrequent(turnOf)
}

// firstMostFrequent returns the most frequent element, ties broken by first
// appearance, so windows are labelled independently of map order.
func firstMostFrequent[T comparable](xs []T) T {
	counts := map[T]int{}
	top := 0
	for _, x := range xs {
		counts[x]++
		top = max(top, counts[x])
	}
	for _, x := range xs {
		if counts[x] == top {
			return x
		}
	}
	var zero T
	return zero
}

// writeRowsCSV writes rows under the six-channel header with 6 significant
// digits (the sensors deliver float32).
func writeRowsCSV(path string, rows [][6]float64) error {
	buf := make([]byte, 0, 64+len(rows)*6*12)
	buf = append(buf, harHeader...)
	buf = append(buf, '\n')
	for _, r := range rows {
		for c, v := range r {
			if c > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendFloat(buf, v, 'g', 6, 64)
		}
		buf = append(buf, '\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("import har: %w", err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Errorf("import har: %w", err)
	}
	return nil
}
