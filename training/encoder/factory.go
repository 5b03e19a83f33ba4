package encoder

import (
	"fmt"

	"github.com/mlecs/mlecs/training/nn"
)

// Encoder is the method set shared by every modality extractor, so that a
// node can hold encoders of different types, widths and depths side by side.
type Encoder[F nn.Float] interface {
	// Forward encodes one batch to [B,Latent] (a view valid until the next Forward).
	Forward(p *nn.Pool, in Input[F]) ([]F, error)
	// Backward accumulates parameter gradients from dout [B,Latent].
	Backward(p *nn.Pool, dout []F) error
	Params() []F
	Grads() []F
	ZeroGrad()
	Latent() int
}

var (
	_ Encoder[float32] = (*Image[float32])(nil)
	_ Encoder[float32] = (*Series[float32])(nil)
	_ Encoder[float32] = (*Text[float32])(nil)
	_ Encoder[float32] = (*CNN[float32])(nil)
)

// Kind names an encoder architecture.
type Kind string

// Encoder kinds.
const (
	KindImage  Kind = "image"  // 2-D patches + transformer (ViT-like), see ImageConfig
	KindSeries Kind = "series" // 1-D patches + transformer, see SeriesConfig
	KindText   Kind = "text"   // token embedding + pooling (+ transformer), see TextConfig
	KindCNN    Kind = "cnn"    // strided 2-D or 1-D convolutions, see CNNConfig
)

// Config selects one architecture; only the field matching Kind is read.
type Config struct {
	Kind   Kind
	Image  ImageConfig
	Series SeriesConfig
	Text   TextConfig
	CNN    CNNConfig
}

// New builds the encoder described by c.
func New[F nn.Float](c Config) (Encoder[F], error) {
	switch c.Kind {
	case KindImage:
		return NewImage[F](c.Image)
	case KindSeries:
		return NewSeries[F](c.Series)
	case KindText:
		return NewText[F](c.Text)
	case KindCNN:
		return NewCNN[F](c.CNN)
	}
	return nil, fmt.Errorf("unknown encoder kind %q: %w", c.Kind, ErrConfig)
}
