#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A stuck journald (SIGSTOPped here) costs lines in the journal, never progress: a node's keeper holds the
# node's end until the node's lines reached journald (so that orchd's "ended" follows them there), and each
# line used to wait its own send timeout (2 s) before it was dropped, so a node that printed 200 lines ended
# some 400 s late, and so did the job. Now the first timeout stalls the sender, which drops what is queued
# and stops waiting until journald takes an entry again (the keeper says so both times). Then a clean stop: orchd's and its keeper's exits
# are bounded (their journal flush drops at once), and orchd removes its cgroup. Against a real
# systemd-journald (tests/journald.sh); root only (journald, cgroups).

: "${TEST_TIMEOUT:=120}"
. "$(dirname "$0")/lib.sh"

MOUNT=$(cgroup2_mount) || skip_all "no cgroup2 mount"
grep -q '^0::/$' /proc/self/cgroup || skip_all "not in the root cgroup: orchd would not make BASE"
use_journald

start_orchd --kill-nodes yes
BASE=$MOUNT/orchd-$(head -c 16 "$SPOOL/spool-id")
ok "orchd made its cgroup $BASE" test -d "$BASE"

# Once the test has stalled journald, the node prints far more lines than journald's socket queues
# (net.unix.max_dgram_qlen, 10 by default).
drop_job chatty <<EOF
{ "nodes": { "n": { "cmd": "$(gate_cmd talk); i=0; while [ \$i -lt 200 ]; do echo line \$i; i=\$((i + 1)); done" } } }
EOF
id=$(job_id_of chatty) || bail_out "job not accepted"
wait_for 20 test -n "$(keeper_pid)" || bail_out "orchd started no keeper"
keeper=$(keeper_pid)
kill -STOP "$JOURNALD_PID"
open_gate talk
wait_job "$id" >/dev/null
is "$(job_field "$id" state)" succeeded "the job ends while journald is stalled (its keeper stops waiting for journald)"
ok "its keeper still runs" pid_alive "$keeper"

# journald runs again: the first line that it takes ends the stall (the node prints until the test saw that).
kill -CONT "$JOURNALD_PID"
ok "journald answers again" wait_for 20 journalctl --sync
drop_job again <<EOF
{ "nodes": { "n": { "cmd": "while [ ! -e $(gate_file quiet) ]; do echo again; $W/sleep 0.05; done" } } }
EOF
id=$(job_id_of again) || bail_out "job not accepted"
ok "once journald takes a line, the keeper says so, with how many it dropped" \
        wait_for 30 grep -aq "journald takes entries again; [0-9]* were dropped while it did not" "$T/orchd.log"
open_gate quiet
wait_job "$id" >/dev/null
is "$(job_field "$id" state)" succeeded "and the next job runs as ever"

t0=$(now)
stop_orchd 30
is "$ORCHD_STATUS" 0 "orchd stops on SIGTERM"
elapsed_ms=$((($(now) - t0) / 1000000))
diag "orchd's stop took $elapsed_ms ms"
ok "its keeper is gone" sh -c "! kill -0 $keeper 2>/dev/null"
ok "BASE is removed" test ! -e "$BASE"
[ -e "$BASE" ] && diag "left in BASE: $(find "$BASE" -name cgroup.procs -exec sh -c 'echo "$1: $(cat "$1")"' _ {} \;)"
like "$(grep -a 'journald took no entry' "$T/orchd.log")" "journald took no entry for 2 s: dropped the [0-9]+ queued" \
        "the keeper says that it dropped lines, and why"
done_testing
