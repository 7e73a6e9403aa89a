#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Serving before every job is loaded (issue 9, point 4: a spool of 100,000 finished jobs serves within 2 s).
# orchd loads jobs for at most about 0.5 s at start, then serves and loads the rest on its loop. The test
# holds that loading with $ORCHD_RECOVERY_HOLD (while the file exists nothing more is loaded), so the state
# "not loaded yet" lasts as long as the test looks at it, without timing windows:
#   - Stats and List say how many jobs are not loaded; Status and Logs of such a job load it on demand;
#   - Submit, Retry and Gc are refused with 75 and a message saying why; a file dropped in new/ waits;
#   - once the hold is lifted every job is there, the waiting file is taken and runs by itself (ledger), the
#     per-user caps count exactly what they counted before the restart (UserMaxBytes= figure = the sum of
#     the user's job files), and a retry works;
#   - a job not loaded yet can be removed (the loading then skips it);
#   - a kill -9 while jobs are still unloaded (one loaded on demand) loses or corrupts nothing;
#   - an unfinished job is loaded first: its node runs again while the finished ones wait behind the hold.
#
# orchd runs with KillNodes=yes (the old stop): the gated node below is interrupted by the stop and starts
# again, which is what shows that unfinished jobs are loaded first.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "recovery in the background" "needs root, useradd and setpriv"
        done_testing
        exit 0
fi

U=o9fra
add_account "$U" -M -d /
chmod 711 "$T"
chmod 1777 "$W"
: >"$W/ledger"
chmod 666 "$W/ledger"

submit_file() { # submit_file NAME EXIT: a job file (readable by everyone) whose node notes NAME and exits EXIT
        printf '{ "name": "%s", "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo out-%s; echo %s >>%s/ledger; exit %s"] } } }\n' \
                "$1" "$1" "$1" "$W" "$2" >"$W/$1.json"
        chmod 644 "$W/$1.json"
        echo "$W/$1.json"
}
loading() { ctl --json stats | jq -r '.loading // 0'; }
loaded() { [ "$(loading)" = 0 ]; }
ran_twice() { [ "$(grep -cx bad "$W/ledger")" = 2 ]; }
user_bytes() { # user_bytes: the sum of the sizes of U's job files in jobs/ (what UserMaxBytes= counts)
        local uid s=0 f
        uid=$(id -u "$U")
        for f in "$SPOOL"/jobs/[1-9]*/state.json; do
                [ "$(jq -r .job.uid "$f")" = "$uid" ] && s=$((s + $(stat -c %s "${f%state.json}job.json")))
        done
        echo "$s"
}

