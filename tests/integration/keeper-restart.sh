#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Nodes outlive the daemon (issue 12, KillNodes=no): a node running across a SIGTERM stop, a SIGKILL of
# orchd and another SIGTERM stop runs once, in its orchd-keeper, and each next orchd adopts it; its
# dependents start once it ends; its log has every line once. A node that ends while no orchd runs has its
# end recorded in the job's "ends" file and collected by the next orchd; a timeout fires while orchd is
# down; a keeper killed with SIGKILL leaves its node without a record, and on_interrupt applies (rerun).
# With cgroups, a setsid grandchild of an adopted node survives the restart (the sweep spares the
# attempt's cgroup) and a later cancel kills it, and the accounting of a node that ended while orchd was
# down reaches status --json, and starts the keeper had not read when orchd stopped keep their cgroups and
# run once, adopted. A keeper held across the restart takes the next orchd once it has read the end of the
# previous one's connection. Liveness is read from a ledger the nodes write and from /proc, never from
# orchd; every node waits on a gate file the test creates.

. "$(dirname "$0")/lib.sh"

: >"$W/ledger"
track_pid_file "$W/pids"
# One execution: "start NODE ATTEMPT PID" in the ledger, a line of output, wait for go.NODE, a second
# line, "end NODE ATTEMPT PID".
cat >"$W/node" <<EOF
#!/bin/sh
trap '' PIPE
echo \$\$ >>"$W/pids"
echo "start \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
echo "first \$1 \$ORCH_ATTEMPT"
while [ ! -e "$W/go.\$1" ]; do sleep 0.02; done
echo "second \$1 \$ORCH_ATTEMPT"
echo "end \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
EOF
chmod +x "$W/node"

starts_of() { grep -c "^start $1 " "$W/ledger"; }
pid_of() { awk -v n="$1" '$1 == "start" && $2 == n { p = $4 } END { print p }' "$W/ledger"; }
running() { pid_alive "$(pid_of "$1")"; }
no_keepers() { [ -z "$(spool_keepers)" ]; }

start_orchd --kill-nodes no

# ---- 1. across three restarts (SIGTERM, SIGKILL, SIGTERM), ending while orchd runs
drop_job across <<EOF
{ "nodes": { "a": { "cmd": ["$W/node", "a"] },
             "b": { "cmd": ["/bin/sh", "-c", "echo \"start b 1 \$\$\" >> $W/ledger"], "after": ["a"] } } }
EOF
id=$(job_id_of across) || bail_out "job across not accepted"
wait_for 30 grep -q "^start a " "$W/ledger" || bail_out "a did not start"
stop_orchd 20
is "$ORCHD_STATUS" 0 "SIGTERM: orchd exits 0 with a node running"
ok "the node runs on after orchd stopped" running a
ok "its keeper runs on" test -n "$(spool_keepers)"
ok "the log says so" grep -q "run on in their orchd-keeper" "$T/orchd.log"
start_orchd --kill-nodes no
ok "the next orchd adopts it" grep -q "node a attempt 1 runs on in its keeper" "$T/orchd.log"
is "$(node_field "$id" a state)" running "status: a is running, attempt 1"
kill9_orchd
ok "SIGKILL of orchd: the node runs on" running a
start_orchd --kill-nodes no
ok "adopted again" grep -q "node a attempt 1 runs on in its keeper" "$T/orchd.log"
stop_orchd 20
is "$ORCHD_STATUS" 0 "a third restart (SIGTERM): orchd exits 0"
ok "the node still runs" running a
start_orchd --kill-nodes no
ok "adopted a third time" grep -q "node a attempt 1 runs on in its keeper" "$T/orchd.log"
touch "$W/go.a"
is_exit 0 "the job succeeds once a ends" ctl wait "$id" --timeout 30
is "$(starts_of a) $(starts_of b)" "1 1" "a ran once across the three restarts, and b after it once"
is "$(grep -c '' "$SPOOL/jobs/$id/logs/a.1.log")" 2 "a's log has its two lines"
is "$(sort "$SPOOL/jobs/$id/logs/a.1.log" | uniq -d | wc -l)" 0 "each once"

