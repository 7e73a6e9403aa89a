#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What a watcher costs: 10,000 independent /bin/true nodes (orchd --max-parallel 2), from the rename into
# new/ to the end of `orchctl wait`, with nobody watching, with one `orchctl watch` (lines, into a file)
# and with one `orchctl --json watch`, interleaved over ROUNDS rounds (default 3). Also the size of each
# watcher's output. A job nobody watches should cost the same as before the Watch method existed (the
# scheduler's hooks are one pointer test per flush and per commit); compare with a build of the parent
# commit by running this script with ORCHD/ORCHCTL pointing at it.

. "$(dirname "$0")/common.sh"

N=${N:-10000}
ROUNDS=${ROUNDS:-3}
build_orchd

true_job "$B/job.json" independent "$N"

run() { # run none|lines|json: one job on a fresh spool; sets RUN_US (µs/node) and RUN_BYTES (watcher output)
        local mode=$1 t0 id ns wpid=
        rm -rf "$SPOOL"
        start_orchd --max-parallel 2
        t0=$(now_ns)
        drop_file "$B/job.json" independent
        id=$(wait_listed independent)
        case $mode in
        lines) ctl watch "$id" >"$B/watch.out" & wpid=$! ;;
        json) ctl --json watch "$id" >"$B/watch.out" & wpid=$! ;;
        esac
        ctl wait "$id" --timeout 600 >/dev/null || note "warning: job $id did not succeed"
        ns=$(($(now_ns) - t0))
        [ -z "$wpid" ] || wait "$wpid" || note "warning: the watcher failed"
        stop_orchd
        RUN_US=$((ns / N / 1000))
        RUN_BYTES=$([ -n "$wpid" ] && stat -c %s "$B/watch.out" || echo 0)
        rm -f "$B/watch.out"
}

echo "== watch: $N × /bin/true, 2 at a time, $ROUNDS rounds (µs per node; watcher output bytes)"
machine_line
for round in $(seq "$ROUNDS"); do
        for mode in none lines json; do
                run "$mode"
                printf 'round %d  %-6s %8s µs/node  %10s bytes\n' "$round" "$mode" "$RUN_US" "$RUN_BYTES"
        done
done
