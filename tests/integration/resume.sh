#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Work resumes by itself after a restart (issue 9, point 1): after a kill -9, after a SIGTERM stop, and
# with job files dropped into new/ while orchd was down, the restarted daemon reruns the interrupted
# nodes, starts their dependents and the dropped jobs, and ends every job, without any client call.
#
# So after each restart this test never connects to the daemon: readiness is its log line, and progress
# is read from the world, a ledger the nodes append to and the jobs' state files. (A client call wakes
# the event loop, which is how this bug hid from tests that call orchctl wait.)
#
# orchd runs with KillNodes=yes (the old stop): a stop interrupts the running nodes, which is what is resumed
# here (with the default KillNodes=no they run on and are adopted: keeper-restart.sh).

. "$(dirname "$0")/lib.sh"

# $W/node NAME [GATE]: append "start NAME" to the ledger, wait until GATE exists, append "end NAME".
cat >"$W/node" <<EOF
#!/bin/sh
echo \$\$ >>"$W/pids"
echo "start \$1" >>"$W/ledger"
if [ -n "\${2:-}" ]; then
        while [ ! -e "\$2" ]; do sleep 0.01; done
fi
echo "end \$1" >>"$W/ledger"
EOF
chmod +x "$W/node"
: >"$W/ledger"
track_pid_file "$W/pids"

ledger_has() { # ledger_has LINE [COUNT]: the ledger holds LINE at least COUNT (default 1) times
        [ "$(grep -cx "$1" "$W/ledger")" -ge "${2:-1}" ]
}

chain_job() { # chain_job NAME GATE: drop job NAME with nodes NAME1 (gated on GATE) → NAME2
        drop_job "$1" <<EOF
{ "nodes": { "${1}1": { "cmd": ["$W/node", "${1}1", "$2"] },
             "${1}2": { "cmd": ["$W/node", "${1}2"], "after": ["${1}1"] } } }
EOF
}

one_node_job() { # one_node_job NAME: drop job NAME with one ungated node NAME1
        drop_job "$1" <<EOF
{ "nodes": { "${1}1": { "cmd": ["$W/node", "${1}1"] } } }
EOF
}

no_client_calls() { # no_client_calls: the running daemon's log shows no control call (it runs at debug level)
        ! grep -q 'Control call' "$T/orchd.log"
}

# ---- kill -9 while a node runs, and a file dropped while orchd is down

start_orchd --kill-nodes yes
chain_job a "$W/go-a"
wait_for 20 ledger_has "start a1" || bail_out "node a1 did not start"
id_a=$(disk_job_id a.json) || bail_out "job a not found in the spool"
# Killed once a1's start is on disk, so the restarted daemon knows it ran (and kills what is left of it).
ok "a1 is recorded running" wait_for 20 disk_node_is "$id_a" a1 running
kill9_orchd
one_node_job c
start_orchd_unattended --kill-nodes yes
# Opened only now: what is left of the first a1 was killed by the restart, so "end a1" is the rerun's.
touch "$W/go-a"
ok "after kill -9: a1 ran again by itself" wait_for 20 ledger_has "end a1"
is "$(grep -cx "start a1" "$W/ledger")" 2 "a1 started twice (interrupted, rerun)"
ok "after kill -9: a2 ran after a1" wait_for 20 ledger_has "end a2"
ok "after kill -9: job a ended succeeded on disk" wait_for 20 disk_job_is "$id_a" succeeded
ok "the file dropped while orchd was down ran" wait_for 20 ledger_has "end c1"
id_c=$(disk_job_id c.json)
ok "and its job ended succeeded on disk" wait_for 20 disk_job_is "${id_c:-0}" succeeded
ok "no client called the restarted daemon" no_client_calls

# ---- SIGTERM while a node runs (it is stopped and recorded as interrupted), and another dropped file

chain_job b "$W/go-b"
ok "b1 started (the daemon took the file by itself)" wait_for 20 ledger_has "start b1"
id_b=$(disk_job_id b.json)
ok "b1 is recorded running" wait_for 20 disk_node_is "${id_b:-0}" b1 running
stop_orchd 20
is "$ORCHD_STATUS" 0 "SIGTERM: orchd stopped and exited 0"
ok "b1 is recorded pending again (interrupted by the stop)" disk_node_is "${id_b:-0}" b1 pending
one_node_job d
start_orchd_unattended --kill-nodes yes
touch "$W/go-b"
ok "after SIGTERM: b1 ran again by itself" wait_for 20 ledger_has "end b1"
ok "after SIGTERM: b2 ran after b1" wait_for 20 ledger_has "end b2"
ok "after SIGTERM: job b ended succeeded on disk" wait_for 20 disk_job_is "${id_b:-0}" succeeded
ok "the file dropped while orchd was down ran" wait_for 20 ledger_has "end d1"
id_d=$(disk_job_id d.json)
ok "and its job ended succeeded on disk" wait_for 20 disk_job_is "${id_d:-0}" succeeded
ok "no client called the restarted daemon" no_client_calls

# ---- a restart with nothing to do but a file that waited in new/

stop_orchd 20
one_node_job e
start_orchd_unattended --kill-nodes yes
ok "restart with only a dropped file: it ran" wait_for 20 ledger_has "end e1"
id_e=$(disk_job_id e.json)
ok "and its job ended succeeded on disk" wait_for 20 disk_job_is "${id_e:-0}" succeeded
ok "no client called the restarted daemon" no_client_calls
done_testing
