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

echo "== latency: rename into new/ → first instruction of the node, $N sequential jobs"
machine_line
sort -n "$B/lat" | awk '{ v[NR] = $1 } END {
        printf "p50 %.2f ms   p90 %.2f ms   p99 %.2f ms   max %.2f ms   (n = %d)\n",
                v[int(NR * 0.50 + 0.5)] / 1e6, v[int(NR * 0.90 + 0.5)] / 1e6,
                v[int(NR * 0.99 + 0.5)] / 1e6, v[NR] / 1e6, NR
}'
