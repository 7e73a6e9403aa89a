#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl stop-nodes (issue 12): the old "stop everything" for an administrator before maintenance, with the
# default KillNodes=no. It replies with the number of nodes that were running and exits 0 once every node is
# stopped (TERM, then KILL after its kill_grace) and orchd has exited: nodes of this orchd, a node adopted
# from the previous one (it ran on across a SIGTERM stop) and another user's node; the nodes' whole process
# trees are gone (with cgroup isolation also a setsid double-forked grandchild that ignores SIGTERM), and no
# keeper is left. The next orchd on the spool applies on_interrupt as after a stop with KillNodes=yes:
# "rerun" runs the node again, "fail" ends it failed (interrupted). A non-administrator is refused (exit 77)
# and nothing stops; a second stop-nodes while the first waits is answered too, and a SIGTERM meanwhile kills
# every node at once; while orchd still loads the jobs it found it is refused (75); with no node running it
# still replies (0) and orchd exits. Every node waits on a gate file; what runs is read from a ledger the
# nodes write and from /proc.

. "$(dirname "$0")/lib.sh"

# All four nodes run at once (MaxParallel= defaults to the CPUs: 2 here).
printf '[Daemon]\nMaxParallel=8\n' >"$T/orchd.conf"
: >"$W/ledger"
track_pid_file "$W/pids"

start_orchd
isolation=$(ctl stats --json | jq -r .isolation)
diag "isolation: $isolation"
root=
[ "$(id -u)" = 0 ] && root=1

# a: runs across a stop of orchd (KillNodes=no) and is adopted by the next one; reruns at once.
cat >"$W/a.sh" <<EOF
#!/bin/sh
echo "start a \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
[ "\$ORCH_ATTEMPT" = 1 ] || exit 0
echo \$\$ >>"$W/pids"
echo \$\$ >"$W/a.pid"
while [ ! -e "$W/go.a" ]; do $W/sleep 0.02; done
EOF
chmod +x "$W/a.sh"
drop_job adopted <<EOF
{ "nodes": { "a": { "cmd": ["$W/a.sh"] } } }
EOF
aid=$(job_id_of adopted) || bail_out "job adopted not accepted"
wait_for 30 test -s "$W/a.pid" || bail_out "a did not start"
apid=$(cat "$W/a.pid")
stop_orchd 20
start_orchd
ok "a ran on across a stop of orchd and the next one adopted it" \
        grep -q "node a attempt 1 runs on in its keeper" "$T/orchd.log"

# r: a background child in its process group, and with cgroups a setsid grandchild that ignores SIGTERM (in
# no process group of the node: only the attempt's cgroup reaches it). On SIGTERM it notes it and exits.
grandchild=
if [ "$isolation" = cgroup ]; then
        cat >"$W/gc.sh" <<EOF
#!/bin/sh
trap '' TERM
echo \$\$ >>"$W/pids"
echo \$\$ >"$W/gc.pid"
while :; do $W/sleep 1; done
EOF
        chmod +x "$W/gc.sh"
        grandchild="setsid sh -c '$W/gc.sh &'; while [ ! -s $W/gc.pid ]; do $W/sleep 0.02; done"
fi
cat >"$W/r.sh" <<EOF
#!/bin/sh
echo "start r \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
[ "\$ORCH_ATTEMPT" = 1 ] || exit 0
echo \$\$ >>"$W/pids"
trap 'echo "term r \$ORCH_ATTEMPT" >>"$W/ledger"; exit 143' TERM
$W/sleep 1000 &
echo \$! >>"$W/pids"
echo \$! >"$W/child.pid"
$grandchild
echo \$\$ >"$W/r.pid"
while [ ! -e "$W/go.r" ]; do $W/sleep 0.02; done
EOF
# f: ignores SIGTERM, so SIGKILL after its kill_grace ends it; on_interrupt "fail".
cat >"$W/f.sh" <<EOF
#!/bin/sh
trap '' TERM
echo "start f \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
echo \$\$ >>"$W/pids"
echo \$\$ >"$W/f.pid"
while [ ! -e "$W/go.f" ]; do $W/sleep 0.02; done
EOF
chmod +x "$W/r.sh" "$W/f.sh"

