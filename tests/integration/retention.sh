#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Retention of finished jobs (issue 9, point 4): KeepFinished= by count and by age (the age set in the state
# file, no sleeping), applied at start, as jobs end, on reload and by orchctl gc; orchctl remove of a finished
# job (gone from status and from disk, its id never handed out again) and its refusals: an unfinished job
# (75), another user's job (77), gc by a user who is not an administrator (77). A removal is crash-safe: a
# half-deleted jobs/.rm-ID left by a crash is finished at the next start, and a kill -9 in the middle of
# removing a job with many files leaves either the whole job or nothing, never a corrupt one.

TEST_TIMEOUT=${TEST_TIMEOUT:-180}
. "$(dirname "$0")/lib.sh"

one_job() { # one_job NAME: a one-node job that appends NAME to $W/ledger
        drop_job "$1" <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo $1 >> $W/ledger"] } } }
EOF
}
finished_ids() { # finished_ids: the ids in jobs/ (sorted, one line)
        find "$SPOOL/jobs" -mindepth 1 -maxdepth 1 -name '[1-9]*' -printf '%f\n' | sort -n | tr '\n' ' ' | sed 's/ $//'
}
jobs_are() { [ "$(finished_ids)" = "$1" ]; }

# --- by count: KeepFinished=3 keeps the three most recently finished --------------------------------
start_orchd --keep-finished 3
for n in c1 c2 c3 c4 c5; do
        one_job "$n"
        id=$(job_id_of "$n") || bail_out "job $n not accepted"
        wait_job "$id" || bail_out "job $n did not succeed"
done
ok "KeepFinished=3: only the three newest finished jobs stay in jobs/" wait_for 10 jobs_are "3 4 5"
is_exit 66 "status of a collected job: no such job (66)" ctl status 1
is "$(ctl --json list --all | jq -r '[.[].id] | join(" ")')" "3 4 5" "list --all shows the kept jobs"

# --- remove ------------------------------------------------------------------------------------------
is_exit 0 "orchctl remove of a finished job exits 0" ctl remove 5
ok "its directory is gone once remove returned" test ! -e "$SPOOL/jobs/5"
is_exit 66 "its status: no such job (66)" ctl status 5
is "$(ctl --json list --all | jq -r '[.[].id] | join(" ")')" "3 4" "list --all no longer shows it"
is_exit 66 "removing it again: no such job (66)" ctl remove 5

drop_job hold <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo hold >> $W/ledger; while [ ! -e $W/release ]; do $W/sleep 0.05; done"] } } }
EOF
hid=$(job_id_of hold) || bail_out "job hold not accepted"
is "$hid" 6 "the id of a removed job is not given again (6 after 5 was removed)"
wait_for 10 grep -qx hold "$W/ledger" || bail_out "hold did not start"
out=$(ctl remove "$hid" 2>&1)
is $? 75 "remove of a running job is refused with 75"
like "$out" "not finished" "and says it has not finished"
ok "the running job's directory is untouched" test -e "$SPOOL/jobs/$hid/job.json"
touch "$W/release"
wait_job "$hid" || fail "hold did not succeed after its release"

# --- reload: a lower KeepFinished= applies at once ---------------------------------------------------
stop_orchd || bail_out "orchd did not stop"
printf '[Daemon]\nKeepFinished=infinity\n' >"$T/orchd.conf"
start_orchd
ok "KeepFinished=infinity keeps everything" jobs_are "3 4 6"
printf '[Daemon]\nKeepFinished=1\n' >"$T/orchd.conf"
kill -HUP "$ORCHD_PID"
ok "after SIGHUP with KeepFinished=1 only the newest stays" wait_for 10 jobs_are "6"
stop_orchd || bail_out "orchd did not stop"
start_orchd --keep-finished infinity
one_job n7
id7=$(job_id_of n7) || bail_out "n7 not accepted"
is "$id7" 7 "ids go on after a restart that follows removals (7)"
wait_job "$id7" || fail "n7 did not succeed"

# --- by age: a job that finished two days ago goes at start with KeepFinished=1d ---------------------
stop_orchd || bail_out "orchd did not stop"
old=$((($(date +%s) - 2 * 86400) * 1000000))
jq -c --argjson t "$old" '.job.finished_at = $t | .job.started_at = $t | .job.submitted_at = $t' \
        "$SPOOL/jobs/6/state.json" >"$T/state.json" && mv "$T/state.json" "$SPOOL/jobs/6/state.json"
