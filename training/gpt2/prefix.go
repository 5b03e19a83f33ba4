package gpt2

import "fmt"

// PrefixMean writes dst [B,C] = the mean over the P soft-prompt positions of the prefix of the last
// Forward: the representation of a sample that the connector hands to the backbone. It is read back from
// the embedded input (prefix + position embedding) minus the position embedding, so it costs no extra
// buffer; in float32 it equals the prefix up to one rounding of |prefix| + |wpe|.
func (m *Model[F]) PrefixMean(dst []F) error {
	l, C := m.last, m.cfg.Channels
	if l.B == 0 || l.P == 0 {
		return fmt.Errorf("%w: PrefixMean needs a Forward with a prefix", ErrState)
	}
	if len(dst) != l.B*C {
		return fmt.Errorf("%w: PrefixMean dst has %d values, want %d", ErrShape, len(dst), l.B*C)
	}
	clear(dst)
	inv := 1 / float64(l.P)
	for b := range l.B {
		row := dst[b*C : (b+1)*C]
		for p := range l.P {
			enc := m.acts.encoded[(b*l.T+p)*C : (b*l.T+p+1)*C]
			pos := m.Base.Wpe[p*C : (p+1)*C]
			for j := range row {
				row[j] += F(float64(enc[j]-pos[j]) * inv)
			}
		}
	}
	return nil
}

// AddPrefixMeanGrad queues d [B,C], the gradient of an extra loss with respect to PrefixMean's output,
// for the next Backward or BackwardLogits of the current pass: each prefix position then also gets d/P
// in PrefixGrad. This is how a loss on the representation (e.g. a contrastive alignment) reaches the
// connector through the caller's usual backward path. The slice is read at that Backward, not copied.
func (m *Model[F]) AddPrefixMeanGrad(d []F) error {
	l, C := m.last, m.cfg.Channels
	if l.B == 0 || l.P == 0 {
		return fmt.Errorf("%w: AddPrefixMeanGrad needs a Forward with a prefix", ErrState)
	}
	if len(d) != l.B*C {
		return fmt.Errorf("%w: prefix-mean gradient has %d values, want %d", ErrShape, len(d), l.B*C)
	}
	m.pendingDPrefix = d
	return nil
}

// addPendingPrefixGrad adds the queued prefix-mean gradient to dprefix, once.
func (m *Model[F]) addPendingPrefixGrad() {
	d := m.pendingDPrefix
	m.pendingDPrefix = nil
	l, C := m.last, m.cfg.Channels
	if d == nil || len(d) != l.B*C {
		return
	}
	inv := 1 / F(l.P)
	for b := range l.B {
		for p := range l.P {
			row := m.grads.dprefix[(b*l.P+p)*C : (b*l.P+p+1)*C]
			for j := range row {
				row[j] += d[b*C+j] * inv
			}
		}
	}
}
