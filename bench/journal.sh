#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Node output through journald: one node printing N lines of 40 bytes as fast as it can (`yes | head`),
# for N = 10,000 (a burst that fits orchd's journal queue) and 200,000 (a flood that does not; SIZES=…),
# with journal forwarding off (orchd in a mount namespace whose /run/systemd/journal is empty) and on (a
# real systemd-journald: the running one, or one started by tests/journald.sh and stopped afterwards).
# Prints for each: wall time from the rename into new/ to the end of `orchctl wait`, output lines per
# second, how many lines reached the journal (the rest was refused by orchd's full journal queue and is
# reported as a count; the log file always has them all), and the latency of `orchctl list` (whole command)
# while the node floods.
# Then the ratio on/off of the throughput. Needs root (journald, unshare) and jq.

. "$(dirname "$0")/common.sh"

SIZES=${SIZES:-10000 200000}
ROUNDS=${ROUNDS:-3}
LINE=0123456789012345678901234567890123456789

if [ "$(id -u)" != 0 ]; then
        echo "== journal: skipped (needs root to start journald and to run orchd without one)"
        exit 0
fi
build_orchd
JPID=$B/journald.pid
"$TOP/tests/journald.sh" start "$JPID" >/dev/null || {
        echo "== journal: skipped (no journald could be started)"
        exit 0
}
trap '"$TOP/tests/journald.sh" stop "$JPID" >/dev/null; bench_cleanup' EXIT

cat >"$B/orchd-nojournal" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd/journal && exec "\$0" "\$@"' "$ORCHD" "\$@"
EOF
chmod +x "$B/orchd-nojournal"
real_orchd=$ORCHD
percentile() { # percentile P: the P-th percentile of the numbers on stdin ("n/a" for none)
        sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int((NR - 1) * p / 100) + 1; print v[i] + 0 }'
}

# run MODE ROUND: one job; sets wall_ns, in_journal; appends list latencies (ms) to $B/list.MODE
run() {
        local mode=$1 round=$2 id t0 a pid
        if [ "$mode" = off ]; then ORCHD=$B/orchd-nojournal; else ORCHD=$real_orchd; fi
        rm -rf "$SPOOL"
        start_orchd --max-parallel 2
        pid=$ORCHD_PID
        t0=$(now_ns)
        drop_file "$B/job.json" "flood$N-$round"
        id=$(wait_listed "flood$N-$round")
        for (( ; ; )); do
                a=$(now_ns)
                ctl list >/dev/null
                echo $((($(now_ns) - a) / 1000000)) >>"$B/list.$mode"
                [ "$(ctl --json status "$id" 2>/dev/null | jq -r .state)" != succeeded ] || break
        done
        wall_ns=$(($(now_ns) - t0))
        stop_orchd # its exit waits (≤ 3 s) for its journal queue to drain
        journalctl --sync 2>/dev/null || true
        # ORCH_STREAM=output (merged, the default since issue 11) or stdout (before, or "separate").
        in_journal=$(journalctl -q -o json _PID="$pid" ORCH_JOB="$id" 2>/dev/null |
                jq -r 'select(.ORCH_STREAM and .ORCH_LINES_DROPPED == null) | 1' | wc -l)
        [ "$(wc -l <"$SPOOL/jobs/$id/logs/out.1.log")" = "$N" ] || note "warning: the log file lacks lines"
        ORCHD=$real_orchd
}

for N in $SIZES; do
        printf '{ "nodes": { "out": { "cmd": ["/bin/sh", "-c", "yes %s | head -n %d"] } } }\n' \
                "$LINE" "$N" >"$B/job.json"
        echo "== journal: one node printing $N lines of ${#LINE} bytes, forwarding off vs on, $ROUNDS rounds each"
        machine_line
        declare -A best=()
        : >"$B/list.off"
        : >"$B/list.on"
        for round in $(seq "$ROUNDS"); do
                for mode in off on; do
                        run "$mode" "$round"
                        printf '%-4s round %d: %8s s  %9d lines/s  in journal %8d (%d%%)\n' "$mode" "$round" \
                                "$(secs "$wall_ns")" $((N * 1000000000 / wall_ns)) "$in_journal" $((in_journal * 100 / N))
                        [ -n "${best[$mode]:-}" ] && [ "${best[$mode]}" -le "$wall_ns" ] || best[$mode]=$wall_ns
                done
        done
        for mode in off on; do
                printf '%-4s orchctl list while the node prints: p50 %s ms, p99 %s ms, max %s ms (%d calls)\n' "$mode" \
                        "$(percentile 50 <"$B/list.$mode")" "$(percentile 99 <"$B/list.$mode")" \
                        "$(percentile 100 <"$B/list.$mode")" "$(wc -l <"$B/list.$mode")"
        done
        echo "throughput ratio on/off (best rounds): $(ratio "${best[off]}" "${best[on]}")"
done
