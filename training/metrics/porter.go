package metrics

import "strings"

// Stem is the Porter stemmer exactly as nltk's PorterStemmer() in its
// default NLTK_EXTENSIONS mode, the one rouge-score applies. It expects a
// lowercase ASCII word, as Tokenize produces.
func Stem(word string) string {
	if s, ok := irregular[word]; ok {
		return s
	}
	if len(word) <= 2 {
		return word
	}
	w := step1a(word)
	w = step1b(w)
	w = step1c(w)
	w = step2(w)
	w = step3(w)
	w = step4(w)
	w = step5a(w)
	return step5b(w)
}

// irregular is nltk's table of forms that bypass the algorithm.
var irregular = map[string]string{
	"sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
	"news": "news", "innings": "inning", "inning": "inning", "outings": "outing",
	"outing": "outing", "cannings": "canning", "canning": "canning", "howe": "howe",
	"proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}

// consonant reports whether w[i] is a consonant: not a vowel, and a 'y'
// only if it starts the word or follows a vowel.
func consonant(w string, i int) bool {
	switch w[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		return i == 0 || !consonant(w, i-1)
	}
	return true
}

// measure is Porter's m: the number of vowel-consonant transitions.
func measure(stem string) int {
	m := 0
	for i := 1; i < len(stem); i++ {
		if !consonant(stem, i-1) && consonant(stem, i) {
			m++
		}
	}
	return m
}

func positiveMeasure(stem string) bool { return measure(stem) > 0 }
func measureAbove1(stem string) bool   { return measure(stem) > 1 }

func hasVowel(stem string) bool {
	for i := range len(stem) {
		if !consonant(stem, i) {
			return true
		}
	}
	return false
}

// endsDoubleConsonant is Porter's *d.
func endsDoubleConsonant(w string) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && consonant(w, n-1)
}

// endsCVC is Porter's *o, with nltk's extension to two-letter stems.
func endsCVC(w string) bool {
	n := len(w)
	if n >= 3 && consonant(w, n-3) && !consonant(w, n-2) && consonant(w, n-1) {
		c := w[n-1]
		return c != 'w' && c != 'x' && c != 'y'
	}
	return n == 2 && !consonant(w, 0) && consonant(w, 1)
}

// rule replaces suffix by repl when cond (nil: always) holds for the stem.
// The suffix "*d" stands for a final double consonant.
type rule struct {
	suffix, repl string
	cond         func(stem string) bool
}

// applyRules applies the first rule whose suffix matches; a matching rule
// whose condition fails ends the search, as in nltk's _apply_rule_list.
func applyRules(w string, rules []rule) string {
	for _, r := range rules {
		if r.suffix == "*d" {
			if endsDoubleConsonant(w) {
				stem := w[:len(w)-2]
				if r.cond == nil || r.cond(stem) {
					return stem + r.repl
				}
				return w
			}
			continue
		}
		if strings.HasSuffix(w, r.suffix) {
			stem := w[:len(w)-len(r.suffix)]
			if r.cond == nil || r.cond(stem) {
				return stem + r.repl
			}
			return w
		}
	}
	return w
}

func step1a(w string) string {
	if len(w) == 4 && strings.HasSuffix(w, "ies") {
		return w[:1] + "ie"
	}
	return applyRules(w, []rule{{"sses", "ss", nil}, {"ies", "i", nil}, {"ss", "ss", nil}, {"s", "", nil}})
}

func step1b(w string) string {
	if strings.HasSuffix(w, "ied") {
		if len(w) == 4 {
			return w[:1] + "ie"
		}
		return w[:len(w)-3] + "i"
	}
	if strings.HasSuffix(w, "eed") {
		if stem := w[:len(w)-3]; measure(stem) > 0 {
			return stem + "ee"
		}
		return w
	}
	var stem string
	switch {
	case strings.HasSuffix(w, "ed") && hasVowel(w[:len(w)-2]):
		stem = w[:len(w)-2]
	case strings.HasSuffix(w, "ing") && hasVowel(w[:len(w)-3]):
		stem = w[:len(w)-3]
	default:
		return w
	}
	last := stem[len(stem)-1]
	return applyRules(stem, []rule{
		{"at", "ate", nil},
		{"bl", "ble", nil},
		{"iz", "ize", nil},
		{"*d", string(last), func(string) bool { return last != 'l' && last != 's' && last != 'z' }},
		{"", "e", func(s string) bool { return measure(s) == 1 && endsCVC(s) }},
	})
}