start_orchd --keep-finished 1d
ok "KeepFinished=1d: the job that ended two days ago is removed at start" wait_for 10 jobs_are "7"
grep -q "Removed 1 finished job(s) per KeepFinished=" "$T/orchd.log" && pass "the collection is logged" ||
        fail "the collection is logged"
ok "the job that ended just now stays" test -e "$SPOOL/jobs/7/state.json"

# --- orchctl gc applies the policy on demand (an age of 1s: poll, bounded, until n8 is that old) -----
stop_orchd || bail_out "orchd did not stop"
start_orchd --keep-finished 1s
one_job n8
id8=$(job_id_of n8) || bail_out "n8 not accepted"
wait_job "$id8" || fail "n8 did not succeed"
# Job 7 (from before) may go at the first call, n8 once it is 1 s old: gc until both are gone.
gc_emptied() { ctl --json gc | jq -e '.removed >= 0' >/dev/null && jobs_are ""; }
ok "orchctl gc removes the jobs older than KeepFinished=1s, n8 included" wait_for 10 gc_emptied
ok "they are gone from list --all" test "$(ctl --json list --all | jq length)" = 0
like "$(ctl gc)" "^Removed 0 finished jobs; 0 jobs left\.$" "orchctl gc says what it did"

# --- crash safety ------------------------------------------------------------------------------------
stop_orchd || bail_out "orchd did not stop"
# A removal cut short after the rename: jobs/.rm-ID with some of its files deleted.
mkdir -p "$SPOOL/jobs/.rm-3/logs" && echo '{}' >"$SPOOL/jobs/.rm-3/state.json"
start_orchd --keep-finished infinity
ok "a half-removed job left by a crash is deleted at the next start" wait_for 10 test ! -e "$SPOOL/jobs/.rm-3"
ok "and is not called corrupt" test ! -e "$SPOOL/corrupt/3"

# A job with many files (20,000 extra log files, made here: running that many nodes would take long),
# removed while orchd is killed -9 as soon as the removal has begun: afterwards it is whole or gone.
one_job many
mid=$(job_id_of many) || bail_out "many not accepted"
wait_job "$mid" || fail "many did not succeed"
stop_orchd || bail_out "orchd did not stop"
(cd "$SPOOL/jobs/$mid/logs" && seq 20000 | sed 's/$/.1.log/' | xargs touch) || bail_out "cannot make log files"
start_orchd --keep-finished infinity
ctl remove "$mid" >/dev/null 2>&1 &
rm_pid=$!
track_bg $rm_pid
removal_begun() { [ -e "$SPOOL/jobs/.rm-$mid" ] || [ ! -e "$SPOOL/jobs/$mid" ]; }
wait_for 10 removal_begun || fail "the removal did not begin"
kill9_orchd
wait "$rm_pid"
start_orchd --keep-finished infinity
st=$(ctl --json status "$mid" 2>/dev/null | jq -r .state)
if [ -z "$st" ]; then
        ok "after kill -9 during remove: the job is gone and its trash is deleted" wait_for 30 test ! -e "$SPOOL/jobs/.rm-$mid"
else
        is "$st" succeeded "after kill -9 during remove: the job is whole (the removal was not durable yet)"
fi
ok "nothing was called corrupt" test ! -e "$SPOOL/corrupt"

# --- users: remove is for the owner and administrators; gc for administrators -----------------------
if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "remove and gc by other users" "needs root, useradd and setpriv"
        done_testing
        exit 0
fi
UA=o9rta UB=o9rtb
add_account "$UA" -m
add_account "$UB" -m
chmod 711 "$T"
chmod 777 "$W"
printf '{ "nodes": { "a": { "cmd": ["true"] } } }\n' >"$T/user.json"
chmod 644 "$T/user.json"
uid_job=$(ctl_as "$UA" submit --wait "$T/user.json" | head -n 1)
like "$uid_job" '^[0-9]+$' "$UA submitted a job"
is_exit 77 "another user may not remove it (77)" ctl_as "$UB" remove "$uid_job"
ok "it is still there" test -e "$SPOOL/jobs/$uid_job/job.json"
is_exit 77 "a user who is not an administrator may not run gc (77)" ctl_as "$UA" gc
like "$(ctl_as "$UA" gc 2>&1)" "only administrators" "and is told why"
is_exit 0 "the owner may remove it" ctl_as "$UA" remove "$uid_job"
ok "it is gone" test ! -e "$SPOOL/jobs/$uid_job"
grep -q "uid $(id -u "$UB") was refused io.orchd.Manager.Remove" "$T/orchd.log" &&
        pass "the refusal is logged with the caller's uid" || fail "the refusal is logged with the caller's uid"

done_testing
