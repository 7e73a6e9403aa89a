#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Nothing dropped while the daemon is down is lost (SPEC §2: rescan at start): a job renamed into new/
# before orchd starts runs once it starts, and ids keep increasing across restarts. A file still in tmp/
# is a producer's unfinished write and is never taken.

. "$(dirname "$0")/lib.sh"

mkdir -p "$SPOOL/tmp" "$SPOOL/new"
drop_job offline <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo offline >> $W/ran"] } } }
EOF
cat >"$SPOOL/tmp/inflight.json" <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo inflight >> $W/ran"] } } }
EOF
cp "$SPOOL/tmp/inflight.json" "$T/inflight.copy"

start_orchd
id=$(job_id_of offline) || bail_out "job dropped while orchd was down was not taken at start"
is "$id" 1 "it gets id 1"
is_exit 0 "it succeeds" ctl wait "$id" --timeout 20
is "$(cat "$W/ran")" offline "it ran exactly once"
ok "new/ is empty" test -z "$(ls -A "$SPOOL/new")"

stop_orchd
is "$ORCHD_STATUS" 0 "orchd exits 0 on SIGTERM when idle"

drop_job second <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo second >> $W/ran"] } } }
EOF
start_orchd
id2=$(job_id_of second) || bail_out "second offline drop not taken"
is "$id2" 2 "the next job after a restart gets id 2"
is_exit 0 "it succeeds" ctl wait "$id2" --timeout 20
is "$(job_field "$id" state)" succeeded "job 1 is still listed as succeeded after the restart"

kill -HUP "$ORCHD_PID"
# The SIGHUP handler rescans before it returns, so a call answered after its log line comes after the rescan.
ok "SIGHUP: the daemon rescans" wait_for 10 grep -q "Received SIGHUP" "$T/orchd.log"
ctl list >/dev/null
ok "tmp/inflight.json is still in tmp/, unchanged" cmp "$SPOOL/tmp/inflight.json" "$T/inflight.copy"
ok "it did not become a job" test "$(ctl --json list --all | jq '[.[] | select(.name == "inflight")] | length')" = 0
ok "it never ran" sh -c "! grep -q inflight '$W/ran'"
is "$(tr '\n' ' ' <"$W/ran")" "offline second " "each dropped job ran once"
done_testing
