#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl history (issue 11, point 6): a job's audit trail from its durable journal. A job owned by one
# account gets a retry after a failed attempt, a pause and resume by its owner, a daemon killed with -9
# and restarted (orchd's recovery), and a cancel by a second account with rights (AdminGroup=): every
# step is shown in order with the right actor, before and after the restart, in the table and in --json;
# the history of a single node; an account without rights gets the access error (77). No timing window:
# the long node waits on a gate file.
#
# orchd runs with KillNodes=yes, so that the kill -9 interrupts g and its rerun is in the history.
#
# A node's start is held for the commit of its end, or for ORCHD_START_COMMIT_DELAY_USEC (250 ms by
# default): stretched to 3 s here, g's start is still held when its owner pauses the job, so the history
# must keep the start before the pause (it was noted at the commit, after the pause, before that was fixed).
export ORCHD_START_COMMIT_DELAY_USEC=3000000

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "orchctl history with several accounts" "needs root, useradd and setpriv"
        done_testing
        exit 0
fi

UO=o11hown UA=o11hadm UX=o11hoth G=o11hg
add_group "$G"
for u in "$UO" "$UA" "$UX"; do
        add_account "$u" -m
done
shadow_cmd usermod -a -G "$G" "$UA"
uido=$(id -u "$UO") uida=$(id -u "$UA")
chmod 711 "$T"
chmod 777 "$W"
start_orchd --kill-nodes yes --admin-group "$G"

