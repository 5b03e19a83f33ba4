package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// class is the category of a rune in GPT-2's pre-tokenisation pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
type class uint8

const (
	classOther  class = iota // [^\s\p{L}\p{N}], including invalid UTF-8 bytes
	classLetter              // \p{L}
	classNumber              // \p{N}
	classSpace               // \s (Unicode White_Space)
)

// asciiClass is a lookup table for the common case.
var asciiClass = func() (t [utf8.RuneSelf]class) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		t[r] = classifyRune(r)
	}
	return t
}()

func classifyRune(r rune) class {
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	default:
		return classOther
	}
}

// classAt returns the class of the rune starting at s[i] and its width.
// An invalid byte is one rune of class other, so any byte string splits.
func classAt(s string, i int) (class, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n == 1 {
		return classOther, 1
	}
	return classifyRune(r), n
}

// pieceEnd returns the end of the pattern match that starts at s[i]
// (i < len(s)). Alternatives are tried in the pattern's order, as a
// backtracking regex engine does; the pieces partition s.
func pieceEnd(s string, i int) int {
	if s[i] == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	c, n := classAt(s, i)
	// " ?X+" for X in letter, number, other: an optional leading ASCII space.
	if s[i] == ' ' && i+1 < len(s) {
		if c2, n2 := classAt(s, i+1); c2 != classSpace {
			return runEnd(s, i+1+n2, c2)
		}
	}
	if c != classSpace {
		return runEnd(s, i+n, c)
	}
	// "\s+(?!\S)|\s+": the whole whitespace run if it ends the text, else
	// the run less its last rune (which then leads the next piece), else
	// (a run of one rune before non-space) that single rune.
	last, j := i, i+n
	for j < len(s) {
		c2, n2 := classAt(s, j)
		if c2 != classSpace {
			break
		}
		last, j = j, j+n2
	}
	if j == len(s) || last == i {
		return j
	}
	return last
}

// runEnd extends a run of class c from j to the first rune of another class.
func runEnd(s string, j int, c class) int {
	for j < len(s) {
		c2, n := classAt(s, j)
		if c2 != c {
			break
		}
		j += n
	}
	return j
}

// pieces calls yield with each pre-tokenised piece of s in order.
func pieces(s string, yield func(string)) {
	for i := 0; i < len(s); {
		j := pieceEnd(s, i)
		yield(s[i:j])
		i = j
	}
}
