// Package safetensors reads and writes the Hugging Face safetensors format:
// an 8-byte little-endian header length, a JSON header describing every
// tensor (dtype, shape, byte offsets into the data section), then the raw
// little-endian tensor bytes.
//
// Reading accepts F32, F16 and BF16 tensors and widens them to float32;
// writing always produces F32. The reader treats every file as untrusted:
// all header fields are checked against the file size and the configured
// caps before anything proportional to them is allocated.
package safetensors

import "errors"

// Sentinel errors. Errors about the content wrap one of them; I/O errors
// from the reader or writer are wrapped as they come.
var (
	// ErrFormat reports a malformed file or header.
	ErrFormat = errors.New("malformed safetensors file")
	// ErrTooLarge reports a file or header over the configured caps.
	ErrTooLarge = errors.New("safetensors file too large")
	// ErrUnsupportedDType reports a dtype this package cannot decode.
	ErrUnsupportedDType = errors.New("unsupported safetensors dtype")
	// ErrInvalidOption reports a bad option value.
	ErrInvalidOption = errors.New("invalid safetensors option")
	// ErrInvalidTensor reports a tensor that cannot be written (bad name,
	// shape or data length).
	ErrInvalidTensor = errors.New("invalid tensor for safetensors")
)

// Tensor is one named float32 tensor in row-major order.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// File is the decoded content of a safetensors file. Tensors are sorted by
// name.
type File struct {
	Metadata map[string]string
	Tensors  []Tensor
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}
