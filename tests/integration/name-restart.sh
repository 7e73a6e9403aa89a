#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A job keeps its name across a restart (issue 9, point 7): one without "name" is named after the file
# it was accepted from (dropped or submitted), before and after orchd restarts, in list, status and its
# nodes' ORCH_JOB_NAME; it does not become its id. An explicit name stays what the file says, even one
# that looks like an id.
#
# orchd runs with KillNodes=yes, so that the kill -9 interrupts node n and its rerun's ORCH_JOB_NAME shows
# the name after the restart.

. "$(dirname "$0")/lib.sh"

names() { # names: "ID NAME" of every job, sorted by id
        ctl --json list --all | jq -r 'sort_by(.id | tonumber)[] | "\(.id) \(.name)"'
}

start_orchd --kill-nodes yes
track_pid_file "$W/pids"
# A node that records its job's name at each run, then waits for the gate.
drop_job nameless <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "echo \$\$ >> $W/pids; echo \"\$ORCH_JOB_NAME\" >> $W/seen; while [ ! -e $W/go ]; do sleep 0.01; done"] } } }
EOF
drop_job named <<EOF
{ "name": "7", "nodes": { "n": { "cmd": ["true"] } } }
EOF
mkdir -p "$T/files"
echo '{ "nodes": { "n": { "cmd": ["true"] } } }' >"$T/files/handed-in.json"
id_sub=$(ctl submit "$T/files/handed-in.json") || bail_out "submit failed"
id=$(job_id_of nameless) || bail_out "job nameless not accepted"
id_named=$(job_id_of 7) || bail_out "job named 7 not accepted"
wait_job "$id_named" || bail_out "job 7 did not succeed"
wait_job "$id_sub" || bail_out "the submitted job did not succeed"
wait_for 20 test -s "$W/seen" || bail_out "node n did not start"
ok "node n is recorded running" wait_for 20 disk_node_is "$id" n running
names >"$T/before"
is "$(job_field "$id" name)" nameless "before the restart: the dropped job is named after its file"
is "$(job_field "$id_sub" name)" handed-in "before the restart: the submitted job is named after its file"

kill9_orchd
start_orchd --kill-nodes yes
names >"$T/after"
if cmp -s "$T/before" "$T/after"; then
        pass "list shows the same names after the restart"
else
        fail "list shows the same names after the restart" "before: $(cat "$T/before")" "after: $(cat "$T/after")"
fi
is "$(job_field "$id" name)" nameless "after the restart: status names the dropped job after its file, not $id"
is "$(job_field "$id_sub" name)" handed-in "after the restart: the submitted job too"
is "$(job_field "$id_named" name)" 7 "an explicit name stays as written"
seen_twice() { [ "$(wc -l <"$W/seen")" -ge 2 ]; }
ok "node n ran again after the restart" wait_for 20 seen_twice
touch "$W/go"
wait_job "$id" || fail "job nameless did not succeed"
is "$(sort -u "$W/seen" | tr '\n' ' ')" "nameless " "ORCH_JOB_NAME was the file's name in both runs"
done_testing
