#!/usr/bin/python3
"""Generates the committed tokenizer fixtures from an independent Python
implementation of OpenAI's GPT-2 encoder (src/encoder.py, MIT).

Run from this directory:  /usr/bin/python3 gen_fixtures.py ../../../../shared/data/gpt2-bpe
Needs Debian's python3-regex (the `regex` module supplies \\p{L} and \\p{N},
exactly as the reference does). The Go tests read only the JSON output.

Outputs:
  encode_cases.json    [{"text": str, "ids": [int]}]  reference encodings
  unicode_classes.json {"s": ranges, "L": ranges, "N": ranges} as the
                       `regex` module classifies every code point
"""
import json
import random
import sys

import regex

PAT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class Encoder:
    def __init__(self, folder):
        with open(folder + "/encoder.json", encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(folder + "/vocab.bpe", encoding="utf-8") as f:
            lines = f.read().split("\n")[1:-1]
        self.ranks = {tuple(l.split()): i for i, l in enumerate(lines)}
        self.byte_encoder = bytes_to_unicode()
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for piece in PAT.findall(text):
            mapped = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(mapped))
        return ids


HANDPICKED = [
    "Hello world",
    "Hello, world!",
    "hello world",
    " Hello world",
    "Hello  world",
    "Hello   world   ",
    "   leading spaces",
    "trailing spaces   ",
    "trailing space ",
    " ",
    "  ",
    "\n",
    "\n\n",
    "line one\nline two\n",
    "a\n\nb",
    "tabs\tand\t\ttabs",
    "windows\r\nnewlines\r\n",
    "mixed \n whitespace \t\n end",
    "I'm you're we've they'll he'd it's can't",
    "I'M YOU'RE WE'VE",
    "'s's'tt'reading",
    "rock'n'roll",
    "1234567890",
    "3.14159 and 2,718",
    "phone 555-0123 x12",
    "year 2024, 1st of May",
    "café naïve résumé Ångström",
    "Æsop's fables",
    "中文字符测试",
    "日本語のテキスト",
    "한국어 텍스트",
    "Привет, мир!",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "😀 emoji 👍🏽 thumbs 👨‍👩‍👧 family",
    "🇫🇷🇯🇵 flags",
    "man firefighter: dark skin tone",
    "e\u0301 combining accent",
    "non\u00a0breaking\u00a0space",
    "ideographic\u3000space",
    "zero\u200bwidth\u200djoiner",
    "superscript² fraction½ roman Ⅻ arabic ٣",
    "x\x0by\x0cz\x1cw\x1dv\x85u",
    "<|endoftext|>",
    "!!!???...---",
    "    def f(x):\n        return x**2\n",
    "a  b   c    d",
    "end with newline and spaces \n  ",
    "Ġ is not a space",
    "",
]

POOL = [
    "a", "b", "the", "Hello", "World", "token", "ization", "e", "é", "ü", "ß", "Ж", "я",
    "中", "文", "日本", "😀", "👍🏽", "🇫🇷", "‍", "\u0301", "0", "7", "42", "²", "Ⅻ", "٣",
    " ", " ", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", "\u00a0", "\u3000", "\x0b", "\x85",
    "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", ".", ",", "!", "?", "-", "--",
    "(", ")", "\"", "#", "$", "%", "&", "*", "/", ":", ";", "<", ">", "@", "[", "]", "_",
    "~", "|", "<|", "|>", "ó", "ñ", "ç", "अ", "ा", "ि", "ق", "ك", "\u200b",
]


def random_cases(rng, count):
    cases = []
    for _ in range(count):
        n = rng.randint(1, 24)
        cases.append("".join(rng.choice(POOL) for _ in range(n)))
    return cases


def ranges(pred):
    out = []
    start = None
    for cp in range(0x110000):
        # Surrogates cannot occur in a Go string; classify them as no class.
        ok = not 0xD800 <= cp <= 0xDFFF and pred(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append([start, cp - 1])
            start = None
    if start is not None:
        out.append([start, 0x10FFFF])
    return out


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "../../../../shared/data/gpt2-bpe"
    enc = Encoder(folder)
    rng = random.Random(20260127)
    texts = HANDPICKED + random_cases(rng, 400)
    cases = [{"text": t, "ids": enc.encode(t)} for t in texts]
    with open("encode_cases.json", "w", encoding="utf-8") as f:
        # One case per line keeps diffs of a regenerated fixture readable.
        f.write("[\n")
        f.write(",\n".join(json.dumps(c, ensure_ascii=True, separators=(",", ":")) for c in cases))
        f.write("\n]\n")

    space = regex.compile(r"\s")
    letter = regex.compile(r"\p{L}")
    number = regex.compile(r"\p{N}")
    classes = {
        "regex_version": regex.__version__,
        "s": ranges(lambda c: space.match(c) is not None),
        "L": ranges(lambda c: letter.match(c) is not None),
        "N": ranges(lambda c: number.match(c) is not None),
    }
    with open("unicode_classes.json", "w", encoding="utf-8") as f:
        json.dump(classes, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
