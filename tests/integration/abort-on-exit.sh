#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# retry.unless_exit and abort_on_exit on the real daemon (orchd(8) "Job-level rules"):
#  - unless_exit retries every failure but the listed exit codes: a node failing with 1 then 5 is retried
#    until the listed 5 stops it; a running second attempt has no reason (the first one's is gone);
#  - abort_on_exit ends the job at once, before any retry: running nodes are stopped (cancelled) and
#    pending ones skipped, both with reason abort:N; cleanup nodes ("always") still run; the job ends in
#    the state the node names (failed, reason abort:N; or succeeded);
#  - the decision is durable: a kill -9 once the aborting node's end is on disk, and the restarted
#    daemon does not resume the job (the stopped sibling does not run again, nothing pending starts).
# Gates, not sleeps: every wait is on a file a node or the test writes.
#
# orchd runs with KillNodes=yes, so that the kill -9 interrupts what runs (the restart's part of this test).

. "$(dirname "$0")/lib.sh"

start_orchd --kill-nodes yes --max-parallel 4

# unless_exit: attempt 1 exits 1 (retried), attempt 2 exits 5 (listed: not retried).
drop_job deny <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "echo x >> $W/deny.count; [ \$(wc -l < $W/deny.count) -ge 2 ] && exit 5; exit 1"],
                    "retry": { "attempts": 5, "delay": "10ms", "unless_exit": [5] } } } }
EOF
id=$(job_id_of deny) || bail_out "job not accepted"
is_exit 1 "a job whose node exits with an unless_exit code fails" ctl wait "$id" --timeout 30
expect_node "$id" n failed exit:5
is "$(node_field "$id" n attempts)" 2 "exit 1 was retried, the listed exit 5 was not"

# A running second attempt carries no reason (the IDL: null while running); its retry_wait did.
drop_job again <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "echo x >> $W/again.count; [ \$(wc -l < $W/again.count) -ge 2 ] || exit 1; $(gate_cmd again)"],
                    "retry": { "attempts": 2, "delay": "10ms" } } } }
EOF
id=$(job_id_of again) || bail_out "job not accepted"
wait_for 30 eval '[ "$(wc -l < "$W/again.count" 2>/dev/null)" = 2 ] && node_state_is "$id" n running' ||
        bail_out "the second attempt did not start"
is "$(node_field "$id" n attempts) $(node_field "$id" n reason)" "2 null" "the running second attempt has reason null"
open_gate again
is_exit 0 "and the job succeeds" ctl wait "$id" --timeout 30

# abort_on_exit, state failed: the aborting node has retries left, and they are not used.
drop_job abort <<EOF
{ "nodes": {
    "sib":     { "cmd": ["/bin/sh", "-c", "touch $W/sib.started; $(gate_cmd never)"], "kill_grace": "1s" },
    "boom":    { "cmd": ["/bin/sh", "-c", "while [ ! -e $W/sib.started ]; do $W/sleep 0.01; done; exit 3"],
                 "retry": { "attempts": 3, "delay": "10ms" }, "abort_on_exit": { "codes": [3] } },
    "later":   { "cmd": ["/bin/true"], "after": ["sib"] },
    "cleanup": { "cmd": ["/bin/sh", "-c", "echo cleanup >> $W/ran"], "after": ["sib"], "when": "always" }
} }
EOF
id=$(job_id_of abort) || bail_out "job not accepted"
is_exit 1 "the aborted job fails" ctl wait "$id" --timeout 30
is "$(job_field "$id" state) $(job_field "$id" reason)" "failed abort:3" "job failed, reason abort:3"
expect_node "$id" boom failed exit:3
is "$(node_field "$id" boom attempts)" 1 "the abort came before any retry"
expect_node "$id" sib cancelled abort:3
expect_node "$id" later skipped abort:3
expect_node "$id" cleanup succeeded null

# A retry of an aborted job re-runs the node whose exit aborted it, even when only other nodes are named:
# left as it was, its recorded end would abort the retried job at once. Its second attempt exits 0.
drop_job reabort <<EOF
{ "nodes": {
    "hit":  { "cmd": ["/bin/sh", "-c", "echo x >> $W/hit.count; [ \$(wc -l < $W/hit.count) -ge 2 ] && exit 0; exit 4"],
              "abort_on_exit": { "codes": [4] } },
    "rest": { "cmd": ["/bin/sh", "-c", "echo rest >> $W/rest.ran"], "after": ["hit"] }
} }
EOF
id=$(job_id_of reabort) || bail_out "job not accepted"
is_exit 1 "the job aborts" ctl wait "$id" --timeout 30
expect_node "$id" rest skipped abort:4
ok "retry of the skipped node alone is accepted" ctl retry "$id" rest
is_exit 0 "the retried job runs to its end and succeeds" ctl wait "$id" --timeout 30
expect_node "$id" hit succeeded null
expect_node "$id" rest succeeded null
is "$(wc -l <"$W/hit.count") $(cat "$W/rest.ran")" "2 rest" "the aborting node ran again, then the skipped one"

# abort_on_exit, state succeeded, on exit 0 ("found it: stop the search").
drop_job found <<EOF
{ "nodes": {
    "search": { "cmd": ["/bin/sh", "-c", "touch $W/search.started; $(gate_cmd never)"], "kill_grace": "1s" },
    "hit":    { "cmd": ["/bin/sh", "-c", "while [ ! -e $W/search.started ]; do $W/sleep 0.01; done; exit 0"],
                "abort_on_exit": { "codes": [0], "state": "succeeded" } }
} }
EOF
id=$(job_id_of found) || bail_out "job not accepted"
is_exit 0 "a job aborted with state succeeded succeeds" ctl wait "$id" --timeout 30
is "$(job_field "$id" state) $(job_field "$id" reason)" "succeeded null" "job succeeded, no reason"
expect_node "$id" hit succeeded null
expect_node "$id" search cancelled abort:0

# Durability: the sibling ignores TERM and has a long grace, so the job is still stopping when orchd is
# killed; the aborting node's end is on disk by then. After the restart nothing resumes.
track_pid_file "$W/stub.pid"
drop_job crash <<EOF
{ "nodes": {
    "stub":  { "cmd": ["/bin/sh", "-c", "trap '' TERM; echo x >> $W/stub.count; echo \$\$ > $W/stub.pid; $(gate_cmd never)"],
               "kill_grace": "10m" },
    "boom":  { "cmd": ["/bin/sh", "-c", "while [ ! -s $W/stub.pid ]; do $W/sleep 0.01; done; exit 7"],
               "abort_on_exit": { "codes": [7] } },
    "later": { "cmd": ["/bin/sh", "-c", "echo later >> $W/ran2"], "after": ["stub"] }
} }
EOF
id=$(job_id_of crash) || bail_out "job not accepted"
ok "the aborting node's end is on disk" wait_for 30 disk_node_is "$id" boom failed
kill9_orchd
start_orchd --kill-nodes yes --max-parallel 4
is_exit 1 "after the restart the job ends as aborted" ctl wait "$id" --timeout 30
is "$(job_field "$id" state) $(job_field "$id" reason)" "failed abort:7" "job failed, reason abort:7"
# Running at the crash, it is interrupted (killed by the restarted daemon) and then stopped by the abort
# like any node that has not started: skipped, its one attempt counted.
expect_node "$id" stub skipped abort:7
expect_node "$id" later skipped abort:7
is "$(wc -l <"$W/stub.count")" 1 "the stopped sibling did not run again"
ok "the pending node never ran" test ! -e "$W/ran2"
done_testing
