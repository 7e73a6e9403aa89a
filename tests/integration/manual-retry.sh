#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl retry (SPEC §5): a finished job's failed, cancelled and skipped nodes (or the named ones) run
# again with everything downstream of them; succeeded nodes upstream are kept; attempt numbers go on and
# each retried node gets a fresh round of retry.attempts; the retry is journaled, so a crash right after
# it loses nothing and re-runs nothing that had ended. Refusals: an unfinished job (75), unknown job or
# node (66), no job (64).

. "$(dirname "$0")/lib.sh"

start_orchd

# a -> b -> c, d: b fails until $W/fixed exists (and with retry.attempts 2 it tries twice); c is skipped;
# d (when: always) runs either way. Every start appends "NODE ATTEMPT" to $W/ran.
drop_job chain <<EOF
{ "nodes": {
    "a": { "cmd": ["/bin/sh", "-c", "echo a \$ORCH_ATTEMPT >> $W/ran"] },
    "b": { "cmd": ["/bin/sh", "-c", "echo b \$ORCH_ATTEMPT >> $W/ran; echo out-\$ORCH_ATTEMPT; test -e $W/fixed"],
           "after": ["a"], "retry": { "attempts": 2, "delay": "10ms" } },
    "c": { "cmd": ["/bin/sh", "-c", "echo c \$ORCH_ATTEMPT >> $W/ran"], "after": ["b"] },
    "d": { "cmd": ["/bin/sh", "-c", "echo d \$ORCH_ATTEMPT >> $W/ran"], "after": ["b"], "when": "always" } } }
EOF
id=$(job_id_of chain) || bail_out "job not accepted"
is_exit 1 "the job fails first" wait_job "$id"
is "$(node_field "$id" b attempts)" 2 "b used its two attempts"
is "$(node_field "$id" c state)" skipped "c was skipped"

touch "$W/fixed"
out=$(ctl retry "$id")
is $? 0 "orchctl retry exits 0"
is "$out" "Job $id: retrying 3 nodes: b c d" "it names the failed and skipped nodes and what depends on them (d, which had succeeded)"
is_exit 0 "the retried job succeeds" wait_job "$id"
is "$(job_field "$id" state)" succeeded "job state succeeded"
is "$(job_field "$id" reason)" null "the old failure reason is gone"
is "$(node_field "$id" b attempts)" 3 "b's attempt numbers go on (3)"
is "$(node_field "$id" b state)" succeeded "b succeeded"
is "$(grep -c '^a ' "$W/ran")" 1 "a (succeeded upstream) did not run again"
is "$(grep -cx 'b 3' "$W/ran")" 1 "b ran as attempt 3"
is "$(grep -cx 'c 1' "$W/ran")" 1 "c ran once, as attempt 1"
is "$(grep -c '^d ' "$W/ran")" 2 "d (downstream of b) ran again"
ok "the logs of earlier attempts are kept" test -s "$SPOOL/jobs/$id/logs/b.1.log" -a -s "$SPOOL/jobs/$id/logs/b.3.log"
is "$(cat "$SPOOL/jobs/$id/logs/b.3.log")" "out-3" "attempt 3 logged to its own file"

out=$(ctl retry "$id")
is $? 0 "retrying a job with nothing to retry exits 0"
like "$out" "nothing to retry" "and says so"

# Named nodes: a succeeded node and what depends on it run again (with --json output).
out=$(ctl --json retry "$id" b)
is "$(jq -c .nodes <<<"$out")" '["b","c","d"]' "retry JOB b re-queues b and everything downstream (--json)"
is_exit 0 "and the job succeeds again" wait_job "$id"
is "$(grep -c '^a ' "$W/ran")" 1 "a still ran only once"
is "$(node_field "$id" b attempts)" 4 "b is at attempt 4"
is "$(node_field "$id" d attempts)" 3 "d is at attempt 3"

