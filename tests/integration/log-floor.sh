#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Node output cannot fill the spool's file system (issue 8 point 3): log files are written by orchd and
# charged to nobody's quota, so a node printing without end would fill the disk until recording some job's
# end failed (fail-stop). A node's log is cut, with a marker line, once the file system's free space falls
# below half of MinFreeSpace=; the node goes on (its output still drains), its end and every other job's
# are recorded, and the daemon stays up. The spool is a small tmpfs of its own (root only).

. "$(dirname "$0")/lib.sh"

spool_on_tmpfs "node output on a small spool file system" size=16m

avail_kib() { df --output=avail -k "$SPOOL" | tail -n 1 | tr -d ' '; }

# A floor of 8 MiB: logs stop at 4 MiB free. Each node prints 24 MiB, more than the file system holds; b
# runs after a, so its end is recorded after a's output took what it could.
cat >"$W/flood" <<EOF
#!/bin/sh
head -c 25165824 /dev/zero | tr '\\0' "\$1"
echo done >"$W/\$1"
EOF
chmod +x "$W/flood"
start_orchd --min-free-space 8M
drop_job flood <<EOF
{ "nodes": { "a": { "cmd": ["$W/flood", "a"] },
             "b": { "cmd": ["$W/flood", "b"], "after": ["a"] } } }
EOF
id=$(job_id_of flood) || bail_out "the job was not accepted"
is_exit 0 "the job succeeds: both nodes ran to their end" ctl wait "$id" --timeout 50
ok "orchd is still running" pid_alive "$ORCHD_PID"
ok "both nodes finished their output" test -e "$W/a" -a -e "$W/b"
free=$(avail_kib)
ok "the file system kept room ($free KiB free, at least 3 MiB)" test "$free" -ge 3072
log=$SPOOL/jobs/$id/logs/a.1.log
like "$(tail -c 200 "$log")" "output truncated after [0-9]+ bytes: the spool's filesystem is short of free space" \
        "a's log ends with a marker saying why"
size=$(stat -c %s "$log")
ok "a's log was cut well before its 24 MiB ($size bytes)" test "$size" -lt 16777216
like "$(tail -c 200 "$SPOOL/jobs/$id/logs/b.1.log")" "short of free space" "b's log was cut too"
is "$(grep -c 'Failed to write output' "$T/orchd.log" || true)" 0 "no log write ran out of space"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd exits 0 on SIGTERM"
done_testing
