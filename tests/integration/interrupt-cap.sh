#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The cap on interrupted reruns (issue 9, point 7): a node that was running each time orchd died is rerun
# MaxInterruptedReruns= times in a row (default 3), and the next time it fails with reason "interrupted",
# so a node that takes the daemon down with it cannot loop for ever. The count is in the node's record,
# so it survives the restarts. A node interrupted fewer times runs again and succeeds; a clean stop
# (SIGTERM) is not a crash and does not count.
#
# orchd runs with KillNodes=yes, whose keepers leave with it: each kill -9 then takes the running node's
# supervisor too, which is what the cap is about (with the default KillNodes=no the node runs on and is
# adopted: keeper-restart.sh).

. "$(dirname "$0")/lib.sh"

# $W/node NAME GATE: append "start NAME" to the ledger, wait until GATE exists.
cat >"$W/node" <<EOF
#!/bin/sh
echo \$\$ >>"$W/pids"
echo "start \$1" >>"$W/ledger"
while [ ! -e "\$2" ]; do sleep 0.01; done
EOF
chmod +x "$W/node"
: >"$W/ledger"
track_pid_file "$W/pids"

starts() { # starts NAME: how many times node NAME started
        grep -cx "start $1" "$W/ledger"
}

disk_node() { # disk_node ID NODE FILTER: jq FILTER on the node's record on disk
        disk_view "$1" | jq -r --arg n "$2" ".nodes[\$n] | $3"
}

started_at_least() { [ "$(starts "$1")" -ge "$2" ]; }

running_at() { # running_at ID NODE ATTEMPT: bail out unless the node starts its ATTEMPT and that is on disk
        wait_for 20 disk_node_is "$1" "$2" running "$3" && wait_for 20 started_at_least "$2" "$3" ||
                bail_out "node $2 of job $1 is not recorded running at attempt $3: $(disk_view "$1" | jq -c ".nodes.$2")"
}

# ---- a node the daemon dies under every time: 3 reruns, then it fails

start_orchd --kill-nodes yes
drop_job doomed <<EOF
{ "nodes": { "a": { "cmd": ["$W/node", "a", "$W/never"] },
             "then": { "cmd": ["true"], "after": ["a"] } } }
EOF
id=$(job_id_of doomed) || bail_out "job doomed not accepted"
for k in 1 2 3; do
        running_at "$id" a "$k"
        kill9_orchd
        start_orchd --kill-nodes yes
        running_at "$id" a $((k + 1))
        is "$(disk_node "$id" a .crash_reruns)" "$k" "after crash $k the node's record counts $k rerun(s) in a row"
done
kill9_orchd
start_orchd --kill-nodes yes
is_exit 1 "after crash 4 (MaxInterruptedReruns=3) the job fails" ctl wait "$id" --timeout 30
expect_node "$id" a failed interrupted
expect_node "$id" then skipped upstream
is "$(starts a)" 4 "node a ran 4 times (once and 3 reruns), not a 5th"
ok "the log says why" grep -q "node a was running when orchd died, 4 times in a row; not running it again (MaxInterruptedReruns=3)" "$T/orchd.log"
jq_ok "the failure is on disk" '.nodes.a.state == "failed" and .nodes.a.reason == "interrupted"' <(disk_view "$id")

# ---- fewer crashes than that, with clean stops between them: it runs again and succeeds

drop_job lucky <<EOF
{ "nodes": { "b": { "cmd": ["$W/node", "b", "$W/go-b"] } } }
EOF
id=$(job_id_of lucky) || bail_out "job lucky not accepted"
attempt=1
for stop in kill9 term kill9 term kill9; do
        running_at "$id" b "$attempt"
        if [ "$stop" = kill9 ]; then
                kill9_orchd
        else
                stop_orchd 20 || bail_out "orchd did not stop on SIGTERM"
        fi
        start_orchd --kill-nodes yes
        attempt=$((attempt + 1))
done
running_at "$id" b "$attempt"
is "$(disk_node "$id" b .crash_reruns)" 3 "3 crashes counted, the 2 clean stops between them not"
touch "$W/go-b"
is_exit 0 "interrupted 5 times, 3 of them crashes: the job still succeeds" ctl wait "$id" --timeout 30
expect_node "$id" b succeeded null
is "$(node_field "$id" b attempts)" 6 "node b succeeded at attempt 6"
is "$(disk_node "$id" b '.crash_reruns // 0')" 0 "its record no longer counts crashes once an attempt ended"
done_testing
