#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A whole-job timeout (SPEC §3 job "timeout"): at the deadline running nodes are stopped and pending ones
# cancelled, both with reason job_timeout, but for cleanup nodes ("when": "always"), which still run;
# finished nodes keep their result; the job fails with reason "timeout".

. "$(dirname "$0")/lib.sh"

start_orchd --max-parallel 4
track_pid_file "$W/long.pid"

t0=$(now)
drop_job jt <<EOF
{
  "timeout": "1s",
  "nodes": {
    "quick": { "cmd": ["/bin/true"] },
    "long":  { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/long.pid.tmp && mv $W/long.pid.tmp $W/long.pid && exec $W/sleep 30"],
               "kill_grace": 1 },
    "after": { "cmd": ["/bin/sh", "-c", "echo after >> $W/ran"], "after": ["long"], "when": "always" },
    "next":  { "cmd": ["/bin/sh", "-c", "echo next >> $W/ran"], "after": ["long"] }
  }
}
EOF
id=$(job_id_of jt) || bail_out "job not accepted"
is_exit 1 "orchctl wait exits 1" ctl wait "$id" --timeout 20
elapsed=$((($(now) - t0) / 1000000))
diag "job ended ${elapsed} ms after the drop"
is "$(job_field "$id" state)" failed "job failed"
is "$(job_field "$id" reason)" timeout "job reason timeout"
expect_node "$id" quick succeeded null
expect_node "$id" long cancelled job_timeout
expect_node "$id" after succeeded null
expect_node "$id" next cancelled job_timeout
# A generous bound for a loaded machine, still well short of long's 30 s: the deadline ended it.
ok "the job ended at its 1 s deadline, not after long's 30 s (${elapsed} ms < 20000)" test "$elapsed" -lt 20000
# The deadline runs from the job's start, which the status reports; the test's own clock starts later.
ran_ms=$(($(date -d "$(job_field "$id" finished_at)" +%s%3N) - $(date -d "$(job_field "$id" started_at)" +%s%3N)))
ok "the job did not end before its deadline (started_at → finished_at ${ran_ms} ms ≥ 990)" test "$ran_ms" -ge 990
# long's shell writes its pid first thing, but a loaded machine may not run it before the 1 s deadline:
# the daemon's started_at says it was started, and a pid, if written, must be gone.
isnt "$(node_field "$id" long started_at)" null "long had started"
pid=$(cat "$W/long.pid" 2>/dev/null)
[ -n "$pid" ] || diag "long was stopped before its shell wrote its pid"
ok "long's process is gone" wait_for 10 eval "! pid_alive ${pid:-0}"
is "$(cat "$W/ran" 2>/dev/null | tr '\n' ' ')" "after " "the cleanup node ran after the deadline, next did not"
done_testing
