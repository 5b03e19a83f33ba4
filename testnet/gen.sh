#!/usr/bin/env bash
# gen.sh: make everything the testnet mounts, under testnet/run/ (git-ignored):
#   run/keys/<node>.key, run/keys/psk        identities and the network key (mlecs keygen)
#   run/nodes/<node>/{config.json,node.key,psk,peer_id}   one read-only mount per container
#   run/data/emoji, run/data/part-N         the imported emoji dataset and per-node partitions
#   run/data/base                           the base LM every node shares (mlecs pretrain, tiny)
# Keys are new on every run (the compose volumes are removed by down.sh, so no stale state meets them);
# the imported dataset, the partitions and the base are kept once made (remade when their settings
# change). Env: MLECS (binary, default bin/mlecs), DATA (raw datasets, default ../shared/data), HEARTBEAT,
# LEASE, BACKOFF, ROUND_DEADLINE, QUORUM; training: PRETRAIN_STEPS, METHOD, STEPS, PUBLIC_STEPS,
# ANCHOR_STEPS, BATCH, LR, PUBLIC_FRACTION, CODEC, THREADS.
set -euo pipefail
# shellcheck source=testnet/lib.sh
source "$(dirname "$0")/lib.sh"

MLECS=${MLECS:-$TN_ROOT/bin/mlecs}
DATA=${DATA:-$TN_ROOT/../shared/data}
HEARTBEAT=${HEARTBEAT:-1s}
LEASE=${LEASE:-4s}
BACKOFF=${BACKOFF:-1s}
# Quorum: four of the five trainers (four edges and the standby), so one node cut off or killed does not
# hold rounds up to the deadline (check j); the deadline closes a round with fewer. 30 s, not less: on a
# loaded machine a healthy edge's round has taken over 10 s, and a deadline that short closed rounds
# with two updates.
ROUND_DEADLINE=${ROUND_DEADLINE:-30s}
QUORUM=${QUORUM:-4}
# ML-ECS on the tiny preset with few steps, so a round takes seconds with six containers on two cores:
# the fault checks need a net whose rounds advance, not a trained model.
PRETRAIN_STEPS=${PRETRAIN_STEPS:-30}
METHOD=${METHOD:-mlecs}
STEPS=${STEPS:-4}
PUBLIC_STEPS=${PUBLIC_STEPS:-1}
ANCHOR_STEPS=${ANCHOR_STEPS:-2}
BATCH=${BATCH:-8}
LR=${LR:-0.005}
PUBLIC_FRACTION=${PUBLIC_FRACTION:-0.05}
CODEC=${CODEC:-fp32}
THREADS=${THREADS:-1}
LEARNER_EVERY=${LEARNER_EVERY:-5} # edge learner checkpoints (files in DATA_DIR/learner; the daemon's default too); check c3
[[ -x $MLECS ]] || die "$MLECS not found: run make build"

# node -> role, modalities, partition (-1: no data mount). Edges hold different modality subsets.
declare -A ROLE=([anchor]=anchor [standby]=anchor-capable [edge1]=edge [edge2]=edge [edge3]=edge [edge4]=edge
	[outsider]=edge [stranger]=edge)
declare -A MODS=([anchor]="twemoji,noto,keywords" [standby]="twemoji,noto,keywords" [edge1]="twemoji,keywords"
	[edge2]="noto,keywords" [edge3]=twemoji [edge4]=noto [outsider]=twemoji [stranger]=noto)
declare -A PART=([anchor]=0 [standby]=4 [edge1]=0 [edge2]=1 [edge3]=2 [edge4]=3 [outsider]=0 [stranger]=0)
PARTS=5
ALL=("${TN_MESH_NODES[@]}" outsider stranger)

rm -rf "$TN_RUN/keys" "$TN_RUN/nodes"
mkdir -p "$TN_RUN/keys" "$TN_RUN/data"
chmod 700 "$TN_RUN/keys"
"$MLECS" keygen --psk "$TN_RUN/keys/psk" >/dev/null
declare -A ID
for n in "${ALL[@]}"; do
	ID[$n]=$("$MLECS" keygen --out "$TN_RUN/keys/$n.key" | head -n1)
	[[ ${ID[$n]} == 12D3* ]] || die "keygen for $n printed ${ID[$n]}"
done

# json_list A B C -> ["A","B","C"]
json_list() {
	local out="" x
	for x in "$@"; do out+="${out:+,}\"$x\""; done
	printf '[%s]' "$out"
}
boot() { printf '/dns4/%s/tcp/4001/p2p/%s' "$1" "${ID[$1]}"; }

# The allowlist is the mesh plus outsider: outsider is refused by the PSK alone (check e), while stranger
# holds the PSK but is in nobody's allowlist (refused by the allowlist alone).
ALLOW=()
for n in "${TN_MESH_NODES[@]}" outsider; do ALLOW+=("${ID[$n]}"); done