# r fails its first attempt (exit 3) and is retried; g waits on its gate; h comes after g.
cat >"$W/job.json" <<EOF
{ "nodes": {
    "r": { "cmd": ["/bin/sh", "-c", "[ -e $W/r.once ] || { : > $W/r.once; exit 3; }"],
           "retry": { "attempts": 2, "delay": "10ms", "jitter": 0 } },
    "g": { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/g.pid; $(gate_cmd g)"], "after": ["r"] },
    "h": { "cmd": ["/bin/true"], "after": ["g"] } } }
EOF
chmod 644 "$W/job.json"
id=$(ctl_as "$UO" submit "$W/job.json") || bail_out "the owner cannot submit"
wait_for 20 test -s "$W/g.pid" || bail_out "g did not start"
track_pid_file "$W/g.pid"
is_exit 0 "the owner pauses the job" ctl_as "$UO" pause "$id"
is_exit 0 "the owner resumes it" ctl_as "$UO" resume "$id"

# one line per event: "node event state attempt actor reason"
trail() { # trail USER [NODE]: the --json trail as lines
        ctl_as "$1" --json history "$id" ${2:+"$2"} |
                jq -r '.events[] | [(.node // "-"), .event, .state, (.attempt|tostring),
                        (if .uid == null then .user else "\(.user):\(.uid)" end), (.reason // "-")] | join(" ")'
}
before=$(trail "$UO")
diag "$before"
want_before="- submit queued 0 $UO:$uido -
- start running 0 orchd -
r start running 1 orchd -
r backoff retry_wait 1 orchd exit:3
r retry running 2 orchd -
r end succeeded 2 orchd -
g start running 1 orchd -
- pause paused 0 $UO:$uido -
- resume running 0 $UO:$uido -"
is "$before" "$want_before" "before the restart: submission, start, retry, pause and resume, in order, with their actors"
jq_ok "--json: numbered from 0 in order, RFC 3339 times, not partial, nothing dropped" \
        '.partial == false and .dropped == 0 and ([.events[].number] == [range(0; .events | length)]) and
         all(.events[]; .at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$"))' \
        <(ctl_as "$UO" --json history "$id")
table=$(ctl_as "$UO" history "$id")
like "$(head -1 <<<"$table")" "^TIME +NODE +EVENT +STATE +ATTEMPT +ACTOR +REASON$" "the table has its header"
like "$table" "backoff +retry_wait +1 +orchd +exit:3" "and a backoff row by orchd with its reason"
like "$table" "pause +paused +- +$UO \\($uido\\)" "and the pause by its owner (user and uid)"

# kill -9 while g runs: the restarted orchd takes the job over and reruns g (on_interrupt=rerun).
kill9_orchd
start_orchd --kill-nodes yes --admin-group "$G"
is "$(trail "$UO" | head -9)" "$want_before" "after kill -9 and a restart: the same history"
wait_for 20 sh -c "$(printf '%q ' "$ORCHCTL" -s "$SOCK" --json history "$id") | jq -e '[.events[] | select(.node == \"g\" and .event == \"start\")] | length == 2' >/dev/null" ||
        fail "g was not started again after the restart"
is_exit 77 "an account without rights may not read the history" ctl_as "$UX" history "$id"
like "$(ctl_as "$UX" history "$id" 2>&1)" "$id" "and the error names the job"
is_exit 0 "an AdminGroup= member cancels the job" ctl_as "$UA" cancel "$id"
is_exit 2 "the job ends cancelled" ctl wait "$id" --timeout 20

after=$(trail "$UO" | tail -n +10)
diag "$after"
want_after="- recover running 0 orchd -
g requeue pending 1 orchd interrupted
g start running 2 orchd -
- cancel running 0 $UA:$uida -
h cancel cancelled 0 orchd cancelled
g cancel cancelled 2 orchd cancelled
- end cancelled 0 orchd cancelled"
# h (pending) is cancelled at once; g when its process has ended.
is "$after" "$want_after" "after it: orchd's recovery, g's rerun, the cancel by the admin, the ends"
is "$(trail "$UA" g | cut -d' ' -f2 | paste -sd' ')" "start requeue start cancel" "history JOB NODE: that node's entries only"
is_exit 66 "history of an unknown node: exit 66" ctl_as "$UO" history "$id" nosuch
is_exit 66 "history of an unknown job: exit 66" ctl history 99999

# The trail is durable: a finished job's comes from its files, across another restart.
stop_orchd
start_orchd --kill-nodes yes --admin-group "$G"
is "$(trail root)" "$want_before
$want_after" "a finished job's history survives a restart whole"
jq_ok "state.json carries the history" '.history.events | length == 16' "$SPOOL/jobs/$id/state.json"

# A manual retry by the owner goes on from there: the request per node, then orchd's requeue and run.
open_gate g
is_exit 0 "the owner retries the cancelled job" ctl_as "$UO" retry "$id"
is_exit 0 "and it succeeds" ctl wait "$id" --timeout 20
is "$(trail "$UO" | tail -n +17)" "g retry-request pending 2 $UO:$uido -
h retry-request pending 0 $UO:$uido -
- requeue queued 0 orchd -
g requeue pending 2 orchd -
h requeue pending 0 orchd -
- start running 0 orchd -
g start running 3 orchd -
g end succeeded 3 orchd -
h start running 1 orchd -
h end succeeded 1 orchd -
- end succeeded 0 orchd -" "the retry by its owner, and the new round, follow"
# A retry whose delay ends while the commit that records its wait is still being written (a slow disk:
# each fsync of the committer held 300 ms) waits for that commit, so the backoff is in the journal and the
# trail. Before, under load, the 10 ms delay ended first and the trail went from attempt 1 to attempt 2
# with no backoff between them.
if command -v strace >/dev/null; then
        cat >"$W/slow.json" <<EOF
{ "nodes": { "s": { "cmd": ["/bin/sh", "-c", "[ -e $W/s.once ] || { : > $W/s.once; exit 3; }"],
                    "retry": { "attempts": 2, "delay": "10ms", "jitter": 0 } } } }
EOF
        strace_attach "$T/strace-slow" fsync,fdatasync "fsync,fdatasync:delay_enter=300000" orchd-commit ||
                bail_out "cannot attach strace to orchd's committer"
        sid=$(ctl submit "$W/slow.json") || bail_out "cannot submit slow.json"
        is_exit 0 "with a slow committer the retried job succeeds" ctl wait "$sid" --timeout 120
        strace_detach
        is "$(ctl --json history "$sid" | jq -r '.events[] | select(.node == "s") |
                [.event, .state, (.attempt | tostring)] | join(" ")')" "start running 1
backoff retry_wait 1
retry running 2
end succeeded 2" "with a slow committer the backoff is still in the trail, before the retry"
else
        skip "a slow committer" "needs strace"
fi
done_testing