func step1c(w string) string {
	return applyRules(w, []rule{{"y", "i", func(s string) bool { return len(s) > 1 && consonant(s, len(s)-1) }}})
}

var step2Rules = []rule{
	{"ational", "ate", positiveMeasure},
	{"tional", "tion", positiveMeasure},
	{"enci", "ence", positiveMeasure},
	{"anci", "ance", positiveMeasure},
	{"izer", "ize", positiveMeasure},
	{"bli", "ble", positiveMeasure},
	{"alli", "al", positiveMeasure},
	{"entli", "ent", positiveMeasure},
	{"eli", "e", positiveMeasure},
	{"ousli", "ous", positiveMeasure},
	{"ization", "ize", positiveMeasure},
	{"ation", "ate", positiveMeasure},
	{"ator", "ate", positiveMeasure},
	{"alism", "al", positiveMeasure},
	{"iveness", "ive", positiveMeasure},
	{"fulness", "ful", positiveMeasure},
	{"ousness", "ous", positiveMeasure},
	{"aliti", "al", positiveMeasure},
	{"iviti", "ive", positiveMeasure},
	{"biliti", "ble", positiveMeasure},
	{"fulli", "ful", positiveMeasure},
}

func step2(w string) string {
	// nltk applies ALLI -> AL first and, if it fires, runs step 2 again.
	if strings.HasSuffix(w, "alli") && positiveMeasure(w[:len(w)-4]) {
		return step2(w[:len(w)-4] + "al")
	}
	// "logi" -> "log" keeps the 'l' with the stem for the measure.
	logi := rule{"logi", "log", func(string) bool { return positiveMeasure(w[:len(w)-3]) }}
	return applyRules(w, append(step2Rules[:len(step2Rules):len(step2Rules)], logi))
}

var step3Rules = []rule{
	{"icate", "ic", positiveMeasure},
	{"ative", "", positiveMeasure},
	{"alize", "al", positiveMeasure},
	{"iciti", "ic", positiveMeasure},
	{"ical", "ic", positiveMeasure},
	{"ful", "", positiveMeasure},
	{"ness", "", positiveMeasure},
}

func step3(w string) string { return applyRules(w, step3Rules) }

var step4Rules = []rule{
	{"al", "", measureAbove1},
	{"ance", "", measureAbove1},
	{"ence", "", measureAbove1},
	{"er", "", measureAbove1},
	{"ic", "", measureAbove1},
	{"able", "", measureAbove1},
	{"ible", "", measureAbove1},
	{"ant", "", measureAbove1},
	{"ement", "", measureAbove1},
	{"ment", "", measureAbove1},
	{"ent", "", measureAbove1},
	{"ion", "", func(s string) bool { return measure(s) > 1 && (s[len(s)-1] == 's' || s[len(s)-1] == 't') }},
	{"ou", "", measureAbove1},
	{"ism", "", measureAbove1},
	{"ate", "", measureAbove1},
	{"iti", "", measureAbove1},
	{"ous", "", measureAbove1},
	{"ive", "", measureAbove1},
	{"ize", "", measureAbove1},
}

func step4(w string) string { return applyRules(w, step4Rules) }

// step5a tries both E rules, unlike applyRules (see nltk's comment).
func step5a(w string) string {
	if !strings.HasSuffix(w, "e") {
		return w
	}
	stem := w[:len(w)-1]
	m := measure(stem)
	if m > 1 || (m == 1 && !endsCVC(stem)) {
		return stem
	}
	return w
}

func step5b(w string) string {
	if strings.HasSuffix(w, "ll") && measure(w[:len(w)-1]) > 1 {
		return w[:len(w)-1]
	}
	return w
}
