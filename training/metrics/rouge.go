package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Score is precision, recall and F-measure (JSON "p", "r", "f").
type Score struct {
	Precision float64 `json:"p"`
	Recall    float64 `json:"r"`
	F         float64 `json:"f"`
}

// newScore derives the F-measure as rouge-score's scoring.fmeasure does.
func newScore(precision, recall float64) Score {
	s := Score{Precision: precision, Recall: recall}
	if precision+recall > 0 {
		s.F = 2 * precision * recall / (precision + recall)
	}
	return s
}

// Scores holds the four ROUGE types of one prediction.
type Scores struct {
	Rouge1    Score `json:"rouge1"`
	Rouge2    Score `json:"rouge2"`
	RougeL    Score `json:"rougeL"`
	RougeLsum Score `json:"rougeLsum"`
}

// Scorer computes ROUGE scores; the zero value scores without stemming.
type Scorer struct {
	// Stem applies the Porter stemmer to tokens longer than 3 characters.
	Stem bool
}

// Score compares prediction with one target (rouge-score's score).
func (s Scorer) Score(target, prediction string) Scores {
	tt, pt := Tokenize(target, s.Stem), Tokenize(prediction, s.Stem)
	return Scores{
		Rouge1:    rougeN(tt, pt, 1),
		Rouge2:    rougeN(tt, pt, 2),
		RougeL:    RougeL(tt, pt),
		RougeLsum: RougeLsum(s.sentences(target), s.sentences(prediction)),
	}
}

// ScoreMulti compares prediction with several targets and keeps, for each
// ROUGE type separately, the score of the target with the highest F (the
// first on ties), as rouge-score's score_multi does.
func (s Scorer) ScoreMulti(targets []string, prediction string) (Scores, error) {
	if len(targets) == 0 {
		return Scores{}, ErrNoTargets
	}
	best := s.Score(targets[0], prediction)
	for _, t := range targets[1:] {
		sc := s.Score(t, prediction)
		keepBetter(&best.Rouge1, sc.Rouge1)
		keepBetter(&best.Rouge2, sc.Rouge2)
		keepBetter(&best.RougeL, sc.RougeL)
		keepBetter(&best.RougeLsum, sc.RougeLsum)
	}
	return best, nil
}

func keepBetter(best *Score, s Score) {
	if s.F > best.F {
		*best = s
	}
}

// sentences tokenises each non-empty newline-separated line of text.
func (s Scorer) sentences(text string) [][]string {
	var out [][]string
	for line := range strings.SplitSeq(text, "\n") {
		if line != "" {
			out = append(out, Tokenize(line, s.Stem))
		}
	}
	return out
}

// RougeN scores the overlap of n-gram counts; n must be at least 1.
func RougeN(target, prediction []string, n int) (Score, error) {
	if n < 1 {
		return Score{}, fmt.Errorf("%w: ROUGE-N needs n >= 1, got %d", ErrBadN, n)
	}
	return rougeN(target, prediction, n), nil
}

func rougeN(target, prediction []string, n int) Score {
	tc, pc := ngramCounts(target, n), ngramCounts(prediction, n)
	overlap := 0
	for g, c := range tc {
		overlap += min(c, pc[g])
	}
	tn, pn := max(len(target)-n+1, 0), max(len(prediction)-n+1, 0)
	return newScore(float64(overlap)/float64(max(pn, 1)), float64(overlap)/float64(max(tn, 1)))
}

// ngramCounts keys each n-gram by its length-prefixed tokens, so distinct
// n-grams never share a key whatever characters the tokens hold.
func ngramCounts(tokens []string, n int) map[string]int {
	counts := make(map[string]int)
	var key []byte
	for i := 0; i+n <= len(tokens); i++ {
		key = key[:0]
		for _, t := range tokens[i : i+n] {
			key = strconv.AppendInt(key, int64(len(t)), 10)
			key = append(key, ':')
			key = append(key, t...)
		}
		counts[string(key)]++
	}
	return counts
}

