#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The trigger-rule table of orchd(8) "Trigger rules", row by row, on the real daemon: for each upstream
# outcome (succeeded, failed, allow_failure-failed, skipped with nothing failed above it, skipped after a
# failure, cancelled by name, timed out) one dependent per rule (success, failure, always), and what each
# did. Then the job-level rules: allow_failure alone lets the job succeed though its success dependents
# are skipped; fail_fast keeps failure handlers and cleanup nodes; a second cancel of a job stops its
# cleanup nodes too. Gates, not sleeps: the only waits are on files the nodes or the test write.

. "$(dirname "$0")/lib.sh"

start_orchd --max-parallel 8
track_pid_file "$W/can.pid"

# upstream node → its definition (cmd and fields), its expected end, and the rules that run after it.
declare -A UP=(
        [ok]='"cmd": ["/bin/true"]'
        [bad]='"cmd": ["/bin/sh", "-c", "exit 1"]'
        [tol]='"cmd": ["/bin/sh", "-c", "exit 1"], "allow_failure": true'
        [skp]='"cmd": ["/bin/true"], "after": ["ok"], "when": "failure"'
        [upf]='"cmd": ["/bin/true"], "after": ["bad"]'
        [can]="\"cmd\": [\"/bin/sh\", \"-c\", \"echo \$\$ > $W/can.pid.tmp && mv $W/can.pid.tmp $W/can.pid && exec $W/sleep 60\"]"
        [tmo]="\"cmd\": [\"/bin/sh\", \"-c\", \"$(gate_cmd never)\"], \"timeout\": \"1s\", \"kill_grace\": \"1s\""
)
declare -A END=([ok]="succeeded null" [bad]="failed exit:1" [tol]="failed exit:1" [skp]="skipped upstream"
        [upf]="skipped upstream" [can]="cancelled cancelled" [tmo]="failed timeout")
declare -A RUNS=([ok]="success always" [bad]="failure always" [tol]="failure always" [skp]="always"
        [upf]="failure always" [can]="failure always" [tmo]="failure always")
ORDER="ok bad tol skp upf can tmo"

{
        echo '{ "nodes": {'
        sep=
        for u in $ORDER; do
                printf '%s  "%s": { %s }' "$sep" "$u" "${UP[$u]}"
                sep=$',\n'
                for r in success failure always; do
                        printf '%s  "%s_%s": { "cmd": ["/bin/sh", "-c", "echo %s_%s >> %s/ran"], "after": ["%s"], "when": "%s" }' \
                                "$sep" "$u" "$r" "$u" "$r" "$W" "$u" "$r"
                done
        done
        echo; echo '} }'
} | drop_job table
id=$(job_id_of table) || bail_out "job not accepted"
wait_for 20 test -s "$W/can.pid" || bail_out "node can did not start"
wait_for 20 node_state_is "$id" bad failed || bail_out "node bad did not fail" # the first failure, then
is_exit 0 "orchctl cancel JOB NODE exits 0" ctl cancel "$id" can
is_exit 1 "the table job fails (bad failed)" ctl wait "$id" --timeout 30
is "$(job_field "$id" state) $(job_field "$id" reason)" "failed exit:1" "job failed with its first failure's reason"
want_ran=()
for u in $ORDER; do
        # shellcheck disable=SC2086
        expect_node "$id" "$u" ${END[$u]}
        for r in success failure always; do
                if [[ " ${RUNS[$u]} " == *" $r "* ]]; then
                        expect_node "$id" "${u}_$r" succeeded null
                        want_ran+=("${u}_$r")
                else
                        expect_node "$id" "${u}_$r" skipped upstream
                fi
        done
done
is "$(sort "$W/ran" | tr '\n' ' ')" "$(printf '%s\n' "${want_ran[@]}" | sort | tr '\n' ' ')" \
        "exactly the nodes the table says ran"

# allow_failure: its success dependent is skipped, its failure handler runs, and the job succeeds.
drop_job tolerated <<EOF
{ "nodes": {
    "tol":     { "cmd": ["/bin/sh", "-c", "exit 4"], "allow_failure": true },
    "next":    { "cmd": ["/bin/true"], "after": ["tol"] },
    "handler": { "cmd": ["/bin/true"], "after": ["tol"], "when": "failure" }
} }
EOF
id=$(job_id_of tolerated) || bail_out "job not accepted"
is_exit 0 "a job whose only failure is allow_failure succeeds" ctl wait "$id" --timeout 30
expect_node "$id" tol failed exit:4
expect_node "$id" next skipped upstream
expect_node "$id" handler succeeded null

# fail_fast: the running sibling is cancelled, pending success nodes skipped; a failure handler after the
# cancelled sibling and a cleanup node still run.
drop_job ff <<EOF
{ "fail_fast": true, "nodes": {
    "slow":    { "cmd": ["/bin/sh", "-c", "touch $W/slow.started; $(gate_cmd never)"], "kill_grace": "1s" },
    "bad":     { "cmd": ["/bin/sh", "-c", "while [ ! -e $W/slow.started ]; do $W/sleep 0.01; done; exit 2"] },
    "next":    { "cmd": ["/bin/true"], "after": ["slow"] },
    "handler": { "cmd": ["/bin/true"], "after": ["slow"], "when": "failure" },
    "cleanup": { "cmd": ["/bin/true"], "after": ["next"], "when": "always" }
} }
EOF
id=$(job_id_of ff) || bail_out "job not accepted"
is_exit 1 "the fail_fast job fails" ctl wait "$id" --timeout 30
is "$(job_field "$id" reason)" exit:2 "its reason is the failure that fired fail_fast"
expect_node "$id" slow cancelled fail_fast
expect_node "$id" next skipped fail_fast
expect_node "$id" handler succeeded null
expect_node "$id" cleanup succeeded null

# Cancel of the job: the cleanup node runs; a second cancel stops it too.
drop_job twice <<EOF
{ "nodes": {
    "work":    { "cmd": ["/bin/sh", "-c", "$(gate_cmd never)"], "kill_grace": "1s" },
    "cleanup": { "cmd": ["/bin/sh", "-c", "touch $W/cleanup.started; $(gate_cmd never)"], "after": ["work"],
                 "when": "always", "kill_grace": "1s" }
} }
EOF
id=$(job_id_of twice) || bail_out "job not accepted"
wait_for 20 node_state_is "$id" work running || bail_out "node work did not start"
is_exit 0 "the first cancel exits 0" ctl cancel "$id"
ok "the cleanup node starts after the first cancel" wait_for 20 test -e "$W/cleanup.started"
is "$(job_field "$id" state)" running "the job runs on while its cleanup node does"
is_exit 0 "the second cancel exits 0" ctl cancel "$id"
is_exit 2 "then the job ends cancelled" ctl wait "$id" --timeout 30
expect_node "$id" work cancelled cancelled
expect_node "$id" cleanup cancelled cancelled
done_testing
