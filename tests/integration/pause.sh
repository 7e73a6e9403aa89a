#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# pause / resume (SPEC §4-5): a paused job starts no new node while running ones go on; the pause
# survives a daemon restart; resume lets the rest run. Pausing a finished job, or resuming one that is
# not paused, changes nothing and succeeds.
#
# No timing windows: running nodes wait on gate files the test opens, and "X has not started" is checked
# after a barrier job (dropped later, one run slot) has run: had X been startable, it would have had the
# slot first.

. "$(dirname "$0")/lib.sh"

barrier() { # barrier NAME: drop a job after every job so far, wait until it has run through the one slot
        drop_job "$1" <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "echo $1 >> $W/ran"] } } }
EOF
        local id
        id=$(job_id_of "$1") || bail_out "barrier job $1 not accepted"
        wait_job "$id" 20 || bail_out "barrier job $1 did not succeed"
        grep -qx "$1" "$W/ran" || bail_out "barrier job $1 did not run"
}

start_orchd --max-parallel 1
drop_job chain <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo a >> $W/ran; $(gate_cmd a)"] },
             "b": { "cmd": ["/bin/sh", "-c", "echo b >> $W/ran"], "after": ["a"] } } }
EOF
id=$(job_id_of chain) || bail_out "job not accepted"
wait_for 10 grep -qx a "$W/ran" || bail_out "a did not start"

is_exit 0 "orchctl pause exits 0" ctl pause "$id"
is "$(job_field "$id" state)" paused "the job is paused"
is "$(node_field "$id" a state)" running "its running node goes on"
open_gate a
ok "a finishes while paused" wait_for 10 node_state_is "$id" a succeeded
barrier barrier1
is "$(grep -cx b "$W/ran" || true)" 0 "b does not start while the job is paused"
is "$(node_field "$id" b state)" pending "b stays pending"
like "$(ctl --json list --state paused | jq -r '.[].id')" "^$id\$" "list --state paused shows it"
is_exit 0 "pausing again is a no-op" ctl pause "$id"

stop_orchd
start_orchd --max-parallel 1
is "$(job_field "$id" state)" paused "the pause survives a restart"
barrier barrier2
is "$(grep -cx b "$W/ran" || true)" 0 "b still has not started after the restart"

is_exit 0 "orchctl resume exits 0" ctl resume "$id"
is_exit 0 "the resumed job succeeds" ctl wait "$id" --timeout 20
is "$(grep -cx b "$W/ran")" 1 "b ran once after resume"
is_exit 0 "pausing a finished job is a no-op" ctl pause "$id"
is "$(job_field "$id" state)" succeeded "and leaves it succeeded"
is_exit 0 "resuming a job that is not paused is a no-op" ctl resume "$id"
is_exit 66 "pause of an unknown job: no such job" ctl pause 999
is_exit 64 "pause without a job: usage error" ctl pause

# A queued job paused before it ever started: it never starts while a blocker holds the only slot and
# after the slot frees, only once resumed; resume brings it back to queued, then it runs.
drop_job blocker <<EOF
{ "nodes": { "blk": { "cmd": ["/bin/sh", "-c", "echo blk >> $W/ran; $(gate_cmd blk)"] } } }
EOF
idb=$(job_id_of blocker) || bail_out "job blocker not accepted"
wait_for 10 grep -qx blk "$W/ran" || bail_out "blocker did not start"
drop_job later <<EOF
{ "nodes": { "x": { "cmd": ["/bin/sh", "-c", "echo x >> $W/ran"] } } }
EOF
id2=$(job_id_of later) || bail_out "job later not accepted"
is "$(job_field "$id2" state)" queued "it is queued behind the blocker"
is_exit 0 "pause a queued job" ctl pause "$id2"
open_gate blk
is_exit 0 "the blocker succeeds" ctl wait "$idb" --timeout 20
barrier barrier3
is "$(grep -cx x "$W/ran" || true)" 0 "the paused queued job did not start when the slot freed"
is "$(job_field "$id2" state)" paused "it is still paused"
is_exit 0 "resume it" ctl resume "$id2"
is_exit 0 "then it runs and succeeds" ctl wait "$id2" --timeout 20
done_testing
