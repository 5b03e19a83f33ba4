package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// maxRank bounds the number of dimensions so that a hostile shape list
// cannot drive a large allocation (numpy's limit is 64 too).
const maxRank = 64

// metadataKey is the reserved header key holding free-form string metadata.
const metadataKey = "__metadata__"

// entry is one validated header record.
type entry struct {
	name       string
	dt         dtype
	shape      []int
	count      int   // number of elements
	begin, end int64 // byte offsets into the data section
}

// rawInfo is the JSON form of one tensor record. Fields stay raw so that
// each is checked with bounds before anything is allocated from it.
type rawInfo struct {
	dtype, shape, offsets json.RawMessage
}

// parseRecord splits a tensor record into its fields. Keys match exactly
// (encoding/json's struct decoding would accept "DType"), a repeated key is
// an error, and unknown keys are ignored as the reference implementation
// does.
func parseRecord(raw json.RawMessage) (rawInfo, error) {
	var info rawInfo
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return info, fmt.Errorf("record is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return info, err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return info, err
		}
		var dst *json.RawMessage
		switch key {
		case "dtype":
			dst = &info.dtype
		case "shape":
			dst = &info.shape
		case "data_offsets":
			dst = &info.offsets
		default:
			continue
		}
		if *dst != nil {
			return info, fmt.Errorf("record has %q twice", key)
		}
		*dst = val
	}
	if info.dtype == nil || info.shape == nil || info.offsets == nil {
		return info, fmt.Errorf("record must have dtype, shape and data_offsets")
	}
	return info, nil
}

func tensorErr(name string, sentinel error, format string, args ...any) error {
	return fmt.Errorf("tensor %q: %s: %w", name, fmt.Sprintf(format, args...), sentinel)
}

// parseHeader validates the JSON header against a data section of dataLen
// bytes and returns the entries sorted by offset.
func parseHeader(hdr []byte, dataLen int64) ([]entry, map[string]string, error) {
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, nil, fmt.Errorf("header does not start with '{': %w", ErrFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("header JSON: %v: %w", err, ErrFormat)
	}
	var (
		entries []entry
		meta    map[string]string
		seen    = make(map[string]struct{})
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header JSON: %v: %w", err, ErrFormat)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("header JSON: key %v is not a string: %w", tok, ErrFormat)
		}
		if _, dup := seen[name]; dup {
			return nil, nil, tensorErr(name, ErrFormat, "duplicate name in header")
		}
		seen[name] = struct{}{}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, tensorErr(name, ErrFormat, "header JSON: %v", err)
		}
		if name == metadataKey {
			if meta, err = parseMetadata(raw); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(name, raw, dataLen)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("header JSON: %v: %w", err, ErrFormat)
	}
	// The writer pads the header with spaces; anything else after the
	// object is garbage.
	if rest := bytes.TrimLeft(hdr[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, nil, fmt.Errorf("header has %d bytes of trailing garbage after the JSON object: %w", len(rest), ErrFormat)
	}
	if err := checkCoverage(entries, dataLen); err != nil {
		return nil, nil, err
	}
	return entries, meta, nil
}

func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s is not a JSON object: %w", metadataKey, ErrFormat)
	}
	meta := make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", metadataKey, err, ErrFormat)
		}
		key, _ := tok.(string)
		if _, dup := meta[key]; dup {
			return nil, fmt.Errorf("%s: duplicate key %q: %w", metadataKey, key, ErrFormat)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %v: %w", metadataKey, key, err, ErrFormat)
		}
		val, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: value of %q is not a string: %w", metadataKey, key, ErrFormat)
		}
		meta[key] = val
	}
	return meta, nil
}

func parseEntry(name string, raw json.RawMessage, dataLen int64) (entry, error) {
	if name == "" {
		return entry{}, tensorErr(name, ErrFormat, "empty tensor name")
	}
	info, err := parseRecord(raw)
	if err != nil {
		return entry{}, tensorErr(name, ErrFormat, "%v", err)
	}
	var dtp *string
	if err := json.Unmarshal(info.dtype, &dtp); err != nil || dtp == nil {
		return entry{}, tensorErr(name, ErrFormat, "dtype is not a string")
	}
	dts := *dtp
	dt, ok := supportedDType(dts)
	if !ok {
		if knownDType(dts) {
			return entry{}, tensorErr(name, ErrUnsupportedDType, "dtype %s (readable: F32, F16, BF16)", dts)
		}
		return entry{}, tensorErr(name, ErrUnsupportedDType, "unknown dtype %q", dts)
	}
	shape, err := parseInts(info.shape, maxRank)
	if err != nil {
		return entry{}, tensorErr(name, ErrFormat, "shape: %v", err)
	}
	offs, err := parseInts(info.offsets, 2)
	if err != nil || len(offs) != 2 {
		return entry{}, tensorErr(name, ErrFormat, "data_offsets must be two non-negative integers")
	}
	begin, end := int64(offs[0]), int64(offs[1])
	if begin > end {
		return entry{}, tensorErr(name, ErrFormat, "data_offsets [%d, %d] end before they begin", begin, end)
	}
	if end > dataLen {
		return entry{}, tensorErr(name, ErrFormat, "data_offsets [%d, %d] exceed the %d-byte data section", begin, end, dataLen)
	}
	count, ok := numElements(shape, math.MaxInt/int(dt.size))
	if !ok {
		return entry{}, tensorErr(name, ErrFormat, "shape %v has too many elements", shape)
	}
	if want := int64(count) * dt.size; want != end-begin {
		return entry{}, tensorErr(name, ErrFormat, "shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d",
			shape, dt.name, want, begin, end, end-begin)
	}
	return entry{name: name, dt: dt, shape: shape, count: count, begin: begin, end: end}, nil
}

// parseInts decodes a JSON array of at most limit non-negative integers.
// It stops at the limit instead of decoding an arbitrarily long array.
func parseInts(raw json.RawMessage, limit int) ([]int, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("not a JSON array")
	}
	out := []int{}
	for dec.More() {
		if len(out) == limit {
			return nil, fmt.Errorf("more than %d entries", limit)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("entry %v is not a number", tok)
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || v < 0 || v > math.MaxInt {
			return nil, fmt.Errorf("entry %s is not a non-negative integer", num)
		}
		out = append(out, int(v))
	}
	return out, nil
}

// numElements returns the product of shape, or false if it exceeds limit.
// A zero dimension makes the product zero whatever the others are.
func numElements(shape []int, limit int) (int, bool) {
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	n := 1
	for _, d := range shape {
		if n > limit/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// checkCoverage sorts entries by offset and requires them to tile the data
// section exactly: no gaps, no overlaps, nothing left over.
func checkCoverage(entries []entry, dataLen int64) error {
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].begin != entries[j].begin {
			return entries[i].begin < entries[j].begin
		}
		return entries[i].end < entries[j].end
	})
	var next int64
	for i, e := range entries {
		switch {
		case e.begin < next:
			return tensorErr(e.name, ErrFormat, "data_offsets [%d, %d] overlap tensor %q", e.begin, e.end, entries[i-1].name)
		case e.begin > next:
			return tensorErr(e.name, ErrFormat, "data_offsets [%d, %d] leave a gap of %d bytes before it", e.begin, e.end, e.begin-next)
		}
		next = e.end
	}
	if next != dataLen {
		return fmt.Errorf("%d bytes at the end of the data section belong to no tensor: %w", dataLen-next, ErrFormat)
	}
	return nil
}