# ---- 2. ending while no orchd runs: the end is in the ends file, the next orchd collects it
drop_job down <<EOF
{ "nodes": { "c": { "cmd": ["$W/node", "c"] },
             "d": { "cmd": ["/bin/sh", "-c", "echo \"start d 1 \$\$\" >> $W/ledger"], "after": ["c"] } } }
EOF
id=$(job_id_of down) || bail_out "job down not accepted"
wait_for 30 grep -q "^start c " "$W/ledger" || bail_out "c did not start"
pid=$(pid_of c)
stop_orchd 20
touch "$W/go.c"
ok "c ends while orchd is down" wait_for 30 grep -q "^end c " "$W/ledger"
ok "and is reaped by its keeper" wait_for 30 eval "! pid_alive $pid"
ok "its end is in the job's ends file" wait_for 30 test -s "$SPOOL/jobs/$id/ends"
ok "with nothing left to run, the keeper exits" wait_for 30 no_keepers
start_orchd --kill-nodes no
ok "the next orchd takes the recorded end" grep -q "node c attempt 1 ended while orchd was down" "$T/orchd.log"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(starts_of c) $(starts_of d)" "1 1" "c ran once, d after it once"

# ---- 3. a timeout fires while orchd is down
drop_job late <<EOF
{ "nodes": { "e": { "cmd": ["$W/node", "e"], "timeout": 2, "kill_grace": 0.2 } } }
EOF
id=$(job_id_of late) || bail_out "job late not accepted"
wait_for 30 grep -q "^start e " "$W/ledger" || bail_out "e did not start"
pid=$(pid_of e)
stop_orchd 20
ok "the keeper kills e at its timeout, with no orchd running" wait_for 30 eval "! pid_alive $pid"
start_orchd --kill-nodes no
is_exit 1 "the job fails" ctl wait "$id" --timeout 30
is "$(node_field "$id" e reason)" timeout "e failed with reason timeout"
is "$(starts_of e)" 1 "e ran once"

# ---- 4. the keeper killed with SIGKILL: no record, on_interrupt (rerun) applies
drop_job lost <<EOF
{ "nodes": { "f": { "cmd": ["$W/node", "f"] } } }
EOF
id=$(job_id_of lost) || bail_out "job lost not accepted"
wait_for 30 grep -q "^start f " "$W/ledger" || bail_out "f did not start"
pid=$(pid_of f)
stop_orchd 20
for k in $(spool_keepers); do kill -KILL "$k"; done
ok "the keeper is gone" wait_for 30 no_keepers
start_orchd --kill-nodes no
ok "the orphan of the dead keeper is killed" wait_for 30 eval "! pid_alive $pid"
ok "f runs again, as attempt 2" wait_for 30 grep -q "^start f 2 " "$W/ledger"
touch "$W/go.f"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(node_field "$id" f attempts)" 2 "f: two attempts (interrupted, rerun)"

# ---- 5. another user's node (a real account) runs in that user's keeper, as that user, across a restart
if [ "$(id -u)" = 0 ]; then
        U=o12kuser
        add_account "$U"
        chmod 711 "$T"
        G=$T/gate
        mkdir -p "$G" && chmod 1777 "$G"
        cat >"$T/user.json" <<EOF
{ "cwd": "/", "nodes": { "u": { "cmd": "echo \"start u \$(id -un) \$\$\" >> $G/ledger; while [ ! -e $G/go ]; do sleep 0.05; done" },
             "v": { "cmd": "echo \"start v \$(id -un)\" >> $G/ledger", "after": ["u"] } } }
