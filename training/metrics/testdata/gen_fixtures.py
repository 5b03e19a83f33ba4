#!/usr/bin/python3
"""Generates the committed metrics fixtures. Run from this directory:

    /usr/bin/python3 gen_fixtures.py

Needs Debian's python3-nltk (the Porter stemmer rouge-score uses:
nltk.stem.porter.PorterStemmer() in its default NLTK_EXTENSIONS mode) and
wamerican (/usr/share/dict/american-english) for the stemmer word list.
The ROUGE reference below is an independent transcription of the algorithm
of Google's rouge-score (rouge_scorer.py, tokenize.py, scoring.py; Apache-2.0),
since rouge-score itself is not packaged for Debian. The Go tests read only
the outputs:

  porter_cases.tsv  word<TAB>nltk stem, one pair a line
  lower_ascii.json  non-ASCII code points whose str.lower() holds [a-z0-9]
  rouge_cases.jsonl {"targets": [str], "prediction": str, "stem": bool,
                     "scores": {type: [p, r, f]}} (score_multi when several targets)
"""
import collections
import json
import random
import re

from nltk.stem import porter

STEMMER = porter.PorterStemmer()


# --- rouge-score's tokenizer -------------------------------------------------
def tokenize(text, stem):
    text = text.lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    tokens = re.split(r"\s+", text)
    if stem:
        tokens = [STEMMER.stem(x) if len(x) > 3 else x for x in tokens]
    return [x for x in tokens if re.match(r"^[a-z0-9]+$", x)]


def fmeasure(p, r):
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def ngrams(tokens, n):
    c = collections.Counter()
    for i in range(len(tokens) - n + 1):
        c[tuple(tokens[i:i + n])] += 1
    return c


def score_ngrams(t, p):
    inter = sum(min(t[g], p[g]) for g in t)
    tc, pc = sum(t.values()), sum(p.values())
    prec = inter / max(pc, 1)
    rec = inter / max(tc, 1)
    return (prec, rec, fmeasure(prec, rec))


def lcs_table(ref, can):
    t = [[0] * (len(can) + 1) for _ in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(can) + 1):
            if ref[i - 1] == can[j - 1]:
                t[i][j] = t[i - 1][j - 1] + 1
            else:
                t[i][j] = max(t[i - 1][j], t[i][j - 1])
    return t


def score_lcs(t, p):
    if not t or not p:
        return (0.0, 0.0, 0.0)
    n = lcs_table(t, p)[-1][-1]
    prec, rec = n / len(p), n / len(t)
    return (prec, rec, fmeasure(prec, rec))


