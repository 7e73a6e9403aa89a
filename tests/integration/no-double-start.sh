#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A node never runs twice at once, attempt numbers are never reused and a log is never overwritten (issue 9
# point 3), checked against a ledger the nodes write themselves. orchd is killed -9 at the moment it has
# just had a node spawned and has recorded nothing of it itself: the node's execution kills it as its first
# act, once its orchd-keeper (src/keeper/keeper.c) has put its attempt and pid in the job's starts file and
# answered STARTED, which orchd may not have read yet (a start is asynchronous: keeper-client.h). With
# KillNodes=yes the keeper then exits on orchd's death, leaving the node running. Before its start was
# recorded by a process of its own, the restarted daemon, which could not know its pid, started the node
# again beside it. Now the next daemon kills that execution and reruns the node (as after any crash while
# it runs): a node may run twice, one after the other, never at once. No sleep decides anything: the nodes
# hold on gate files the test creates, and every wait polls the world with a bound.
#
# Scenarios, one job each: a first node, a dependent, a retry, the rerun after a recovery, a node with
# on_interrupt "fail", and a log file NODE.1.log that exists before attempt 1 starts (what a machine crash
# can leave: the log's directory entry on disk, the journal record of its start not).

. "$(dirname "$0")/lib.sh"

# KillNodes=yes: the keepers leave with orchd, so a kill -9 leaves the node without its supervisor, the case
# this test is about (with the default KillNodes=no the keeper stays and the next orchd adopts the node:
# keeper-restart.sh). Every start of the test reads it.
printf '[Daemon]\nKillNodes=yes\n' >"$T/orchd.conf"
: >"$W/ledger"
track_pid_file "$W/pids"

# One execution of a node: holds an flock on lock.NODE for its whole life (a second execution that finds it
# held writes "overlap"), writes "start NODE ATTEMPT PID"; if kill-at.NODE (or kill-at.NODE.ATTEMPT) exists,
# takes it and kills -9 the daemon named in orchd.pid (waiting for that file: the test writes it once the
# daemon is up); prints "out NODE ATTEMPT PID" (into its log; an orphan whose daemon died gets EPIPE and goes
# on), waits for go.NODE (or go.NODE.ATTEMPT), writes "end …" and exits with $W/exit.NODE's content if that
# file exists (removing it), else 0.
cat >"$W/node" <<EOF
#!/bin/sh
trap '' PIPE
echo \$\$ >>"$W/pids"
exec 9>>"$W/lock.\$1"
flock -n 9 || echo "overlap \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
echo "start \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
for k in "$W/kill-at.\$1" "$W/kill-at.\$1.\$ORCH_ATTEMPT"; do
        if mv "\$k" "\$k.taken" 2>/dev/null; then
                while [ ! -s "$W/orchd.pid" ]; do sleep 0.02; done
                kill -9 "\$(cat "$W/orchd.pid")"
        fi
done
echo "out \$1 \$ORCH_ATTEMPT \$\$"
while [ ! -e "$W/go.\$1" ] && [ ! -e "$W/go.\$1.\$ORCH_ATTEMPT" ]; do sleep 0.02; done
echo "end \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
if [ -e "$W/exit.\$1" ]; then rc=\$(cat "$W/exit.\$1"); rm -f "$W/exit.\$1"; exit "\$rc"; fi
exit 0
EOF
chmod +x "$W/node"

node_json() { # node_json NAME [EXTRA-JSON]: a node running $W/node NAME
        echo "\"$1\": { \"cmd\": [\"$W/node\", \"$1\"]${2:+, $2} }"
}

starts_of() { grep -c "^start $1 " "$W/ledger"; }

# Start orchd, telling the nodes its pid once it is up (and no stale pid before).
start_daemon() {
        rm -f "$W/orchd.pid"
        start_orchd
        echo "$ORCHD_PID" >"$W/orchd.pid.new" && mv "$W/orchd.pid.new" "$W/orchd.pid"
}

# Start orchd so that the first execution of NODE (or of its attempt ATTEMPT) kills it -9 as soon as it runs.
start_killed_at_spawn() { # start_killed_at_spawn NODE[.ATTEMPT]
        : >"$W/kill-at.$1"
        start_daemon
}

