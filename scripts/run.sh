#!/usr/bin/env bash
# The main end-to-end job behind `make run`: import the real emoji data (Twemoji and Noto images, CLDR keywords),
# then run the default experiment: ML-ECS and two baselines over an in-process mesh of real daemons (one pinned
# anchor, three edges with different modalities), tiny preset, and print the report.
# Usage: scripts/run.sh DATA_DIR OUT_DIR
set -euo pipefail
data=${1:-../shared/data}
out=${2:-out}
bin=bin/mlecs
export MLECS_BPE="$data/gpt2-bpe"

for need in "$data/emoji" "$data/gpt2-bpe"; do
  [ -d "$need" ] || { echo "run: $need not found (see README: The data)" >&2; exit 1; }
done
mkdir -p "$out"

if [ ! -f "$out/emoji/dataset.json" ]; then
  echo "== importing emoji into $out/emoji"
  "$bin" data import emoji --src "$data/emoji" --out "$out/emoji"
fi
"$bin" data check "$out/emoji" --top 3

echo "== experiment: mlecs, local, fedavg; 3 edges (mixed modalities), 4 rounds, tiny preset, seed 1"
"$bin" experiment run --dataset "$out/emoji" --edges 3 --modality-plan mixed --rounds 4 --seeds 1 \
  --methods mlecs,local,fedavg --preset tiny --pretrain-steps 150 --out "$out/experiment"

echo "== report ($out/experiment/report.md; plots beside it)"
cat "$out/experiment/report.md"
