# storage_checks.sh: storage fault checks on the docker testnet, sourced by test.sh (after lib.sh and
# after test.sh has defined record, budget and secs). Two checks, each a function:
#
#   storage_check_disk_full [SERVICE]   (default edge3)
#     h1  SERVICE is replaced by a container with the same identity, mounts and network alias whose
#         state dir is a small tmpfs volume (SC_TMPFS_SIZE, default 64m). Once it has caught up and
#         committed rounds, the volume is filled to the last byte (storefault fill) while it follows
#         the mesh: the next write (fetched global blob, checkpoint, peer record) meets a full disk.
#         Passes when the node failed on it (the store refuses with "no space left on device" below
#         its free-space reserve and the node keeps running; without the reserve Badger's mmapped
#         write raises SIGBUS and the node dies), and after the space is freed `mlecs store check`
#         finds nothing damaged and the restarted node resumes from Badger at a committed round no
#         older than the one it held before the disk filled.
#     h2  it rejoins and its round advances (time from restart = recovery time)
#
#   storage_check_corrupt_checkpoint [SERVICE]   (default edge4)
#     i1  SERVICE is stopped; one byte of its newest global checkpoint's manifest is flipped in its
#         volume (storefault damage-checkpoint). `mlecs store check` must report it damaged; the
#         restarted node must log that it skipped it and resume at the previous checkpoint's round.
#     i2  it catches up past the damaged round (time from restart = recovery time)
#
# Faults are injected by testnet/storefault, built static into run/ and run in a throwaway container
# from the testnet image (which has no shell), so docker and the Go toolchain (as for gen.sh's
# partition tool) are needed. Without `mlecs store` in the binary the store check parts are skipped
# and said so in the detail. About 40 s together. Both checks leave SERVICE
# running from its own compose volume again. Env: SC_TMPFS_SIZE, SC_FAIL_WAIT (seconds to wait for the
# full disk to hit, default 60).
# shellcheck shell=bash disable=SC2317 # conditions are called indirectly by wait_for

SC_TOOL="$TN_RUN/storefault"
SC_TMPFS_SIZE=${SC_TMPFS_SIZE:-64m}
SC_FAIL_WAIT=${SC_FAIL_WAIT:-60}

# sc_build_tool builds testnet/storefault as a static binary into run/ (the build cache makes repeats
# cheap).
sc_build_tool() {
	(cd "$TN_ROOT" && CGO_ENABLED=0 go build -trimpath -o "$SC_TOOL" ./testnet/storefault)
}

# sc_run_tool DOCKER_RUN_ARGS... -- TOOL_ARGS... runs storefault in a throwaway container.
sc_run_tool() {
	local run=()
	while [[ $1 != -- ]]; do run+=("$1"); shift; done
	shift
	docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
		-v "$SC_TOOL:/storefault:ro" "${run[@]}" --entrypoint /storefault "$TN_IMAGE" "$@"
}

# sc_store_check DOCKER_RUN_ARGS... runs `mlecs store check --json /var/lib/mlecs` on a stopped node's
# state (mounted by the args) and prints its JSON; exit status 1 = damage found, 2 = the binary has no
# store command (then the caller judges without it).
sc_store_check() {
	local out rc=0
	out=$(docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
		"$@" --entrypoint /mlecs "$TN_IMAGE" store check --json /var/lib/mlecs 2>&1) || rc=$?
	if grep -q 'unknown command "store"' <<<"$out"; then
		return 2
	fi
	printf '%s\n' "$out"
	return "$rc"
}

# sc_json_newest prints "TERM ROUND" of the newest intact global checkpoint in store check JSON (stdin).
sc_json_newest() {
	awk '/^  "newest": \{/ { n = 1 } n && /"global": \{/ { g = 1 } g && /"term":/ { gsub(/[^0-9]/, "", $2); t = $2 }
		g && /"round":/ { gsub(/[^0-9]/, "", $2); print t, $2; exit }'
}

# sc_json_damaged prints the "damaged" count of store check JSON (stdin).
sc_json_damaged() { sed -n 's/^  "damaged": \([0-9]*\),*$/\1/p' | tail -n1; }

