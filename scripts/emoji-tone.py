#!/usr/bin/env python3
"""Split an emoji eval's ROUGE-Lsum into skin-tone variants and the rest, and count right tones.

Usage: scripts/emoji-tone.py RUN/eval/predictions.jsonl [...]
A variant is a sample whose reference names a skin tone; the tone is right when the prediction names
the same (first) tone. Used for the diagnostics in docs/results-single-node.md.
"""
import json
import sys

# Longest first, so that "medium-light skin tone" is not read as "light skin tone".
TONES = ["medium-light skin tone", "medium-dark skin tone", "medium skin tone", "light skin tone", "dark skin tone"]


def tone(text):
    return next((t for t in TONES if t in text), None)


def mean(rows):
    return sum(r["rougeLsum"] for r in rows) / max(1, len(rows))


for path in sys.argv[1:]:
    rows = [json.loads(line) for line in open(path)]
    variants = [r for r in rows if tone(r["target"][0])]
    rest = [r for r in rows if not tone(r["target"][0])]
    right = sum(tone(r["prediction"]) == tone(r["target"][0]) for r in variants)
    print(f"{path}: ROUGE-Lsum {mean(rows):.3f}, variants {mean(variants):.3f} (n={len(variants)}), "
          f"others {mean(rest):.3f} (n={len(rest)}), right tone {right}/{len(variants)}, "
          f"distinct outputs {len({r['prediction'] for r in rows})}")