// RougeL scores the longest common subsequence of the token sequences.
func RougeL(target, prediction []string) Score {
	if len(target) == 0 || len(prediction) == 0 {
		return Score{}
	}
	n := float64(lcsLength(target, prediction))
	return newScore(n/float64(len(prediction)), n/float64(len(target)))
}

// lcsLength is the LCS length in O(len(b)) memory: two rows of the table.
func lcsLength(a, b []string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// RougeLsum is summary-level ROUGE-L over sentences: for each target
// sentence, the union of its LCS with every prediction sentence, each token
// counted at most as often as it occurs on both sides (ROUGE-1.5.5). Its
// memory is one LCS table: longest target by longest prediction sentence.
func RougeLsum(target, prediction [][]string) Score {
	m, n := 0, 0
	for _, s := range target {
		m += len(s)
	}
	for _, s := range prediction {
		n += len(s)
	}
	if m == 0 || n == 0 {
		return Score{}
	}
	leftT, leftP := tokenCounts(target), tokenCounts(prediction)
	hits := 0
	for _, ref := range target {
		var union []int
		for _, cand := range prediction {
			union = append(union, lcsIndices(ref, cand)...)
		}
		slices.Sort(union)
		union = slices.Compact(union)
		for _, i := range union {
			tok := ref[i]
			if leftP[tok] > 0 && leftT[tok] > 0 {
				hits++
				leftP[tok]--
				leftT[tok]--
			}
		}
	}
	return newScore(float64(hits)/float64(n), float64(hits)/float64(m))
}

func tokenCounts(sents [][]string) map[string]int {
	c := make(map[string]int)
	for _, s := range sents {
		for _, t := range s {
			c[t]++
		}
	}
	return c
}

// lcsTable is the (len(a)+1) x (len(b)+1) dynamic-programming table.
func lcsTable(a, b []string) [][]int {
	cells := make([]int, (len(a)+1)*(len(b)+1))
	t := make([][]int, len(a)+1)
	for i := range t {
		t[i] = cells[i*(len(b)+1) : (i+1)*(len(b)+1)]
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				t[i][j] = t[i-1][j-1] + 1
			} else {
				t[i][j] = max(t[i-1][j], t[i][j-1])
			}
		}
	}
	return t
}

// lcsIndices returns the indices into ref of one LCS with cand, read back
// with rouge-score's tie-breaking (it decides which tokens the union keeps).
func lcsIndices(ref, cand []string) []int {
	t := lcsTable(ref, cand)
	out := make([]int, t[len(ref)][len(cand)])
	k := len(out)
	for i, j := len(ref), len(cand); i > 0 && j > 0; {
		switch {
		case ref[i-1] == cand[j-1]:
			k--
			out[k] = i - 1
			i--
			j--
		case t[i][j-1] > t[i-1][j]:
			j--
		default:
			i--
		}
	}
	return out
}

// String formats a score for logs.
func (s Score) String() string {
	return fmt.Sprintf("p=%.4f r=%.4f f=%.4f", s.Precision, s.Recall, s.F)
}

// Average is the mean of each precision, recall and F over scores (as
// rouge-score's aggregators report as their mid value).
func Average(scores []Scores) (Scores, error) {
	if len(scores) == 0 {
		return Scores{}, ErrEmpty
	}
	var sum Scores
	for _, s := range scores {
		sum.Rouge1 = sum.Rouge1.plus(s.Rouge1)
		sum.Rouge2 = sum.Rouge2.plus(s.Rouge2)
		sum.RougeL = sum.RougeL.plus(s.RougeL)
		sum.RougeLsum = sum.RougeLsum.plus(s.RougeLsum)
	}
	n := float64(len(scores))
	return Scores{sum.Rouge1.over(n), sum.Rouge2.over(n), sum.RougeL.over(n), sum.RougeLsum.over(n)}, nil
}

func (s Score) plus(o Score) Score {
	return Score{s.Precision + o.Precision, s.Recall + o.Recall, s.F + o.F}
}

func (s Score) over(n float64) Score { return Score{s.Precision / n, s.Recall / n, s.F / n} }