for n in "${ALL[@]}"; do
	d="$TN_RUN/nodes/$n"
	mkdir -p "$d"
	chmod 700 "$d"
	cp "$TN_RUN/keys/$n.key" "$d/node.key"
	printf '%s\n' "${ID[$n]}" >"$d/peer_id"
	psk_line='"psk_file": "/etc/mlecs/psk",'
	# Mesh nodes train ML-ECS on /data with the shared base at /base (compose mounts both read-only);
	# the intruders have no data and run the simple trainer.
	train_lines=""
	if [[ $n != outsider && $n != stranger ]]; then
		train_lines=$(
			cat <<TRAIN
  "dataset": "/data",
  "base": "/base",
  "preset": "tiny",
  "method": "$METHOD",
  "steps": $STEPS,
  "public_steps": $PUBLIC_STEPS,
  "anchor_steps": $ANCHOR_STEPS,
  "batch": $BATCH,
  "lr": $LR,
  "public_fraction": $PUBLIC_FRACTION,
  "codec": "$CODEC",
  "seed": 1,
  "threads": $THREADS,
  "learner_checkpoint_every": $LEARNER_EVERY,
TRAIN
		)
	fi
	if [[ $n == outsider ]]; then
		psk_line='' # no network key: an open-network node
	else
		cp "$TN_RUN/keys/psk" "$d/psk"
	fi
	case $n in
	anchor) bs=("$(boot standby)") ;;
	standby) bs=("$(boot anchor)") ;;
	*) bs=("$(boot anchor)" "$(boot standby)") ;;
	esac
	allow=("${ALLOW[@]}")
	IFS=, read -r -a mods <<<"${MODS[$n]}"
	cat >"$d/config.json" <<JSON
{
  "data_dir": "/var/lib/mlecs",
  "key_file": "/etc/mlecs/node.key",
  $psk_line
  "listen_addrs": ["/ip4/0.0.0.0/tcp/4001"],
  "bootstrap": $(json_list "${bs[@]}"),
  "allowlist": $(json_list "${allow[@]}"),
  "role": "${ROLE[$n]}",
  "modalities": $(json_list "${mods[@]}"),
  "partition": ${PART[$n]},
  "api_addr": "127.0.0.1:7700",
  "run_id": "testnet",
  "heartbeat": "$HEARTBEAT",
  "lease": "$LEASE",
  "backoff": "$BACKOFF",
$train_lines
  "quorum": $QUORUM,
  "round_deadline": "$ROUND_DEADLINE"
}
JSON
	chmod 600 "$d"/*
done
log "keys and configs for ${#ALL[@]} nodes in $TN_RUN/nodes (pinned anchor ${ID[anchor]})"

# Data partitions: the emoji dataset imported once, then cut per node (hard links, so cheap).
mkdir -p "$TN_RUN/data"
if [[ -d $DATA/emoji ]]; then
	if [[ ! -f $TN_RUN/data/emoji/dataset.json ]]; then
		log "importing the emoji dataset from $DATA/emoji"
		"$MLECS" data import emoji --src "$DATA/emoji" --out "$TN_RUN/data/emoji" >/dev/null
	fi
	# The pinned anchor mounts the whole dataset (it holds D' with every modality); the others a
	# partition: their private share plus D' with their modalities.
	for n in standby edge1 edge2 edge3 edge4; do
		p="$TN_RUN/data/part-${PART[$n]}"
		want="${MODS[$n]} public=$PUBLIC_FRACTION"
		if [[ -f $p/dataset.json && $(cat "$p.modalities" 2>/dev/null) == "$want" ]]; then
			continue
		fi
		(cd "$TN_ROOT" && go run ./testnet/partition --dataset "$TN_RUN/data/emoji" --out "$p" \
			--parts $PARTS --index "${PART[$n]}" --modalities "${MODS[$n]}" --public-fraction "$PUBLIC_FRACTION") >&2
		printf '%s\n' "$want" >"$p.modalities"
	done
	# One base LM for the whole net, pretrained once on the train texts (every node needs the same frozen
	# backbone and vocabulary).
	want="tiny steps=$PRETRAIN_STEPS"
	if [[ ! -f $TN_RUN/data/base/base.json || $(cat "$TN_RUN/data/base.settings" 2>/dev/null) != "$want" ]]; then
		log "pretraining the shared base LM (tiny, $PRETRAIN_STEPS steps)"
		rm -rf "$TN_RUN/data/base"
		"$MLECS" pretrain --dataset "$TN_RUN/data/emoji" --preset tiny --steps "$PRETRAIN_STEPS" \
			--bpe "$DATA/gpt2-bpe" --out "$TN_RUN/data/base" >"$TN_RUN/pretrain.log" 2>&1 ||
			{ cat "$TN_RUN/pretrain.log" >&2; die "pretrain failed"; }
		printf '%s\n' "$want" >"$TN_RUN/data/base.settings"
	fi
else
	die "$DATA/emoji not found: the testnet trains ML-ECS on the emoji dataset (set DATA)"
fi
