#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A restart while the spool's filesystem is full (issue 9 point 6): orchd starts all the same, read-only
# (a test write at start fails), answers status, list, logs, stats and rejected, says why (its log, and
# read_only in Stats), starts no node, takes no file from new/ and refuses Submit (75). Once the filler is
# removed it resumes by itself, with no client call: the records of recovery are written, the interrupted
# node runs again, its dependent runs, and the file that waited in new/ is taken and runs (all watched in a
# ledger the nodes append to). The spool is a small tmpfs of its own (root only).
#
# orchd runs with KillNodes=yes, so that the kill -9 interrupts the running node (its rerun is part of the
# resumption checked here).

. "$(dirname "$0")/lib.sh"

spool_on_tmpfs "a restart on a full spool file system" size=8m

ledger_count() { grep -cx "$1" "$W/ledger" 2>/dev/null || true; }
ledger_has() { [ "$(ledger_count "$1")" -ge "${2:-1}" ]; }

start_orchd --kill-nodes yes --min-free-space 1M
drop_job work <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo a >>$W/ledger; echo hello-from-a; until [ -e $W/gate ]; do sleep 0.05; done"] },
             "b": { "cmd": ["/bin/sh", "-c", "echo b >>$W/ledger"], "after": ["a"] } } }
EOF
id=$(job_id_of work) || bail_out "the job was not accepted"
wait_for 10 ledger_has a || bail_out "node a did not start"
log=$SPOOL/jobs/$id/logs/a.1.log
wait_for 10 grep -q hello-from-a "$log" || bail_out "a's output did not reach its log"
# A second job, written before the filesystem fills and dropped while it is full.
printf '{ "nodes": { "c": { "cmd": ["/bin/sh", "-c", "echo c >>%s/ledger"] } } }\n' "$W" >"$SPOOL/tmp/later.json"

kill9_orchd
dd if=/dev/zero of="$SPOOL/fill" bs=64k 2>/dev/null # to the last byte
ok "the spool's filesystem is full" test "$(df --output=avail -k "$SPOOL" | tail -n 1 | tr -d ' ')" -lt 64
mv "$SPOOL/tmp/later.json" "$SPOOL/new/later.json"

start_orchd --kill-nodes yes --min-free-space 1M # bails out if orchd exits at start
ok "orchd started and runs" pid_alive "$ORCHD_PID"
ok "its log says it is read-only and why" grep -q 'No space left on device.*Read-only until there is room' "$T/orchd.log"
is_exit 0 "stats answers" ctl stats
like "$(cat "$T/last.out")" "READ-ONLY: cannot write to the spool \(No space left on device\)" \
        "stats says read-only, and why"
is_exit 0 "stats --json answers" ctl --json stats
jq_ok "Stats carries read_only with the reason" '.read_only | test("No space left on device")' "$T/last.out"
is_exit 0 "status answers" ctl status "$id"
is "$(job_field "$id" state)" running "the job is running, as recovered"
is_exit 0 "list answers" ctl list
like "$(ctl logs "$id" a)" "hello-from-a" "logs answers with the node's output"
is_exit 0 "rejected answers" ctl rejected
printf '{ "nodes": { "s": { "cmd": ["true"] } } }\n' >"$T/s.json"
is_exit 75 "Submit is refused for now (75)" ctl submit "$T/s.json"
ok "the dropped file waits in new/" test -e "$SPOOL/new/later.json"
is "$(ledger_count a)" 1 "no node started while read-only"

touch "$W/gate"
rm -f "$SPOOL/fill"
# From here on no orchctl call: orchd must notice the room itself.
ok "once there is room, the interrupted node runs again and its dependent runs" wait_for 30 ledger_has b
ok "the file that waited in new/ is taken and runs" wait_for 30 ledger_has c
ok "orchd says it can write again" grep -q 'can be written again' "$T/orchd.log"
is "$(ledger_count a)" 2 "a ran twice (its first run was interrupted by the kill)"
is "$(ledger_count b)" 1 "b ran once"
is_exit 0 "the job succeeds" wait_job "$id"
is_exit 0 "stats --json answers" ctl --json stats
jq_ok "Stats: read_only is null again" 'has("read_only") and .read_only == null' "$T/last.out"
ok "new/ is empty" test -z "$(ls "$SPOOL/new")"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd exits 0 on SIGTERM"
done_testing
