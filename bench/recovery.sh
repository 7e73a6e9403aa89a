#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Recovery and retention (issue 9, point 4). Two spools of finished one-node jobs are generated directly in
# the on-disk format (jobs/ID/job.json, state.json, logs/a.1.log; as orchd writes them), not run:
#   1. N jobs (default 100,000): the time from starting orchd (KeepFinished=infinity) to its first answered
#      `orchctl stats`, against reading the same tree with find + cat (every file orchd reads), measured just
#      before and just after in the same run; the ratio orchd / find+cat. orchd serves after at most about
#      0.5 s of loading and loads the rest on its loop (orchd(8), RECOVERY): also the time until that first
#      Status of the newest job is answered, until Stats no longer says "loading" (every job loaded), and
#      until the node of job N+1, the one unfinished job (queued, marked in jobs/.unfinished), has run.
#   2. M jobs (default 10,000): open fds and VmRSS of orchd with KeepFinished=infinity, then after a SIGHUP
#      with KeepFinished=KEEP (default 100) has collected the rest (and `orchctl gc` reports nothing left to
#      do). Set ORCHD/ORCHCTL to another build (e.g. the parent commit's) to compare; a build that keeps one
#      fd per job needs `ulimit -n` above M.
# Prints figures only. N=…, M=…, KEEP=… scale it; generating 100,000 jobs takes about a minute here.

. "$(dirname "$0")/common.sh"
build_orchd
: "${N:=100000}" "${M:=10000}" "${KEEP:=100}"

gen_spool() { # gen_spool DIR COUNT [LEDGER]: a spool of COUNT finished (succeeded) one-node jobs owned by us;
        # with LEDGER, also job COUNT+1, queued and marked unfinished, whose node appends a line to LEDGER
        python3 - "$1" "$2" "$(id -u)" "$(id -g)" "$(id -un)" "${3:-}" <<'EOF'
import os, sys, time
spool, n, uid, gid, user, ledger = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
jobs = os.path.join(spool, "jobs")
os.makedirs(jobs, exist_ok=True)
job = b'{"name":"bench","nodes":{"a":{"cmd":["true"]}}}\n'
t0 = int(time.time() * 1e6) - n * 1000 - 10**6
for i in range(1, n + 1):
    d = os.path.join(jobs, str(i))
    os.makedirs(os.path.join(d, "logs"), 0o750)
    os.chmod(d, 0o750)
    with open(os.path.join(d, "job.json"), "wb") as f:
        f.write(job)
    t = t0 + i * 1000
    st = ('{"version":1,"seq":3,"job":{"id":"%d","state":"succeeded","paused_from":null,"reason":null,'
          '"cancel_requested":false,"uid":%d,"gid":%d,"user":"%s","source":"b%d.json","submitted_at":%d,'
          '"started_at":%d,"finished_at":%d},"nodes":{"a":{"state":"succeeded","reason":null,"attempt":1,'
          '"interrupted":0,"exit_code":0,"signal":null,"started_at":%d,"finished_at":%d,"retry_at":0}}}'
          % (i, uid, gid, user, i, t, t + 10, t + 50, t + 10, t + 40))
    with open(os.path.join(d, "state.json"), "w") as f:
        f.write(st)
    open(os.path.join(d, "logs", "a.1.log"), "wb").close()
if ledger:
    i = n + 1
    d = os.path.join(jobs, str(i))
    os.makedirs(os.path.join(d, "logs"), 0o750)
    os.chmod(d, 0o750)
    with open(os.path.join(d, "job.json"), "w") as f:
        f.write('{"name":"unfinished","nodes":{"a":{"cmd":["/bin/sh","-c","echo ran >> %s"]}}}\n' % ledger)
    st = ('{"version":1,"seq":1,"job":{"id":"%d","state":"queued","paused_from":null,"reason":null,'
          '"cancel_requested":false,"uid":%d,"gid":%d,"user":"%s","source":"u.json","submitted_at":%d,'
          '"started_at":0,"finished_at":0},"nodes":{"a":{"state":"pending","reason":null,"attempt":0,'
          '"interrupted":0,"exit_code":null,"signal":null,"started_at":0,"finished_at":0,"retry_at":0}}}'
          % (i, uid, gid, user, int(time.time() * 1e6)))
    with open(os.path.join(d, "state.json"), "w") as f:
        f.write(st)
    os.makedirs(os.path.join(jobs, ".unfinished"), 0o700, exist_ok=True)
    open(os.path.join(jobs, ".unfinished", str(i)), "wb").close()
EOF
}

ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

