package metrics

import "strings"

// Tokenize splits text as rouge-score's default tokenizer does: lowercase,
// every run of characters other than [a-z0-9] is a separator, and with stem
// set, tokens longer than 3 characters are Porter-stemmed.
func Tokenize(text string, stem bool) []string {
	var tokens []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() == 0 {
			return
		}
		tok := cur.String()
		cur.Reset()
		if stem && len(tok) > 3 {
			tok = Stem(tok)
		}
		if tok != "" {
			tokens = append(tokens, tok)
		}
	}
	for _, r := range text {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			cur.WriteRune(r)
		case 'A' <= r && r <= 'Z':
			cur.WriteRune(r + ('a' - 'A'))
		case r == '\u212A': // KELVIN SIGN lowercases to "k" in Python.
			cur.WriteByte('k')
		case r == '\u0130': // "İ" lowercases to "i" + U+0307, which separates.
			cur.WriteByte('i')
			flush()
		default:
			// No other code point's Python lowercase contains [a-z0-9]
			// (testdata/lower_ascii.json lists the two that do).
			flush()
		}
	}
	flush()
	return tokens
}
