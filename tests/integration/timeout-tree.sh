#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A per-attempt timeout on a process tree that ignores SIGTERM: the node ends failed with reason
# "timeout" after timeout + kill_grace, and SIGKILL reaches every process of the tree (the whole process
# group), not only the one orchd spawned.

. "$(dirname "$0")/lib.sh"

[ -x "$SPIN" ] || bail_out "spin helper not built: $SPIN"
mkdir -p "$W/pids"
start_orchd

drop_job tree <<EOF
{
  "nodes": {
    "tree": { "cmd": ["$SPIN", "$W/pids", "3"], "timeout": 0.5, "kill_grace": 0.3 }
  }
}
EOF
id=$(job_id_of tree) || bail_out "job not accepted"
t0=$(now)
is_exit 1 "orchctl wait exits 1" ctl wait "$id" --timeout 20
elapsed=$((($(now) - t0) / 1000000))
diag "job ended ${elapsed} ms after it was listed"
expect_node "$id" tree failed timeout
is "$(node_field "$id" tree attempts)" 1 "one attempt (no retry configured)"
is "$(job_field "$id" reason)" timeout "job reason is the node's reason"
ok "the node ended within 5 s (timeout 0.5 + grace 0.3)" test "$elapsed" -lt 5000

mapfile -t pids < <(find "$W/pids" -maxdepth 1 -name '[0-9]*' -printf '%f\n')
is "${#pids[@]}" 4 "spin recorded 4 pids (itself and 3 children)"
for p in "${pids[@]}"; do
        echo "$p" >>"$T/kill/spin"
done
survivors=()
for p in "${pids[@]}"; do
        # A process killed a moment ago may not be reaped yet; a zombie does not count as alive.
        wait_for 10 eval "! pid_alive $p" || survivors+=("$p")
done
is "${survivors[*]:-}" "" "every process of the tree is gone"
ok "the log shows spin ran" grep -q "ready" "$SPOOL/jobs/$id/logs/tree.1.log"
done_testing
