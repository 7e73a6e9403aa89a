#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kill -9 mid-chain, then restart (SPEC §4): the job completes; no node whose end was recorded before
# the crash runs again; the node that was running reruns (on_interrupt "rerun", the default), and a node
# with on_interrupt "fail" ends failed with reason "interrupted" instead of running twice.
#
# What counts as recorded is read from the job's files on disk after the kill (state.json, then the
# newer journal-*.json in order), not from a status taken before it: the chain keeps moving between
# the two, and only the disk says what the restarted daemon will see.
#
# orchd runs with KillNodes=yes: its keepers leave with it, so the running nodes lose their supervisor as
# in a reboot and on_interrupt applies. With the default (KillNodes=no) they run on and are adopted instead:
# keeper-restart.sh.

. "$(dirname "$0")/lib.sh"

start_orchd --max-parallel 4 --kill-nodes yes
track_pid_file "$W/once.pid"

# A node that must not run twice: it records itself, then outlives the crash.
drop_job once <<EOF
{ "nodes": { "once": { "cmd": ["/bin/sh", "-c", "echo once >> $W/once.count; echo \$\$ > $W/once.pid; exec $W/sleep 600"],
                       "on_interrupt": "fail" } } }
EOF
id_once=$(job_id_of once) || bail_out "job once not accepted"
wait_for 10 test -s "$W/once.pid" || bail_out "node once did not start"

# A chain n1 → … → n6; n3 waits for $W/go, which opens only after the restart, so the crash hits it
# running however slow the machine is.
nodes="" prev=""
for n in n1 n2 n3 n4 n5 n6; do
        after=${prev:+, \"after\": [\"$prev\"]}
        work="sleep 0.3"
        [ "$n" != n3 ] || work="while [ ! -e $W/go ]; do sleep 0.01; done"
        nodes="$nodes${nodes:+,} \"$n\": { \"cmd\": [\"/bin/sh\", \"-c\", \"echo $n >> $W/count; $work\"]$after }"
        prev=$n
done
drop_job chain <<EOF
{ "nodes": { $nodes } }
EOF
id=$(job_id_of chain) || bail_out "job chain not accepted"

# Crash while n3 runs: wait for its start, kill -9.
wait_for 20 grep -qx n3 "$W/count" || bail_out "n3 did not start"
kill9_orchd
cp "$W/count" "$W/count.at-crash"

# Replay the durable state the way orchd does: the snapshot, then newer journal files in order.
jdir=$SPOOL/jobs/$id
jq -s '.[0].seq as $s | reduce (.[0], (.[1:][] | select(.seq > $s))) as $f ({}; . * ($f.nodes | map_values(.state)))' \
        "$jdir/state.json" $(cd "$jdir" && ls journal-*.json 2>/dev/null | sort | sed "s|^|$jdir/|") >"$W/disk.json"
diag "on disk at the crash: $(jq -c . "$W/disk.json")"
mapfile -t ended < <(jq -r 'to_entries[] | select(.value == "succeeded") | .key' "$W/disk.json")
mapfile -t running < <(jq -r 'to_entries[] | select(.value == "running") | .key' "$W/disk.json")
ok "n1 and n2 had recorded ends before the crash (n3 starts only once n2's end is durable)" \
        test "${ended[0]:-}" = n1 -a "${ended[1]:-}" = n2
ok "the crash hit mid-chain" test "${#ended[@]}" -lt 6

once_pid=$(cat "$W/once.pid")
ok "node once's process outlived the crash (it runs until killed, in its own session)" pid_alive "$once_pid"
start_orchd --max-parallel 4 --kill-nodes yes
# The restarted daemon kills a group it recorded as running (pid + start time), so the node is never
# running twice, and never hits a reused pid.
ok "the restart killed the orphaned process of node once" wait_for 10 sh -c "! kill -0 $once_pid 2>/dev/null || grep -q '^State:.Z' /proc/$once_pid/status"
touch "$W/go"
is_exit 0 "after the restart the chain succeeds" ctl wait "$id" --timeout 30
for n in n1 n2 n3 n4 n5 n6; do
        is "$(node_field "$id" "$n" state)" succeeded "$n succeeded"
done
for n in "${ended[@]}"; do
        is "$(grep -cx "$n" "$W/count")" 1 "$n (end recorded before the crash) ran exactly once"
done
for n in "${running[@]}"; do
        is "$(grep -cx "$n" "$W/count")" 2 "$n (recorded running at the crash) ran again"
        ok "$n's rerun has its own log file $n.2.log" test -e "$SPOOL/jobs/$id/logs/$n.2.log"
done
for n in n1 n2 n3 n4 n5 n6; do
        before=$(grep -cx "$n" "$W/count.at-crash")
        if [ "$before" -eq 0 ]; then
                is "$(grep -cx "$n" "$W/count")" 1 "$n (not started before the crash) ran once"
        elif ! printf '%s\n' "${ended[@]}" | grep -qx "$n"; then
                is "$(grep -cx "$n" "$W/count")" 2 "$n (started, end not recorded) ran again, once"
        fi
done
diag "run order: $(tr '\n' ' ' <"$W/count")"
is "$(awk '!seen[$0]++' "$W/count" | tr '\n' ' ')" "n1 n2 n3 n4 n5 n6 " "the chain order held across the crash"

is_exit 1 "job once fails" ctl wait "$id_once" --timeout 20
expect_node "$id_once" once failed interrupted
is "$(job_field "$id_once" reason)" interrupted "job once: reason interrupted"
is "$(wc -l <"$W/once.count" | tr -d ' ')" 1 "the on_interrupt=fail node did not run again"
done_testing
