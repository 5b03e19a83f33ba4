package payload

import (
	"fmt"
	"io"
)

// Global is what the anchor publishes for a round: the aggregated shared LoRA and the anchor's fused
// representations of the public set (all of D', or the share of one edge).
type Global struct {
	RunID string
	Round uint64
	Term  uint64   // the anchor's term (fencing token)
	LoRA  []Tensor // aggregated shared LoRA
	Fused Reps     // the anchor's fused representations, keyed by public sample id
	// Knowledge is the anchor LLM's top-K distributions on the public samples (FedMKT).
	Knowledge Knowledge
}

// Validate reports the first field that cannot be encoded with codec c.
func (g *Global) Validate(c Codec) error {
	if !c.valid() {
		return fmt.Errorf("%w: %v", ErrCodec, c)
	}
	if err := validateID(g.RunID, false, "global run id"); err != nil {
		return err
	}
	if err := validateTensors(g.LoRA, c, "global lora"); err != nil {
		return err
	}
	if err := g.Fused.validate(c, "global fused"); err != nil {
		return err
	}
	return g.Knowledge.validate(c, "global knowledge")
}

// Encode validates g and writes it to w with every tensor in codec c; it returns the bytes per part.
func (g *Global) Encode(w io.Writer, c Codec) (Sizes, error) {
	if err := g.Validate(c); err != nil {
		return Sizes{}, err
	}
	e := newWriter(w)
	var s Sizes
	e.raw(magicGlobal[:])
	e.u8(Version)
	e.str8(g.RunID)
	e.u64(g.Round)
	e.u64(g.Term)
	s.Header = e.n
	writeTensors(e, g.LoRA, c)
	s.LoRA = e.n - s.Header
	writeReps(e, g.Fused, c)
	s.Fused = e.n - s.Header - s.LoRA
	writeKnowledge(e, g.Knowledge, c)
	s.Knowledge = e.n - s.Header - s.LoRA - s.Fused
	e.flush()
	if e.err != nil {
		return Sizes{}, e.err
	}
	return s, nil
}

// DecodeGlobal reads at most maxBytes from r and parses them as a Global.
func DecodeGlobal(r io.Reader, maxBytes int64) (*Global, Sizes, error) {
	b, err := readLimited(r, maxBytes)
	if err != nil {
		return nil, Sizes{}, fmt.Errorf("global: %w", err)
	}
	return ParseGlobal(b)
}

// ParseGlobal parses one whole encoded Global (no trailing bytes).
func ParseGlobal(b []byte) (*Global, Sizes, error) {
	d := &reader{b: b}
	var s Sizes
	readHeader(d, magicGlobal, "global")
	g := &Global{}
	g.RunID = d.str8(false, "global run id")
	g.Round = d.u64("global round")
	g.Term = d.u64("global term")
	s.Header = int64(d.off)
	g.LoRA = readTensors(d, "global lora")
	s.LoRA = int64(d.off) - s.Header
	g.Fused = readReps(d, "global fused")
	s.Fused = int64(d.off) - s.Header - s.LoRA
	g.Knowledge = readKnowledge(d, "global knowledge")
	s.Knowledge = int64(d.off) - s.Header - s.LoRA - s.Fused
	if err := d.finish("global"); err != nil {
		return nil, Sizes{}, err
	}
	return g, s, nil
}
