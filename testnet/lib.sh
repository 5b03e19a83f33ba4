# Shared by the testnet scripts (sourced, not run). Needs bash, docker, a compose tool, awk, sed.
# shellcheck shell=bash disable=SC2034 # the TN_ variables are for the scripts that source this file
# The image has no shell: everything inside a container is the mlecs binary itself, via docker exec.

TN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TN_ROOT=$(cd "$TN_DIR/.." && pwd)
TN_RUN="$TN_DIR/run"
TN_PROJECT=${TN_PROJECT:-mlecstn}
TN_IMAGE=mlecs-testnet:latest
TN_NET="${TN_PROJECT}_mesh"
TN_MESH_NODES=(anchor standby edge1 edge2 edge3 edge4)

# compose runs the compose tool on this project: the plugin when present, else docker-compose v1.
compose() {
	if docker compose version >/dev/null 2>&1; then
		docker compose -p "$TN_PROJECT" -f "$TN_DIR/docker-compose.yml" "$@"
	else
		docker-compose -p "$TN_PROJECT" -f "$TN_DIR/docker-compose.yml" "$@"
	fi
}

log() { printf '%s [testnet] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# now_ms prints milliseconds since the epoch.
now_ms() { date +%s%3N; }

# cid SERVICE prints the container id of a service (kept across docker kill / start).
# Asked of the engine by compose's labels: the compose tool itself takes seconds to start on a busy machine.
cid() {
	local id
	id=$(docker ps -aq --filter "label=com.docker.compose.project=$TN_PROJECT" \
		--filter "label=com.docker.compose.service=$1" | head -n1)
	[[ -n $id ]] || return 1
	printf '%s\n' "$id"
}

# peer_id SERVICE prints the peer id gen.sh generated for it.
peer_id() { cat "$TN_RUN/nodes/$1/peer_id"; }

# mx SERVICE ARGS... runs the mlecs binary inside the service's container (bounded to 10 s).
mx() {
	local c
	c=$(cid "$1") || return 1
	shift
	timeout 10 docker exec "$c" /mlecs "$@"
}

# status_json SERVICE prints `mlecs status --json` of a node.
status_json() { mx "$1" status --json 2>/dev/null; }

# json_get FIELD reads a top-level scalar from the indented JSON that status --json prints on stdin.
json_get() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" | head -n1; }

# field SERVICE FIELD prints one status field of a node (empty when the node does not answer).
field() { status_json "$1" | json_get "$2"; }

# peers_table SERVICE prints one line per known peer: PEER_ID CONNECTED ROLE (role "-" before a heartbeat).
peers_table() {
	local out
	out=$(mx "$1" peers --json 2>/dev/null) || return 1
	awk '
		/^    "peer_id":/   { gsub(/[",]/, "", $2); id = $2; conn = "false"; role = "-" }
		/^    "role":/      { gsub(/[",]/, "", $2); if ($2 != "") role = $2 }
		/^    "connected":/ { gsub(/[",]/, "", $2); conn = $2 }
		/^  }/              { if (id != "") print id, conn, role; id = "" }' <<<"$out"
}

# sees SERVICE OTHER... succeeds when SERVICE is connected to every OTHER and has heard its heartbeat.
sees() {
	local svc=$1 tbl o id
	shift
	tbl=$(peers_table "$svc") || return 1
	for o in "$@"; do
		id=$(peer_id "$o")
		grep -q "^$id true [a-z]" <<<"$tbl" || return 1
	done
}

# connected_count SERVICE prints how many peers the node is connected to.
connected_count() {
	local t
	t=$(peers_table "$1") || return 1
	awk '$2 == "true" { n++ } END { print n + 0 }' <<<"$t"
}

# agreed ANCHOR_SERVICE SERVICE... succeeds when every SERVICE names ANCHOR_SERVICE's peer id as anchor,
# all at one term; it prints that term.
agreed() {
	local want s a t term=""
	want=$(peer_id "$1")
	shift
	for s in "$@"; do
		read -r a t < <(status_json "$s" | awk -F'"' '/^  "anchor":/ { a = $4 } /^  "term":/ { gsub(/[^0-9]/, "", $3); t = $3 } END { print a, t }')
		[[ $a == "$want" && -n $t ]] || return 1
		[[ -z $term || $term == "$t" ]] || return 1
		term=$t
	done
	printf '%s\n' "$term"
}

# started_state SERVICE prints "TERM ROUND" from the node's newest "node started" log line: the state it
# restored from Badger, logged before it joins the mesh (so no peer can have changed it yet).
started_state() {
	docker logs "$(cid "$1")" 2>&1 | grep 'msg="node started"' | tail -n1 |
		sed -n 's/.* term=\([0-9]*\) round=\([0-9]*\).*/\1 \2/p'
}

# learner_round SERVICE saved|restored prints the round of the node's newest "learner state saved" or
# "learner state restored" log line (empty if none).
learner_round() {
	docker logs "$(cid "$1")" 2>&1 | grep "msg=\"learner state $2\"" | tail -n1 | sed -n 's/.* round=\([0-9]*\).*/\1/p'
}

# wait_for TIMEOUT_S DESCRIPTION CMD... polls CMD until it succeeds or the timeout passes (then fails).
wait_for() {
	local limit=$1 what=$2 deadline
	shift 2
	deadline=$(($(date +%s) + limit))
	while ! "$@" >/dev/null 2>&1; do
		if (($(date +%s) >= deadline)); then
			log "timed out after ${limit}s waiting for: $what"
			return 1
		fi
		sleep 0.5
	done
}

# mesh_converged succeeds when every mesh node sees all the others and all agree on the pinned anchor.
mesh_converged() {
	local s others o
	for s in "${TN_MESH_NODES[@]}"; do
		others=()
		for o in "${TN_MESH_NODES[@]}"; do [[ $o == "$s" ]] || others+=("$o"); done
		sees "$s" "${others[@]}" || return 1
	done
	agreed anchor "${TN_MESH_NODES[@]}" >/dev/null
}
