#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Drop-to-exec latency: 200 single-node jobs, one after the other. bench/drop reads CLOCK_REALTIME just
# before it renames the job into new/; the node (bench/stamp) reads it as its first instruction. The
# difference covers inotify wake-up, intake (open, validate, copy to jobs/ID/, durable accept), scheduling
# and spawn. Prints p50, p90, p99 and max in milliseconds.

. "$(dirname "$0")/common.sh"

N=${N:-200}
build_orchd
stamp=$(build_helper stamp)
drop=$(build_helper drop)

start_orchd --max-parallel 2
mkdir -p "$SPOOL/tmp" "$SPOOL/new" "$B/stamps"
: >"$B/lat"
for i in $(seq "$N"); do
        printf '{ "name": "lat%d", "nodes": { "s": { "cmd": ["%s", "%s"] } } }\n' "$i" "$stamp" "$B/stamps/$i" \
                >"$SPOOL/tmp/lat$i.json"
        t_drop=$("$drop" "$SPOOL/tmp/lat$i.json" "$SPOOL/new/lat$i.json")
        # Poll for the stamp (the poll interval does not enter the measurement), then wait for the job to
        # end so the next drop does not queue behind this job's bookkeeping.
        for (( k = 0; ; k++ )); do
                [ -e "$B/stamps/$i" ] && break
                if [ "$k" -gt 3000 ]; then
                        note "job lat$i: no stamp after 30 s; orchd log:"
                        tail -n 20 "$B/orchd.log" >&2
                        exit 1
                fi
                sleep 0.01
        done
        echo $(($(cat "$B/stamps/$i") - t_drop)) >>"$B/lat"
        id=$(wait_listed "lat$i")
        ctl wait "$id" --timeout 30 >/dev/null || note "warning: job $id did not succeed"
done
stop_orchd

# The floor, same machine, same minute: a bare inotify + posix_spawn loop running the same stamp.
floor=$(build_helper spawn-floor)
mkdir -p "$B/floor/tmp" "$B/floor/new" "$B/floor/stamps"
: >"$B/lat-floor"
coproc FLOOR { "$floor" "$B/floor/new" "$stamp" "$B/floor/stamps" "$N"; }
floor_pid=$FLOOR_PID
read -r _ <&"${FLOOR[0]}"
for i in $(seq "$N"); do
        echo '{}' >"$B/floor/tmp/f$i.json"
        t_drop=$("$drop" "$B/floor/tmp/f$i.json" "$B/floor/new/f$i.json")
        until [ -e "$B/floor/stamps/$i" ]; do sleep 0.01; done
        echo $(($(cat "$B/floor/stamps/$i") - t_drop)) >>"$B/lat-floor"
done
wait "$floor_pid" 2>/dev/null || true

percentiles() {
        sort -n "$1" | awk '{ v[NR] = $1 } END {
                printf "p50 %.2f ms   p90 %.2f ms   p99 %.2f ms   max %.2f ms   (n = %d)\n",
                        v[int(NR * 0.50 + 0.5)] / 1e6, v[int(NR * 0.90 + 0.5)] / 1e6,
                        v[int(NR * 0.99 + 0.5)] / 1e6, v[NR] / 1e6, NR
        }'
}
p50() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int(NR * 0.50 + 0.5)] }'; }

echo "== latency: rename into new/ → first instruction of the node, $N sequential jobs"
machine_line
echo "orchd: $(percentiles "$B/lat")"
echo "floor: $(percentiles "$B/lat-floor")   (inotify + posix_spawn of the same program, nothing else)"
awk -v o="$(p50 "$B/lat")" -v f="$(p50 "$B/lat-floor")" \
        'BEGIN { printf "p50 orchd - floor = %.2f ms, ratio %.2f\n", (o - f) / 1e6, o / f }'
