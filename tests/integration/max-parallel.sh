#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Concurrency limits: a job's max_parallel 2 over 6 independent nodes never lets more than 2 run at once
# (and does reach 2), and the daemon's --max-parallel 1 serializes nodes across two jobs.
# Intervals are measured by the nodes themselves, so they lie inside the real run time: a measured
# overlap can only under-count a real one. In the first job every node ends only once two nodes have started
# (a rendezvous; the 0.3 s of work after it only widens the intervals), so the first two overlap for sure
# however slowly they start, and the job hangs (fails) if the nodes are serialized.

. "$(dirname "$0")/lib.sh"

make_recorder
start_orchd --max-parallel 8

nodes=""
for i in 1 2 3 4 5 6; do
        nodes="$nodes${nodes:+,} \"n$i\": { \"cmd\": [\"$W/rec\", \"n$i\", \"+2\", \"0.3\"] }"
done
drop_job limited <<EOF
{ "max_parallel": 2, "nodes": { $nodes } }
EOF
id=$(job_id_of limited) || bail_out "job not accepted"
is_exit 0 "job with max_parallel 2 succeeds" ctl wait "$id" --timeout 30
is "$(grep -c '^end ' "$W/events")" 6 "all 6 nodes ran"
is "$(max_overlap)" 2 "at most 2 nodes overlapped, and 2 did"

stop_orchd
is "$ORCHD_STATUS" 0 "orchd exits 0 on SIGTERM"

# A fresh spool, so this part depends on nothing but the global limit.
mv "$W/events" "$W/events.1"
SPOOL=$T/spool2
start_orchd --max-parallel 1
for j in x y; do
        drop_job "$j" <<EOF
{ "nodes": { "${j}1": { "cmd": ["$W/rec", "${j}1", "0.3"] },
             "${j}2": { "cmd": ["$W/rec", "${j}2", "0.3"] },
             "${j}3": { "cmd": ["$W/rec", "${j}3", "0.3"] } } }
EOF
done
idx=$(job_id_of x) || bail_out "job x not accepted"
idy=$(job_id_of y) || bail_out "job y not accepted"
is_exit 0 "job x succeeds" ctl wait "$idx" --timeout 30
is_exit 0 "job y succeeds" ctl wait "$idy" --timeout 30
is "$(grep -c '^end ' "$W/events")" 6 "all 6 nodes of both jobs ran"
is "$(max_overlap)" 1 "with --max-parallel 1 no two nodes overlapped, across jobs"
[ "$_tap_failed" -eq 0 ] || diag_file "$W/events"
done_testing
