#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Intake survives a crash at any step (SPEC §2: a taken file is never lost and accepted at most once).
# The daemon is down while we lay out, by hand, exactly what a crash leaves at each step of an intake
# (see spool.c): a file claimed into jobs/.intake, a half-built jobs/.#ID holding the source, and an
# accepted jobs/ID that still holds its source copy. Also: a writer that keeps the dropped file open
# and writes to it after acceptance cannot change the accepted job.

. "$(dirname "$0")/lib.sh"

# A first, finished job gives the spool its layout and id 1.
start_orchd
drop_job first <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo first >> $W/ran"] } } }
EOF
id1=$(job_id_of first) || bail_out "job first not accepted"
is_exit 0 "job first succeeds" ctl wait "$id1" --timeout 20
stop_orchd

job() { # job NAME: a one-node job that records NAME when it runs
        printf '{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo %s >> %s/ran"] } } }\n' "$1" "$W"
}
# 1. Crashed right after the claim: the file is in the private intake directory.
job claimed >"$SPOOL/jobs/.intake/claimed.json"
# 2. Crashed while building jobs/.#ID: the source was moved in, the rename to jobs/ID never happened.
mkdir -p "$SPOOL/jobs/.#2/logs"
job halfbuilt >"$SPOOL/jobs/.#2/source.halfbuilt.json"
printf '{"partial":' >"$SPOOL/jobs/.#2/job.json"
# 3. Crashed after publishing, before dropping the source copy: already accepted, must not run again.
job first >"$SPOOL/jobs/$id1/source.first.json"

start_orchd
idc=$(job_id_of claimed) || bail_out "a file left in jobs/.intake was not taken"
idh=$(job_id_of halfbuilt) || bail_out "a file left in a half-built jobs/.#ID was not taken"
is_exit 0 "the claimed file runs" ctl wait "$idc" --timeout 20
is_exit 0 "the half-built job's file runs" ctl wait "$idh" --timeout 20
is "$(grep -cx claimed "$W/ran")" 1 "the claimed file ran once"
is "$(grep -cx halfbuilt "$W/ran")" 1 "the half-built job's file ran once"
is "$(grep -cx first "$W/ran")" 1 "the published job did not run again"
ok "the half-built directory is gone" test ! -e "$SPOOL/jobs/.#2"
ok "the published job's source copy is gone" test ! -e "$SPOOL/jobs/$id1/source.first.json"
ok "intake is empty" test -z "$(ls -A "$SPOOL/jobs/.intake")"
is "$(ctl --json list --all | jq length)" 3 "three jobs in all, none twice"

# A writer that still holds the file open cannot change the accepted job.
job original >"$SPOOL/tmp/held.json"
exec 7>>"$SPOOL/tmp/held.json"
mv "$SPOOL/tmp/held.json" "$SPOOL/new/held.json"
idw=$(job_id_of held) || bail_out "job held not accepted"
cp "$SPOOL/jobs/$idw/job.json" "$T/held.accepted"
printf '{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo tampered >> %s/ran"] } } }\n' "$W" >&7
exec 7>&-
is_exit 0 "the held job succeeds" ctl wait "$idw" --timeout 20
ok "its job.json is the bytes read at acceptance" cmp "$SPOOL/jobs/$idw/job.json" "$T/held.accepted"
is "$(grep -c tampered "$W/ran")" 0 "what the writer wrote later never ran"
is "$(grep -cx original "$W/ran")" 1 "the original command ran once"
done_testing