start_orchd --kill-nodes yes
for spec in ok1:0 ok2:0 bad:3 ok3:0; do
        ctl_as "$U" submit "$(submit_file "${spec%:*}" "${spec#*:}")" >/dev/null || bail_out "submit ${spec%:*} failed"
done
ctl submit "$(submit_file rootjob 0)" >/dev/null || bail_out "submit rootjob failed"
for id in 1 2 3 4 5; do
        wait_job "$id" >/dev/null
done
is "$(ctl --json list --all | jq -r '[.[].state] | join(" ")')" "succeeded succeeded failed succeeded succeeded" \
        "five finished jobs before the restart"
stop_orchd || bail_out "orchd did not stop"

# The user's files as counted: UserMaxBytes= set to exactly that, so any new file is over it.
bytes=$(user_bytes)
printf '[Daemon]\nUserMaxBytes=%s\n' "$bytes" >"$T/orchd.conf"
drop_job late <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo late >> $W/ledger"] } } }
EOF
touch "$W/hold"
ORCHD_RECOVERY_HOLD=$W/hold start_orchd --kill-nodes yes

is "$(loading)" 5 "stats: 5 jobs not loaded yet"
like "$(ctl stats)" "LOADING: 5 jobs" "orchctl stats says so"
is "$(ctl --json list --all 2>"$T/list.err" | jq length)" 0 "list shows no job yet"
like "$(cat "$T/list.err")" "still loading 5 of the jobs" "and says on stderr that 5 are missing"
is "$(ctl --json status 2 | jq -r '.name + " " + .state')" "ok2 succeeded" "status of a job not loaded loads it"
like "$(ctl_as "$U" logs 2)" "out-ok2" "its owner reads its logs"
is "$(loading)" 4 "4 jobs left after that"
is "$(ctl --json list --all 2>/dev/null | jq -r '[.[].id] | join(" ")')" 2 "list shows the job loaded on demand"
is_exit 66 "status of a job that does not exist: no such job (66)" ctl status 99
out=$(ctl_as "$U" retry 3 2>&1)
is $? 75 "retry while loading: exit 75"
like "$out" "still loading the jobs it found at start \\(3 left\\)" "naming why and how many are left"
is_exit 75 "submit while loading: exit 75" ctl_as "$U" submit "$(submit_file new 0)"
is_exit 75 "gc while loading: exit 75" ctl gc
ok "the dropped file still waits in new/" test -e "$SPOOL/new/late.json"
is_exit 0 "remove of a job not loaded yet works" ctl remove 5
ok "its directory is gone" test ! -e "$SPOOL/jobs/5"
is "$(loading)" 2 "2 jobs left to load (it was one of them; the retry loaded job 3)"

# kill -9 with jobs half loaded: nothing is lost or moved to corrupt/.
kill9_orchd
ORCHD_RECOVERY_HOLD=$W/hold start_orchd --kill-nodes yes
is "$(loading)" 4 "after a kill -9 while loading: the 4 jobs left to load again"
rm "$W/hold"
ok "without the hold, every job gets loaded" wait_for 20 loaded
ok "the file that waited in new/ runs by itself" wait_for 20 grep -qx late "$W/ledger"
is "$(ctl --json list --all | jq -r '[.[] | .name + ":" + .state] | join(" ")' | sed 's/ late:[a-z]*$//')" \
        "ok1:succeeded ok2:succeeded bad:failed ok3:succeeded" "every job is there, in its state"
ok "nothing was moved to corrupt/" test -z "$(ls -A "$SPOOL/corrupt" 2>/dev/null)"
out=$(ctl_as "$U" submit "$(submit_file new 0)" 2>&1)
is $? 75 "UserMaxBytes= applies after the recovery"
like "$out" "you have $bytes bytes of job files" "with the same figure as the files on disk ($bytes)"
is_exit 0 "retry of the failed job works once loaded" ctl_as "$U" retry 3
ok "it ran again" wait_for 20 ran_twice

# Unfinished jobs are loaded first (jobs/.unfinished/ID marks them) and their nodes run while the finished
# ones are still loading: a node interrupted by a stop starts again with the hold in place.
starts() { grep -cx gated "$W/ledger"; }
started_once() { [ "$(starts)" = 1 ]; }
started_twice() { [ "$(starts)" = 2 ]; }
printf '{ "name": "gated", "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo gated >>%s/ledger; while [ ! -e %s/gate ]; do sleep 0.05; done"] } } }\n' \
        "$W" "$W" >"$W/gated.json"
gated=$(ctl submit "$W/gated.json") || bail_out "submit gated failed"
ok "its node runs" wait_for 20 started_once
ok "an unfinished job is marked" test -e "$SPOOL/jobs/.unfinished/$gated"
stop_orchd || bail_out "orchd did not stop"
touch "$W/hold"
ORCHD_RECOVERY_HOLD=$W/hold start_orchd --kill-nodes yes
ok "its node starts again while the finished jobs are not loaded" wait_for 20 started_twice
ok "(they are not: the hold keeps them)" test "$(loading)" -gt 0
rm "$W/hold"
touch "$W/gate"
wait_job "$gated" >/dev/null
is "$(ctl --json status "$gated" | jq -r .state)" succeeded "the job then succeeds"
ok "and its marker is gone" test ! -e "$SPOOL/jobs/.unfinished/$gated"
ok "so are the markers of the finished jobs" test -z "$(ls -A "$SPOOL/jobs/.unfinished")"
stop_orchd || fail "orchd did not stop"

done_testing
