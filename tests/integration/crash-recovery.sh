#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kill -9 mid-chain, then restart (SPEC §4): the job completes; no node whose end was recorded before
# the crash runs again; the node that was running reruns (on_interrupt "rerun", the default), and a node
# with on_interrupt "fail" ends failed with reason "interrupted" instead of running twice.
#
# The recorded ends are taken from `orchctl --json status` just before the kill: orchd reports only
# what it has made durable (SPEC §4), so every node final there must have its end on disk.

. "$(dirname "$0")/lib.sh"

start_orchd --max-parallel 4
track_pid_file "$W/once.pid"

# A node that must not run twice: it records itself, then outlives the crash.
drop_job once <<EOF
{ "nodes": { "once": { "cmd": ["/bin/sh", "-c", "echo once >> $W/once.count; echo \$\$ > $W/once.pid; exec $W/sleep 3"],
                       "on_interrupt": "fail" } } }
EOF
id_once=$(job_id_of once) || bail_out "job once not accepted"
wait_for 10 test -s "$W/once.pid" || bail_out "node once did not start"

nodes="" prev=""
for n in n1 n2 n3 n4 n5 n6; do
        after=${prev:+, \"after\": [\"$prev\"]}
        nodes="$nodes${nodes:+,} \"$n\": { \"cmd\": [\"/bin/sh\", \"-c\", \"echo $n >> $W/count; sleep 0.3\"]$after }"
        prev=$n
done
drop_job chain <<EOF
{ "nodes": { $nodes } }
EOF
id=$(job_id_of chain) || bail_out "job chain not accepted"

# Crash while n3 runs: wait for its start, snapshot the status, kill -9 at once (n3 sleeps 0.3 s).
wait_for 20 grep -qx n3 "$W/count" || bail_out "n3 did not start"
job_status "$id" >"$W/before.json"
kill9_orchd
diag "before the crash: $(jq -c '.nodes | map_values(.state)' "$W/before.json")"
mapfile -t ended < <(jq -r '.nodes | to_entries[] | select(.value.state == "succeeded") | .key' "$W/before.json")
mapfile -t running < <(jq -r '.nodes | to_entries[] | select(.value.state == "running") | .key' "$W/before.json")
ok "n1 and n2 had recorded ends before the crash" test "${ended[*]:-}" = "n1 n2"
is "${running[*]:-}" n3 "n3 was running at the crash"

start_orchd --max-parallel 4
is_exit 0 "after the restart the chain succeeds" ctl wait "$id" --timeout 30
for n in n1 n2 n3 n4 n5 n6; do
        is "$(node_field "$id" "$n" state)" succeeded "$n succeeded"
done
for n in "${ended[@]}"; do
        is "$(grep -cx "$n" "$W/count")" 1 "$n (end recorded before the crash) ran exactly once"
done
for n in "${running[@]}"; do
        is "$(grep -cx "$n" "$W/count")" 2 "$n (running at the crash) ran again"
        ok "$n's rerun has its own log file $n.2.log" test -e "$SPOOL/jobs/$id/logs/$n.2.log"
done
for n in n4 n5 n6; do
        is "$(grep -cx "$n" "$W/count")" 1 "$n (not started before the crash) ran once"
done
diag "run order: $(tr '\n' ' ' <"$W/count")"
is "$(awk '!seen[$0]++' "$W/count" | tr '\n' ' ')" "n1 n2 n3 n4 n5 n6 " "the chain order held across the crash"

is_exit 1 "job once fails" ctl wait "$id_once" --timeout 20
expect_node "$id_once" once failed interrupted
is "$(job_field "$id_once" reason)" interrupted "job once: reason interrupted"
is "$(wc -l <"$W/once.count" | tr -d ' ')" 1 "the on_interrupt=fail node did not run again"
done_testing
