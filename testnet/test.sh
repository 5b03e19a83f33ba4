#!/usr/bin/env bash
# test.sh: fault checks on the docker testnet (`make testnet-test`). Brings the net up fresh, runs
#   a  membership: every node sees all others, one anchor agreed
#   b  kill -9 the pinned anchor: the anchor-capable standby takes over (time measured) and closes a
#      round of ML-ECS as anchor; the old anchor,
#      restarted, comes back with a higher term than before (fencing) and, pinned, takes the lease back
#   c  kill -9 an edge while cut off from the network: it restarts with its term/round and its learner
#      from Badger, then rejoins
#   d  partition an edge (docker network disconnect): it keeps answering; reconnected, it rejoins; then
#      partition the pinned anchor: both sides run, and healed, they merge under term fencing
#   e  intruders: a node with an allowlisted key but no PSK, and one with the PSK but not allowlisted,
#      see no peers and no mesh node connects to them
#   f  rounds of real ML-ECS complete: every edge's round advances by 2 and every edge trained (its log)
#   g  no node is OOM-killed and every edge's peak anonymous RSS (`mlecs status`) stays under 224 of its
#      256 MB limit
#   j  kill -9 an edge while it trains or uploads: the anchor closes the round on the others' quorum, and
#      the edge, restarted, rejoins
#   h, i  storage faults (storage_checks.sh): disk full during a checkpoint, a corrupted checkpoint
# and prints a table. Every wait is bounded; the whole run stops at TEST_BUDGET seconds; the net is always
# torn down on exit. Exit status: 0 when no check failed (skips do not fail), 1 otherwise.
# shellcheck disable=SC2317 # cleanup and the wait_for conditions are called indirectly
set -euo pipefail
# shellcheck source=testnet/lib.sh
source "$(dirname "$0")/lib.sh"

TEST_BUDGET=${TEST_BUDGET:-540}
# Failover bound: lease expiry + claim backoff + a few heartbeats to spread the claim + polling (one poll
# of five nodes takes ~2 s here). gen.sh reads LEASE too.
export LEASE=${LEASE:-4s}
FAILOVER_BOUND=${FAILOVER_BOUND:-15}
START=$(date +%s)
RESULTS=()
FAILED=0

