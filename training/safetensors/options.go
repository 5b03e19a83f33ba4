package safetensors

import "fmt"

// Default caps on what Read accepts.
const (
	// DefaultMaxSize is the default cap on the total file size (4 GiB).
	DefaultMaxSize int64 = 4 << 30
	// DefaultMaxHeader is the default cap on the JSON header (100 MiB, the
	// same limit as the reference Rust implementation).
	DefaultMaxHeader int64 = 100 << 20
)

type config struct {
	maxSize   int64
	maxHeader int64
}

// Option configures Read and ReadFile.
type Option func(*config) error

// WithMaxSize caps the total file size in bytes (default DefaultMaxSize).
func WithMaxSize(n int64) Option {
	return func(c *config) error {
		if n < 8 {
			return fmt.Errorf("max size %d is below the 8-byte length prefix: %w", n, ErrInvalidOption)
		}
		c.maxSize = n
		return nil
	}
}

// WithMaxHeader caps the JSON header length in bytes (default
// DefaultMaxHeader).
func WithMaxHeader(n int64) Option {
	return func(c *config) error {
		if n < 2 {
			return fmt.Errorf("max header %d cannot hold \"{}\": %w", n, ErrInvalidOption)
		}
		c.maxHeader = n
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	c := config{maxSize: DefaultMaxSize, maxHeader: DefaultMaxHeader}
	for _, o := range opts {
		if o == nil {
			return c, fmt.Errorf("nil option: %w", ErrInvalidOption)
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}