drop_job rerun <<EOF
{ "nodes": { "r": { "cmd": ["$W/r.sh"], "kill_grace": 30 },
             "next": { "cmd": ["/bin/sh", "-c", "echo 'start next' >> $W/ledger"], "after": ["r"] } } }
EOF
drop_job fail <<EOF
{ "nodes": { "f": { "cmd": ["$W/f.sh"], "on_interrupt": "fail", "kill_grace": 1 } } }
EOF
rid=$(job_id_of rerun) || bail_out "job rerun not accepted"
fid=$(job_id_of fail) || bail_out "job fail not accepted"
nodes=3
# u: another user's node (submitted by that user: it runs as o13s1, in that user's keeper); on_interrupt
# "fail".
if [ -n "$root" ]; then
        add_account o13s1
        chmod 711 "$T" # the account reaches the socket ($SOCK) and $W, nothing else of the test
        chmod 777 "$W"
        chmod 666 "$W/ledger"
        cat >"$W/u.json" <<EOF
{ "nodes": { "u": { "cmd": ["/bin/sh", "-c", "echo \\"start u \$ORCH_ATTEMPT \$\$\\" >> $W/ledger; echo \$\$ > $W/u.pid; while [ ! -e $W/go.u ]; do $W/sleep 0.02; done"],
                    "cwd": "$W", "on_interrupt": "fail" } } }
EOF
        chmod 644 "$W/u.json"
        uid_=$(ctl_as o13s1 submit "$W/u.json") || bail_out "o13s1 cannot submit"
        wait_for 30 test -s "$W/u.pid" || bail_out "u did not start"
        upid=$(cat "$W/u.pid")
        echo "$upid" >>"$W/pids"
        nodes=4
fi
wait_for 30 test -s "$W/r.pid" -a -s "$W/f.pid" || bail_out "r and f did not start"
rpid=$(cat "$W/r.pid")
fpid=$(cat "$W/f.pid")
child=$(cat "$W/child.pid")
gc=
[ -z "$grandchild" ] || gc=$(cat "$W/gc.pid")
keepers=$(spool_keepers | tr '\n' ' ')
[ -n "$keepers" ] || bail_out "no orchd-keeper runs the nodes"

# ---- a non-administrator is refused and nothing stops -----------------------------------------------------
if [ -n "$root" ]; then
        out=$(ctl_as o13s1 stop-nodes 2>&1)
        is "$?" 77 "a non-administrator's stop-nodes exits 77"
        like "$out" "permission denied: only administrators may stop every user's nodes" \
                "and says that only administrators may stop the nodes"
        ok "orchd still runs" pid_alive "$ORCHD_PID"
        ok "r still runs" pid_alive "$rpid"
        ok "f still runs" pid_alive "$fpid"
        ok "a still runs" pid_alive "$apid"
        ok "u still runs" pid_alive "$upid"
        is "$(node_field "$rid" r state) $(node_field "$fid" f state)" "running running" "status shows r and f running"
        ok "the refusal is logged" grep -q "uid $(id -u o13s1) was refused io.orchd.Manager.StopNodes" "$T/orchd.log"
else
        skip "a non-administrator is refused" "not root: no account to create"
fi

# ---- stop-nodes: every node stopped, recorded, orchd gone -------------------------------------------------
pid=$ORCHD_PID
t0=$(now)
out=$(ctl --json stop-nodes 2>"$T/stop.err")
rc=$?
elapsed=$((($(now) - t0) / 1000000))
is "$rc" 0 "stop-nodes exits 0"
is "$(jq -r .nodes <<<"$out" 2>/dev/null)" "$nodes" "its reply counts the $nodes running nodes"
[ ! -s "$T/stop.err" ] || diag_file "$T/stop.err"
# orchd closes the connection of stop-nodes only when its process ends, after it released the spool.
ok "the spool's lock is free when stop-nodes returns" flock -n "$SPOOL/orchd.lock" true
# When it returns, every node has ended: no poll. f ignored SIGTERM and waited out its kill_grace of 1 s.
ok "r is gone when stop-nodes returns" eval "! pid_alive $rpid"
ok "f is gone when stop-nodes returns" eval "! pid_alive $fpid"
ok "a (adopted) is gone when stop-nodes returns" eval "! pid_alive $apid"
if [ -n "$root" ]; then
        ok "u (another user's) is gone when stop-nodes returns" eval "! pid_alive $upid"
