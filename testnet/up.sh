#!/usr/bin/env bash
# up.sh: (re)build the image from bin/mlecs, generate keys/configs/partitions, start the six-node mesh and
# wait (bounded by UP_TIMEOUT seconds) until every node sees the others and all agree on the pinned
# anchor; then show `mlecs peers` from an edge. Used by `make testnet` and by test.sh.
set -euo pipefail
# shellcheck source=testnet/lib.sh
source "$(dirname "$0")/lib.sh"

UP_TIMEOUT=${UP_TIMEOUT:-90}
[[ -x $TN_ROOT/bin/mlecs ]] || die "bin/mlecs not found: run make build"

t0=$(now_ms)
# Build context is bin/ alone, so only the binary is sent to the engine. DOCKER_BUILDKIT=0: the engine
# here may have no buildx; the classic builder needs nothing but the engine for FROM scratch.
mkdir -p "$TN_RUN"
if ! DOCKER_BUILDKIT=0 docker build -q -f "$TN_DIR/Dockerfile" -t "$TN_IMAGE" "$TN_ROOT/bin" >/dev/null 2>"$TN_RUN/build.log"; then
	cat "$TN_RUN/build.log" >&2
	die "docker build failed"
fi
# Each new binary leaves the previous image dangling: drop those (only ours, by label).
docker image prune -f --filter label=org.mlecs.testnet=1 >/dev/null
log "image $TN_IMAGE: $(docker image inspect -f '{{.Size}}' "$TN_IMAGE" | awk '{ printf "%.1f MB", $1 / 1e6 }')"

# A fresh net each time: gen.sh makes new keys, which running containers and old volumes do not know.
if [[ -n $(docker ps -aq --filter "label=com.docker.compose.project=$TN_PROJECT") ]]; then
	log "removing the previous testnet first"
	"$TN_DIR/down.sh" >/dev/null 2>&1
fi
"$TN_DIR/gen.sh"
compose up -d --remove-orphans "${TN_MESH_NODES[@]}" >&2
t1=$(now_ms)
if ! wait_for "$UP_TIMEOUT" "all ${#TN_MESH_NODES[@]} nodes connected, heartbeats heard, one anchor agreed" mesh_converged; then
	compose ps >&2
	for s in "${TN_MESH_NODES[@]}"; do
		log "--- $s: $(connected_count "$s" 2>/dev/null || echo '?') connected; anchor=$(field "$s" anchor) term=$(field "$s" term)"
		compose logs --tail 5 "$s" >&2 || true
	done
	die "mesh did not converge"
fi
t2=$(now_ms)
echo $((t2 - t1)) >"$TN_RUN/converged_ms"
log "mesh converged in $(((t2 - t1) / 1000)).$(((t2 - t1) % 1000 / 100))s after up (total $(((t2 - t0) / 1000))s); anchor term $(agreed anchor "${TN_MESH_NODES[@]}")"
if [[ ${QUIET:-0} != 1 ]]; then
	echo "== mlecs status (edge1)"
	mx edge1 status
	echo "== mlecs peers (edge1)"
	mx edge1 peers
fi