cleanup() {
	local rc=$?
	if [[ ${KEEP:-0} == 1 ]]; then
		log "KEEP=1: leaving the testnet up (make testnet-down removes it)"
	else
		"$TN_DIR/down.sh" >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# budget SECONDS prints SECONDS, or less when the run's overall budget would be passed.
budget() {
	local left=$((START + TEST_BUDGET - $(date +%s)))
	((left < 1)) && left=1
	((left < $1)) && printf '%s\n' "$left" || printf '%s\n' "$1"
}

# record CHECK OUTCOME MS DETAIL
record() {
	RESULTS+=("$1|$2|$(awk -v ms="$3" 'BEGIN { printf "%.1fs", ms / 1000 }')|$4")
	[[ $2 == FAIL ]] && FAILED=1
	log "check $1: $2 ($4)"
}

secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

print_table() {
	printf '\n%-34s %-5s %8s  %s\n' CHECK RESULT TIME DETAIL
	printf '%-34s %-5s %8s  %s\n' ---------------------------------- ----- -------- ------
	local r c o t d
	for r in "${RESULTS[@]}"; do
		IFS='|' read -r c o t d <<<"$r"
		printf '%-34s %-5s %8s  %s\n' "$c" "$o" "$t" "$d"
	done
	printf '\n%d checks, total %ss\n' "${#RESULTS[@]}" "$(($(date +%s) - START))"
}

# stop_early prints the table and exits failing when a check leaves the net unusable for the next ones.
stop_early() {
	record "$1" FAIL "$2" "$3"
	print_table
	exit 1
}

# Conditions polled by wait_for.
round_above() { local r; r=$(field "$1" round); [[ -n $r ]] && ((r > $2)); }
lost_anchor() { local st; st=$(status_json "$1") && [[ $(json_get anchor <<<"$st") == "" ]]; }
rejoined() { local others; read -r -a others <<<"$(all_but "$1")"; sees "$1" "${others[@]}" && agreed anchor "$1" anchor >/dev/null; }
answers() { local s; for s in "$@"; do [[ -n $(field "$s" peer_id) ]] || return 1; done; }
# rounds_above N SERVICE... succeeds when every SERVICE holds a global round > its entry in ROUND0 + N.
rounds_above() {
	local n=$1 s r
	shift
	for s in "$@"; do
		r=$(field "$s" round)
		[[ -n $r ]] && ((r > ROUND0[$s] + n)) || return 1
	done
}
# trained SERVICE prints how many local rounds of ML-ECS the node's log reports.
trained() { docker logs "$(cid "$1")" 2>&1 | grep -c 'msg="edge round trained"' || true; }
# round_stats SERVICE prints "N MEAN_S MAX_S": the rounds the node aggregated (its log) and the mean and
# longest time between two aggregations.
round_stats() {
	docker logs -t "$(cid "$1")" 2>&1 | grep 'msg="round aggregated"' | awk '
		{ split($1, a, "T"); split(a[2], b, ":"); t = b[1] * 3600 + b[2] * 60 + b[3] }
		NR > 1 { d = t - last; sum += d; if (d > mx) mx = d; n++ }
		{ last = t }
		END { if (n > 0) printf "%d %.1f %.1f\n", n + 1, sum / n, mx; else print NR " - -" }'
}
EDGES=(edge1 edge2 edge3 edge4)

# disconnect / reconnect SERVICE cut a container off the mesh network and put it back (with its service
# name as DNS alias, which compose had given it).
disconnect() { docker network disconnect "$TN_NET" "$(cid "$1")" || log "warning: disconnect $1 failed"; }
reconnect() { docker network connect --alias "$1" "$TN_NET" "$(cid "$1")" || log "warning: reconnect $1 failed"; }

all_but() {
	local s
	for s in "${TN_MESH_NODES[@]}"; do [[ $s == "$1" ]] || printf '%s ' "$s"; done
}

# ---- a: membership --------------------------------------------------------------------------------------
"$TN_DIR/down.sh" >/dev/null 2>&1 || true
t=$(now_ms)
if QUIET=1 UP_TIMEOUT=$(budget 120) "$TN_DIR/up.sh"; then
	term=$(agreed anchor "${TN_MESH_NODES[@]}")
	record "a  all see all, one anchor" PASS "$(cat "$TN_RUN/converged_ms")" "6 nodes full mesh, pinned anchor at term $term, $(secs "$(cat "$TN_RUN/converged_ms")")s after up ($(secs $(($(now_ms) - t)))s with build)"
else
	stop_early "a  all see all, one anchor" $(($(now_ms) - t)) "mesh did not converge"
fi

# ---- f: rounds of real ML-ECS ---------------------------------------------------------------------------
declare -A ROUND0
for s in "${EDGES[@]}"; do ROUND0[$s]=$(field "$s" round); ROUND0[$s]=${ROUND0[$s]:-0}; done
t=$(now_ms)
if wait_for "$(budget 150)" "every edge's round advances by 2" rounds_above 1 "${EDGES[@]}"; then
	ms=$(($(now_ms) - t))
	detail="" lazy=""
	for s in "${EDGES[@]}"; do
		n=$(trained "$s")
		detail+="$s ${ROUND0[$s]}->$(field "$s" round) (${n} trained) "
		((n >= 1)) || lazy+="$s "
	done
	read -r nagg mean mx <<<"$(round_stats anchor)"
	if [[ -z $lazy ]]; then
		record "f  ML-ECS rounds complete" PASS "$ms" "${detail}; anchor aggregated $nagg rounds, mean ${mean}s, max ${mx}s apart"
	else
		record "f  ML-ECS rounds complete" FAIL "$ms" "rounds advanced but ${lazy}logged no trained round: $detail"
	fi
else
	detail=""
	for s in "${EDGES[@]}"; do detail+="$s ${ROUND0[$s]}->$(field "$s" round) "; done
	record "f  ML-ECS rounds complete" FAIL $(($(now_ms) - t)) "rounds did not advance by 2 on every edge: $detail"
fi

# ---- b: kill -9 the pinned anchor -----------------------------------------------------------------------
read -r -a REST <<<"$(all_but anchor)"
term0=$(agreed anchor "${TN_MESH_NODES[@]}")
docker kill -s KILL "$(cid anchor)" >/dev/null
t=$(now_ms)
if wait_for "$(budget 60)" "standby anchor agreed by the rest" agreed standby "${REST[@]}"; then
	ms=$(($(now_ms) - t))
	term1=$(agreed standby "${REST[@]}")
	if ((term1 > term0 && ms <= FAILOVER_BOUND * 1000)); then
		record "b1 anchor kill -9 -> failover" PASS "$ms" "all 5 follow standby $(secs "$ms")s after the kill (bound ${FAILOVER_BOUND}s, lease $LEASE), term $term0 -> $term1"
	elif ((term1 > term0)); then
		record "b1 anchor kill -9 -> failover" FAIL "$ms" "standby took over after $(secs "$ms")s, over the ${FAILOVER_BOUND}s bound"
	else
		record "b1 anchor kill -9 -> failover" FAIL "$ms" "standby anchor but term did not rise ($term0 -> $term1)"
	fi
else
	stop_early "b1 anchor kill -9 -> failover" $(($(now_ms) - t)) "no agreement on the standby anchor"
fi
# The elected standby must also do the anchor's work: build its anchor learner (on D' of its partition)
# from the newest global and close a round of ML-ECS on the edges' updates.
standby_aggregated() { docker logs "$(cid standby)" 2>&1 | grep -q 'msg="anchor round aggregated"'; }
t=$(now_ms)
rk=$(field edge3 round)
if wait_for "$(budget 60)" "the standby closes a round" standby_aggregated; then
	ms=$(($(now_ms) - t))
	line=$(docker logs "$(cid standby)" 2>&1 | grep 'msg="anchor round aggregated"' | head -n1)
	upd=$(sed -n 's/.* updates=\([0-9]*\).*/\1/p' <<<"$line")
	rnd=$(sed -n 's/.* round=\([0-9]*\).*/\1/p' <<<"$line")
	record "b1 standby closes ML-ECS rounds" PASS "$ms" "built its anchor learner, aggregated payload round $rnd from $upd updates $(secs "$ms")s after agreement; edge3 round $rk -> $(field edge3 round)"
else
	record "b1 standby closes ML-ECS rounds" FAIL $(($(now_ms) - t)) "the elected standby aggregated no round (edge3 round $rk -> $(field edge3 round))"
fi
docker start "$(cid anchor)" >/dev/null
t=$(now_ms)
wait_for "$(budget 20)" "restarted anchor answers" answers anchor || true
read -r restart_term _ <<<"$(started_state anchor)"
if wait_for "$(budget 60)" "pinned anchor agreed again by all" agreed anchor "${TN_MESH_NODES[@]}"; then
	ms=$(($(now_ms) - t))
	term2=$(agreed anchor "${TN_MESH_NODES[@]}")
	if ((restart_term >= term0 && term2 > term1)); then
		record "b2 old anchor restarts, fenced" PASS "$ms" "restarted with persisted term $restart_term, fenced up to $term1, reclaimed pinned lease at term $term2"
	else
		record "b2 old anchor restarts, fenced" FAIL "$ms" "terms: before kill $term0, standby $term1, restarted at $restart_term, now $term2"
	fi
else
	record "b2 old anchor restarts, fenced" FAIL $(($(now_ms) - t)) "restarted at term ${restart_term:-?}; no agreement on it again"
fi

# ---- c: kill -9 an isolated edge, restart from Badger -----------------------------------------------------
# Wait for a completed round so the round number says something (the genesis round 0 proves nothing).
wait_for "$(budget 30)" "edge1 holds a global round > 0" round_above edge1 0 || true
disconnect edge1
sleep 1 # let an in-flight checkpoint write land; the edge can learn nothing new from here on
r0=$(field edge1 round)
e0=$(field edge1 term)
lsaved=$(learner_round edge1 saved)
docker kill -s KILL "$(cid edge1)" >/dev/null
t=$(now_ms)
# docker start, not compose start: compose would reattach the container to its network.
docker start "$(cid edge1)" >/dev/null
wait_for "$(budget 20)" "edge1 answers after restart" answers edge1 || true
read -r le1 lr1 <<<"$(started_state edge1)"
r1=$(field edge1 round)
e1=$(field edge1 term)
ms=$(($(now_ms) - t))
if [[ -z $r1 ]]; then
	record "c1 edge kill -9, state from Badger" FAIL "$ms" "edge1 did not answer after restart"
elif [[ $r1 == "$r0" && $e1 == "$e0" && $lr1 == "$r0" && $le1 == "$e0" && $r0 -gt 0 ]]; then
	record "c1 edge kill -9, state from Badger" PASS "$ms" "restarted offline with term $e1, round $r1 (as before the kill)"
elif [[ $r1 == "$r0" && $e1 == "$e0" ]]; then
	record "c1 edge kill -9, state from Badger" SKIP "$ms" "term $e1 kept; round check skipped: no round completed (round 0)"
else
	record "c1 edge kill -9, state from Badger" FAIL "$ms" "before: term $e0 round $r0; restored: term ${le1:-?} round ${lr1:-?}; status: term $e1 round $r1"
fi
# The edge's learner (private encoders, connector, LoRA, optimiser) is checkpointed after every 5th local
# round (learner_checkpoint_every): the restart must resume the newest one saved before the kill (or one
# saved in the moment between reading the log and the kill).
lrn=$(learner_round edge1 restored)
if [[ -n $lrn ]] && ((lrn >= ${lsaved:-0})); then
	record "c3 edge learner restored" PASS "$ms" "learner of local round $lrn restored (newest saved before the kill: ${lsaved:-none})"
elif [[ -z $lsaved && -z $lrn ]]; then
	record "c3 edge learner restored" SKIP "$ms" "killed at round ${r0:-?}, before a learner checkpoint was due"
else
	record "c3 edge learner restored" FAIL "$ms" "newest learner saved before the kill: round ${lsaved:-none}; restored: round ${lrn:-none}"
fi
reconnect edge1
t=$(now_ms)
if wait_for "$(budget 60)" "edge1 rejoined" rejoined edge1; then
	ms=$(($(now_ms) - t))
	if wait_for "$(budget 30)" "edge1 round advances" round_above edge1 "$r1"; then
		record "c2 restarted edge rejoins, resumes" PASS "$ms" "rejoined in $(secs "$ms")s; round $r1 -> $(field edge1 round)"
	else
		record "c2 restarted edge rejoins, resumes" FAIL "$ms" "rejoined in $(secs "$ms")s but round stayed $r1"
	fi
else
	record "c2 restarted edge rejoins, resumes" FAIL $(($(now_ms) - t)) "edge1 did not see the mesh again"
fi

# ---- d: partition a live edge ---------------------------------------------------------------------------
disconnect edge2
t=$(now_ms)
# Cut off, edge2 stops hearing heartbeats: its anchor lease runs out and it must carry on alone. (Its TCP
# connections may linger as "connected" until keepalives time out: that is reported, not judged.)
if wait_for "$(budget 30)" "edge2 loses the anchor" lost_anchor edge2; then
	ms=$(($(now_ms) - t))
	alive=0
	for _ in 1 2 3; do
		answers edge2 && alive=$((alive + 1))
		sleep 1
	done
	if ((alive == 3)); then
		record "d1 partitioned edge keeps running" PASS "$ms" "anchor lost after $(secs "$ms")s; status answers (phase $(field edge2 phase), round $(field edge2 round), $(connected_count edge2) conns still open)"
	else
		record "d1 partitioned edge keeps running" FAIL "$ms" "status answered $alive of 3 times while cut off"
	fi
else
	record "d1 partitioned edge keeps running" FAIL $(($(now_ms) - t)) "edge2 still follows anchor '$(field edge2 anchor)' while cut off"
fi
reconnect edge2
t=$(now_ms)
if wait_for "$(budget 60)" "edge2 rejoined" rejoined edge2; then
	ms=$(($(now_ms) - t))
	record "d2 reconnected edge rejoins" PASS "$ms" "sees all 5 peers and the anchor after $(secs "$ms")s"
else
	record "d2 reconnected edge rejoins" FAIL $(($(now_ms) - t)) "edge2 did not see the mesh again"
fi

# ---- d3/d4: partition the pinned anchor from the rest --------------------------------------------------
# The majority side (standby + four edges) must elect the standby and keep closing rounds; the cut-off
# anchor keeps answering on its own. Healed, the higher term fences the stale side: all six agree on one
# anchor at a term above both sides' and rounds go on from the majority's global.
read -r -a REST <<<"$(all_but anchor)"
r0=$(field edge1 round)
disconnect anchor
t=$(now_ms)
if wait_for "$(budget 60)" "the rest agree on standby" agreed standby "${REST[@]}" &&
	wait_for "$(budget 60)" "rounds continue without the anchor" round_above edge1 "$r0"; then
	ms=$(($(now_ms) - t))
	tside=$(agreed standby "${REST[@]}")
	record "d3 anchor partitioned, both sides run" PASS "$ms" "5 follow standby at term $tside, edge1 round $r0 -> $(field edge1 round); cut-off anchor answers (term $(field anchor term), phase $(field anchor phase))"
else
	tside=""
	record "d3 anchor partitioned, both sides run" FAIL $(($(now_ms) - t)) "majority: anchor '$(field edge1 anchor)', edge1 round $r0 -> $(field edge1 round)"
fi
reconnect anchor
t=$(now_ms)
if wait_for "$(budget 60)" "all six agree on one anchor" agreed anchor "${TN_MESH_NODES[@]}"; then
	ms=$(($(now_ms) - t))
	theal=$(agreed anchor "${TN_MESH_NODES[@]}")
	r1=$(field edge1 round)
	if [[ -n $tside ]] && ((theal > tside)) && wait_for "$(budget 60)" "rounds continue after healing" round_above edge1 "$r1"; then
		record "d4 healed, merged under term fencing" PASS "$ms" "all six follow the pinned anchor at term $theal (> $tside); round $r1 -> $(field edge1 round)"
	else
		record "d4 healed, merged under term fencing" FAIL "$ms" "term after healing ${theal:-?} (majority side ${tside:-?}); edge1 round $r1 -> $(field edge1 round)"
	fi
else
	record "d4 healed, merged under term fencing" FAIL $(($(now_ms) - t)) "no single anchor agreed by all six"
fi

# ---- e: intruders ---------------------------------------------------------------------------------------
compose --profile faults up -d --no-deps outsider stranger >/dev/null 2>&1 || compose up -d --no-deps outsider stranger >/dev/null 2>&1
t=$(now_ms)
wait_for "$(budget 20)" "intruders answer" answers outsider stranger || true
sleep "$(budget 10)" # several heartbeats and bootstrap redials
# "Sees a peer" = has heard its signed heartbeat. A refused dialer may flap through "connected" for a moment
# (its handshake completes before the remote's gater drops it), so its own connection count is reported,
# not judged; what must hold is that nothing crosses in either direction.
for who in outsider stranger; do
	id=$(peer_id "$who")
	tbl=$(peers_table "$who" 2>/dev/null) || tbl="?"
	heard=$(awk '$3 != "-"' <<<"$tbl" | grep -c . || true)
	conns=$(awk '$2 == "true"' <<<"$tbl" | grep -c . || true)
	let_in=""
	for s in "${TN_MESH_NODES[@]}"; do
		peers_table "$s" | awk -v id="$id" '$1 == id && ($2 == "true" || $3 != "-") { f = 1 } END { exit !f }' && let_in+="$s "
	done
	why="allowlisted key, no PSK"
	[[ $who == stranger ]] && why="PSK, key not allowlisted"
	if [[ $tbl == "?" ]]; then
		record "e  $who refused" FAIL $(($(now_ms) - t)) "$why: intruder's control API did not answer"
	elif [[ $heard == 0 && -z $let_in ]]; then
		record "e  $who refused" PASS $(($(now_ms) - t)) "$why: heard no peer, no mesh node let it in ($conns conns at sample)"
	else
		record "e  $who refused" FAIL $(($(now_ms) - t)) "$why: heard $heard peers; let in by: ${let_in:-none}"
	fi
done

# ---- g: edge memory -------------------------------------------------------------------------------------
# Judged: no OOM kill, and every edge's peak anonymous RSS (heap, stacks: what the kernel cannot drop)
# leaves 1/8 of the 256 MiB limit for file pages. VmHWM is printed too; it also counts the binary and
# Badger's mapped tables, which the kernel reclaims under the limit and which it can exceed.
t=$(now_ms)
limit=$((224 << 20))
detail="" over=""
for s in "${TN_MESH_NODES[@]}"; do
	st=$(status_json "$s")
	p=$(json_get peak_rss_bytes <<<"$st")
	a=$(json_get peak_anon_rss_bytes <<<"$st")
	oom=$(docker inspect -f '{{.State.OOMKilled}}' "$(cid "$s")" 2>/dev/null || echo '?')
	detail+="$s $(awk -v a="${a:-0}" -v p="${p:-0}" 'BEGIN { printf "%.0f/%.0f", a / 1048576, p / 1048576 }') MB "
	[[ $oom == false ]] || over+="$s(oom-killed=$oom) "
	if [[ $s == edge* ]] && [[ -z $a || $a -ge $limit ]]; then over+="$s "; fi
done
if [[ -z $over ]]; then
	record "g  edge peak anon RSS < 224 MB" PASS $(($(now_ms) - t)) "peak anon/VmHWM: ${detail}(edge1 since its restart in c)"
else
	record "g  edge peak anon RSS < 224 MB" FAIL $(($(now_ms) - t)) "over the bound or killed: $over; peak anon/VmHWM: $detail"
fi

# ---- j: kill an edge mid-round ----------------------------------------------------------------------------
in_phase() { local p; p=$(field "$1" phase) && [[ $p == training || $p == uploading ]]; }
# aggregated_since SERVICE TIME prints the "updates" of the first round the node aggregated after TIME.
aggregated_since() {
	docker logs --since "$2" "$(cid "$1")" 2>&1 | grep -m1 'msg="round aggregated"' | sed -n 's/.*updates=\([0-9]*\).*/\1/p' | grep .
}
anchor_now=anchor # the pinned anchor holds the lease again since b2
t=$(now_ms)
wait_for "$(budget 60)" "edge2 training or uploading" in_phase edge2 || true
phase=$(field edge2 phase || echo '?')
since=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
docker kill -s KILL "$(cid edge2)" >/dev/null
t=$(now_ms)
if wait_for "$(budget 60)" "the anchor closes a round after edge2's kill" aggregated_since "$anchor_now" "$since"; then
	ms=$(($(now_ms) - t))
	n=$(aggregated_since "$anchor_now" "$since")
	if ((n >= ${QUORUM:-4})); then
		record "j  edge kill -9 mid-round, quorum" PASS "$ms" "edge2 killed while $phase; anchor closed the round with $n updates $(secs "$ms")s later"
	else
		record "j  edge kill -9 mid-round, quorum" FAIL "$ms" "edge2 killed while $phase; round closed with only $n updates (quorum ${QUORUM:-4}): by the deadline"
	fi
else
	record "j  edge kill -9 mid-round, quorum" FAIL $(($(now_ms) - t)) "edge2 killed while $phase; no round closed after it"
fi
docker start "$(cid edge2)" >/dev/null
r=$(field edge1 round)
t=$(now_ms)
if wait_for "$(budget 60)" "edge2 back and its round past $r" round_above edge2 "$r"; then
	record "j2 killed edge restarts, catches up" PASS $(($(now_ms) - t)) "edge2 round $(field edge2 round) (mesh was at $r)"
else
	record "j2 killed edge restarts, catches up" FAIL $(($(now_ms) - t)) "edge2 round $(field edge2 round 2>/dev/null || echo '?'), mesh was at $r"
fi

# ---- h, i: storage faults (disk full, corrupted checkpoint) ---------------------------------------------
# shellcheck source=testnet/storage_checks.sh
source "$TN_DIR/storage_checks.sh"
storage_check_disk_full edge3
storage_check_corrupt_checkpoint edge4

print_table
exit "$FAILED"
