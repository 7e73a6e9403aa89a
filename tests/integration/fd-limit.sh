#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# File descriptors follow running jobs, not all jobs, and running out of them is a shortage, never
# corruption (issue 9, point 4). With nofile 200, 300 jobs dropped at once all run (orchd once fail-stopped
# after ~113 jobs: one directory fd per job, kept for ever); a restart under the same limit recovers all of
# them, and none is moved to corrupt/ (a failed open for lack of fds was taken for a damaged job). A file
# dropped while orchd has no fd to spare waits in intake and is taken, by a timer, once fds are back.
# Progress is watched in a ledger the nodes append to, not through orchctl.
#
# A slow disk makes commits big: while one is written, everything taken in meanwhile joins the next. The
# first fsync of each thread is held 2 s (strace), so one commit carries the acceptance of ~300 jobs; it
# once held an fd per job it wrote, and under nofile 200 orchd fail-stopped (seen on a loaded CI machine).

TEST_TIMEOUT=${TEST_TIMEOUT:-180}
. "$(dirname "$0")/lib.sh"

command -v prlimit >/dev/null || {
        skip "nofile 200" "needs prlimit (util-linux)"
        done_testing
        exit 0
}
N=300
start_orchd --max-parallel 4
prlimit --pid "$ORCHD_PID" --nofile=200:200 || bail_out "cannot lower orchd's nofile"
slow=
if [ "$(id -u)" -eq 0 ] && command -v strace >/dev/null; then
        strace_attach "$T/strace" fsync,fdatasync "fsync,fdatasync:delay_enter=2000000:when=1" ||
                bail_out "cannot attach strace to orchd"
        slow=" and a slow disk"
else
        skip "a slow disk" "needs root and strace"
fi
mkdir -p "$T/drop"
for i in $(seq "$N"); do
        printf '{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo %d >> %s/ledger"] } } }\n' "$i" "$W" >"$SPOOL/tmp/j$i.json"
done
for i in $(seq "$N"); do
        mv "$SPOOL/tmp/j$i.json" "$SPOOL/new/j$i.json"
done
ledger_full() { [ "$(sort -un "$W/ledger" 2>/dev/null | wc -l)" -eq "$N" ]; }
ok "all $N jobs ran under nofile 200$slow" wait_for 120 ledger_full
strace_detach
ok "orchd is still running" pid_alive "$ORCHD_PID"
is "$(sort -n "$W/ledger" | uniq -d | wc -l)" 0 "no job ran twice"
fds=$(find "/proc/$ORCHD_PID/fd" -mindepth 1 | wc -l)
ok "with nothing running orchd holds few fds ($fds), not one per job" test "$fds" -gt 0 -a "$fds" -lt 40 ||
        find "/proc/$ORCHD_PID/fd" -mindepth 1 -printf '%l\n' | sed 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn |
        head -5 | while read -r line; do diag "fd: $line"; done
all_done() { [ "$(ctl --json list --all | jq '[.[] | select(.state == "succeeded")] | length')" -eq "$N" ]; }
ok "all $N jobs succeeded" wait_for 30 all_done
kill9_orchd

# Intake with no fd to spare: the file waits in intake (not rejected, not lost) and is taken once fds
# are back, without anyone calling: a timer looks again.
start_orchd
# The limit is the fds orchd holds at rest: every job loaded, and no client connection left open (the
# ready check's, or the stats call's, would close later and leave a free fd).
loaded() { [ "$(ctl --json stats | jq -r .loading)" = null ]; }
wait_for 30 loaded || bail_out "orchd did not load its jobs"
wait_for 20 test "$(control_sockets)" -eq 1 || bail_out "a client connection stays open in orchd"
n=$(find "/proc/$ORCHD_PID/fd" -mindepth 1 | wc -l)
prlimit --pid "$ORCHD_PID" --nofile="$n":4096 || bail_out "cannot lower orchd's nofile"
printf '{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo starved >> %s/ledger"] } } }\n' "$W" >"$SPOOL/tmp/starved.json"
mv "$SPOOL/tmp/starved.json" "$SPOOL/new/starved.json"
ok "out of fds at intake is logged as such" wait_for 20 grep -q "Out of file descriptors while taking in job files" "$T/orchd.log"
ok "the file waits in intake" test -e "$SPOOL/jobs/.intake/starved.json"
ok "it is not rejected" test ! -e "$REJ/starved.json"
prlimit --pid "$ORCHD_PID" --nofile=1024:4096 || bail_out "cannot raise orchd's nofile"
ok "once fds are back it is taken and runs, with no client call" wait_for 20 grep -qx starved "$W/ledger"

