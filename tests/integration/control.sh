#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl against a live daemon (SPEC §5): the --json shapes of list and status, list filters, and the
# exit codes: 0, 1 failed, 2 cancelled, 64 usage, 65 invalid file, 66 no such job, 69 daemon unreachable,
# 75 wait timeout.

. "$(dirname "$0")/lib.sh"

is_exit 69 "no daemon (socket path does not exist): 69" "$ORCHCTL" -s "$T/nope.sock" list
is_exit 0 "--help exits 0" "$ORCHCTL" --help
is_exit 0 "--version exits 0" "$ORCHCTL" --version
is_exit 64 "unknown command: 64" "$ORCHCTL" -s "$T/nope.sock" frobnicate
is_exit 64 "status without a job id: 64" "$ORCHCTL" -s "$T/nope.sock" status
is_exit 64 "unknown option: 64" "$ORCHCTL" -s "$T/nope.sock" --no-such-option list

cat >"$T/valid.json" <<'EOF'
{ "name": "v", "nodes": { "a": { "cmd": ["/bin/true"] }, "b": { "cmd": "true", "after": ["a"] } } }
EOF
cat >"$T/invalid.json" <<'EOF'
{ "nodes": { "a": { "cmd": ["/bin/true"], "after": ["a"] } } }
EOF
is_exit 0 "validate of a valid file: 0 (no daemon needed)" "$ORCHCTL" -s "$T/nope.sock" validate "$T/valid.json"
is_exit 65 "validate of an invalid file: 65" "$ORCHCTL" -s "$T/nope.sock" validate "$T/invalid.json"
like "$(cat "$T/last.out" "$T/last.err")" 'invalid\.json' "validate names the invalid file"
is_exit 65 "validate of a valid and an invalid file: 65" "$ORCHCTL" validate "$T/valid.json" "$T/invalid.json"
for f in "$TOP_SRCDIR"/contrib/examples/*.json; do
        is_exit 0 "the shipped example $(basename "$f") is valid" "$ORCHCTL" validate "$f"
done

start_orchd --max-parallel 4
is_exit 0 "list on an empty daemon: 0" ctl list
is "$(ctl --json list | jq -c .)" "[]" "list --json on an empty daemon: []"
is_exit 66 "status of an unknown job: 66" ctl status 999
is_exit 66 "wait for an unknown job: 66" ctl wait 999 --timeout 1
is_exit 66 "cancel of an unknown job: 66" ctl cancel 999
is_exit 0 "ORCHD_SOCKET selects the socket" env ORCHD_SOCKET="$SOCK" "$ORCHCTL" list

track_pid_file "$W/long.pid"
drop_job shapes <<EOF
{
  "name": "shapes", "priority": 5,
  "nodes": {
    "quick": { "cmd": ["/bin/true"] },
    "long":  { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/long.pid; exec $W/sleep 30"] }
  }
}
EOF
id=$(job_id_of shapes) || bail_out "job not accepted"
wait_for 10 node_state_is "$id" quick succeeded || fail "quick succeeded within 10 s"
wait_for 10 node_state_is "$id" long running || fail "long started within 10 s"

job_status "$id" >"$W/status.json"
jq_ok "status --json is one JSON object with the SPEC §5 keys and types" --arg id "$id" --argjson uid "$(id -u)" '
        (.id == $id) and (.name == "shapes") and (.state == "running") and (.reason == null)
        and (.owner.uid == $uid) and (.owner.user | type == "string") and (.priority == 5)
        and (.submitted_at | type == "string") and (.started_at | type == "string") and (.finished_at == null)
        and (.nodes | keys == ["long", "quick"])' "$W/status.json"
jq_ok "timestamps are RFC 3339 UTC with milliseconds" '
        [.submitted_at, .started_at, .nodes.quick.started_at, .nodes.quick.finished_at]
        | all(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))' "$W/status.json"
jq_ok "a finished node: state, attempts, exit_code, signal, reason, times, duration_ms" '
        .nodes.quick | (.state == "succeeded") and (.attempts == 1) and (.exit_code == 0) and (.signal == null)
        and (.reason == null) and (.finished_at | type == "string") and (.duration_ms | type == "number")' \
        "$W/status.json"
jq_ok "a running node: finished_at, exit_code and duration_ms are null" '
        .nodes.long | (.state == "running") and (.attempts == 1) and (.exit_code == null)
        and (.finished_at == null) and (.duration_ms == null) and (.started_at | type == "string")' \
        "$W/status.json"
if [ "$_tap_failed" -ne 0 ]; then diag "status: $(cat "$W/status.json")"; fi

ctl --json list >"$W/list.json"
jq_ok "list --json is an array of job objects with counts instead of nodes" --arg id "$id" '
        (type == "array") and (length == 1) and (.[0].id == $id) and (.[0].state == "running")
        and (.[0] | has("nodes") | not) and (.[0].counts.succeeded == 1) and (.[0].counts.running == 1)
        and ([.[0].counts[]] | add == 2)' "$W/list.json"
is "$(ctl --json list --state running | jq -r '.[].id')" "$id" "list --state running shows the job"
is "$(ctl --json list --state succeeded | jq -c '[.[].id]')" "[]" "list --state succeeded does not"
is_exit 64 "list --state with a bogus state: 64" ctl list --state bogus

is_exit 0 "human status: 0" ctl status "$id"
like "$(cat "$T/last.out")" 'quick' "human status has a line for node quick"
like "$(cat "$T/last.out")" 'long.*running|running.*long' "human status shows long running"
is_exit 0 "human list: 0" ctl list
like "$(cat "$T/last.out")" "shapes" "human list shows the job's name"

t0=$(now)
is_exit 75 "wait --timeout 0.2 on a running job: 75" ctl wait "$id" --timeout 0.2
elapsed=$((($(now) - t0) / 1000000))
# A generous bound for a loaded machine; long runs 30 s, so wait returned on its own timeout.
ok "wait --timeout 0.2 returned within 20 s, long before the job ends (${elapsed} ms)" test "$elapsed" -lt 20000

is_exit 66 "cancel of an unknown node: 66" ctl cancel "$id" nosuchnode
is_exit 0 "cancel: 0" ctl cancel "$id"
is_exit 2 "wait for a cancelled job: 2" ctl wait "$id" --timeout 20
is "$(ctl --json list | jq -r --arg id "$id" '[.[] | select(.id == $id)][0].state')" cancelled \
        "a recently finished job is still in the default list"
ctl --json list --all >"$W/list-all.json"
jq_ok "list --all --json includes the finished job with finished_at" --arg id "$id" \
        'any(.[]; .id == $id and (.finished_at | type == "string"))' "$W/list-all.json"

drop_job good <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] } } }
EOF
drop_job bad <<EOF
{ "nodes": { "a": { "cmd": ["/bin/false"] } } }
EOF
idg=$(job_id_of good) || bail_out "job good not accepted"
idb=$(job_id_of bad) || bail_out "job bad not accepted"
is_exit 0 "wait for a succeeded job: 0" ctl wait "$idg" --timeout 20
is_exit 1 "wait for a failed job: 1" ctl wait "$idb" --timeout 20
is_exit 1 "wait for several jobs, one failed: 1" ctl wait "$idg" "$idb" --timeout 20
is "$(node_field "$idb" a reason)" "exit:1" "/bin/false: reason exit:1"
is "$(ctl --json status "$idb" | jq -r '.nodes.a.exit_code')" 1 "/bin/false: exit_code 1"

drop_job missing <<EOF
{ "nodes": { "a": { "cmd": ["/nonexistent/program"] } } }
EOF
idm=$(job_id_of missing) || bail_out "job missing not accepted"
is_exit 1 "a node whose program does not exist fails the job" ctl wait "$idm" --timeout 20
is "$(node_field "$idm" a reason)" "spawn:ENOENT" "reason spawn:ENOENT"
done_testing