def backtrack(t, ref, can):
    i, j, out = len(ref), len(can), []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.insert(0, i - 1)
            i -= 1
            j -= 1
        elif t[i][j - 1] > t[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out


def summary_lcs(refs, cans):
    if not refs or not cans:
        return (0.0, 0.0, 0.0)
    m = sum(map(len, refs))
    n = sum(map(len, cans))
    if not n or not m:
        return (0.0, 0.0, 0.0)
    cr, cc = collections.Counter(), collections.Counter()
    for s in refs:
        cr.update(s)
    for s in cans:
        cc.update(s)
    hits = 0
    for r in refs:
        union = sorted(set().union(*[backtrack(lcs_table(r, c), r, c) for c in cans]))
        for tok in [r[i] for i in union]:
            if cc[tok] > 0 and cr[tok] > 0:
                hits += 1
                cc[tok] -= 1
                cr[tok] -= 1
    rec, prec = hits / m, hits / n
    return (prec, rec, fmeasure(prec, rec))


def score(target, prediction, stem):
    tt, pt = tokenize(target, stem), tokenize(prediction, stem)

    def sents(text):
        return [x for x in text.split("\n") if len(x)]

    return {
        "rouge1": score_ngrams(ngrams(tt, 1), ngrams(pt, 1)),
        "rouge2": score_ngrams(ngrams(tt, 2), ngrams(pt, 2)),
        "rougeL": score_lcs(tt, pt),
        "rougeLsum": summary_lcs([tokenize(s, stem) for s in sents(target)],
                                 [tokenize(s, stem) for s in sents(prediction)]),
    }


def score_multi(targets, prediction, stem):
    all_scores = [score(t, prediction, stem) for t in targets]
    out = {}
    for k in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        fs = [s[k][2] for s in all_scores]
        out[k] = all_scores[fs.index(max(fs))][k]  # numpy.argmax: first maximum
    return out


# --- fixtures ----------------------------------------------------------------
WORDS = ("the a cat cats dog dogs running runs ran runner quickly quick jumped jumping jumps "
         "over lazy fox foxes happy happiness generously general generalization relational "
         "conditional hopeful hopefulness sky skies dying news innings proceed exceed agreed "
         "feed caresses ponies ties ties sensational 2024 1990s 3rd x y").split()
PUNCT = [" ", " ", " ", "  ", ", ", ". ", "! ", " - ", "'", "\n", "\n\n", " (", ") ", "/", "é", "Ünïcode"]


def random_text(rng, words):
    n = rng.randint(0, 14)
    parts = []
    for _ in range(n):
        w = rng.choice(words)
        if rng.random() < 0.2:
            w = w.capitalize()
        if rng.random() < 0.05:
            w = w.upper()
        parts.append(w)
        parts.append(rng.choice(PUNCT))
    return "".join(parts)


def rouge_cases():
    rng = random.Random(7)
    fixed = [
        ("testing one two", "testing"),
        ("testing one two", ""),
        ("testing one two", "testing one"),
        ("testing one two", "testing two"),
        ("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5"),
        ("", "w1"),
        ("w1 w2 w3 w4 w5", "/"),
        ("The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log."),
        ("a a a b", "a a b b b"),
        ("x y\ny x\nx", "y x x\n\n x y"),
        ("Hello, World!!", "hello world"),
        ("Kelvin \u212a and \u0130stanbul", "kelvin k and i stanbul"),
    ]
    cases = []
    for t, p in fixed:
        for stem in (False, True):
            cases.append(([t], p, stem))
    for _ in range(300):
        stem = rng.random() < 0.5
        k = 1 if rng.random() < 0.7 else rng.randint(2, 4)
        targets = [random_text(rng, WORDS) for _ in range(k)]
        cases.append((targets, random_text(rng, WORDS), stem))
    with open("rouge_cases.jsonl", "w", encoding="utf-8") as f:
        for targets, pred, stem in cases:
            scores = score_multi(targets, pred, stem)
            f.write(json.dumps({"targets": targets, "prediction": pred, "stem": stem,
                                "scores": {k: list(v) for k, v in scores.items()}},
                               ensure_ascii=True) + "\n")


PORTER_EXAMPLES = (
    # Examples from Porter (1980) and the nltk docstrings, plus the irregular
    # forms, short words and digit tokens ROUGE produces.
    "caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated "
    "troubled sized hopping tanned falling hissing fizzed failing filing happy sky relational "
    "conditional rational valenci hesitanci digitizer conformabli radicalli differentli vileli "
    "analogousli vietnamization predication operator feudalism decisiveness hopefulness "
    "callousness formaliti sensitiviti sensibiliti triplicate formative formalize electriciti "
    "electrical hopeful goodness revival allowance inference airliner gyroscopic adjustable "
    "defensible irritant replacement adjustment dependent adoption homologou communism "
    "activate angulariti homologous effective bowdlerize probate rate cease controll roll "
    "generously dying lying tying news innings inning outings canning howe proceed exceed "
    "succeed skies dies flies spied died enjoy enjoyment spy fly try geology theology "
    "archaeology philology fully fulli youth yyyy syzygy toy a is as at be by 2nd 3rd 1990s "
    "abc123 ied eed aed bed oed sses ies alli"
).split()


def porter_cases():
    with open("/usr/share/dict/american-english", encoding="utf-8") as f:
        words = sorted({w.strip() for w in f if re.fullmatch(r"[a-z]+", w.strip())})
    rng = random.Random(11)
    sample = sorted(set(rng.sample(words, 12000)) | set(PORTER_EXAMPLES))
    with open("porter_cases.tsv", "w", encoding="ascii") as f:
        for w in sample:
            f.write("%s\t%s\n" % (w, STEMMER.stem(w)))


def lower_ascii():
    out = []
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        low = chr(cp).lower()
        if re.search(r"[a-z0-9]", low):
            out.append([cp, low])
    with open("lower_ascii.json", "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True)
        f.write("\n")


if __name__ == "__main__":
    rouge_cases()
    porter_cases()
    lower_ascii()
