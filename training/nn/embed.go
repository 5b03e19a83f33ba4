package nn

import "fmt"

// EmbeddingForward gathers rows of a table: out[n] = table[ids[n]].
//
//	out [N,C], ids [N], table [V,C] (V = len(table)/C)
func EmbeddingForward[F Float](out []F, ids []int32, table []F, N, C int) error {
	V := len(table) / C
	for n := range N {
		id := int(ids[n])
		if id < 0 || id >= V {
			return fmt.Errorf("embedding: id %d at position %d not in [0,%d): %w", id, n, V, ErrIndex)
		}
		copy(out[n*C:(n+1)*C], table[id*C:(id+1)*C])
	}
	return nil
}

// EmbeddingBackward scatters gradients back: dtable[ids[n]] += dout[n].
//
//	dtable [V,C], dout [N,C], ids [N]
func EmbeddingBackward[F Float](dtable, dout []F, ids []int32, N, C int) error {
	V := len(dtable) / C
	for n := range N {
		id := int(ids[n])
		if id < 0 || id >= V {
			return fmt.Errorf("embedding backward: id %d at position %d not in [0,%d): %w", id, n, V, ErrIndex)
		}
		row := dtable[id*C : (id+1)*C]
		for i, v := range dout[n*C : (n+1)*C] {
			row[i] += v
		}
	}
	return nil
}

// PositionForward adds learned positions in place, starting at position
// offset (a soft-prompt prefix or the KV-cache length):
//
//	out [B,T,C] += wpe[offset+t]   wpe [maxT,C], offset+T <= maxT
func PositionForward[F Float](out, wpe []F, B, T, C, offset int) {
	for b := range B {
		for t := range T {
			o := out[(b*T+t)*C : (b*T+t+1)*C]
			w := wpe[(offset+t)*C : (offset+t+1)*C]
			for i := range o {
				o[i] += w[i]
			}
		}
	}
}

// PositionBackward accumulates dwpe[offset+t] += sum_b dout[b,t]. The
// gradient with respect to out's input is dout itself (identity).
//
//	dwpe [maxT,C], dout [B,T,C]
func PositionBackward[F Float](dwpe, dout []F, B, T, C, offset int) {
	for b := range B {
		for t := range T {
			d := dout[(b*T+t)*C : (b*T+t+1)*C]
			w := dwpe[(offset+t)*C : (offset+t+1)*C]
			for i := range w {
				w[i] += d[i]
			}
		}
	}
}