find_cat_ms() { # find_cat_ms DIR: ms to read every *.json below DIR/jobs
        local t0
        t0=$(now_ns)
        find "$1/jobs" -name '*.json' -print0 | xargs -0 cat >/dev/null
        ms_since "$t0"
}

start_timed() { # start_timed ARGS…: start orchd on $SPOOL; SERVE_MS = ms until `orchctl stats` answers
        t0=$(now_ns)
        "$ORCHD" --spool "$SPOOL" --socket "$SOCK" "$@" >/dev/null 2>>"$B/orchd.log" </dev/null &
        ORCHD_PID=$!
        until ctl stats >/dev/null 2>&1; do
                kill -0 "$ORCHD_PID" 2>/dev/null || { note "orchd exited; its log:"; tail -5 "$B/orchd.log" >&2; exit 1; }
                sleep 0.005
        done
        SERVE_MS=$(ms_since "$t0")
}

stop() {
        kill -TERM "$ORCHD_PID" 2>/dev/null
        wait "$ORCHD_PID" 2>/dev/null
        ORCHD_PID=
}

fds() { find "/proc/$ORCHD_PID/fd" -mindepth 1 | wc -l; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$ORCHD_PID/status"; }

printf '# recovery: %s finished jobs\n' "$N"
t0=$(now_ns)
gen_spool "$SPOOL" "$N" "$B/ledger"
printf 'generated in %d ms\n' "$(ms_since "$t0")"
sync
before=$(find_cat_ms "$SPOOL")
start_timed --keep-finished infinity
serve=$SERVE_MS
ctl status "$N" >/dev/null
status_ms=$(ms_since "$t0")
until [ -s "$B/ledger" ]; do sleep 0.005; done
node_ms=$(ms_since "$t0")
until [ "$(ctl --json stats | jq '.loading // 0')" = 0 ]; do sleep 0.05; done
loaded_ms=$(ms_since "$t0")
printf 'orchd fds %d, VmRSS %d kB with %s finished jobs\n' "$(fds)" "$(rss_kb)" "$N"
stop
after=$(find_cat_ms "$SPOOL")
printf 'find+cat of jobs/*.json: %d ms before, %d ms after\n' "$before" "$after"
printf 'orchd start to first answered stats: %d ms\n' "$serve"
printf 'orchd start to answered status of job %s (the newest finished): %d ms\n' "$N" "$status_ms"
printf 'orchd start to the node of the unfinished job %s run (ledger): %d ms\n' "$((N + 1))" "$node_ms"
printf 'orchd start to every job loaded (stats without "loading"): %d ms\n' "$loaded_ms"
awk -v s="$serve" -v b="$before" -v a="$after" \
        -v l="$loaded_ms" 'BEGIN { m = (a < b ? a : b); printf "ratio orchd / find+cat (the faster): %.2f to serving, %.2f to every job loaded\n", (m > 0 ? s / m : 0), (m > 0 ? l / m : 0) }'
rm -rf "$SPOOL"

printf '\n# retention: %s finished jobs, then KeepFinished=%s\n' "$M" "$KEEP"
gen_spool "$SPOOL" "$M"
printf '[Daemon]\nKeepFinished=infinity\n' >"$B/orchd.conf"
start_timed --config "$B/orchd.conf"
serve=$SERVE_MS
printf 'start to first answered stats: %d ms\n' "$serve"
until [ "$(ctl --json stats | jq '.loading // 0')" = 0 ]; do sleep 0.05; done # every job in memory
f0=$(fds) r0=$(rss_kb)
printf '[Daemon]\nKeepFinished=%s\n' "$KEEP" >"$B/orchd.conf"
t0=$(now_ns)
kill -HUP "$ORCHD_PID"
until [ "$(ctl --json list --all | jq length)" -le "$KEEP" ]; do sleep 0.05; done
gc_ms=$(ms_since "$t0")
ctl list >/dev/null # a call after the collection: its malloc_trim() has run
f1=$(fds) r1=$(rss_kb)
printf 'fds:   %6d with %s finished jobs, %6d after the collection (%s kept)\n' "$f0" "$M" "$f1" "$KEEP"
printf 'VmRSS: %6d kB with %s finished jobs, %6d kB after the collection\n' "$r0" "$M" "$r1"
printf 'collection of %d jobs: %d ms until listed as gone; orchctl gc then: %s\n' "$((M - KEEP))" "$gc_ms" "$(ctl gc)"
stop
