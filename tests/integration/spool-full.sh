#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A full spool file system is not a crash (issue 8 point 3). The spool is a small tmpfs of its own.
# Part 1, MinFreeSpace=: filled below the floor, a dropped job stays in new/ (not claimed, not rejected;
# "waiting" logged once, not per file), Submit gets the temporary SpoolFull (orchctl exit 75), the daemon
# still answers and records the end of a job that was running; once the filler is deleted, the waiting
# job is taken and runs with no client call (a file its node writes appears).
# Part 2, no floor (MinFreeSpace=0): the file system is full to the last byte when a job arrives; its
# acceptance runs out of space, which gives the half-built job up instead of fail-stopping; the file is
# taken again once there is room.

. "$(dirname "$0")/lib.sh"

spool_on_tmpfs "a full spool file system" size=8m

avail_kib() { df --output=avail -k "$SPOOL" | tail -n 1 | tr -d ' '; }
waiting_logged() { [ "$(grep -c 'new jobs wait in new/' "$T/orchd.log")" -ge 1 ]; }
fill_to() { # fill_to KIB: grow $SPOOL/fill until about KIB are left free
        local free
        free=$(avail_kib)
        [ "$free" -gt "$1" ] || return 0
        dd if=/dev/zero of="$SPOOL/fill" bs=1k count=$((free - $1)) oflag=append conv=notrunc 2>/dev/null
}

# ---- Part 1: below MinFreeSpace=4M.
start_orchd --min-free-space 4M
drop_job long <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo started >$W/long; until [ -e $W/gate ]; do sleep 0.05; done"] } } }
EOF
idl=$(job_id_of long) || bail_out "the first job was not accepted"
wait_for 10 test -e "$W/long" || bail_out "its node did not start"

fill_to 2048
ok "the spool's file system is below the floor ($(avail_kib) KiB free)" test "$(avail_kib)" -lt 4096
drop_job waiting <<EOF
{ "nodes": { "w": { "cmd": ["/bin/sh", "-c", "touch $W/waited"] } } }
EOF
ok "orchd says once that new jobs wait" wait_for 10 waiting_logged
drop_job waiting2 <<EOF
{ "nodes": { "w": { "cmd": ["/bin/sh", "-c", "touch $W/waited2"] } } }
EOF
ok "the dropped file stays in new/" test -e "$SPOOL/new/waiting.json"
ok "it was not rejected" test -z "$(find "$SPOOL/rejected" -name 'waiting*')"
is_exit 0 "orchd is alive and answers" ctl list
printf '{ "nodes": { "s": { "cmd": ["true"] } } }\n' >"$T/s.json"
is_exit 75 "orchctl submit gets a temporary error (75)" ctl submit "$T/s.json"
like "$(cat "$T/last.err")" "short of free space .*MinFreeSpace=.*try again later" "saying why and what to do"
ok "the second drop waits too" test -e "$SPOOL/new/waiting2.json"
is "$(grep -c 'new jobs wait in new/' "$T/orchd.log")" 1 "the wait is logged once, not per file"

touch "$W/gate"
is_exit 0 "the running job's end is recorded below the floor: it succeeds" wait_job "$idl"
ok "the waiting files are still in new/" test -e "$SPOOL/new/waiting.json" -a -e "$SPOOL/new/waiting2.json"

rm -f "$SPOOL/fill"
ok "once space returns, the waiting job is taken and runs, no client call needed" wait_for 15 test -e "$W/waited"
ok "and the second one" wait_for 15 test -e "$W/waited2"
ok "orchd logs that there is room again" grep -q 'Room again on the filesystem' "$T/orchd.log"
ok "new/ is empty" test -z "$(ls "$SPOOL/new")"
is_exit 0 "Submit works again" ctl submit "$T/s.json"
# Let it end before the restart: a node rerun at the next start would need room to record its end, and
# part 2 leaves none (orchd would go read-only until there is room: disk-full.sh tests that).
is_exit 0 "that job succeeds" wait_job "$(cat "$T/last.out")"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd never fail-stopped (exit status 0 at SIGTERM)"

# ---- Part 2: no floor; taking in a file itself runs out of space.
start_orchd --min-free-space 0
# An invalid file: writing its rejection fails. It is kept (in orchd's private intake) and rejected later.
printf '{ "nodes": { "x": { "cmd": [] } } }\n' >"$SPOOL/tmp/bad.json"
dd if=/dev/zero of="$SPOOL/fill" bs=64k 2>/dev/null # to the last byte
mv "$SPOOL/tmp/bad.json" "$SPOOL/new/bad.json"
ok "orchd runs out of space rejecting a file, and says so" wait_for 10 grep -q 'Out of space on the filesystem' "$T/orchd.log"
is_exit 0 "orchd is alive (no fail-stop)" ctl list
ok "the file is kept in orchd's intake" test -e "$SPOOL/jobs/.intake/bad.json"
rm -f "$SPOOL/fill"
bad_error() { find "$SPOOL/rejected" -name 'bad.json.error' | head -n 1; }
bad_rejected() { [ -n "$(bad_error)" ]; }
ok "once there is room, it is rejected" wait_for 15 bad_rejected
like "$(cat "$(bad_error)")" "nodes\.x\.cmd" "with its reason"
: >"$T/orchd.log"
# A valid job file of about 400 KB (strings are capped at 64 KiB: several of them), written before the fill.
pad=$(head -c 60000 /dev/zero | tr '\0' x)
printf '{ "env": { "P1": "%s", "P2": "%s", "P3": "%s", "P4": "%s", "P5": "%s", "P6": "%s", "P7": "%s" },
  "nodes": { "b": { "cmd": ["/bin/sh", "-c", "touch %s/big"] } } }\n' "$pad" "$pad" "$pad" "$pad" "$pad" "$pad" \
        "$pad" "$W" >"$SPOOL/tmp/big.json"
dd if=/dev/zero of="$SPOOL/fill" bs=64k 2>/dev/null # to the last byte
ok "the spool's file system is full" test "$(avail_kib)" -lt 64
mv "$SPOOL/tmp/big.json" "$SPOOL/new/big.json"
ok "orchd runs out of space accepting a valid job, and says so" wait_for 10 grep -q 'Out of space on the filesystem' "$T/orchd.log"
is_exit 0 "orchd is alive (no fail-stop)" ctl list
ok "the file was not rejected" test -z "$(find "$SPOOL/rejected" -name 'big*')"
ok "no half-built job directory is left" test -z "$(find "$SPOOL/jobs" -maxdepth 1 -name '.#*')"
ok "the job is not listed" test -z "$(ctl --json list --all | jq -r '.[] | select(.name == "big") | .id')"
rm -f "$SPOOL/fill"
ok "once there is room, the file is taken again and runs" wait_for 15 test -e "$W/big"
is "$(ctl --json list --all | jq '[.[] | select(.name == "big")] | length')" 1 "accepted exactly once"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd never fail-stopped"
done_testing
