package tokenizer

import "container/heap"

// merge is one line of vocab.bpe: the pair's rank and the id it merges into.
type merge struct {
	rank   int32
	result int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// heapThreshold is the piece length (in symbols) from which the heap-based
// merge loop replaces the reference loop, whose cost is quadratic.
const heapThreshold = 48

// bpe merges the byte symbols of one piece in place and returns them.
// It dispatches on length; both loops give the reference result when the
// merge table is consistent (see Tokenizer.consistent).
func (t *Tokenizer) bpe(word []int32) []int32 {
	if len(word) < heapThreshold || !t.consistent {
		return t.bpeReference(word)
	}
	return t.bpeHeap(word)
}

// bpeReference is encoder.py's loop: find the adjacent pair of lowest rank,
// merge every occurrence of it left to right, repeat until no pair ranks.
func (t *Tokenizer) bpeReference(word []int32) []int32 {
	for len(word) > 1 {
		best := merge{rank: -1}
		var first, second int32
		for i := 0; i+1 < len(word); i++ {
			m, ok := t.merges[pairKey(word[i], word[i+1])]
			if ok && (best.rank < 0 || m.rank < best.rank) {
				best, first, second = m, word[i], word[i+1]
			}
		}
		if best.rank < 0 {
			break
		}
		out := word[:0]
		for i := 0; i < len(word); i++ {
			if i+1 < len(word) && word[i] == first && word[i+1] == second {
				out = append(out, best.result)
				i++
				continue
			}
			out = append(out, word[i])
		}
		word = out
	}
	return word
}

// bpeHeap merges the lowest-ranked pair occurrence first (leftmost on ties)
// over a linked list, in O(n log n). It equals bpeReference when every merge
// that uses a token ranks after the merge producing it, since merging one
// occurrence then never creates a pair that outranks the remaining
// occurrences of the same pair.
func (t *Tokenizer) bpeHeap(word []int32) []int32 {
	n := len(word)
	prev := make([]int, n)
	next := make([]int, n)
	for i := range word {
		prev[i], next[i] = i-1, i+1
	}
	next[n-1] = -1
	q := make(pairQueue, 0, n)
	push := func(i int) {
		j := next[i]
		if i < 0 || j < 0 {
			return
		}
		if m, ok := t.merges[pairKey(word[i], word[j])]; ok {
			heap.Push(&q, candidate{rank: m.rank, pos: i, left: word[i], right: word[j]})
		}
	}
	for i := 0; i+1 < n; i++ {
		push(i)
	}
	alive := make([]bool, n)
	for i := range alive {
		alive[i] = true
	}
	for q.Len() > 0 {
		c := heap.Pop(&q).(candidate)
		i := c.pos
		j := next[i]
		// Skip stale candidates: a side was merged away or changed since.
		if !alive[i] || j < 0 || word[i] != c.left || word[j] != c.right {
			continue
		}
		word[i] = t.merges[pairKey(c.left, c.right)].result
		alive[j] = false
		next[i] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = i
		}
		if prev[i] >= 0 {
			push(prev[i])
		}
		push(i)
	}
	out := word[:0]
	for i := 0; i >= 0; i = next[i] {
		out = append(out, word[i])
	}
	return out
}

// candidate is a pair occurrence starting at symbol pos.
type candidate struct {
	rank        int32
	pos         int
	left, right int32
}

type pairQueue []candidate

func (q pairQueue) Len() int { return len(q) }
func (q pairQueue) Less(a, b int) bool {
	if q[a].rank != q[b].rank {
		return q[a].rank < q[b].rank
	}
	return q[a].pos < q[b].pos
}
func (q pairQueue) Swap(a, b int) { q[a], q[b] = q[b], q[a] }
func (q *pairQueue) Push(x any)   { *q = append(*q, x.(candidate)) }
func (q *pairQueue) Pop() any     { old := *q; c := old[len(old)-1]; *q = old[:len(old)-1]; return c }