else
        skip "another user's node is stopped" "not root: no account to create"
fi
ok "f's kill_grace was honoured (${elapsed} ms >= 1000)" test "$elapsed" -ge 1000
ok "r got SIGTERM first" grep -qx "term r 1" "$W/ledger"
if [ "$isolation" = cgroup ]; then
        # With cgroups an attempt ends only once its cgroup is empty: the whole tree is gone, no poll.
        ok "r's background child is gone when stop-nodes returns" eval "! pid_alive $child"
        ok "r's setsid grandchild (ignores SIGTERM) is gone when stop-nodes returns" eval "! pid_alive $gc"
else
        ok "r's background child (its process group) is gone" wait_for 10 eval "! pid_alive $child"
        skip "r's setsid grandchild is gone" "isolation is $isolation, not cgroup: a setsid process escapes it"
fi
ok "orchd has exited" wait_for 10 eval "! pid_alive $pid"
wait "$pid"
is "$?" 0 "orchd exited 0"
ORCHD_PID=
ok "no orchd-keeper of this spool is left" wait_for 10 eval "[ -z \"\$(spool_keepers)\" ]"
for k in $keepers; do
        pid_alive "$k" && diag "keeper $k still runs"
done
ok "the log says who asked" grep -q "uid $(id -u) asked to stop every running node ($nodes)" "$T/orchd.log"
ok "the log says the nodes were stopped" grep -q "stopping running nodes" "$T/orchd.log"
ok "and that orchd exits" grep -q "All nodes stopped and recorded; exiting." "$T/orchd.log"
is "$(grep -c '^start ' "$W/ledger")" "$nodes" "nothing started after the stop"

# ---- the next orchd: on_interrupt as after a stop with KillNodes=yes --------------------------------------
# Right away: the spool is free (orchd has released it before its connection ended).
start_orchd
touch "$W/go.r"
is_exit 0 "the rerun job succeeds" ctl wait "$rid" --timeout 30
is "$(node_field "$rid" r attempts)" 2 "r (on_interrupt rerun) ran again: attempt 2"
is "$(grep -c '^start r ' "$W/ledger") $(grep -c '^start next' "$W/ledger")" "2 1" "r ran twice, its dependent once"
is_exit 1 "the fail job failed" ctl wait "$fid" --timeout 30
expect_node "$fid" f failed interrupted
is "$(grep -c '^start f ' "$W/ledger")" 1 "f (on_interrupt fail) did not run again"
is_exit 0 "the adopted job succeeds" ctl wait "$aid" --timeout 30
is "$(node_field "$aid" a attempts) $(grep -c '^start a ' "$W/ledger")" "2 2" "a (adopted, then stopped) ran again"
if [ -n "$root" ]; then
        is_exit 1 "o13s1's job failed" ctl wait "$uid_" --timeout 30
        expect_node "$uid_" u failed interrupted
        is "$(grep -c '^start u ' "$W/ledger")" 1 "u (on_interrupt fail) did not run again"
fi

# ---- a second stop-nodes while the first waits: both are answered; a SIGTERM then kills at once -----------
# h ignores SIGTERM and has a kill_grace of 300 s: the stop waits for it until the SIGTERM.
drop_job hold <<EOF
{ "nodes": { "h": { "cmd": ["/bin/sh", "-c", "trap '' TERM; echo \$\$ >> $W/pids; echo \$\$ > $W/h.pid; while [ ! -e $W/go.h ]; do $W/sleep 0.02; done"],
                    "kill_grace": 300, "on_interrupt": "fail" } } }
