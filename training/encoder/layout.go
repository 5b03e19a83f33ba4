package encoder

import (
	"math/rand/v2"

	"github.com/mlecs/mlecs/training/nn"
)

// layout hands out views of one flat parameter buffer and one flat gradient
// buffer, in registration order (which is the serialisation order).
type layout[F nn.Float] struct {
	sizes  []int
	params []*[]F
	grads  []*[]F
	inits  []func(r *rand.Rand, s []F)
}

func (l *layout[F]) add(p, g *[]F, n int, init func(r *rand.Rand, s []F)) {
	l.sizes = append(l.sizes, n)
	l.params = append(l.params, p)
	l.grads = append(l.grads, g)
	l.inits = append(l.inits, init)
}

// build allocates both buffers, points every registered view into them and
// initialises the parameters from seed.
func (l *layout[F]) build(seed uint64) (params, grads []F) {
	total := 0
	for _, n := range l.sizes {
		total += n
	}
	params, grads = make([]F, total), make([]F, total)
	r := rand.New(rand.NewPCG(seed, 0x6d6c656373))
	off := 0
	for i, n := range l.sizes {
		*l.params[i] = params[off : off+n : off+n]
		*l.grads[i] = grads[off : off+n : off+n]
		l.inits[i](r, *l.params[i])
		off += n
	}
	return params, grads
}

func normal[F nn.Float](std float64) func(r *rand.Rand, s []F) {
	return func(r *rand.Rand, s []F) {
		for i := range s {
			s[i] = F(r.NormFloat64() * std)
		}
	}
}

func constant[F nn.Float](v F) func(r *rand.Rand, s []F) {
	return func(_ *rand.Rand, s []F) {
		for i := range s {
			s[i] = v
		}
	}
}
