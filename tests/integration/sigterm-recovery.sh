#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# SIGTERM while a job runs. By default (KillNodes=no) it stops the daemon, not the nodes: orchd exits 0
# promptly, the running node runs on in its orchd-keeper, and the next start adopts it; it runs once and its
# dependent after it. A reload to KillNodes=yes makes the next stop the old one. With KillNodes=yes (the old
# stop): orchd stops the running node (TERM, grace, KILL), records it as interrupted and exits 0 promptly;
# the next start reruns the interrupted node and completes the job without rerunning nodes that had
# finished.

. "$(dirname "$0")/lib.sh"

# ---- the default: the node runs on -----------------------------------------------------------------------
start_orchd
track_pid_file "$W/m2.pid"

# m2 runs until the test creates go.m2.
drop_job staying <<EOF
{
  "nodes": {
    "m1": { "cmd": ["/bin/sh", "-c", "echo m1 >> $W/mcount"] },
    "m2": { "cmd": ["/bin/sh", "-c", "echo m2 >> $W/mcount; echo \$\$ > $W/m2.pid; while [ ! -e $W/go.m2 ]; do sleep 0.05; done"],
            "after": ["m1"] },
    "m3": { "cmd": ["/bin/sh", "-c", "echo m3 >> $W/mcount"], "after": ["m2"] }
  }
}
EOF
id=$(job_id_of staying) || bail_out "job not accepted"
wait_for 10 test -s "$W/m2.pid" || bail_out "m2 did not start"
pid=$(cat "$W/m2.pid")

t0=$(now)
stop_orchd 15
elapsed=$((($(now) - t0) / 1000000))
is "$ORCHD_STATUS" 0 "orchd exits 0 on SIGTERM with a node running"
ok "it exits promptly (${elapsed} ms < 20000)" test "$elapsed" -lt 20000
ok "the running node's process runs on after orchd has exited" pid_alive "$pid"
ok "the daemon's log says the nodes run on" grep -q "run on in their orchd-keeper" "$T/orchd.log"

start_orchd
ok "the next start adopts m2" grep -q "node m2 attempt 1 runs on in its keeper" "$T/orchd.log"
touch "$W/go.m2"
is_exit 0 "after the restart the job succeeds" ctl wait "$id" --timeout 30
is "$(node_field "$id" m2 attempts)" 1 "m2 has one attempt"
is "$(tr '\n' ' ' <"$W/mcount")" "m1 m2 m3 " "m1, m2 and m3 each ran once"
stop_orchd 15

# ---- a reload to KillNodes=yes, then a stop: the old stop, before maintenance -----------------------------
start_orchd
track_pid_file "$W/p.pid"
drop_job maintenance <<EOF
{ "nodes": { "p": { "cmd": ["/bin/sh", "-c", "echo p >> $W/pcount; echo \$\$ > $W/p.pid; while [ ! -e $W/go.p ]; do sleep 0.05; done"] } } }
EOF
id=$(job_id_of maintenance) || bail_out "job not accepted"
wait_for 10 test -s "$W/p.pid" || bail_out "p did not start"
pid=$(cat "$W/p.pid")
printf '[Daemon]\nKillNodes=yes\n' >"$T/orchd.conf"
kill -HUP "$ORCHD_PID"
ok "a reload takes KillNodes=yes" wait_for 20 grep -q "Reload: KillNodes= changed" "$T/orchd.log"
stop_orchd 15
is "$ORCHD_STATUS" 0 "orchd exits 0"
ok "the stop after it stopped the running node" eval "! pid_alive $pid"
ok "the log says the nodes were stopped" grep -q "stopping running nodes" "$T/orchd.log"
start_orchd
touch "$W/go.p"
is_exit 0 "after the restart the job succeeds" ctl wait "$id" --timeout 30
is "$(node_field "$id" p attempts) $(grep -c '' "$W/pcount")" "2 2" "p was interrupted and ran again"
stop_orchd 15
rm -f "$T/orchd.conf"

# ---- KillNodes=yes: the old stop --------------------------------------------------------------------------
start_orchd --kill-nodes yes
track_pid_file "$W/n2.pid"

# n2 sleeps on its first run and succeeds at once on the rerun.
drop_job stopme <<EOF
{
  "nodes": {
    "n1": { "cmd": ["/bin/sh", "-c", "echo n1 >> $W/count"] },
    "n2": { "cmd": ["/bin/sh", "-c", "echo n2 >> $W/count; [ -e $W/n2.ran ] && exit 0; touch $W/n2.ran; echo \$\$ > $W/n2.pid; exec $W/sleep 30"],
            "after": ["n1"], "kill_grace": 2 },
    "n3": { "cmd": ["/bin/sh", "-c", "echo n3 >> $W/count"], "after": ["n2"] }
  }
}
EOF
id=$(job_id_of stopme) || bail_out "job not accepted"
wait_for 10 test -s "$W/n2.pid" || bail_out "n2 did not start"
pid=$(cat "$W/n2.pid")

t0=$(now)
stop_orchd 15
elapsed=$((($(now) - t0) / 1000000))
is "$ORCHD_STATUS" 0 "KillNodes=yes: orchd exits 0 on SIGTERM with a node running"
# A generous bound for a loaded machine, still well short of n2's 30 s: orchd stopped the node.
ok "it exits promptly, without waiting for n2's 30 s (${elapsed} ms < 20000)" test "$elapsed" -lt 20000
ok "the running node's process is gone when orchd has exited" eval "! pid_alive $pid"
ok "the daemon's log mentions the shutdown" grep -qi 'interrupt\|stop\|shut\|term' "$T/orchd.log"

start_orchd --kill-nodes yes
is_exit 0 "after the restart the job succeeds" ctl wait "$id" --timeout 30
is "$(node_field "$id" n2 state)" succeeded "n2 succeeded on the rerun"
is "$(tr '\n' ' ' <"$W/count")" "n1 n2 n2 n3 " "n1 ran once, n2 twice (interrupted, rerun), n3 once"
done_testing
