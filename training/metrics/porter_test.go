package metrics

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestStemMatchesNLTK checks 12,000 dictionary words and the Porter (1980)
// examples against nltk 3.8's PorterStemmer() (testdata/gen_fixtures.py).
func TestStemMatchesNLTK(t *testing.T) {
	f, err := os.Open("testdata/porter_cases.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, bad := 0, 0
	for sc.Scan() {
		word, want, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("bad fixture line %q", sc.Text())
		}
		n++
		if got := Stem(word); got != want {
			if bad++; bad <= 20 {
				t.Errorf("Stem(%q) = %q, want %q", word, got, want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 12000 {
		t.Fatalf("only %d fixture words", n)
	}
	if bad > 0 {
		t.Errorf("%d of %d words stem differently", bad, n)
	}
}

func TestStemKnownPairs(t *testing.T) {
	// NLTK_EXTENSIONS results, including where they depart from Porter (1980).
	pairs := map[string]string{
		"caresses": "caress", "ponies": "poni", "ties": "tie", "cats": "cat", "agreed": "agre",
		"feed": "feed", "plastered": "plaster", "motoring": "motor", "sing": "sing",
		"conflated": "conflat", "hopping": "hop", "falling": "fall", "filing": "file",
		"happy": "happi", "relational": "relat", "generously": "gener", "skies": "sky",
		"dying": "die", "news": "news", "spied": "spi", "died": "die", "enjoy": "enjoy",
		"geology": "geolog", "controll": "control", "roll": "roll", "is": "is",
	}
	for word, want := range pairs {
		if got := Stem(word); got != want {
			t.Errorf("Stem(%q) = %q, want %q", word, got, want)
		}
	}
}
