#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A diamond a → {b, c} → d: every dependency ends before its dependent starts, b and c run in parallel,
# the node environment of SPEC §3 (clean PATH, job/node env, ORCH_*, stdin /dev/null, cwd = home) and
# job.json as the accepted bytes.

. "$(dirname "$0")/lib.sh"

make_recorder
start_orchd --max-parallel 4

# Node a also dumps its environment, stdin and cwd into its log. b and c each end only once both have
# started (a rendezvous on the third start line, not 0.4 s each that load could stretch apart), so they
# overlap when they run in parallel, and hang (the wait below fails) if they do not.
drop_job diamond <<EOF
{
  "name": "diamond",
  "env": { "JOB_VAR": "from-job", "OVERRIDE": "job" },
  "nodes": {
    "a": { "cmd": ["/bin/sh", "-c", "env; echo STDIN=\$(readlink /proc/self/fd/0); echo CWD=\$(pwd); exec $W/rec a 0.2"],
           "env": { "OVERRIDE": "node" } },
    "b": { "cmd": ["$W/rec", "b", "+3"], "after": ["a"] },
    "c": { "cmd": ["$W/rec", "c", "+3"], "after": ["a"] },
    "d": { "cmd": ["$W/rec", "d", "0.1"], "after": ["b", "c"] }
  }
}
EOF

id=$(job_id_of diamond) || bail_out "job not accepted"
is "$id" 1 "first job in a fresh spool gets id 1"
is_exit 0 "orchctl wait exits 0 for a succeeded job" ctl wait "$id" --timeout 30
is "$(job_field "$id" state)" succeeded "job succeeded"
is "$(job_field "$id" reason)" null "job reason is null"
for n in a b c d; do
        is "$(node_field "$id" "$n" state)/$(node_field "$id" "$n" attempts)/$(node_field "$id" "$n" exit_code)" \
                "succeeded/1/0" "node $n succeeded on attempt 1 with exit code 0"
done

a_end=$(event_time end a)
b_start=$(event_time start b) b_end=$(event_time end b)
c_start=$(event_time start c) c_end=$(event_time end c)
d_start=$(event_time start d)
ok "b starts after a ends" test "${b_start:-0}" -ge "${a_end:-1}"
ok "c starts after a ends" test "${c_start:-0}" -ge "${a_end:-1}"
ok "d starts after b ends" test "${d_start:-0}" -ge "${b_end:-1}"
ok "d starts after c ends" test "${d_start:-0}" -ge "${c_end:-1}"
ok "b and c overlap (independent nodes run in parallel)" \
        test "${b_start:-1}" -lt "${c_end:-0}" -a "${c_start:-1}" -lt "${b_end:-0}"
is "$(grep -c '^start d ' "$W/events")" 1 "d ran exactly once"
[ "$_tap_failed" -eq 0 ] || diag_file "$W/events"

log=$SPOOL/jobs/$id/logs/a.1.log
ok "node output lands in jobs/ID/logs/a.1.log" test -s "$log"
for v in "ORCH_JOB_ID=$id" "ORCH_JOB_NAME=diamond" "ORCH_NODE=a" "ORCH_ATTEMPT=1" "PATH=$NODE_PATH" \
        "JOB_VAR=from-job" "OVERRIDE=node" "STDIN=/dev/null"; do
        ok "a's environment has $v" grep -qx -- "$v" "$log"
done
home=$(getent passwd "$(id -u)" | cut -d: -f6)
ok "a's cwd defaults to the owner's home ($home)" grep -qx -- "CWD=$home" "$log"
ok "a's environment has HOME, USER, LOGNAME and SHELL" \
        sh -c "grep -q '^HOME=' '$log' && grep -q '^USER=' '$log' && grep -q '^LOGNAME=' '$log' && grep -q '^SHELL=' '$log'"
ok "the daemon's own environment does not leak into nodes" sh -c "! grep -q '^ORCHD=' '$log'"
ok "b's log exists as b.1.log" test -e "$SPOOL/jobs/$id/logs/b.1.log"

ok "jobs/ID/job.json holds the accepted bytes" cmp "$T/dropped/diamond.json" "$SPOOL/jobs/$id/job.json"
ok "jobs/ID/job.json is valid JSON naming the job" \
        sh -c "jq -e '.name == \"diamond\"' '$SPOOL/jobs/$id/job.json' >/dev/null"
ok "jobs/ID/state.json exists" test -e "$SPOOL/jobs/$id/state.json"
ok "new/ is empty after acceptance" test -z "$(ls -A "$SPOOL/new")"
# Working directories (SPEC §3 cwd): the owner's home by default, the job's cwd, a node's own cwd.
drop_job dirs <<EOF
{ "nodes": { "home": { "cmd": ["/bin/sh", "-c", "pwd > $W/cwd.home"] } } }
EOF
drop_job dirs2 <<EOF
{ "cwd": "$W", "nodes": { "job": { "cmd": ["/bin/sh", "-c", "pwd > $W/cwd.job"] },
                          "node": { "cmd": ["/bin/sh", "-c", "pwd > $W/cwd.node"], "cwd": "/" } } }
EOF
idd=$(job_id_of dirs) || bail_out "job dirs not accepted"
idd2=$(job_id_of dirs2) || bail_out "job dirs2 not accepted"
is_exit 0 "job dirs succeeds" ctl wait "$idd" --timeout 20
is_exit 0 "job dirs2 succeeds" ctl wait "$idd2" --timeout 20
is "$(cat "$W/cwd.home")" "$(getent passwd "$(id -u)" | cut -d: -f6)" "default cwd is the owner's home"
is "$(cat "$W/cwd.job")" "$(cd "$W" && pwd -P)" "the job's cwd applies to its nodes"
is "$(cat "$W/cwd.node")" / "a node's cwd overrides the job's"

# A working directory that does not exist: the node fails to start, and the log says it was the directory.
drop_job nocwd <<EOF
{ "nodes": { "x": { "cmd": ["/bin/true"], "cwd": "$W/no-such-dir" } } }
EOF
idn=$(job_id_of nocwd) || bail_out "job nocwd not accepted"
is_exit 1 "a node whose cwd is missing fails" wait_job "$idn"
is "$(node_field "$idn" x reason)" "spawn:ENOENT" "with spawn:ENOENT"
ok "the log names the directory, not just the program" \
        grep -q "Working directory $W/no-such-dir of '/bin/true' is not usable: No such file or directory" "$T/orchd.log"
done_testing
