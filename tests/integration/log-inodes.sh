#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Attempts cannot exhaust the spool's inodes (issue 8, finding F2b): every attempt creates a log file, and
# MinFreeSpace='s inode reserve only holds back new jobs, so a job retrying many failing nodes used to take
# every inode until recording some job's end failed (fail-stop, for everyone). Below half the reserve an
# attempt gets no log file (its output goes to the journal only), the daemon says so once, and the journal
# keeps the inodes it needs: orchd stays up and every job's end is recorded. The spool is a tmpfs of its own
# with few inodes (root only).
#
# orchd runs with KillNodes=yes: the restart in the middle is the old stop.

# 2,000 node starts, each recorded before its exec: under load that takes more than lib.sh's default minute.
: "${TEST_TIMEOUT:=180}"
. "$(dirname "$0")/lib.sh"

# 1,400 inodes: a job is accepted (the reserve is 1,024 free) and the flood's 2,000 attempts would take them all.
spool_on_tmpfs "attempts on a spool short of inodes" size=32m,nr_inodes=1400

free_inodes() { df --output=iavail "$SPOOL" | tail -n 1 | tr -d ' '; }

start_orchd --kill-nodes yes --min-free-space 1M
# A bystander, accepted first: it waits on a gate until the flood has ended, then its end must be recorded.
drop_job bystander <<EOF
{ "nodes": { "wait": { "cmd": "while [ ! -e $W/release ]; do sleep 0.05; done; echo bystander-done" } } }
EOF
by=$(job_id_of bystander) || bail_out "the bystander was not accepted"
# 20 nodes of 'false', 100 attempts each: 2,000 attempts.
{
        printf '{ "nodes": {'
        for i in $(seq 1 20); do
                printf '%s "n%d": { "cmd": ["/bin/false"], "retry": { "attempts": 100, "delay": 0 } }' \
                        "$([ "$i" = 1 ] || echo ,)" "$i"
        done
        printf ' } }\n'
} >"$T/flood.json"
drop_job flood <"$T/flood.json"
id=$(job_id_of flood) || bail_out "the flood was not accepted"
is_exit 1 "the flood job ends, failed" ctl wait "$id" --timeout 240
ok "orchd is still running" pid_alive "$ORCHD_PID"
is "$(job_field "$id" state)" failed "the flood's end is recorded: failed"
is "$(node_field "$id" n20 attempts)" 100 "its last node ran all 100 attempts"
free=$(free_inodes)
ok "the file system kept inodes ($free free, at least 256)" test "$free" -ge 256
logs=$(find "$SPOOL/jobs/$id/logs" -type f | wc -l)
ok "attempts stopped getting log files ($logs of 2000)" test "$logs" -lt 2000
out=$(ctl logs "$id" n20 2>&1)
is "$?:$out" "0:" "orchctl logs of an attempt without a log file prints nothing and succeeds"
ok "orchd said so once" test "$(grep -c 'attempts started now get no log file' "$T/orchd.log")" -eq 1
touch "$W/release"
is_exit 0 "the bystander's end is recorded too: succeeded" ctl wait "$by" --timeout 60
is "$(grep -c 'Failed to' "$T/orchd.log" || true)" 0 "no write of orchd's failed"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd exits 0 on SIGTERM"
start_orchd --kill-nodes yes --min-free-space 1M
is "$(job_field "$id" state) $(job_field "$by" state)" "failed succeeded" "both ends are read back after a restart"
done_testing