# Out of fds where the records are written: orchd waits (read-only) and writes them once it can, instead of
# stopping. The committer thread's next openat fails with EMFILE; the re-check two seconds later succeeds.
if [ "$(id -u)" -eq 0 ] && command -v strace >/dev/null; then
        strace_attach "$T/strace" openat "openat:error=EMFILE:when=1" orchd-commit ||
                bail_out "cannot attach strace to orchd's committer thread"
        printf '{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo late >> %s/ledger"] } } }\n' "$W" >"$SPOOL/tmp/late.json"
        mv "$SPOOL/tmp/late.json" "$SPOOL/new/late.json"
        ok "out of fds while writing records: read-only, said so" wait_for 20 \
                grep -q "Too many open files) while writing .*Read-only until file descriptors are free" "$T/orchd.log"
        ok "the job it was writing then runs, with no client call" wait_for 20 grep -qx late "$W/ledger"
        ok "orchd did not stop" pid_alive "$ORCHD_PID"
        strace_detach
        # The job's node starts before its acceptance is durable, so its run says nothing of the re-check.
        writing() { [ "$(ctl --json stats | jq -r .read_only)" = null ]; }
        ok "stats: writing again, by itself" wait_for 20 writing

        # Out of fds starting a node (the keeper's first pipe2 fails: the node's pipes are the keeper's): the
        # node waits a second and starts again, as attempt 2, without failing the job or counting against
        # retry.attempts (it has none).
        STRACE_TARGET=$(keeper_pid) strace_attach "$T/strace" pipe2 "pipe2:error=EMFILE:when=1" orchd-keeper ||
                bail_out "cannot attach strace to the keeper's loop thread"
        printf '{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo pinch >> %s/ledger"] } } }\n' "$W" >"$SPOOL/tmp/pinch.json"
        mv "$SPOOL/tmp/pinch.json" "$SPOOL/new/pinch.json"
        ok "a node that could not start for want of fds runs a second later" wait_for 20 grep -qx pinch "$W/ledger"
        strace_detach
        like "$(grep "node a: cannot start attempt 1" "$T/orchd.log")" "out of file descriptors" "and the log says why"
        pinch=$(job_id_of pinch.json)
        wait_job "$pinch" >/dev/null
        is "$(ctl --json status "$pinch" | jq -r '[.state, (.nodes.a | .attempts, .state)] | join(" ")')" \
                "succeeded 2 succeeded" "the job succeeded, on attempt 2"
        late=2
else
        skip "out of fds while writing records" "needs root and strace"
fi
kill9_orchd

# Restart under the same limit: recovery opens every job directory, one at a time.
old=$(ulimit -Sn)
ulimit -Sn 200
start_orchd
ulimit -Sn "$old"
total=$((N + 1 + ${late:-0}))
is "$(ctl --json list --all | jq 'length')" "$total" "a restart with nofile 200 recovers all $total jobs"
ok "none was moved to corrupt/" test ! -e "$SPOOL/corrupt"
if grep -qi "corrupt" "$T/orchd.log" "$T/orchd.log.1"; then
        fail "no job is logged as corrupt" "$(grep -i "corrupt" "$T/orchd.log" "$T/orchd.log.1" | head -3)"
else
        pass "no job is logged as corrupt"
fi
done_testing
