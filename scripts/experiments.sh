#!/usr/bin/env bash
# The ML-ECS results table of docs/results-mesh.md: one `mlecs experiment run` per (dataset, modality plan,
# missing rate), each over 3 seeds, every method under the same data, rounds and local steps.
# Usage: scripts/experiments.sh DATA_DIR OUT_DIR [CELL ...]
#   CELL = dataset:plan:missing:methods (methods comma-separated), e.g. har:mixed:0.5:mlecs,local,fedavg
#   default cells: both datasets, mixed plan, no missing modality, ML-ECS and every baseline.
# Needs bin/mlecs (make build). Imports the data and pretrains one base LM per dataset once, into OUT_DIR.
# THREADS=N caps worker threads per run (default: all cores), for two cells side by side.
# WORD_HEAD=1 gives every method's models the word head (`--word-head`; cell directories end in -wh).
set -euo pipefail
data=${1:?data dir}
out=${2:?out dir}
shift 2
bin=${MLECS_BIN:-bin/mlecs}
export MLECS_BPE="$data/gpt2-bpe"
all=mlecs,local,fedavg,fedprox,fedmkt,creamfl,centralized
cells=("$@")
[ ${#cells[@]} -gt 0 ] || cells=("har:mixed:0:$all" "emoji:mixed:0:$all")
mkdir -p "$out"

prepare() { # dataset -> imported data and a base LM under $out
  local ds=$1 src steps
  case $ds in
    har) src=har-phone-watch steps=300 ;;
    emoji) src=emoji steps=1500 ;;
    *) echo "experiments: unknown dataset $ds" >&2; exit 1 ;;
  esac
  [ -f "$out/$ds/dataset.json" ] || "$bin" data import "$ds" --src "$data/$src" --out "$out/$ds"
  [ -f "$out/base-$ds/base.json" ] ||
    "$bin" pretrain --dataset "$out/$ds" --preset tiny --out "$out/base-$ds" --steps "$steps" --seed 1
}

for cell in "${cells[@]}"; do
  IFS=: read -r ds plan missing methods <<<"$cell"
  prepare "$ds"
  dir="$out/exp-$ds-$plan-m$missing"
  head=()
  if [ "${WORD_HEAD:-0}" = 1 ]; then head=(--word-head) dir=$dir-wh; fi
  # HAR: 8 rounds of 40 private steps of 32 samples per edge, enough for the tiny model to learn beyond
  # the majority answer. An emoji sample costs about 3x more (three modalities, a 4.5k-token vocabulary,
  # longer targets): 8 rounds of 30 steps of 16 samples keep a 7-method, 3-seed cell near an hour on 2 cores.
  # 200 test samples per evaluation.
  case $ds in
    har) budget=(--rounds 8 --steps 40 --anchor-steps 20 --batch 32) ;;
    emoji) budget=(--rounds 8 --steps 30 --anchor-steps 15 --batch 16) ;;
  esac
  echo "== $ds, plan $plan, missing rate $missing: $methods -> $dir"
  "$bin" experiment run --dataset "$out/$ds" --base "$out/base-$ds" --edges 3 --modality-plan "$plan" \
    --missing-rate "$missing" "${budget[@]}" "${head[@]}" --public-steps 5 \
    --seeds 1,2,3 --methods "$methods" --preset tiny --test-samples 200 --threads "${THREADS:-0}" --out "$dir"
done