EOF
hid=$(job_id_of hold) || bail_out "job hold not accepted"
wait_for 30 test -s "$W/h.pid" || bail_out "h did not start"
hpid=$(cat "$W/h.pid")
pid=$ORCHD_PID
ctl stop-nodes >"$T/s1.out" 2>&1 &
s1=$!
track_bg "$s1"
wait_for 30 grep -q "asked to stop the nodes: stopping running nodes" "$T/orchd.log" || bail_out "no stop began"
ctl stop-nodes >"$T/s2.out" 2>&1 &
s2=$!
track_bg "$s2"
two_asked() { [ "$(grep -c "asked to stop every running node" "$T/orchd.log")" -ge 2 ]; }
wait_for 30 two_asked || bail_out "the second stop-nodes did not arrive"
ok "h still runs: the stop waits for its kill_grace" pid_alive "$hpid"
ok "orchd still runs" pid_alive "$pid"
kill -TERM "$pid"
wait "$s1"
is "$?" 0 "the first stop-nodes exits 0 after the SIGTERM"
wait "$s2"
is "$?" 0 "the second one too"
is "$(cat "$T/s1.out") | $(cat "$T/s2.out")" \
        "Stopped 1 running node (recorded as interrupted); orchd has exited. | Stopped 1 running node (recorded as interrupted); orchd has exited." \
        "each says it stopped the one node"
ok "h is gone" eval "! pid_alive $hpid"
ok "the SIGTERM killed it at once" grep -q "Received Terminated again: killing every running node now." "$T/orchd.log"
ok "orchd has exited" wait_for 10 eval "! pid_alive $pid"
wait "$pid"
is "$?" 0 "orchd exited 0"
ORCHD_PID=

# ---- while orchd still loads the jobs it found: refused (75), nothing stops --------------------------------
# $ORCHD_RECOVERY_HOLD holds the loading of the finished jobs while the file exists (manager-recover.c).
touch "$W/hold.load"
ORCHD_RECOVERY_HOLD=$W/hold.load start_orchd
loading() { ctl --json stats | jq -r '.loading // 0'; }
loaded() { [ "$(loading)" = 0 ]; }
loading=$(loading)
ok "finished jobs are not loaded yet ($loading)" test "$loading" -gt 0
out=$(ctl stop-nodes 2>&1)
is "$?" 75 "stop-nodes while orchd loads the jobs it found exits 75"
like "$out" "still loading the jobs it found at start" "and says why"
ok "orchd still runs" pid_alive "$ORCHD_PID"
rm "$W/hold.load"
ok "then every job gets loaded" wait_for 20 loaded
expect_node "$hid" h failed interrupted

# ---- nothing running: stop-nodes still replies (0) and orchd exits ----------------------------------------
# orchd's teardown after it closed the connections is slowed (its unlink of the socket, which comes right
# after, takes 1 s): stop-nodes still returns only once orchd is gone.
pid=$ORCHD_PID
traced=
if [ "$(id -u)" = 0 ] && command -v strace >/dev/null &&
        strace_attach "$T/strace" unlink,unlinkat unlink,unlinkat:delay_enter=1000000 orchd; then
        traced=1
fi
out=$(ctl stop-nodes 2>&1)
is "$?" 0 "stop-nodes with no node running exits 0"
ok "the spool's lock is free when it returns" flock -n "$SPOOL/orchd.lock" true
if [ -n "$traced" ]; then
        ok "the socket is removed when it returns, though orchd took 1 s for that" test ! -e "$SOCK"
        strace_detach
else
        skip "stop-nodes returns once orchd is gone (slowed)" "needs root and strace"
fi
is "$out" "Stopped 0 running nodes (recorded as interrupted); orchd has exited." "and says it stopped 0 nodes"
ok "orchd has exited" wait_for 10 eval "! pid_alive $pid"
wait "$pid"
is "$?" 0 "orchd exited 0"
ORCHD_PID=
is_exit 69 "orchctl now finds no daemon (exit 69)" ctl list
done_testing