# A fresh round of retry.attempts: a node that always fails gets its full budget again.
rm -f "$W/fixed"
is_exit 0 "retry b again" ctl retry "$id" b
is_exit 1 "with b failing the job fails" wait_job "$id"
is "$(node_field "$id" b attempts)" 6 "b had two more attempts (5 and 6), not one"
is "$(node_field "$id" b reason)" "exit:1" "b failed with exit:1"

# Refusals.
drop_job slow <<EOF
{ "nodes": { "s": { "cmd": ["/bin/sh", "-c", "touch $W/slow; exec $W/sleep 30"] } } }
EOF
ids=$(job_id_of slow) || bail_out "job slow not accepted"
wait_for 10 test -e "$W/slow" || bail_out "slow did not start"
err=$(ctl retry "$ids" 2>&1)
is $? 75 "retry of a running job: exit 75"
like "$err" "cannot retry job '$ids': not finished" "and the message says why"
is_exit 66 "retry of an unknown job: 66" ctl retry 999
is_exit 66 "retry of an unknown node: 66" ctl retry "$id" nosuch
is_exit 64 "retry without a job: usage error" ctl retry
if [ "$(id -u)" = 0 ]; then
        chmod 711 "$T" # let the other user reach the socket
        is_exit 77 "retry by another user (nobody): permission denied" \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$ORCHCTL" -s "$SOCK" retry "$id"
else
        skip "retry by another user" "needs root to switch users"
fi
is_exit 0 "cancel the slow job" ctl cancel "$ids"
is_exit 2 "it ends cancelled" wait_job "$ids"
is "$(ctl --json retry "$ids" | jq -c .nodes)" '["s"]' "a cancelled job's cancelled node is retried"
wait_for 10 node_state_is "$ids" s running || fail "the cancelled node did not run again"
is "$(job_field "$ids" state)" running "the job runs again"

# The idempotency key: a retried job holds its key again, so it may not while another unfinished job of
# the owner holds it.
drop_job keyed1 <<EOF
{ "key": "nightly", "nodes": { "k": { "cmd": ["/bin/false"] } } }
EOF
idk=$(job_id_of keyed1) || bail_out "job keyed1 not accepted"
is_exit 1 "the first keyed job fails" wait_job "$idk"
drop_job keyed2 <<EOF
{ "key": "nightly", "nodes": { "k": { "cmd": ["/bin/sh", "-c", "touch $W/k2; exec $W/sleep 30"] } } }
EOF
idk2=$(job_id_of keyed2) || bail_out "job keyed2 not accepted"
wait_for 10 test -e "$W/k2" || bail_out "keyed2 did not start"
err=$(ctl retry "$idk" 2>&1)
is $? 75 "retry while another unfinished job holds the key: 75"
like "$err" "key held by job $idk2" "and the message names the holder"
is_exit 0 "cancel the holder" ctl cancel "$idk2"
is_exit 2 "the holder ends" wait_job "$idk2"
is "$(ctl --json retry "$idk" | jq -c .nodes)" '["k"]' "then the retry is accepted"
is_exit 1 "and the job fails again (attempt 2)" wait_job "$idk"
is "$(node_field "$idk" k attempts)" 2 "k ran as attempt 2"

# Durability: after the reply, a kill -9 loses nothing: the job is queued/running again from the journal
# and a (succeeded) node is never re-run.
is_exit 0 "cancel it again" ctl cancel "$ids"
is_exit 2 "it ends cancelled again" wait_job "$ids"
touch "$W/fixed"
is_exit 0 "retry the failed job once more" ctl retry "$id"
kill -9 "$ORCHD_PID"
_wait_exit "$ORCHD_PID" 10
start_orchd
is_exit 0 "after kill -9 and restart the retried job runs to success" wait_job "$id"
is "$(grep -c '^a ' "$W/ran")" 1 "a still ran only once"
is "$(node_field "$id" b state)" succeeded "b succeeded after the restart"
like "$(node_field "$id" b attempts)" "^(7|8)$" "b's attempts went on from 6 (an interrupted one may count)"
like "$(cat "$T"/orchd.log* | grep -c "uid $(id -u) retried [0-9]* node(s) of job")" "^[4-9]$" "each retry is logged with the caller's uid"

done_testing