EOF
        chmod 644 "$T/user.json"
        id=$(setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups env HOME="/home/$U" PATH="$NODE_PATH" \
                "$ORCHCTL" -s "$SOCK" submit "$T/user.json") || bail_out "submit as $U failed"
        wait_for 30 grep -q "^start u " "$G/ledger" || bail_out "u did not start"
        is "$(awk '$2 == "u" { print $3 }' "$G/ledger")" "$U" "the node runs as its owner"
        upid=$(awk '$2 == "u" { print $4 }' "$G/ledger")
        stop_orchd 20
        ok "it runs on after orchd stopped" pid_alive "$upid"
        start_orchd --kill-nodes no
        ok "the next orchd adopts it from $U's keeper" grep -q "node u attempt 1 runs on in its keeper" "$T/orchd.log"
        touch "$G/go"
        is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
        is "$(grep -c '^start u ' "$G/ledger") $(grep -c "^start v $U" "$G/ledger")" "1 1" \
                "u ran once, v after it once, as $U"
else
        skip "another user's node across a restart" "needs root for a real account"
fi

# ---- 6. with cgroups: a setsid grandchild outlives a restart in the adopted attempt's cgroup, and a later
# cancel kills it (cgroup.kill: it ignores SIGTERM and is in no process group of the node); the accounting of
# a node that ended while orchd was down is in status --json
if [ "$(ctl stats --json | jq -r .isolation)" = cgroup ]; then
        BASE=$(ctl stats --json | jq -r .cgroup)
        cat >"$W/gc.sh" <<EOF
#!/bin/sh
setsid sh -c "sh -c 'trap \"\" TERM; echo \\\$\\\$ > $W/gc.pid; while :; do sleep 1; done' &"
while [ ! -s "$W/gc.pid" ]; do sleep 0.02; done
exec sleep 98
EOF
        chmod +x "$W/gc.sh"
        drop_job gc <<EOF
{ "nodes": { "g": { "cmd": ["$W/gc.sh"], "kill_grace": 0.5 } } }
EOF
        id=$(job_id_of gc) || bail_out "job gc not accepted"
        wait_for 30 test -s "$W/gc.pid" || bail_out "g did not start its grandchild"
        gc=$(cat "$W/gc.pid")
        echo "$gc" >>"$W/pids"
        stop_orchd 20
        start_orchd --kill-nodes no
        ok "the next orchd adopts g" grep -q "node g attempt 1 runs on in its keeper" "$T/orchd.log"
        ok "its setsid grandchild outlived the restart and the sweep" pid_alive "$gc"
        k=$(spool_keepers | head -n 1)
        is "$(grep '^0::' "/proc/$k/cgroup")" "$(grep '^0::' "/proc/$ORCHD_PID/cgroup")" \
                "the keeper (started by the previous orchd) lives in the new orchd's cgroup"
        like "$(grep '^0::' "/proc/$k/cgroup")" "/daemon$" "which is BASE/daemon"
        ok "in the attempt's cgroup" grep -qx "$gc" "$BASE/user-0/job-$id/g.1/cgroup.procs"
        ctl cancel "$id" >/dev/null
        is_exit 2 "the cancelled job ends (wait: exit 2)" ctl wait "$id" --timeout 30
        ok "cancel killed the grandchild through the cgroup" wait_for 30 eval "! pid_alive $gc"
        ok "and the attempt's cgroup is removed" wait_for 30 test ! -e "$BASE/user-0/job-$id"

        tck=$(getconf CLK_TCK)
        drop_job burn <<EOF
{ "nodes": { "h": { "cmd": ["/bin/bash", "-c", "while [ ! -e $W/go.h ]; do sleep 0.02; done; while read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u s _ < /proc/\$\$/stat; [ \$((u + s)) -lt $((tck * 6 / 10)) ]; do :; done"] } } }
EOF
        id=$(job_id_of burn) || bail_out "job burn not accepted"
        wait_for 30 test -d "$BASE/user-0/job-$id/h.1" || bail_out "h did not start"
        stop_orchd 20
        touch "$W/go.h"
        ok "h burns its CPU and ends while orchd is down" wait_for 30 test -s "$SPOOL/jobs/$id/ends"
        start_orchd --kill-nodes no
        is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
        cpu=$(node_field "$id" h cpu_usec)
        diag "cpu_usec of a node that burned 0.6 s of CPU while orchd was down: $cpu"
        ok "status --json has its cpu_usec (>= 400000) from the ends file" test "${cpu:-0}" -ge 400000

        # Starts orchd sent that its keeper had not read when orchd stopped (the keeper held with SIGSTOP):
        # their cgroups, still empty, are not leftovers. orchd used to remove them as it left, the keeper
        # then failed those starts, and the next orchd reran the nodes as interrupted.
        stop_orchd 20
        start_orchd --kill-nodes no --max-parallel 8
        drop_job hold <<EOF
{ "nodes": { "v": { "cmd": ["$W/node", "v"] } } }
EOF
        hold=$(job_id_of hold) || bail_out "job hold not accepted"
        wait_for 30 grep -q "^start v " "$W/ledger" || bail_out "v did not start"
        k=$(spool_keepers | head -n 1)
        [ -n "$k" ] || bail_out "no keeper"
        kill -STOP "$k"
        drop_job unread <<EOF
{ "nodes": { "u1": { "cmd": ["$W/node", "u1"] }, "u2": { "cmd": ["$W/node", "u2"] },
             "u3": { "cmd": ["$W/node", "u3"] } } }
