#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Priority across jobs (SPEC §3 "priority"): with --max-parallel 1 and a blocker occupying the only slot
# until the test opens its gate, jobs dropped as low (0), high (10), low (0) start as high, low, low: higher
# priority first, FIFO among equal priorities.

. "$(dirname "$0")/lib.sh"

make_recorder
start_orchd --max-parallel 1

drop_job blocker <<EOF
{ "nodes": { "block": { "cmd": ["$W/rec", "blocker", "@$(gate_file blocker)"] } } }
EOF
idb=$(job_id_of blocker) || bail_out "blocker not accepted"
wait_for 10 grep -q '^start blocker' "$W/events" 2>/dev/null || bail_out "blocker did not start"

drop_job low1 <<EOF
{ "priority": 0, "nodes": { "n": { "cmd": ["$W/rec", "low1", "0.05"] } } }
EOF
id1=$(job_id_of low1) || bail_out "low1 not accepted"
drop_job high <<EOF
{ "priority": 10, "nodes": { "n": { "cmd": ["$W/rec", "high", "0.05"] } } }
EOF
idh=$(job_id_of high) || bail_out "high not accepted"
drop_job low2 <<EOF
{ "nodes": { "n": { "cmd": ["$W/rec", "low2", "0.05"] } } }
EOF
id2=$(job_id_of low2) || bail_out "low2 not accepted"

ok "all three were accepted while the blocker still ran" sh -c "! grep -q '^end blocker' '$W/events'"
is "$(job_field "$idh" state)" queued "high is queued behind the blocker"
# A queued job changes nothing while it waits, but its acceptance must still become durable without waiting
# for a run slot: jobs/ID exists (no longer the unpublished jobs/.#ID) while the blocker still holds the only
# slot (it holds it until the test opens its gate, so the bound is only a hang's).
published() { test -d "$SPOOL/jobs/$id1" -a -d "$SPOOL/jobs/$idh" -a -d "$SPOOL/jobs/$id2"; }
ok "queued jobs are published while they wait" wait_for 30 published
ok "… while the blocker still runs" sh -c "! grep -q '^end blocker' '$W/events'"
is "$(job_field "$idh" priority)" 10 "status reports priority 10"
open_gate blocker
for j in "$idb" "$id1" "$idh" "$id2"; do
        is_exit 0 "job $j succeeds" ctl wait "$j" --timeout 30
done
is "$(awk '$1 == "start" { print $2 }' "$W/events" | tr '\n' ' ')" "blocker high low1 low2 " \
        "start order: blocker, then high, then low1 and low2 in submission order"
done_testing