# Probes by container (the tmpfs node is no compose service, so lib.sh's cid cannot name it).
sc_field() { timeout 10 docker exec "$1" /mlecs status --json 2>/dev/null | json_get "$2"; }
sc_round_above() { local r; r=$(sc_field "$1" round); [[ -n $r ]] && ((r > $2)); }
sc_answers() { [[ -n $(sc_field "$1" peer_id) ]]; }
sc_running() { [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
sc_starts() { docker logs "$1" 2>&1 | grep -c 'msg="node started"' || true; }

# sc_restored_round CONTAINER N prints the round of the node's start log line number N+1 (the start
# after N earlier ones): the state it restored from Badger, logged before it joins the mesh.
sc_restored_round() {
	docker logs "$1" 2>&1 | grep 'msg="node started"' | sed -n "$(($2 + 1))p" | sed -n 's/.* round=\([0-9]*\).*/\1/p'
}

# sc_disk_failed CONTAINER succeeds once the node has met the full disk: it died, or logged ENOSPC.
sc_disk_failed() {
	! sc_running "$1" || docker logs "$1" 2>&1 | grep -qi 'no space left on device'
}

# ---- f: disk full during checkpoints --------------------------------------------------------------------
storage_check_disk_full() {
	local svc=${1:-edge3} orig vol holder node t ms r0 rf rc_round rc_term lr how out rc exit_code n0 logs
	local mounts=() m
	orig=$(cid "$svc") || { record "h1 disk full, state intact" FAIL 0 "no container for $svc"; return; }
	if ! sc_build_tool >&2; then
		record "h1 disk full, state intact" FAIL 0 "cannot build testnet/storefault"
		return
	fi
	vol="${TN_PROJECT}_sc-full"
	holder="${TN_PROJECT}-sc-holder"
	node="${TN_PROJECT}-sc-full"
	docker rm -f "$node" "$holder" >/dev/null 2>&1 || true
	docker volume rm -f "$vol" >/dev/null 2>&1 || true
	# The service's own mounts (config, data partition) but a tmpfs state dir; same peer id and alias,
	# so the mesh (allowlist, DNS) takes it for the service itself.
	while read -r m; do
		if [[ -n $m && $m != *:/var/lib/mlecs ]]; then mounts+=(-v "$m:ro"); fi
	done < <(docker inspect -f '{{range .Mounts}}{{if eq .Type "bind"}}{{.Source}}:{{.Destination}}{{println}}{{end}}{{end}}' "$orig")
	docker stop -t 5 "$orig" >/dev/null || true
	# docker unmounts (and so empties) a tmpfs volume that no container uses: a holder keeps it mounted
	# across the node's restart, and runs the fill and free.
	t=$(now_ms)
	if ! { docker volume create --driver local --opt type=tmpfs --opt device=tmpfs \
		--opt "o=size=$SC_TMPFS_SIZE,mode=0700" "$vol" &&
		docker run -d --name "$holder" --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
			-v "$vol:/state" -v "$SC_TOOL:/storefault:ro" --entrypoint /storefault "$TN_IMAGE" hold /state &&
		docker run -d --name "$node" --network "$TN_NET" --network-alias "$svc" --read-only --cap-drop ALL \
			--security-opt no-new-privileges --memory 256m --memory-swap 256m "${mounts[@]}" -v "$vol:/var/lib/mlecs" \
			"$TN_IMAGE" node start --config /etc/mlecs/config.json; } >/dev/null; then
		record "h1 disk full, state intact" FAIL $(($(now_ms) - t)) "could not start $svc on a tmpfs volume"
		sc_disk_full_cleanup "$svc" "$orig" "$vol" "$holder" "$node"
		return
	fi
	# A fresh store: it must catch up and then commit a few rounds of its own.
	if ! wait_for "$(budget 60)" "tmpfs $svc holds a round" sc_round_above "$node" 0; then
		record "h1 disk full, state intact" FAIL $(($(now_ms) - t)) "replacement $svc on tmpfs reached no round: $(docker logs --tail 3 "$node" 2>&1 | tr '\n' ' ')"
		sc_disk_full_cleanup "$svc" "$orig" "$vol" "$holder" "$node"
		return
	fi
	r0=$(sc_field "$node" round)
	wait_for "$(budget 30)" "tmpfs $svc commits 2 more rounds" sc_round_above "$node" $((r0 + 1)) || true
	rf=$(sc_field "$node" round)
	out=$(docker exec "$holder" /storefault fill /state 2>&1) || log "fill: $out"
	t=$(now_ms)
	log "disk full at round $rf: $out"
	if wait_for "$(budget "$SC_FAIL_WAIT")" "$svc meets the full disk" sc_disk_failed "$node"; then
		ms=$(($(now_ms) - t))
		logs=$(docker logs "$node" 2>&1)
		if sc_running "$node"; then
			# The store refused the write (storage.ErrNoSpace) and the node carries on: say what failed.
			m=$(grep -i -m1 'no space left on device' <<<"$logs" | sed -n 's/.*msg=\("[^"]*"\|[^ ]*\).*/\1/p')
			how="refused writes after $(secs "$ms")s (first: ${m:-?}) and kept running"
			sleep 3
			if sc_answers "$node"; then
				how+=", answering at round $(sc_field "$node" round)"
			else
				how+=", then stopped answering"
			fi
			docker stop -t 5 "$node" >/dev/null || true
		else
			exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$node")
			m=$(grep -m1 -E '^(panic|fatal error|unexpected fault)' <<<"$logs" || true)
			how="died after $(secs "$ms")s (exit $exit_code: ${m:-no panic line})"
			m=$(grep -m1 -oE 'storage\.\(\*Store\)\.[A-Za-z]+' <<<"$logs" || true)
			if [[ -n $m ]]; then how+=" in $m"; fi
		fi
	else
		ms=$(($(now_ms) - t))
		how="no failure within ${SC_FAIL_WAIT}s (round $(sc_field "$node" round))"
		docker stop -t 5 "$node" >/dev/null || true
	fi
	out=$(docker exec "$holder" /storefault free /state 2>&1) || log "free: $out"
	rc=0
	out=$(sc_store_check -v "$vol:/var/lib/mlecs") || rc=$?
	read -r rc_term rc_round <<<"$(sc_json_newest <<<"$out")"
	n0=$(sc_starts "$node")
	t=$(now_ms)
	docker start "$node" >/dev/null || log "warning: could not restart the tmpfs $svc"
	wait_for "$(budget 20)" "$svc answers after restart" sc_answers "$node" || true
	lr=$(sc_restored_round "$node" "$n0")
	ms=$(($(now_ms) - t))
	local detail="filled at round $rf; $how; restarted at round ${lr:-?}"
	if [[ $how == no\ failure* ]]; then
		record "h1 disk full, state intact" FAIL "$ms" "$detail"
	elif [[ -z $lr ]]; then
		record "h1 disk full, state intact" FAIL "$ms" "$detail; did not start: $(docker logs --tail 3 "$node" 2>&1 | tr '\n' ' ')"
	elif ((rc == 1)); then
		record "h1 disk full, state intact" FAIL "$ms" "$detail; store check found damage: $(sc_json_damaged <<<"$out") records"
	elif ((rc != 0 && rc != 2)); then
		record "h1 disk full, state intact" FAIL "$ms" "$detail; store check failed: $(tail -n1 <<<"$out")"
	elif ((lr < rf)); then
		record "h1 disk full, state intact" FAIL "$ms" "$detail: older than the round committed before the fill"
	elif ((rc == 0)) && [[ $lr != "$rc_round" ]]; then
		record "h1 disk full, state intact" FAIL "$ms" "$detail, but store check's newest intact checkpoint is round $rc_round"
	elif ((rc == 2)); then
		record "h1 disk full, state intact" PASS "$ms" "$detail (>= $rf; binary has no store check)"
	else
		record "h1 disk full, state intact" PASS "$ms" "$detail = newest checkpoint (store check: 0 damaged)"
	fi
	if [[ -n $lr ]] && wait_for "$(budget 60)" "$svc round advances after restart" sc_round_above "$node" "$lr"; then
		ms=$(($(now_ms) - t))
		record "h2 after disk full, node resumes" PASS "$ms" "round $lr -> $(sc_field "$node" round) $(secs "$ms")s after restart"
	else
		record "h2 after disk full, node resumes" FAIL $(($(now_ms) - t)) "round stayed ${lr:-?} after restart"
	fi
	sc_disk_full_cleanup "$svc" "$orig" "$vol" "$holder" "$node"
}

# sc_disk_full_cleanup SERVICE ORIG VOLUME HOLDER NODE removes the tmpfs node and puts the service back.
sc_disk_full_cleanup() {
	docker rm -f "$5" "$4" >/dev/null 2>&1 || true
	docker volume rm -f "$3" >/dev/null 2>&1 || true
	docker start "$2" >/dev/null || log "warning: could not restart $1"
	wait_for "$(budget 20)" "$1 answers again" sc_answers "$2" || log "warning: $1 does not answer after the disk-full check"
}

# ---- g: corrupted newest checkpoint ----------------------------------------------------------------------
storage_check_corrupt_checkpoint() {
	local svc=${1:-edge4} c t ms r0 out rc=0 dterm dround pterm pround lr detail n0
	c=$(cid "$svc") || { record "i1 corrupt checkpoint -> fallback" FAIL 0 "no container for $svc"; return; }
	if ! sc_build_tool >&2; then
		record "i1 corrupt checkpoint -> fallback" FAIL 0 "cannot build testnet/storefault"
		return
	fi
	# At least two real rounds, so the fallback is to a round, not to the genesis.
	wait_for "$(budget 60)" "$svc holds round >= 2" sc_round_above "$c" 1 || true
	r0=$(sc_field "$c" round)
	n0=$(sc_starts "$c")
	docker stop -t 5 "$c" >/dev/null || true
	t=$(now_ms)
	if ! out=$(sc_run_tool --volumes-from "$c" -- damage-checkpoint /var/lib/mlecs/db global 2>&1); then
		record "i1 corrupt checkpoint -> fallback" FAIL $(($(now_ms) - t)) "damage failed: $out"
		docker start "$c" >/dev/null || true
		return
	fi
	read -r dterm dround <<<"$out"
	log "damaged the manifest of $svc's checkpoint term $dterm round $dround (status round before stop: $r0)"
	out=$(sc_store_check --volumes-from "$c") || rc=$?
	read -r pterm pround <<<"$(sc_json_newest <<<"$out")"
	docker start "$c" >/dev/null || log "warning: could not restart $svc"
	wait_for "$(budget 20)" "$svc answers after restart" sc_answers "$c" || true
	lr=$(sc_restored_round "$c" "$n0")
	ms=$(($(now_ms) - t))
	local logged
	# slog's text handler quotes values that contain '=': checkpoint="global/term=1/round=7".
	logged=$(docker logs "$c" 2>&1 | grep 'msg="skip damaged checkpoint, falling back to an older one"' |
		grep -cE "checkpoint=\"?global/term=$dterm/round=$dround\"?( |\$)" || true)
	detail="damaged round $dround (term $dterm); restarted at round ${lr:-?}"
	if [[ -z $lr ]]; then
		record "i1 corrupt checkpoint -> fallback" FAIL "$ms" "$detail; did not start: $(docker logs --tail 3 "$c" 2>&1 | tr '\n' ' ')"
	elif ((logged == 0)); then
		record "i1 corrupt checkpoint -> fallback" FAIL "$ms" "$detail; no 'skip damaged checkpoint' log line for it"
	elif ((rc == 2)); then
		if ((lr < dround)); then
			record "i1 corrupt checkpoint -> fallback" PASS "$ms" "$detail, logged the skip (binary has no store check)"
		else
			record "i1 corrupt checkpoint -> fallback" FAIL "$ms" "$detail: not older than the damaged one"
		fi
	elif ((rc != 1)) || [[ $(sc_json_damaged <<<"$out") != 1 ]]; then
		record "i1 corrupt checkpoint -> fallback" FAIL "$ms" "$detail; store check did not report exactly 1 damaged record (exit $rc): $(tail -n1 <<<"$out")"
	elif [[ $lr != "$pround" ]] || ((pround >= dround)); then
		record "i1 corrupt checkpoint -> fallback" FAIL "$ms" "$detail; store check's newest intact checkpoint is round ${pround:-?}"
	else
		record "i1 corrupt checkpoint -> fallback" PASS "$ms" "$detail = previous checkpoint; store check and log both name the damage"
	fi
	if [[ -n $lr ]] && wait_for "$(budget 60)" "$svc catches up past the damaged round" sc_round_above "$c" "$dround"; then
		ms=$(($(now_ms) - t))
		record "i2 after corruption, node catches up" PASS "$ms" "round $lr -> $(sc_field "$c" round) $(secs "$ms")s after the restart"
	else
		record "i2 after corruption, node catches up" FAIL $(($(now_ms) - t)) "round ${lr:-?} did not pass $dround"
	fi
}
