package knn

import (
	"math"
	"slices"
	"strings"
	"unicode"
)

// Tokens splits text into lowercased runs of Unicode letters and digits.
func Tokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// TFIDF is a vocabulary with inverse document frequencies fitted on training texts.
type TFIDF struct {
	index map[string]int
	idf   []float64
}

// FitTFIDF fits the vocabulary and idf(t) = ln((1+N)/(1+df(t))) + 1 on docs (N documents, df(t) of which
// contain t). Word ids follow sorted order, so vectors do not depend on map iteration.
func FitTFIDF(docs []string) *TFIDF {
	df := map[string]int{}
	for _, d := range docs {
		toks := slices.Compact(slices.Sorted(slices.Values(Tokens(d))))
		for _, t := range toks {
			df[t]++
		}
	}
	words := make([]string, 0, len(df))
	for w := range df {
		words = append(words, w)
	}
	slices.Sort(words)
	m := &TFIDF{index: make(map[string]int, len(words)), idf: make([]float64, len(words))}
	n := float64(len(docs))
	for i, w := range words {
		m.index[w] = i
		m.idf[i] = math.Log((1+n)/(1+float64(df[w]))) + 1
	}
	return m
}

// IDF returns the idf of word (already a token) and whether it was seen in training.
func (m *TFIDF) IDF(word string) (float64, bool) {
	i, ok := m.index[word]
	if !ok {
		return 0, false
	}
	return m.idf[i], true
}

// Sparse is a sparse vector with strictly increasing indices.
type Sparse struct {
	Index []int
	Value []float64
}

// Vector is text's tf-idf vector (raw counts times idf), L2-normalised; words not seen in training are
// dropped, so it can be the zero vector.
func (m *TFIDF) Vector(text string) Sparse {
	counts := map[int]float64{}
	for _, t := range Tokens(text) {
		if i, ok := m.index[t]; ok {
			counts[i]++
		}
	}
	var v Sparse
	for i := range counts {
		v.Index = append(v.Index, i)
	}
	slices.Sort(v.Index)
	norm := 0.0
	v.Value = make([]float64, len(v.Index))
	for k, i := range v.Index {
		v.Value[k] = counts[i] * m.idf[i]
		norm += v.Value[k] * v.Value[k]
	}
	if norm > 0 {
		norm = math.Sqrt(norm)
		for k := range v.Value {
			v.Value[k] /= norm
		}
	}
	return v
}

// CosineDistance is 1 - a·b for L2-normalised (or zero) vectors, clamped to [0, 1] against rounding (tf-idf
// weights are non-negative). A zero vector has no direction: it is at distance 1 from everything.
func CosineDistance(a, b Sparse) float64 {
	dot := 0.0
	for i, j := 0, 0; i < len(a.Index) && j < len(b.Index); {
		switch {
		case a.Index[i] < b.Index[j]:
			i++
		case a.Index[i] > b.Index[j]:
			j++
		default:
			dot += a.Value[i] * b.Value[j]
			i++
			j++
		}
	}
	return min(1, max(0, 1-dot))
}
