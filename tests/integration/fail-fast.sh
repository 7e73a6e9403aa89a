#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# fail_fast (SPEC §3): the first failed node stops the running ones (cancelled, reason fail_fast), skips
# the pending ones (skipped, reason fail_fast) but for cleanup nodes ("when": "always"), which still run
# once their dependencies end, and fails the job with that node's reason. An
# allow_failure node does not trigger it: "bad" starts only once "tolerated" has failed (after + when
# always), so its failure is certainly the first that counts, however loaded the machine (a race between
# the two once cancelled "tolerated" under load).

. "$(dirname "$0")/lib.sh"

start_orchd --max-parallel 4
track_pid_file "$W/slow.pid"

drop_job ff <<EOF
{
  "fail_fast": true,
  "nodes": {
    "tolerated": { "cmd": ["/bin/sh", "-c", "exit 9"], "allow_failure": true },
    "bad":   { "cmd": ["/bin/sh", "-c", "while [ ! -s $W/slow.pid ]; do sleep 0.01; done; exit 3"],
               "after": ["tolerated"], "when": "always" },
    "slow":  { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/slow.pid.tmp && mv $W/slow.pid.tmp $W/slow.pid && exec $W/sleep 30"],
               "kill_grace": 2 },
    "later": { "cmd": ["/bin/sh", "-c", "echo later >> $W/ran"], "after": ["slow"], "when": "always" },
    "next":  { "cmd": ["/bin/sh", "-c", "echo next >> $W/ran"], "after": ["slow"] }
  }
}
EOF
id=$(job_id_of ff) || bail_out "job not accepted"
wait_for 10 test -s "$W/slow.pid" || bail_out "node slow did not start"
pid=$(cat "$W/slow.pid")
t0=$(now)
is_exit 1 "orchctl wait exits 1" ctl wait "$id" --timeout 20
elapsed=$((($(now) - t0) / 1000000))
is "$(job_field "$id" state)" failed "job failed"
is "$(job_field "$id" reason)" exit:3 "job reason is the failed node's reason"
expect_node "$id" tolerated failed exit:9
expect_node "$id" bad failed exit:3
expect_node "$id" slow cancelled fail_fast
expect_node "$id" later succeeded null
expect_node "$id" next skipped fail_fast
ok "the job ended soon after the failure, not after slow's 30 s (${elapsed} ms)" test "$elapsed" -lt 15000
ok "slow's process is gone" wait_for 10 eval "! pid_alive $pid"
is "$(cat "$W/ran" 2>/dev/null | tr '\n' ' ')" "later " "the cleanup node ran, next did not"
done_testing
