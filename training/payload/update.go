package payload

import (
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"
)

// Prediction is what an edge's SLM generates for one public sample: token ids (Tokens non-nil) or text
// (Tokens nil).
type Prediction struct {
	ID     string
	Tokens []int32
	Text   string
}

// prediction kinds on the wire
const (
	predTokens = 1
	predText   = 2
)

// Update is what an edge sends to the anchor after local training in one round.
type Update struct {
	RunID       string
	Round       uint64
	Edge        string   // edge (node) id
	Samples     int64    // private training samples used this round (the aggregation weight's basis)
	Modalities  []string // modalities the edge holds
	LoRA        []Tensor // shared-LoRA delta
	Fused       Reps     // fused representations of the edge's public share D'_j
	Predictions []Prediction
	Metrics     map[string]float64 // local metrics (loss, rougeLsum, ...); finite values only
	Knowledge   Knowledge          // the SLM's top-K distributions on D'_j (FedMKT)
}

// Validate reports the first field that cannot be encoded with codec c.
func (u *Update) Validate(c Codec) error {
	if !c.valid() {
		return fmt.Errorf("%w: %v", ErrCodec, c)
	}
	if err := validateID(u.RunID, false, "update run id"); err != nil {
		return err
	}
	if err := validateID(u.Edge, false, "update edge id"); err != nil {
		return err
	}
	if u.Samples < 0 || u.Samples > MaxSamples {
		return fmt.Errorf("%w: update sample count %d not in [0, %d]", ErrInvalid, u.Samples, int64(MaxSamples))
	}
	if len(u.Modalities) > MaxModalities {
		return fmt.Errorf("%w: update: %d modalities exceed %d", ErrInvalid, len(u.Modalities), MaxModalities)
	}
	if err := validateIDs(u.Modalities, "update modality"); err != nil {
		return err
	}
	if err := validateTensors(u.LoRA, c, "update lora"); err != nil {
		return err
	}
	if err := u.Fused.validate(c, "update fused"); err != nil {
		return err
	}
	if len(u.Predictions) > MaxPredictions {
		return fmt.Errorf("%w: update: %d predictions exceed %d", ErrInvalid, len(u.Predictions), MaxPredictions)
	}
	ids := make([]string, len(u.Predictions))
	for i, p := range u.Predictions {
		ids[i] = p.ID
		switch {
		case p.Tokens != nil && p.Text != "":
			return fmt.Errorf("%w: prediction %q has both tokens and text", ErrInvalid, p.ID)
		case len(p.Tokens) > MaxPredTokens:
			return fmt.Errorf("%w: prediction %q: %d tokens exceed %d", ErrInvalid, p.ID, len(p.Tokens), MaxPredTokens)
		case len(p.Text) > MaxPredText || !utf8.ValidString(p.Text):
			return fmt.Errorf("%w: prediction %q: text longer than %d bytes or not UTF-8", ErrInvalid, p.ID, MaxPredText)
		}
		for _, t := range p.Tokens {
			if t < 0 {
				return fmt.Errorf("%w: prediction %q: negative token id %d", ErrInvalid, p.ID, t)
			}
		}
	}
	if err := validateIDs(ids, "prediction id"); err != nil {
		return err
	}
	if err := u.Knowledge.validate(c, "update knowledge"); err != nil {
		return err
	}
	if len(u.Metrics) > MaxMetrics {
		return fmt.Errorf("%w: update: %d metrics exceed %d", ErrInvalid, len(u.Metrics), MaxMetrics)
	}
	for k, v := range u.Metrics {
		if err := validateID(k, false, "metric name"); err != nil {
			return err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: metric %q is %v", ErrNonFinite, k, v)
		}
	}
	return nil
}

// Encode validates u and writes it to w with every tensor (LoRA, fused representations and knowledge
// probabilities) in codec c.
// It returns the bytes written per part.
func (u *Update) Encode(w io.Writer, c Codec) (Sizes, error) {
	if err := u.Validate(c); err != nil {
		return Sizes{}, err
	}
	e := newWriter(w)
	var s Sizes
	e.raw(magicUpdate[:])
	e.u8(Version)
	e.str8(u.RunID)
	e.u64(u.Round)
	e.str8(u.Edge)
	e.u64(uint64(u.Samples))
	e.u8(uint8(len(u.Modalities)))
	for _, m := range u.Modalities {
		e.str8(m)
	}
	s.Header = e.n
	writeTensors(e, u.LoRA, c)
	s.LoRA = e.n - s.Header
	writeReps(e, u.Fused, c)
	s.Fused = e.n - s.Header - s.LoRA
	writePredictions(e, u.Predictions)
	s.Predictions = e.n - s.Header - s.LoRA - s.Fused
	writeMetrics(e, u.Metrics)
	s.Metrics = e.n - s.Header - s.LoRA - s.Fused - s.Predictions
	writeKnowledge(e, u.Knowledge, c)
	s.Knowledge = e.n - s.Header - s.LoRA - s.Fused - s.Predictions - s.Metrics
	e.flush()
	if e.err != nil {
		return Sizes{}, e.err
	}
	return s, nil
}

// DecodeUpdate reads at most maxBytes from r and parses them as an Update.
func DecodeUpdate(r io.Reader, maxBytes int64) (*Update, Sizes, error) {
	b, err := readLimited(r, maxBytes)
	if err != nil {
		return nil, Sizes{}, fmt.Errorf("update: %w", err)
	}
	return ParseUpdate(b)
}

