#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A failed write of orchd's own state is fail-stop (SPEC §4): with the spool's file system full when a
# node ends, orchd logs the failure and exits non-zero instead of reporting an end it could not record;
# once there is room again, the next start recovers and the node (whose end was never recorded) runs
# again. The spool lives on a small tmpfs of its own, so only root can run this test.

. "$(dirname "$0")/lib.sh"

spool_on_tmpfs "fail-stop on a full file system" size=4m

start_orchd --min-free-space 0 # this test fills the file system on purpose: no floor
drop_job slow <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo a >> $W/ran; while [ ! -e $W/gate ]; do sleep 0.01; done"] },
             "b": { "cmd": ["/bin/sh", "-c", "echo b >> $W/ran"], "after": ["a"] } } }
EOF
id=$(job_id_of slow) || bail_out "job not accepted"
wait_for 10 grep -qx a "$W/ran" || bail_out "node a did not start"
wait_for 10 test "$(node_field "$id" a state)" = running || bail_out "node a not reported running"

# Fill the file system while a waits on its gate, then let a end: recording a's end must fail.
dd if=/dev/zero of="$SPOOL/fill" bs=64k 2>/dev/null
ok "the spool's file system is full" test "$(df --output=avail -k "$SPOOL" | tail -n 1 | tr -d ' ')" -lt 64
touch "$W/gate"
_wait_exit "$ORCHD_PID" 15
wait "$ORCHD_PID"
rc=$?
ORCHD_PID=
ok "orchd exited non-zero (status $rc)" test "$rc" -ne 0 -a "$rc" -lt 128
like "$(grep -i 'durable' "$T/orchd.log" | head -n 1)" "No space left on device" "it logged the failed write and why"
is "$(grep -cx b "$W/ran" || true)" 0 "b never started: a's end was never recorded"

rm -f "$SPOOL/fill"
start_orchd --min-free-space 0 # this test fills the file system on purpose: no floor
is_exit 0 "after a restart with room again, the job succeeds" ctl wait "$id" --timeout 30
is "$(grep -cx a "$W/ran")" 2 "a ran again (its end was not durable)"
is "$(grep -cx b "$W/ran")" 1 "b ran once"
stop_orchd
done_testing
