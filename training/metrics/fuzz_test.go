package metrics

import (
	"regexp"
	"strings"
	"testing"
)

var validToken = regexp.MustCompile(`^[a-z0-9]+$`)

// FuzzTokenize checks, for arbitrary text, that tokens are [a-z0-9]+ and,
// unstemmed, are exactly the alphanumeric runs of the ASCII-lowercased text.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"The quick, brown FOX!", "it's 2024", "\u212Aelvin \u0130x", "a\xffb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, stem := range []bool{false, true} {
			for _, tok := range Tokenize(s, stem) {
				if !validToken.MatchString(tok) {
					t.Fatalf("Tokenize(%q, %v) produced %q", s, stem, tok)
				}
			}
		}
		mapped := strings.Map(func(r rune) rune {
			switch {
			case 'A' <= r && r <= 'Z':
				return r + 'a' - 'A'
			case r == '\u212A':
				return 'k'
			case ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
				return r
			}
			return ' '
		}, strings.ReplaceAll(s, "\u0130", "i "))
		want := strings.Fields(mapped)
		got := Tokenize(s, false)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("Tokenize(%q) = %q, want %q", s, got, want)
		}
		// Scores are probabilities whatever the text.
		sc := Scorer{Stem: true}.Score(s, strings.ToUpper(s)+"\n"+s)
		for _, v := range []Score{sc.Rouge1, sc.Rouge2, sc.RougeL, sc.RougeLsum} {
			if v.Precision < 0 || v.Precision > 1 || v.Recall < 0 || v.Recall > 1 || v.F < 0 || v.F > 1 {
				t.Fatalf("score out of [0,1] for %q: %v", s, v)
			}
		}
	})
}