// ParseUpdate parses one whole encoded Update (no trailing bytes).
func ParseUpdate(b []byte) (*Update, Sizes, error) {
	d := &reader{b: b}
	var s Sizes
	readHeader(d, magicUpdate, "update")
	u := &Update{}
	u.RunID = d.str8(false, "update run id")
	u.Round = d.u64("update round")
	u.Edge = d.str8(false, "update edge id")
	samples := d.u64("update sample count")
	if d.err == nil && samples > MaxSamples {
		d.fail("update sample count %d exceeds %d", samples, uint64(MaxSamples))
	}
	u.Samples = int64(samples)
	nm := int(d.u8("update modality count"))
	if d.err == nil && nm > MaxModalities {
		d.fail("update: %d modalities exceed %d", nm, MaxModalities)
	}
	if d.err == nil && nm > 0 {
		u.Modalities = make([]string, nm)
		for i := range u.Modalities {
			u.Modalities[i] = d.str8(false, fmt.Sprintf("update modality %d", i))
			if d.err == nil && slices.Contains(u.Modalities[:i], u.Modalities[i]) {
				d.fail("update: modality %q appears twice", u.Modalities[i])
			}
		}
	}
	s.Header = int64(d.off)
	u.LoRA = readTensors(d, "update lora")
	s.LoRA = int64(d.off) - s.Header
	u.Fused = readReps(d, "update fused")
	s.Fused = int64(d.off) - s.Header - s.LoRA
	u.Predictions = readPredictions(d)
	s.Predictions = int64(d.off) - s.Header - s.LoRA - s.Fused
	u.Metrics = readMetrics(d)
	s.Metrics = int64(d.off) - s.Header - s.LoRA - s.Fused - s.Predictions
	u.Knowledge = readKnowledge(d, "update knowledge")
	s.Knowledge = int64(d.off) - s.Header - s.LoRA - s.Fused - s.Predictions - s.Metrics
	if err := d.finish("update"); err != nil {
		return nil, Sizes{}, err
	}
	return u, s, nil
}

func writePredictions(e *writer, ps []Prediction) {
	e.u32(uint32(len(ps)))
	for _, p := range ps {
		e.str8(p.ID)
		if p.Tokens == nil {
			e.u8(predText)
			e.u32(uint32(len(p.Text)))
			e.raw([]byte(p.Text))
			continue
		}
		e.u8(predTokens)
		e.u32(uint32(len(p.Tokens)))
		for _, t := range p.Tokens {
			e.uvarint(uint64(t))
		}
	}
}

func readPredictions(d *reader) []Prediction {
	n := int(d.u32("prediction count"))
	if d.err == nil && (n > MaxPredictions || 6*n > d.rest()) { // id (>=2) + kind + count (4)
		d.fail("prediction count %d exceeds %d or the %d bytes left", n, MaxPredictions, d.rest())
	}
	if d.err != nil || n == 0 {
		return nil
	}
	ps := make([]Prediction, n)
	seen := make(map[string]struct{}, n)
	for i := range ps {
		p := &ps[i]
		p.ID = d.str8(false, fmt.Sprintf("prediction %d id", i))
		if d.err != nil {
			return nil
		}
		if _, dup := seen[p.ID]; dup {
			d.fail("prediction id %q appears twice", p.ID)
			return nil
		}
		seen[p.ID] = struct{}{}
		kind := d.u8(fmt.Sprintf("prediction %q kind", p.ID))
		k := int(d.u32(fmt.Sprintf("prediction %q length", p.ID)))
		if d.err != nil {
			return nil
		}
		switch kind {
		case predText:
			p.Text = d.str(k, MaxPredText, true, fmt.Sprintf("prediction %q text", p.ID))
		case predTokens:
			if k > MaxPredTokens || k > d.rest() { // each token takes at least one byte
				d.fail("prediction %q: %d tokens exceed %d or the %d bytes left", p.ID, k, MaxPredTokens, d.rest())
				return nil
			}
			p.Tokens = make([]int32, k)
			for j := range p.Tokens {
				v := d.uvarint(fmt.Sprintf("prediction %q token %d", p.ID, j))
				if d.err == nil && v > MaxToken {
					d.fail("prediction %q token %d: id %d exceeds %d", p.ID, j, v, MaxToken)
				}
				p.Tokens[j] = int32(v)
			}
		default:
			d.fail("prediction %q: kind %d (want %d tokens or %d text)", p.ID, kind, predTokens, predText)
		}
		if d.err != nil {
			return nil
		}
	}
	return ps
}

func writeMetrics(e *writer, m map[string]float64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic bytes for a content hash
	e.u16(uint16(len(keys)))
	for _, k := range keys {
		e.str8(k)
		e.f64(m[k])
	}
}

func readMetrics(d *reader) map[string]float64 {
	n := int(d.u16("metric count"))
	if d.err == nil && n > MaxMetrics {
		d.fail("metric count %d exceeds %d", n, MaxMetrics)
	}
	if d.err != nil || n == 0 {
		return nil
	}
	m := make(map[string]float64, n)
	for i := range n {
		k := d.str8(false, fmt.Sprintf("metric %d name", i))
		v := math.Float64frombits(d.u64(fmt.Sprintf("metric %q value", k)))
		if d.err != nil {
			return nil
		}
		if _, dup := m[k]; dup {
			d.fail("metric %q appears twice", k)
			return nil
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.err = fmt.Errorf("%w: metric %q is %v", ErrNonFinite, k, v)
			return nil
		}
		m[k] = v
	}
	return m
}
