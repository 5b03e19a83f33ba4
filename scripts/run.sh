#!/usr/bin/env bash
# The main end-to-end job behind `make run`: import the real HAR phone+watch data, pretrain a tiny base LM on
# its text, train the multimodal model (phone + watch encoders, connector, LoRA on the frozen base) on one node,
# evaluate on held-out subjects and print the metrics. Usage: scripts/run.sh DATA_DIR OUT_DIR
set -euo pipefail
data=${1:-../shared/data}
out=${2:-out}
bin=bin/mlecs
export MLECS_BPE="$data/gpt2-bpe"

for need in "$data/har-phone-watch" "$data/gpt2-bpe"; do
  [ -d "$need" ] || { echo "run: $need not found (see README: The data)" >&2; exit 1; }
done
mkdir -p "$out"

if [ ! -f "$out/har/dataset.json" ]; then
  echo "== importing HAR into $out/har"
  "$bin" data import har --src "$data/har-phone-watch" --out "$out/har"
fi
"$bin" data check "$out/har" --top 3

if [ ! -f "$out/har-base/model.json" ] && [ ! -f "$out/har-base/base.safetensors" ]; then
  echo "== pretraining the tiny base LM on the HAR train text"
  "$bin" pretrain --dataset "$out/har" --preset tiny --out "$out/har-base" --steps 300 --seed 1
fi

echo "== training phone+watch on one node (tiny preset)"
rm -rf "$out/har-run"
"$bin" train --dataset "$out/har" --preset tiny --base "$out/har-base" --out "$out/har-run" \
  --epochs 10 --batch 32 --seed 1

echo "== evaluating on the held-out subjects"
"$bin" eval --model "$out/har-run" --dataset "$out/har" --out "$out/har-run/eval"
echo "== metrics ($out/har-run/eval/metrics.json)"
cat "$out/har-run/eval/metrics.json"
echo
