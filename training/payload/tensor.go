package payload

import (
	"fmt"
	"unicode/utf8"
)

// Tensor is a named dense float32 tensor, row-major.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32 // len = product of Shape
}

// Numel is the product of the shape (the wire needs rank >= 1 and every dimension >= 1).
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// validateTensors checks names (non-empty, unique, bounded), shapes and sizes, and that every value is
// encodable with c.
func validateTensors(ts []Tensor, c Codec, what string) error {
	if len(ts) > MaxTensors {
		return fmt.Errorf("%w: %s: %d tensors exceed %d", ErrInvalid, what, len(ts), MaxTensors)
	}
	seen := make(map[string]struct{}, len(ts))
	for i, t := range ts {
		if t.Name == "" || len(t.Name) > MaxTensorName || !utf8.ValidString(t.Name) {
			return fmt.Errorf("%w: %s tensor %d: name %q empty, longer than %d bytes or not UTF-8", ErrInvalid, what, i, t.Name, MaxTensorName)
		}
		if _, dup := seen[t.Name]; dup {
			return fmt.Errorf("%w: %s: tensor %q appears twice", ErrInvalid, what, t.Name)
		}
		seen[t.Name] = struct{}{}
		if len(t.Shape) == 0 || len(t.Shape) > MaxRank {
			return fmt.Errorf("%w: %s tensor %q: rank %d not in [1, %d]", ErrInvalid, what, t.Name, len(t.Shape), MaxRank)
		}
		n := int64(1)
		for _, d := range t.Shape {
			if d < 1 || d > MaxElems {
				return fmt.Errorf("%w: %s tensor %q: dimension %d in shape %v not in [1, %d]", ErrInvalid, what, t.Name, d, t.Shape, MaxElems)
			}
			n *= int64(d)
			if n > MaxElems {
				return fmt.Errorf("%w: %s tensor %q: shape %v exceeds %d values", ErrInvalid, what, t.Name, t.Shape, MaxElems)
			}
		}
		if int64(len(t.Data)) != n {
			return fmt.Errorf("%w: %s tensor %q: shape %v needs %d values, has %d", ErrInvalid, what, t.Name, t.Shape, n, len(t.Data))
		}
		if err := checkEncodable(c, t.Data); err != nil {
			return fmt.Errorf("%s tensor %q: %w", what, t.Name, err)
		}
	}
	return nil
}

func writeTensors(e *writer, ts []Tensor, c Codec) {
	e.u32(uint32(len(ts)))
	for _, t := range ts {
		e.str16(t.Name)
		e.u8(uint8(len(t.Shape)))
		for _, d := range t.Shape {
			e.u32(uint32(d))
		}
		e.values(c, t.Data)
	}
}

func readTensors(d *reader, what string) []Tensor {
	n := int(d.u32(what + " tensor count"))
	if d.err != nil {
		return nil
	}
	// each tensor takes at least name length (2) + 1 name byte + rank (1) + 1 dim (4) + codec (1) + 1 value
	if n > MaxTensors || n*10 > d.rest() {
		d.fail("%s: tensor count %d exceeds %d or the %d bytes left", what, n, MaxTensors, d.rest())
		return nil
	}
	ts := make([]Tensor, 0, n)
	seen := make(map[string]struct{}, n)
	for i := range n {
		name := d.str16(MaxTensorName, fmt.Sprintf("%s tensor %d name", what, i))
		if d.err != nil {
			return nil
		}
		if _, dup := seen[name]; dup {
			d.fail("%s: tensor %q appears twice", what, name)
			return nil
		}
		seen[name] = struct{}{}
		rank := int(d.u8(fmt.Sprintf("%s tensor %q rank", what, name)))
		if d.err == nil && (rank < 1 || rank > MaxRank) {
			d.fail("%s tensor %q: rank %d not in [1, %d]", what, name, rank, MaxRank)
		}
		if d.err != nil {
			return nil
		}
		shape := make([]int, rank)
		numel := int64(1)
		for k := range shape {
			v := int64(d.u32(fmt.Sprintf("%s tensor %q dim %d", what, name, k)))
			if d.err != nil {
				return nil
			}
			numel *= max(v, 1)
			if v < 1 || numel > MaxElems {
				d.fail("%s tensor %q: dim %d = %d makes the shape empty or larger than %d values", what, name, k, v, MaxElems)
				return nil
			}
			shape[k] = int(v)
		}
		data := d.values(int(numel), fmt.Sprintf("%s tensor %q", what, name))
		if d.err != nil {
			return nil
		}
		ts = append(ts, Tensor{Name: name, Shape: shape, Data: data})
	}
	return ts
}

