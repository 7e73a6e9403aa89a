#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl stats (SPEC §5): daemon counters that match what happened — jobs by state, nodes of unfinished
# jobs, processes spawned, intake results, journal commits — as a table, as JSON and in the Prometheus
# text format.

. "$(dirname "$0")/lib.sh"

start_orchd
drop_job ok1 <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] }, "b": { "cmd": ["/bin/true"], "after": ["a"] } } }
EOF
drop_job bad1 <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "exit 3"], "retry": { "attempts": 2, "delay": 0.05 } } } }
EOF
drop_job slow <<EOF
{ "nodes": { "s": { "cmd": ["/bin/sh", "-c", "while [ ! -e $W/go ]; do $W/sleep 0.05; done"] }, "t": { "cmd": ["/bin/true"], "after": ["s"] } } }
EOF
printf '{ "nodes": ' >"$SPOOL/tmp/broken.json" && mv "$SPOOL/tmp/broken.json" "$SPOOL/new/"
id1=$(job_id_of ok1) || bail_out "ok1 not accepted"
id2=$(job_id_of bad1) || bail_out "bad1 not accepted"
id3=$(job_id_of slow) || bail_out "slow not accepted"
ctl wait "$id1" "$id2" --timeout 20 >/dev/null
wait_rejected broken.json || bail_out "broken.json not rejected"
wait_for 10 node_state_is "$id3" s running || bail_out "slow's node did not start"

ctl --json stats >"$T/stats.json"
is "$?" 0 "stats --json exits 0"
jq_ok "jobs by state: 1 succeeded, 1 failed, 1 running" \
        '.jobs.succeeded == 1 and .jobs.failed == 1 and .jobs.running == 1 and .jobs.queued == 0' "$T/stats.json"
jq_ok "nodes of unfinished jobs: 1 running, 1 pending" '.nodes.running == 1 and .nodes.pending == 1' "$T/stats.json"
jq_ok "spawned: 2 + 2 attempts + 1 = 5 processes" '.spawned == 5' "$T/stats.json"
jq_ok "intake: 3 accepted, 1 rejected" '.intake.accepted == 3 and .intake.rejected == 1' "$T/stats.json"
jq_ok "journal: commits made, at least one file each, time measured" \
        '.journal.commits > 0 and .journal.files >= .journal.commits and .journal.write_us > 0' "$T/stats.json"
jq_ok "uptime is counted" '.uptime_ms > 0' "$T/stats.json"

out=$(ctl stats)
like "$out" "Jobs: 0 queued, 1 running, 0 paused, 1 succeeded, 1 failed, 0 cancelled" "the table shows jobs by state"
like "$out" "Spawned: 5 processes" "and processes spawned"

ctl stats --prometheus >"$T/prom.txt"
is "$?" 0 "stats --prometheus exits 0"
ok "every line is a comment or 'name{labels} value' (text exposition format)" \
        sh -c "! grep -vE '^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\\{[a-z_]+=\"[a-z_]+\"\\})? [0-9.]+)\$' '$T/prom.txt'"
like "$(grep '^orchd_jobs{state="failed"}' "$T/prom.txt")" " 1\$" "orchd_jobs{state=\"failed\"} is 1"
like "$(grep '^orchd_spawned_total' "$T/prom.txt")" " 5\$" "orchd_spawned_total is 5"
is_exit 64 "--prometheus belongs to stats only" ctl list --prometheus
done_testing