# Wait (≤ 30 s) for the daemon to have been killed at the spawn.
await_kill() { # await_kill DESC
        if _wait_exit "$ORCHD_PID" 30; then
                wait "$ORCHD_PID" 2>/dev/null
                ORCHD_PID=
                rm -f "$W/orchd.pid"
                pass "$1: orchd was killed -9 right after the spawn"
        else
                bail_out "$1: orchd was not killed at the spawn"
        fi
}

# The invariants for NODE after its job ended: no two executions overlapped, attempt numbers distinct and
# increasing, no execution left running, every finished execution's output in its own NODE.N.log.
check_node() { # check_node ID NODE
        local id=$1 n=$2 attempts pids p a
        is "$(grep -c "^overlap $n " "$W/ledger")" 0 "$n: no execution started while another one ran"
        attempts=$(awk -v n="$n" '$1 == "start" && $2 == n { print $3 }' "$W/ledger" | tr '\n' ' ')
        ok "$n: attempt numbers distinct and increasing ($attempts)" \
                awk -v n="$n" '$1 == "start" && $2 == n { if ($3 <= last) exit 1; last = $3 }' "$W/ledger"
        pids=$(awk -v n="$n" '$1 == "start" && $2 == n { print $4 }' "$W/ledger")
        for p in $pids; do
                if pid_alive "$p"; then
                        fail "$n: execution $p is still running after its job ended"
                        return
                fi
        done
        pass "$n: no execution left running"
        while read -r a p; do
                if ! grep -qx "out $n $a $p" "$SPOOL/jobs/$id/logs/$n.$a.log" 2>/dev/null ||
                        [ "$(grep -c '^out ' "$SPOOL/jobs/$id/logs/$n.$a.log")" != 1 ]; then
                        fail "$n: $n.$a.log holds the output of execution $p, and only that" \
                                "$(cat "$SPOOL/jobs/$id/logs/$n.$a.log" 2>&1)"
                        return
                fi
        done < <(awk -v n="$n" '$1 == "end" && $2 == n { print $3, $4 }' "$W/ledger")
        pass "$n: every finished execution's output is in its own log"
}

# ---- 1. a job's first node: killed at its spawn, then started by the next daemon
start_killed_at_spawn first
drop_job first <<EOF
{ "name": "first", "nodes": { $(node_json first) } }
EOF
await_kill first
before=$(starts_of first)
start_daemon
id=$(job_id_of first) || bail_out "job first not accepted"
wait_for 30 sh -c "[ \$(grep -c '^start first ' '$W/ledger') -gt $before ]" || bail_out "first: no execution after the restart"
touch "$W/go.first"
is_exit 0 "first: the job succeeds" wait_job "$id"
check_node "$id" first
ok "first: it ran once, or twice (the execution the crash left behind was killed before the rerun)" \
        test "$(starts_of first)" -le 2

# ---- 1b. two first nodes: the spawn of one of them kills orchd. They start before the job's acceptance is
# durable; had the restart taken the file again as a new job (removing jobs/.#ID with its starts file), the
# nodes would have run again beside themselves. The restart completes that acceptance instead
# (spool_complete_unpublished(), early-start.sh).
stop_orchd
start_killed_at_spawn right
drop_job twofirst <<EOF
{ "name": "twofirst", "nodes": { $(node_json left), $(node_json right) } }
EOF
await_kill twofirst
before=$(starts_of left)
start_daemon
id=$(job_id_of twofirst) || bail_out "job twofirst not accepted"
wait_for 30 sh -c "[ \$(grep -c '^start left ' '$W/ledger') -gt $before ]" || bail_out "twofirst: left did not start"
touch "$W/go.left" "$W/go.right"
is_exit 0 "twofirst: the job succeeds" wait_job "$id"
check_node "$id" left
check_node "$id" right
ok "twofirst: left ran once, or twice (killed by the restart first)" test "$(starts_of left)" -le 2

