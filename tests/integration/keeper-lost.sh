#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A keeper that dies while orchd runs (issue 12: "supervisor killed → on_interrupt"). For each attempt it
# ran, orchd takes the end the keeper recorded in the job's "ends" file when there is one (the keeper died
# between recording the end and reporting it: the node ran once, and is not run again); otherwise it kills
# what is left of the attempt (its process group; with cgroups everything in its cgroup, a setsid'd process
# included) and then on_interrupt applies, so a rerun never overlaps the orphan. Before, each such attempt
# ended as "killed by SIGKILL" while it ran on: a retry overlapped it, and a recorded end was lost.
# Liveness is read from a ledger the nodes write and from /proc; every node waits on a gate file.

. "$(dirname "$0")/lib.sh"

make_overlap_node

starts_of() { grep -c "^start $1 " "$W/ledger"; }
pid_of() { awk -v n="$1" -v a="$2" '$1 == "start" && $2 == n && $3 == a { print $4 }' "$W/ledger"; }
# dead PID: gone, checked by the start time it had when the test took its pid (pids may come round again)
declare -A started
note() { started[$1]=$(proc_start "$1"); }
dead() { gone "$1" "${started[$1]}"; }
# kill_keeper: SIGKILL the keeper of the running orchd (root's nodes); prints its pid
kill_keeper() {
        local k
        k=$(keeper_pid)
        [ -n "$k" ] || bail_out "no keeper to kill"
        kill -KILL "$k"
        echo "$k"
}

start_orchd
cgroups=$(ctl stats --json | jq -r .isolation)
escape=
[ "$cgroups" = cgroup ] && escape=escape
diag "isolation: $cgroups"

# ---- 1. no end recorded: the orphan (and its escapee, with cgroups) is killed, then the node reruns ----
drop_job rerun <<EOF
{ "nodes": { "a": { "cmd": ["$W/node", "a" $([ -n "$escape" ] && echo ", \"escape\"")] } } }
EOF
id=$(job_id_of rerun) || bail_out "job rerun not accepted"
wait_for 30 grep -q "^start a 1 " "$W/ledger" || bail_out "a did not start"
pid=$(pid_of a 1)
note "$pid"
escapee=
[ -n "$escape" ] && escapee=$(cat "$W/escapee.a.1") && note "$escapee"
kill_keeper >/dev/null
ok "orchd says the keeper went away without recording a's end" \
        wait_for 30 grep -aq "node a attempt 1: its keeper went away without recording its end; what is left of the attempt is killed, and on_interrupt applies" "$T/orchd.log"
ok "attempt 1 of a is killed" wait_for 30 dead "$pid"
if [ -n "$escape" ]; then
        ok "and so is the process it left in a session of its own (its cgroup was killed)" \
                wait_for 30 dead "$escapee"
else
        skip "the setsid'd process of a lost attempt is killed" "isolation is $cgroups: only cgroups catch it"
fi
ok "a runs again, as attempt 2" wait_for 30 grep -q "^start a 2 " "$W/ledger"
ok "while nothing of attempt 1 lived" sh -c "! grep -q '^overlap a ' '$W/ledger'"
touch "$W/go.a"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(node_field "$id" a attempts)" 2 "a: two attempts (interrupted, rerun)"
is "$(starts_of a)" 2 "a started twice, never at once"

# ---- 2. on_interrupt fail: the node fails, interrupted, and nothing of it is left --------------------
drop_job fail <<EOF
{ "nodes": { "b": { "cmd": ["$W/node", "b"], "on_interrupt": "fail" } } }
EOF
id=$(job_id_of fail) || bail_out "job fail not accepted"
wait_for 30 grep -q "^start b 1 " "$W/ledger" || bail_out "b did not start"
pid=$(pid_of b 1)
note "$pid"
kill_keeper >/dev/null
is_exit 1 "with on_interrupt fail, the job fails" ctl wait "$id" --timeout 30
is "$(node_field "$id" b reason)" interrupted "b failed with reason interrupted"
ok "and b's process is gone" wait_for 30 dead "$pid"
is "$(starts_of b)" 1 "b ran once"

# ---- 3. the end recorded, not reported: it is the end (the keeper dies at its first send after) -------
drop_job recorded <<EOF
{ "nodes": { "c": { "cmd": ["$W/node", "c"] } } }
EOF
id=$(job_id_of recorded) || bail_out "job recorded not accepted"
wait_for 30 grep -q "^start c 1 " "$W/ledger" || bail_out "c did not start"
keeper=$(keeper_pid)
note "$keeper"
# c prints nothing, so the keeper's next message to orchd is c's END, sent after the end is in "ends".
STRACE_TARGET=$keeper strace_attach "$T/strace.out" sendmsg sendmsg:signal=KILL orchd-keeper ||
        bail_out "cannot trace the keeper"
touch "$W/go.c"
ok "the keeper dies as it reports c's end" wait_for 30 dead "$keeper"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(node_field "$id" c attempts)" 1 "c: one attempt"
is "$(starts_of c)" 1 "c ran once"
like "$(grep -a 'node c attempt 1: its keeper went away' "$T/orchd.log")" "after recording its end; taking that end" \
        "orchd says it took the end the keeper recorded"

# ---- 4. under process groups -----------------------------------------------------------------------------
if [ "$cgroups" = cgroup ]; then
        stop_orchd
        printf '[Daemon]\nIsolation=pgroup\n' >"$T/orchd.conf"
        start_orchd
        drop_job pgroup <<EOF
{ "nodes": { "d": { "cmd": ["$W/node", "d"] } } }
EOF
        id=$(job_id_of pgroup) || bail_out "job pgroup not accepted"
        wait_for 30 grep -q "^start d 1 " "$W/ledger" || bail_out "d did not start"
        pid=$(pid_of d 1)
        note "$pid"
        kill_keeper >/dev/null
        ok "under Isolation=pgroup, attempt 1 of d is killed (its process group)" wait_for 30 dead "$pid"
        ok "d runs again, as attempt 2" wait_for 30 grep -q "^start d 2 " "$W/ledger"
        ok "while nothing of attempt 1 lived" sh -c "! grep -q '^overlap d ' '$W/ledger'"
        touch "$W/go.d"
        is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
fi
done_testing
