#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl cancel: cancelling a job stops its running node (the process is gone) and cancels the pending
# ones but for cleanup nodes ("when": "always"), which still run; the job ends cancelled and `orchctl
# wait` exits 2. Cancelling one node of a job stops only that node and leaves the others running; the
# job then ends by what they do, the cancelled node counting as a failure: failed, reason cancelled.

. "$(dirname "$0")/lib.sh"

start_orchd --max-parallel 4
track_pid_file "$W/run.pid"
track_pid_file "$W/long.pid"

drop_job cancelme <<EOF
{
  "nodes": {
    "run":  { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/run.pid.tmp && mv $W/run.pid.tmp $W/run.pid && exec $W/sleep 30"],
              "kill_grace": 2 },
    "dep1": { "cmd": ["/bin/true"], "after": ["run"] },
    "dep2": { "cmd": ["/bin/true"], "after": ["dep1"], "when": "always" }
  }
}
EOF
id=$(job_id_of cancelme) || bail_out "job not accepted"
wait_for 10 test -s "$W/run.pid" || bail_out "node run did not start"
pid=$(cat "$W/run.pid")
is "$(node_field "$id" run state)" running "node run is running"
is "$(job_field "$id" state)" running "job is running"

t0=$(now)
is_exit 0 "orchctl cancel JOB exits 0" ctl cancel "$id"
is_exit 2 "orchctl wait exits 2 for a cancelled job" ctl wait "$id" --timeout 20
elapsed=$((($(now) - t0) / 1000000))
is "$(job_field "$id" state)" cancelled "job cancelled"
is "$(job_field "$id" reason)" cancelled "job reason cancelled"
expect_node "$id" run cancelled cancelled
expect_node "$id" dep1 cancelled cancelled
expect_node "$id" dep2 succeeded null
# A generous bound for a loaded machine, still well short of the nodes' 30 s: cancel ended them.
ok "the job ended quickly after cancel (${elapsed} ms < 20000, not after the nodes' 30 s)" test "$elapsed" -lt 20000
ok "the node's process is gone" wait_for 10 eval "! pid_alive $pid"
ok "a finished job's cancel is harmless: the job stays cancelled" sh -c \
        "'$ORCHCTL' -s '$SOCK' cancel $id >/dev/null 2>&1; test \"\$('$ORCHCTL' -s '$SOCK' --json status $id | jq -r .state)\" = cancelled"

drop_job partial <<EOF
{
  "nodes": {
    "long":       { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/long.pid.tmp && mv $W/long.pid.tmp $W/long.pid && exec $W/sleep 30"] },
    "short":      { "cmd": ["/bin/sh", "-c", "while [ ! -e $W/short.go ]; do $W/sleep 0.01; done; echo short >> $W/ran"] },
    "after_long": { "cmd": ["/bin/sh", "-c", "echo after_long >> $W/ran"], "after": ["long"] }
  }
}
EOF
id2=$(job_id_of partial) || bail_out "job not accepted"
wait_for 10 test -s "$W/long.pid" || bail_out "node long did not start"
pid=$(cat "$W/long.pid")
is_exit 0 "orchctl cancel JOB NODE exits 0" ctl cancel "$id2" long
ok "the cancelled node's process is gone" wait_for 10 eval "! pid_alive $pid"
is "$(node_field "$id2" short state)" running "the other node keeps running"
touch "$W/short.go"
ctl wait "$id2" --timeout 20 >/dev/null
expect_node "$id2" long cancelled cancelled
expect_node "$id2" short succeeded null
expect_node "$id2" after_long skipped upstream
is "$(cat "$W/ran" 2>/dev/null | tr '\n' ' ')" "short " "short ran; after_long did not"
st=$(job_field "$id2" state)
diag "job with one cancelled node ended as: $st ($(job_field "$id2" reason))"
is "$st" failed "a job with a node cancelled by name fails (it was not cancelled itself)"
is "$(job_field "$id2" reason)" cancelled "its reason is the node's: cancelled"
is_exit 66 "cancel of an unknown node exits 66" ctl cancel "$id2" nosuchnode
done_testing
