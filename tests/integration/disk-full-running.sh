#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The spool's filesystem fills up under a running daemon (issue 9 point 6). It used to be fail-stop; now
# orchd goes read-only and waits: node a prints while the filesystem is full, so part of its output cannot
# reach its log, and ends, so its end cannot be recorded. orchd stays up, says why (log, Stats), counts the
# output lost (log_dropped in status, exactly what its log lacks), and starts nothing: a's dependent b waits.
# Once the filler is removed it writes a's end by itself (a does not run again) and b runs: watched in a
# ledger the nodes write, with no client call. log_dropped is in the journal: it survives a restart. The
# spool lives on a small tmpfs of its own, so only root can run this test.

. "$(dirname "$0")/lib.sh"

spool_on_tmpfs "a full filesystem under a running daemon" size=4m

ledger_count() { grep -cx "$1" "$W/ledger" 2>/dev/null || true; }
ledger_has() { [ "$(ledger_count "$1")" -ge 1 ]; }
BIG=1048576

start_orchd --min-free-space 0 # this test fills the file system on purpose: no floor, no log cut
drop_job flood <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo first; echo a >>$W/ledger; until [ -e $W/gate ]; do sleep 0.01; done; head -c $BIG /dev/zero | tr '\\\\0' x; echo a-end >>$W/ledger"] },
             "b": { "cmd": ["/bin/sh", "-c", "echo b >>$W/ledger"], "after": ["a"] } } }
EOF
id=$(job_id_of flood) || bail_out "job not accepted"
wait_for 10 ledger_has a || bail_out "node a did not start"
log=$SPOOL/jobs/$id/logs/a.1.log
wait_for 10 grep -qx first "$log" || bail_out "a's first line did not reach its log"
wait_for 10 node_state_is "$id" a running || bail_out "node a not reported running"

dd if=/dev/zero of="$SPOOL/fill" bs=64k 2>/dev/null # to the last byte
ok "the spool's file system is full" test "$(df --output=avail -k "$SPOOL" | tail -n 1 | tr -d ' ')" -lt 64
touch "$W/gate"
ok "a printed 1 MiB more and ended" wait_for 20 ledger_has a-end
ok "orchd could not record a's end and says it is read-only" \
        wait_for 20 grep -q 'No space left on device.*Read-only until there is room' "$T/orchd.log"
ok "orchd did not exit" pid_alive "$ORCHD_PID"
is_exit 0 "stats answers" ctl --json stats
jq_ok "Stats says read-only, and why" '.read_only | test("No space left on device")' "$T/last.out"
ok "status shows a's end" wait_for 20 node_state_is "$id" a succeeded
dropped=$(node_field "$id" a log_dropped)
written=$(($(stat -c %s "$log") - 6))
ok "status reports output lost from a's log ($dropped bytes)" test "$dropped" -gt 0
is "$((dropped + written))" "$BIG" "log_dropped is exactly what the log lacks ($written bytes of the 1 MiB were written)"
like "$(ctl status "$id")" "Node a: $dropped bytes of output of its last attempt were lost" "orchctl status says so"
ok "orchd logged the loss" grep -q "node a attempt 1: $dropped bytes of output could not be written" "$T/orchd.log"
is "$(ledger_count b)" 0 "b did not start: a's end is not recorded yet"

rm -f "$SPOOL/fill"
# From here on no orchctl call until b ran: orchd must notice the room itself.
ok "once there is room, a's end is recorded and b runs" wait_for 30 ledger_has b
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(ledger_count a)" 1 "a ran once: its end was kept and written, not lost"
is "$(ledger_count b)" 1 "b ran once"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd exits 0 on SIGTERM"
start_orchd --min-free-space 0
is "$(node_field "$id" a log_dropped)" "$dropped" "log_dropped is recorded: the same after a restart"
stop_orchd
done_testing
