#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A job whose state files are damaged does not stop the daemon (SPEC §4 recovery): at start it is moved
# to SPOOL/corrupt/ID with a log message naming the file and the problem; other jobs recover, new jobs
# never reuse its id, and nothing is deleted.

. "$(dirname "$0")/lib.sh"

start_orchd
drop_job good <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] } } }
EOF
id_good=$(job_id_of good) || bail_out "job good not accepted"
drop_job damaged <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] }, "b": { "cmd": ["/bin/true"], "after": ["a"] } } }
EOF
id_bad=$(job_id_of damaged) || bail_out "job damaged not accepted"
is_exit 0 "job good succeeds" ctl wait "$id_good" --timeout 20
is_exit 0 "job damaged succeeds" ctl wait "$id_bad" --timeout 20
stop_orchd

# Damage the second job's snapshot the way a bad disk or a careless editor would.
printf '{"version":1,"seq":' >"$SPOOL/jobs/$id_bad/state.json"
cp "$SPOOL/jobs/$id_bad/job.json" "$T/damaged.job.json"

start_orchd
ok "orchd starts with a corrupt job in the spool (running, and answering list)" \
        sh -c "kill -0 $ORCHD_PID && '$ORCHCTL' -s '$SOCK' list >/dev/null"
ok "the corrupt job was moved to corrupt/$id_bad" test -d "$SPOOL/corrupt/$id_bad"
ok "its files were kept" cmp "$SPOOL/corrupt/$id_bad/job.json" "$T/damaged.job.json"
ok "jobs/$id_bad is gone" test ! -e "$SPOOL/jobs/$id_bad"
like "$(grep -i corrupt "$T/orchd.log" | head -n 1)" "state\.json" "the log names the damaged file"
is_exit 66 "orchctl status of the corrupt job: no such job" ctl status "$id_bad"
is "$(job_field "$id_good" state)" succeeded "the intact job is still there"

drop_job after <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] } } }
EOF
id_after=$(job_id_of after) || bail_out "job after not accepted"
ok "a new job does not reuse the corrupt job's id ($id_after > $id_bad)" test "$id_after" -gt "$id_bad"
is_exit 0 "and runs" ctl wait "$id_after" --timeout 20

# A restart with the quarantined job present still works and still does not reuse its id.
stop_orchd
start_orchd
is "$(job_field "$id_after" state)" succeeded "jobs recover after the quarantine"
done_testing
