#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Idempotency key (SPEC §3 "key"): while a job of the same owner with a key has not finished, another
# job file with that key is rejected (kept in rejected/ with an error naming the key and the job);
# once the first has finished, the key is free again. Jobs without a key, or with another, are not
# affected. The key is remembered across a daemon restart (it comes from the recovered job). deploy1 runs
# until the test opens its gate (open_gate deploy1), so it holds the key however slow the machine is.

. "$(dirname "$0")/lib.sh"

start_orchd
drop_job deploy1 <<EOF
{ "key": "deploy-prod", "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo deploy1 >> $W/ran; $(gate_cmd deploy1)"] } } }
EOF
id1=$(job_id_of deploy1) || bail_out "deploy1 not accepted"
wait_for 10 grep -qx deploy1 "$W/ran" || bail_out "deploy1 did not start"

drop_job deploy2 <<EOF
{ "key": "deploy-prod", "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo deploy2 >> $W/ran"] } } }
EOF
ok "a second file with the same key is rejected" wait_rejected deploy2.json
ok "its original is kept" cmp "$REJ/deploy2.json" "$T/dropped/deploy2.json"
like "$(cat "$REJ/deploy2.json.error")" "deploy2\\.json: key: \"deploy-prod\" is the key of job $id1, which has not finished" \
        "the error names the path, the key and the job holding it"
jq_ok "the JSON error has path \"key\"" '.errors[0].path == "key"' "$REJ/deploy2.json.error.json"

drop_job other <<EOF
{ "key": "deploy-staging", "nodes": { "a": { "cmd": ["/bin/true"] } } }
EOF
ido=$(job_id_of other) || bail_out "a job with another key was not accepted"
is_exit 0 "a job with another key runs" ctl wait "$ido" --timeout 20

# The key survives a restart: it is part of the recovered job.
stop_orchd
start_orchd
drop_job deploy3 <<EOF
{ "key": "deploy-prod", "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo deploy3 >> $W/ran"] } } }
EOF
ok "after a restart the key is still held by the unfinished job" wait_rejected deploy3.json

open_gate deploy1

is_exit 0 "the first job finishes" ctl wait "$id1" --timeout 30
drop_job deploy4 <<EOF
{ "key": "deploy-prod", "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo deploy4 >> $W/ran"] } } }
EOF
id4=$(job_id_of deploy4) || bail_out "the key was not freed when its job finished"
is_exit 0 "once the first finished, the key is free again" ctl wait "$id4" --timeout 20
is "$(grep -c 'deploy2\|deploy3' "$W/ran" || true)" 0 "the rejected files never ran"
done_testing