# ---- 2. a dependent: its upstream ended (durably), the dependent's spawn is killed
stop_orchd
start_killed_at_spawn down
touch "$W/go.up"
drop_job dependent <<EOF
{ "name": "dependent", "nodes": { $(node_json up), $(node_json down '"after": ["up"]') } }
EOF
await_kill dependent
start_daemon
id=$(job_id_of dependent) || bail_out "job dependent not accepted"
wait_for 30 grep -q '^start down ' "$W/ledger" || bail_out "dependent: down did not start after the restart"
touch "$W/go.down"
is_exit 0 "dependent: the job succeeds" wait_job "$id"
check_node "$id" up
check_node "$id" down
ok "dependent: down ran once, or twice (killed by the restart first)" test "$(starts_of down)" -le 2

# ---- 3. a retry: attempt 1 fails, the spawn of attempt 2 is killed (attempt 2 waits for the restart: an
# orphan that ended by itself while no daemon read its output would have an empty log)
stop_orchd
start_killed_at_spawn retried.2
echo 1 >"$W/exit.retried"
touch "$W/go.retried.1"
drop_job retried <<EOF
{ "name": "retried", "nodes": { $(node_json retried '"retry": { "attempts": 5, "delay": 0.01, "jitter": 0 }') } }
EOF
await_kill retried
start_daemon
id=$(job_id_of retried) || bail_out "job retried not accepted"
touch "$W/go.retried"
is_exit 0 "retried: the job succeeds" wait_job "$id"
check_node "$id" retried
ok "retried: it ran twice, or three times (the failed attempt, perhaps the one the restart killed, the one that \
succeeded)" sh -c "[ $(starts_of retried) -ge 2 ] && [ $(starts_of retried) -le 3 ]"

# ---- 4. the rerun after a recovery: killed -9 while the node runs, the rerun's spawn is killed too
stop_orchd
start_daemon
drop_job rerun <<EOF
{ "name": "rerun", "nodes": { $(node_json rerun) } }
EOF
id=$(job_id_of rerun) || bail_out "job rerun not accepted"
wait_for 30 grep -q '^start rerun ' "$W/ledger" || bail_out "rerun: did not start"
kill9_orchd
start_killed_at_spawn rerun
await_kill "rerun (after a recovery)"
start_daemon
wait_for 30 sh -c "[ \$(grep -c '^start rerun ' '$W/ledger') -ge 2 ]" || bail_out "rerun: did not start again"
touch "$W/go.rerun"
is_exit 0 "rerun: the job succeeds" wait_job "$id"
check_node "$id" rerun
ok "rerun: it ran twice or three times, one after the other (each killed by the next restart)" \
        sh -c "[ $(starts_of rerun) -ge 2 ] && [ $(starts_of rerun) -le 3 ]"

# ---- 5. on_interrupt "fail": killed at its spawn, it must not run again. Its gate stays shut: had it ended by
# itself before the keeper left, its end would be on record and taken as it is (under ASan, once).
stop_orchd
start_killed_at_spawn once
drop_job once <<EOF
{ "name": "once", "nodes": { $(node_json once '"on_interrupt": "fail"') } }
EOF
await_kill once
start_daemon
id=$(job_id_of once) || bail_out "job once not accepted"
is_exit 1 "once: the job fails" wait_job "$id"
expect_node "$id" once failed interrupted
ok "once: it ran at most once (its start was durable before its exec; the restart killed it, no rerun)" \
        test "$(starts_of once)" -le 1

# ---- 6. NODE.1.log exists before attempt 1 starts: it is kept, the attempt takes number 2
drop_job planted <<EOF
{ "name": "planted", "nodes": { $(node_json gate), $(node_json planted '"after": ["gate"]') } }
EOF
id=$(job_id_of planted) || bail_out "job planted not accepted"
wait_for 30 grep -q '^start gate ' "$W/ledger" || bail_out "planted: gate did not start"
echo "output of an attempt whose start record was lost" >"$SPOOL/jobs/$id/logs/planted.1.log"
touch "$W/go.gate" "$W/go.planted"
is_exit 0 "planted: the job succeeds" wait_job "$id"
is "$(cat "$SPOOL/jobs/$id/logs/planted.1.log")" "output of an attempt whose start record was lost" \
        "planted: planted.1.log was not overwritten"
is "$(awk '$1 == "start" && $2 == "planted" { print $3 }' "$W/ledger")" 2 "planted: the node ran as attempt 2"
check_node "$id" planted

done_testing
