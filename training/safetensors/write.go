package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Write encodes tensors as F32 in safetensors format. Tensors are laid out
// sorted by name; metadata (may be nil) goes under "__metadata__". The
// header is padded with spaces to a multiple of 8 bytes so that the data
// section is aligned, as the reference writer does.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order, err := validateTensors(tensors)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	hdr, err := encodeHeader(tensors, order, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(hdr)))
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("safetensors: writing header length: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: writing header: %w", err)
	}
	buf := make([]byte, 64<<10)
	for _, i := range order {
		data := tensors[i].Data
		for len(data) > 0 {
			k := min(len(data), len(buf)/4)
			for j, v := range data[:k] {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(v))
			}
			if _, err := w.Write(buf[:4*k]); err != nil {
				return fmt.Errorf("safetensors: tensor %q: writing data: %w", tensors[i].Name, err)
			}
			data = data[k:]
		}
	}
	return nil
}

// validateTensors checks names and shapes and returns the indices of
// tensors sorted by name.
func validateTensors(tensors []Tensor) ([]int, error) {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return tensors[order[a]].Name < tensors[order[b]].Name })
	for k, i := range order {
		t := tensors[i]
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("tensor %d has an empty name: %w", i, ErrInvalidTensor)
		case t.Name == metadataKey:
			return nil, tensorErr(t.Name, ErrInvalidTensor, "name is reserved for metadata")
		case !utf8.ValidString(t.Name):
			return nil, tensorErr(t.Name, ErrInvalidTensor, "name is not valid UTF-8")
		case k > 0 && tensors[order[k-1]].Name == t.Name:
			return nil, tensorErr(t.Name, ErrInvalidTensor, "duplicate name")
		case len(t.Shape) > maxRank:
			return nil, tensorErr(t.Name, ErrInvalidTensor, "rank %d exceeds %d", len(t.Shape), maxRank)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, tensorErr(t.Name, ErrInvalidTensor, "negative dimension in shape %v", t.Shape)
			}
		}
		n, ok := numElements(t.Shape, math.MaxInt/4)
		if !ok {
			return nil, tensorErr(t.Name, ErrInvalidTensor, "shape %v has too many elements", t.Shape)
		}
		if n != len(t.Data) {
			return nil, tensorErr(t.Name, ErrInvalidTensor, "shape %v needs %d values, data has %d", t.Shape, n, len(t.Data))
		}
	}
	return order, nil
}

func encodeHeader(tensors []Tensor, order []int, metadata map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	if len(metadata) > 0 {
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("metadata entry %q is not valid UTF-8: %w", k, ErrInvalidTensor)
			}
		}
		m, err := json.Marshal(metadata) // sorts keys: deterministic output
		if err != nil {
			return nil, fmt.Errorf("encoding metadata: %w", err)
		}
		buf.WriteString(`"` + metadataKey + `":`)
		buf.Write(m)
	}
	var off int64
	for k, i := range order {
		t := tensors[i]
		if k > 0 || len(metadata) > 0 {
			buf.WriteByte(',')
		}
		name, err := json.Marshal(t.Name)
		if err != nil {
			return nil, tensorErr(t.Name, ErrInvalidTensor, "encoding name: %v", err)
		}
		buf.Write(name)
		buf.WriteString(`:{"dtype":"F32","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(d))
		}
		end := off + 4*int64(len(t.Data))
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	return buf.Bytes(), nil
}

// WriteFile writes tensors to path atomically: it writes a temporary file in
// the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so readers see either the old file or the complete new one.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = Write(tmp, tensors, metadata); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("safetensors: syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: closing %s: %w", tmp.Name(), err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	// The rename is durable only once the directory entry is synced.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("safetensors: opening %s to sync: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("safetensors: syncing %s: %w", dir, err)
	}
	return nil
}
