package payload

import (
	"fmt"
)

// SampleDist is a teacher's next-token knowledge of one public sample: at each target position (teacher
// forcing on the sample's target text and end token) the top-K tokens and their probabilities,
// renormalised over the K. Tokens and Probs hold positions*K values, position-major.
type SampleDist struct {
	ID     string
	Tokens []int32
	Probs  []float32
}

// Positions is the number of target positions of the sample for K entries per position.
func (s SampleDist) Positions(k int) int {
	if k < 1 {
		return 0
	}
	return len(s.Tokens) / k
}

// Knowledge are the top-K distributions (FedMKT-style logit knowledge) of public samples, K entries per
// position. The zero value (no samples) is valid and costs no bytes on the wire.
type Knowledge struct {
	K       int
	Samples []SampleDist
}

// section tags of the optional trailing sections; each is written only when non-empty, so payloads
// without one keep the encoding of the payloads before the section existed.
const sectionKnowledge = 1

// probSlack is how far above 1 a decoded probability may land by the int8 codec's rounding of
// 127*(max/127); such values are read as 1, larger ones are malformed.
const probSlack = 0x1p-20

func (k Knowledge) validate(c Codec, what string) error {
	n := len(k.Samples)
	switch {
	case n == 0 && k.K != 0:
		return fmt.Errorf("%w: %s: no samples but K %d", ErrInvalid, what, k.K)
	case n == 0:
		return nil
	case n > MaxReps:
		return fmt.Errorf("%w: %s: %d samples exceed %d", ErrInvalid, what, n, MaxReps)
	case k.K < 1 || k.K > MaxTopK:
		return fmt.Errorf("%w: %s: K %d not in [1, %d]", ErrInvalid, what, k.K, MaxTopK)
	}
	ids := make([]string, n)
	for i, s := range k.Samples {
		ids[i] = s.ID
		p := len(s.Tokens) / k.K
		if len(s.Tokens) != len(s.Probs) || len(s.Tokens)%k.K != 0 || p < 1 || p > MaxKnowledgePositions {
			return fmt.Errorf("%w: %s sample %q: %d tokens and %d probabilities are not 1..%d positions of K=%d",
				ErrInvalid, what, s.ID, len(s.Tokens), len(s.Probs), MaxKnowledgePositions, k.K)
		}
		if err := checkDists(s.Tokens, s.Probs, k.K); err != nil {
			return fmt.Errorf("%w: %s sample %q: %w", ErrInvalid, what, s.ID, err)
		}
		if err := checkEncodable(c, s.Probs); err != nil {
			return fmt.Errorf("%s sample %q: %w", what, s.ID, err)
		}
	}
	return validateIDs(ids, what+" sample id")
}

// checkDists checks token ids (in [0, MaxToken], distinct within a position) and probabilities (in
// [0, 1]; NaN fails the comparison). Whether an id is inside a model's vocabulary is the consumer's check.
func checkDists(tokens []int32, probs []float32, k int) error {
	for i, t := range tokens {
		if t < 0 {
			return fmt.Errorf("position %d: token id %d is negative", i/k, t)
		}
		for j := i - i%k; j < i; j++ {
			if tokens[j] == t {
				return fmt.Errorf("position %d: token %d appears twice", i/k, t)
			}
		}
	}
	for i, p := range probs {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("position %d: probability %v not in [0, 1]", i/k, p)
		}
	}
	return nil
}

// writeKnowledge writes the section only when it has samples: tag, sample count, K, then per sample its
// id, position count and token ids (uvarint), then every probability in codec c.
func writeKnowledge(e *writer, k Knowledge, c Codec) {
	if len(k.Samples) == 0 {
		return
	}
	e.u8(sectionKnowledge)
	e.u32(uint32(len(k.Samples)))
	e.u8(uint8(k.K))
	total := 0
	for _, s := range k.Samples {
		e.str8(s.ID)
		e.u16(uint16(len(s.Tokens) / k.K))
		for _, t := range s.Tokens {
			e.uvarint(uint64(t))
		}
		total += len(s.Probs)
	}
	probs := make([]float32, 0, total)
	for _, s := range k.Samples {
		probs = append(probs, s.Probs...)
	}
	e.values(c, probs)
}

// readKnowledge reads the optional knowledge section: absent unless the next byte is its tag (other
// bytes are left for finish to report as trailing). A present section must hold at least one sample (an
// empty one is never written: one value, one encoding). A payload cut exactly before the section parses
// as one without it; the mesh's content hashes catch that, the section's own counts catch any other cut.
func readKnowledge(d *reader, what string) Knowledge {
	if d.err != nil || d.rest() == 0 || d.b[d.off] != sectionKnowledge {
		return Knowledge{}
	}
	d.off++
	n := int(d.u32(what + " sample count"))
	k := int(d.u8(what + " K"))
	switch {
	case d.err != nil:
		return Knowledge{}
	case n < 1 || n > MaxReps:
		d.fail("%s: %d samples not in [1, %d]", what, n, MaxReps)
	case k < 1 || k > MaxTopK:
		d.fail("%s: K %d not in [1, %d]", what, k, MaxTopK)
	case int64(n)*int64(4+k) > int64(d.rest()): // id (>= 2) + positions (2) + K ids (>= 1 byte each)
		d.fail("%s: %d samples of K=%d exceed the %d bytes left", what, n, k, d.rest())
	}
	if d.err != nil {
		return Knowledge{}
	}
	out := Knowledge{K: k, Samples: make([]SampleDist, n)}
	seen := make(map[string]struct{}, n)
	total := 0
	for i := range out.Samples {
		s := &out.Samples[i]
		s.ID = d.str8(false, fmt.Sprintf("%s sample id %d", what, i))
		if d.err != nil {
			return Knowledge{}
		}
		if _, dup := seen[s.ID]; dup {
			d.fail("%s: sample id %q appears twice", what, s.ID)
			return Knowledge{}
		}
		seen[s.ID] = struct{}{}
		p := int(d.u16(fmt.Sprintf("%s sample %q positions", what, s.ID)))
		if d.err == nil && (p < 1 || p > MaxKnowledgePositions || p*k > d.rest()) {
			d.fail("%s sample %q: %d positions not in [1, %d] or over the %d bytes left", what, s.ID, p, MaxKnowledgePositions, d.rest())
		}
		if d.err != nil {
			return Knowledge{}
		}
		s.Tokens = make([]int32, p*k)
		for j := range s.Tokens {
			v := d.uvarint(fmt.Sprintf("%s sample %q token %d", what, s.ID, j))
			if d.err == nil && v > MaxToken {
				d.fail("%s sample %q token %d: id %d exceeds %d", what, s.ID, j, v, MaxToken)
			}
			if d.err != nil {
				return Knowledge{}
			}
			s.Tokens[j] = int32(v)
		}
		total += p * k
	}
	probs := d.values(total, what+" probabilities")
	if d.err != nil {
		return Knowledge{}
	}
	for i := range out.Samples {
		s := &out.Samples[i]
		s.Probs, probs = probs[:len(s.Tokens):len(s.Tokens)], probs[len(s.Tokens):]
		for j, v := range s.Probs {
			if v > 1 && v <= 1+probSlack { // int8's q*scale can round just above 1
				s.Probs[j] = 1
			}
		}
		if err := checkDists(s.Tokens, s.Probs, k); err != nil {
			d.fail("%s sample %q: %v", what, s.ID, err)
			return Knowledge{}
		}
	}
	return out
}
