#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl logs throughput (issue 3): a node writes SIZE_MB MiB (default 48, below the 64 MiB log cap) of
# text; then time `orchctl logs JOB NODE > /dev/null` (raw), `orchctl logs JOB` (prefixed lines) and
# `orchctl --json logs`, against `cat` of the log file as the floor, and the daemon's peak RSS (VmHWM)
# before and after. Figures only, no pass/fail.

. "$(dirname "$0")/common.sh"

SIZE_MB=${SIZE_MB:-48}
build_orchd
start_orchd

cat >"$B/big.json" <<JSON
{ "name": "big", "nodes": { "out": { "cmd": ["/bin/sh", "-c",
  "yes 'The quick brown fox jumps over the lazy dog 0123456789 \\u00e9\\u20ac' | head -c $((SIZE_MB * 1048576))"] } } }
JSON
drop_file "$B/big.json" big
id=$(wait_listed big)
ctl wait "$id" --timeout 300 >/dev/null
log=$SPOOL/jobs/$id/logs/out.1.log
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$ORCHD_PID/status"; }

timed() { # timed LABEL CMD…: run CMD with stdout to /dev/null, print its wall time and MiB/s
        local label=$1 t0 t1
        shift
        t0=$(now_ns)
        "$@" >/dev/null
        t1=$(now_ns)
        printf '%-28s %s s  %s MiB/s\n' "$label" "$(secs $((t1 - t0)))" "$(ratio "$SIZE_MB" "$(secs $((t1 - t0)))")"
}

echo "-- logs of one $SIZE_MB MiB attempt ($(stat -c %s "$log") bytes)"
hwm_before=$(hwm)
timed "cat (floor)" cat "$log"
timed "orchctl logs JOB NODE" ctl logs "$id" out
timed "orchctl logs JOB (prefixed)" ctl logs "$id"
timed "orchctl --json logs JOB NODE" ctl --json logs "$id" out
echo "orchd peak RSS (VmHWM): $hwm_before kB before, $(hwm) kB after"
