package storage

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits of a checkpoint manifest (part of the format, see chunkSize).
const (
	maxKindLen    = 32
	maxTensors    = 4096
	maxMeta       = 1024
	maxMetaKeyLen = 256
	maxMetaValLen = 64 << 10
)

// ckptManifest is committed last: a checkpoint exists exactly when its manifest does.
type ckptManifest struct {
	id      ckptID
	save    uint64 // id naming this save's chunk keys
	created time.Time
	chunk   uint32
	meta    map[string]string
	tensors []ckptTensor
}

type ckptTensor struct {
	name string
	size int64 // encoded bytes (EncodeTensor)
	hash Hash  // SHA-256 of the encoded bytes
}

const ckptManifestMagic, ckptManifestVersion = "MLCK", 1

func (m *ckptManifest) bytes() int64 {
	var n int64
	for _, t := range m.tensors {
		n += t.size
	}
	return n
}

func (m *ckptManifest) encode() []byte {
	e := encoder{b: make([]byte, 0, 256+len(m.tensors)*64)}
	e.raw([]byte(ckptManifestMagic))
	e.u8(ckptManifestVersion)
	e.str8(m.id.kind)
	e.u64(m.id.term)
	e.u64(m.id.round)
	e.u64(m.save)
	e.time(m.created)
	e.u32(m.chunk)
	encodeMeta(&e, m.meta)
	e.u32(uint32(len(m.tensors)))
	for _, t := range m.tensors {
		e.str16(t.name)
		e.u64(uint64(t.size))
		e.raw(t.hash[:])
	}
	return e.seal()
}

func decodeCkptManifest(b []byte) (*ckptManifest, error) {
	body, err := unseal("checkpoint manifest", b)
	if err != nil {
		return nil, err
	}
	return decodeCkptManifestBody(body)
}

// decodeCkptManifestBody decodes a manifest whose checksum has been verified.
func decodeCkptManifestBody(body []byte) (*ckptManifest, error) {
	d := decoder{what: "checkpoint manifest", b: body}
	d.header(ckptManifestMagic, ckptManifestVersion)
	m := &ckptManifest{}
	m.id.kind = d.str8("kind", maxKindLen)
	if d.err == nil {
		if err := checkKind(m.id.kind); err != nil {
			d.fail("kind", "%v", err)
		}
	}
	m.id.term = d.u64("term")
	m.id.round = d.u64("round")
	m.save = d.u64("save id")
	m.created = d.time("created")
	m.chunk = d.u32("chunk size")
	if d.err == nil && (m.chunk == 0 || m.chunk > maxRecord) {
		d.fail("chunk size", "%d outside 1..%d", m.chunk, maxRecord)
	}
	m.meta = decodeMeta(&d)
	nt := d.count("tensor count", uint64(d.u32("tensor count")), maxTensors, 2+8+32)
	m.tensors = make([]ckptTensor, nt)
	var total uint64
	for i := range m.tensors {
		t := &m.tensors[i]
		t.name = d.str16("tensor name", maxNameLen)
		size := d.u64("tensor size")
		t.hash = d.hash("tensor hash")
		if d.err == nil && (size > limitMaxObject || total+size > limitMaxObject) {
			d.fail("tensor size", "tensor %q: %d bytes exceeds limit %d", t.name, size, int64(limitMaxObject))
		}
		total += size
		t.size = int64(size)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// encodeMeta writes checkpoint meta sorted by key (one encoding per map): count u16, then each key
// str16 and value str32.
func encodeMeta(e *encoder, meta map[string]string) {
	keys := sortedKeys(meta)
	e.u16(uint16(len(keys)))
	for _, k := range keys {
		e.str16(k)
		e.str32(meta[k])
	}
}

// decodeMeta reads what encodeMeta wrote (nil when empty), refusing keys out of order or repeated.
func decodeMeta(d *decoder) map[string]string {
	nm := d.count("meta count", uint64(d.u16("meta count")), maxMeta, 6)
	var meta map[string]string
	if nm > 0 {
		meta = make(map[string]string, nm)
	}
	prev := ""
	for i := range nm {
		k := d.str16("meta key", maxMetaKeyLen)
		if d.err == nil && i > 0 && k <= prev {
			d.fail("meta key", "%q out of order or repeated", k)
		}
		prev = k
		v := d.str32("meta value", maxMetaValLen)
		if d.err == nil {
			meta[k] = v
		}
	}
	return meta
}

// checkKind accepts 1..32 bytes of [a-z0-9._-], starting with a letter or digit.
func checkKind(kind string) error {
	if kind == "" || len(kind) > maxKindLen {
		return fmt.Errorf("%w: checkpoint kind %q: want 1..%d characters", ErrInvalid, clip(kind), maxKindLen)
	}
	for i, c := range []byte(kind) {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return fmt.Errorf("%w: checkpoint kind %q: want [a-z0-9][a-z0-9._-]*", ErrInvalid, kind)
		}
	}
	return nil
}

// checkCheckpoint validates cp before anything is written.
func checkCheckpoint(cp *Checkpoint, maxBytes int64) error {
	if err := checkKind(cp.Kind); err != nil {
		return err
	}
	if len(cp.Meta) > maxMeta {
		return fmt.Errorf("%w: checkpoint meta: %d entries exceeds %d", ErrTooLarge, len(cp.Meta), maxMeta)
	}
	for k, v := range cp.Meta {
		if k == "" || len(k) > maxMetaKeyLen || !utf8.ValidString(k) {
			return fmt.Errorf("%w: checkpoint meta key %q: want 1..%d bytes of UTF-8", ErrInvalid, clip(k), maxMetaKeyLen)
		}
		if len(v) > maxMetaValLen || !utf8.ValidString(v) {
			return fmt.Errorf("%w: checkpoint meta %q: value must be UTF-8 of at most %d bytes", ErrInvalid, k, maxMetaValLen)
		}
	}
	if len(cp.Tensors) > maxTensors {
		return fmt.Errorf("%w: checkpoint: %d tensors exceeds %d", ErrTooLarge, len(cp.Tensors), maxTensors)
	}
	seen := make(map[string]bool, len(cp.Tensors))
	var total int64
	for i := range cp.Tensors {
		t := &cp.Tensors[i]
		if err := checkTensor(t); err != nil {
			return fmt.Errorf("checkpoint tensor %d: %w", i, err)
		}
		if seen[t.Name] {
			return fmt.Errorf("%w: checkpoint: duplicate tensor name %q", ErrInvalid, t.Name)
		}
		seen[t.Name] = true
		total += encodedTensorLen(t)
		if total > maxBytes {
			return fmt.Errorf("%w: checkpoint exceeds the %d-byte cap", ErrTooLarge, maxBytes)
		}
	}
	return nil
}