EOF
        id=$(job_id_of unread) || bail_out "job unread not accepted"
        sent() { [ "$(grep -ac "Job $id node u[123]: attempt 1 sent to its keeper" "$T/orchd.log")" -eq 3 ]; }
        wait_for 30 sent || { kill -CONT "$k"; bail_out "orchd did not send the three starts"; }
        stop_orchd 20
        ok "the unread starts' cgroups stay when orchd leaves" test -d "$BASE/user-0/job-$id/u3.1"
        kill -CONT "$k"
        ok "the keeper runs the three nodes" wait_for 30 sh -c "[ \$(grep -c '^start u[123] 1 ' '$W/ledger') -eq 3 ]"
        start_orchd --kill-nodes no --max-parallel 8
        ok "the next orchd adopts all three" wait_for 30 sh -c "[ \$(grep -ac 'Job $id node u[123] attempt 1 runs on in its keeper' '$T/orchd.log') -eq 3 ]"
        touch "$W/go.u1" "$W/go.u2" "$W/go.u3" "$W/go.v"
        is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
        is_exit 0 "and so does the one that held the keeper" ctl wait "$hold" --timeout 30
        is "$(grep -c '^start u[123] ' "$W/ledger")" 3 "each of them ran once, as attempt 1"
else
        skip "cgroups across a restart" "orchd uses process groups here ($(ctl stats --json | jq -r .isolation))"
fi

# ---- 7. the next orchd connects before its keeper has read the end of the previous orchd's connection
# (the keeper held with SIGSTOP across the restart): it must take the new orchd once it read that end, not
# refuse it as a second orchd, which made the new orchd take it for gone and kill what it ran.
drop_job heldkeeper <<EOF
{ "nodes": { "r": { "cmd": ["$W/node", "r"] } } }
EOF
id=$(job_id_of heldkeeper) || bail_out "job heldkeeper not accepted"
wait_for 30 grep -q "^start r " "$W/ledger" || bail_out "r did not start"
pid=$(pid_of r)
k=$(spool_keepers | head -n 1)
[ -n "$k" ] || bail_out "no keeper"
kill -STOP "$k"
stop_orchd 20
sock=$SPOOL/run/keeper-0.sock
[ "$(id -u)" = 0 ] || sock=$SPOOL/run/keeper-$(id -u).sock
# Released once the next orchd's connection waits in the keeper's backlog (its socket shows twice).
(
        for _ in $(seq 600); do
                [ "$(grep -cF " $sock" /proc/net/unix)" -ge 2 ] && break
                sleep 0.05
        done
        kill -CONT "$k"
) &
track_bg $!
start_orchd --kill-nodes no
like "$(grep -a "Found orchd-keeper" "$T/orchd.log")" "Found orchd-keeper of uid [0-9]+ \\(pid $k\\) running 1 attempt" \
        "the keeper, held across the restart, takes the next orchd"
ok "which adopts r" grep -aq "Job $id node r attempt 1 runs on in its keeper" "$T/orchd.log"
ok "r still runs" pid_alive "$pid"
touch "$W/go.r"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(starts_of r)" 1 "r ran once"

stop_orchd 20
done_testing