// Reps are fused representations of public samples, keyed by sample id: row i of Data [len(IDs), Dim]
// belongs to IDs[i]. The zero value (no samples) is valid.
type Reps struct {
	IDs  []string
	Dim  int
	Data []float32
}

// Row returns the representation of sample i (a view into Data).
func (r Reps) Row(i int) []float32 { return r.Data[i*r.Dim : (i+1)*r.Dim] }

// Index maps each sample id to its row.
func (r Reps) Index() map[string]int {
	m := make(map[string]int, len(r.IDs))
	for i, id := range r.IDs {
		m[id] = i
	}
	return m
}

func (r Reps) validate(c Codec, what string) error {
	n := len(r.IDs)
	switch {
	case n > MaxReps:
		return fmt.Errorf("%w: %s: %d samples exceed %d", ErrInvalid, what, n, MaxReps)
	case n == 0 && (r.Dim != 0 || len(r.Data) != 0):
		return fmt.Errorf("%w: %s: no ids but dim %d and %d values", ErrInvalid, what, r.Dim, len(r.Data))
	case n > 0 && (r.Dim < 1 || r.Dim > MaxRepDim):
		return fmt.Errorf("%w: %s: dim %d not in [1, %d]", ErrInvalid, what, r.Dim, MaxRepDim)
	case len(r.Data) != n*r.Dim:
		return fmt.Errorf("%w: %s: %d ids x dim %d needs %d values, has %d", ErrInvalid, what, n, r.Dim, n*r.Dim, len(r.Data))
	}
	if err := validateIDs(r.IDs, what+" sample id"); err != nil {
		return err
	}
	if err := checkEncodable(c, r.Data); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func validateIDs(ids []string, what string) error {
	seen := make(map[string]struct{}, len(ids))
	for i, id := range ids {
		if err := validateID(id, false, fmt.Sprintf("%s %d", what, i)); err != nil {
			return err
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: %s %q appears twice", ErrInvalid, what, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

func validateID(s string, allowEmpty bool, what string) error {
	if (s == "" && !allowEmpty) || len(s) > MaxIDLen || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q: empty, longer than %d bytes or not UTF-8", ErrInvalid, what, s, MaxIDLen)
	}
	return nil
}

func writeReps(e *writer, r Reps, c Codec) {
	e.u32(uint32(len(r.IDs)))
	e.u32(uint32(r.Dim))
	if len(r.IDs) == 0 {
		return
	}
	for _, id := range r.IDs {
		e.str8(id)
	}
	e.values(c, r.Data)
}

func readReps(d *reader, what string) Reps {
	n := int(d.u32(what + " count"))
	dim := int(d.u32(what + " dim"))
	switch {
	case d.err != nil:
		return Reps{}
	case n == 0 && dim != 0:
		d.fail("%s: no samples but dim %d", what, dim)
	case n == 0:
		return Reps{}
	case n > MaxReps || 2*n > d.rest(): // each id takes at least 2 bytes
		d.fail("%s: %d samples exceed %d or the %d bytes left", what, n, MaxReps, d.rest())
	case dim < 1 || dim > MaxRepDim:
		d.fail("%s: dim %d not in [1, %d]", what, dim, MaxRepDim)
	}
	if d.err != nil {
		return Reps{}
	}
	ids := make([]string, n)
	seen := make(map[string]struct{}, n)
	for i := range ids {
		ids[i] = d.str8(false, fmt.Sprintf("%s sample id %d", what, i))
		if d.err != nil {
			return Reps{}
		}
		if _, dup := seen[ids[i]]; dup {
			d.fail("%s: sample id %q appears twice", what, ids[i])
			return Reps{}
		}
		seen[ids[i]] = struct{}{}
	}
	data := d.values(n*dim, what+" values")
	if d.err != nil {
		return Reps{}
	}
	return Reps{IDs: ids, Dim: dim, Data: data}
}
