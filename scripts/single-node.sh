#!/usr/bin/env bash
# The single-node learning table of docs/results-single-node.md: `mlecs train` + `mlecs eval` for each
# modality set and seed, then one row per set with the mean and sample standard deviation over seeds.
# Usage: scripts/single-node.sh DATA_DIR OUT_DIR DATASET [MODS ...]
#   DATASET = har or emoji; MODS = comma-separated modalities (default: each single modality, then all)
# Env: SEEDS (default "1 2 3"), EPOCHS (har 5, emoji 4), ENCODER (default transformer), THREADS (0: all),
#      WORD_HEAD=1 (train with --word-head).
# Needs bin/mlecs (make build). Imports the data and pretrains the base LM once, into OUT_DIR.
set -euo pipefail
data=${1:?data dir}
out=${2:?out dir}
ds=${3:?dataset: har or emoji}
shift 3
bin=${MLECS_BIN:-bin/mlecs}
export MLECS_BPE="$data/gpt2-bpe"
case $ds in
  har) src=har-phone-watch pretrain=300 epochs=5 sets=(phone watch phone,watch) ;;
  emoji) src=emoji pretrain=1500 epochs=4 sets=(twemoji noto keywords twemoji,noto,keywords) ;;
  *) echo "single-node: unknown dataset $ds" >&2; exit 1 ;;
esac
[ $# -eq 0 ] || sets=("$@")
epochs=${EPOCHS:-$epochs}
encoder=${ENCODER:-transformer}
threads=${THREADS:-0}
head=() tag=$encoder
if [ "${WORD_HEAD:-0}" = 1 ]; then head=(--word-head) tag=$encoder-wh; fi
mkdir -p "$out"
[ -f "$out/$ds/dataset.json" ] || "$bin" data import "$ds" --src "$data/$src" --out "$out/$ds"
[ -f "$out/base-$ds/base.json" ] ||
  "$bin" pretrain --dataset "$out/$ds" --preset tiny --out "$out/base-$ds" --steps "$pretrain" --seed 1

for mods in "${sets[@]}"; do
  for seed in ${SEEDS:-1 2 3}; do
    run="$out/runs/$ds-$tag-${mods//,/+}-e$epochs-s$seed"
    if [ ! -f "$run/eval/metrics.json" ]; then
      "$bin" train --dataset "$out/$ds" --modalities "$mods" --preset tiny --base "$out/base-$ds" \
        --encoder "$encoder" "${head[@]}" --epochs "$epochs" --batch 32 --seed "$seed" --threads "$threads" --out "$run"
      "$bin" eval --model "$run" --dataset "$out/$ds" --threads "$threads" --out "$run/eval"
    fi
  done
done

# One row per modality set: mean ± sample sd over the seeds of ROUGE-Lsum, accuracy and macro-F1.
echo "| dataset | modalities | encoder | epochs | seeds | ROUGE-Lsum | accuracy | macro-F1 |"
echo "|---|---|---|---|---|---|---|---|"
for mods in "${sets[@]}"; do
  for seed in ${SEEDS:-1 2 3}; do
    tr -d ' \n' <"$out/runs/$ds-$tag-${mods//,/+}-e$epochs-s$seed/eval/metrics.json"
    echo
  done | awk -v row="| $ds | $mods | $tag | $epochs" '
    function get(k,   m) { return match($0, "\"" k "\":[-0-9.eE+]+") ? substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0 : 0 }
    { n++; r[n] = get("rougeLsum"); a[n] = get("accuracy"); f[n] = get("macro_f1") }
    function ms(x,   i, m, s) { for (i = 1; i <= n; i++) m += x[i]; m /= n
      for (i = 1; i <= n; i++) s += (x[i] - m) ^ 2
      return n > 1 ? sprintf("%.3f ± %.3f", m, sqrt(s / (n - 1))) : sprintf("%.3f", m) }
    END { printf "%s | %d | %s | %s | %s |\n", row, n, ms(r), ms(a), ms(f) }'
done
