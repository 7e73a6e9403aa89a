#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Per-user limits (issue 8 point 3), orchd as root with real throwaway accounts: each cap (UserMaxJobs=,
# UserMaxNodes=, UserMaxBytes=) rejects a dropped file into rejected/ with a .error naming the limit, the
# user's figure and the cap, and refuses orchctl submit with exit 75 and the same figures; root and
# AdminGroup= members are exempt; other users are not affected; a retry that would make a finished job
# unfinished again is held to the same caps. UserMaxRunning= holds a user to its cap while an exempt
# user's nodes fill the other slots. The fair share: user A's wide job holds every slot, and the first
# slot that frees goes to user B's waiting node, not to A's next one (A's job even has the higher
# priority). Nodes are gated on files the test creates one at a time, and report their start in a ledger
# file: no sleeps as timing windows.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "per-user limits" "needs root, useradd and setpriv"
        done_testing
        exit 0
fi

UA=o8lima UB=o8limb UADM=o8limadm G=o8limgrp
add_group "$G"
for u in "$UA" "$UB" "$UADM"; do
        add_account "$u" -M -d /
done
usermod -a -G "$G" "$UADM"

chmod 711 "$T"
chmod 1777 "$W"
: >"$W/ledger"
chmod 666 "$W/ledger"

gated() { # gated NAME: a node that notes its start in the ledger, then waits for the file gate-NAME
        printf '{ "cmd": ["/bin/sh", "-c", "echo %s >>%s/ledger; until [ -e %s/gate-%s ]; do sleep 0.05; done"] }' \
                "$1" "$W" "$W" "$1"
}
job() { # job [PRIORITY] NODE…: a job file of independent gated nodes
        local prio=0 sep="" n
        case $1 in [0-9]*) prio=$1 && shift ;; esac
        printf '{ "priority": %s, "cwd": "/", "nodes": {' "$prio"
        for n in "$@"; do
                printf '%s "%s": %s' "$sep" "$n" "$(gated "$n")"
                sep=,
        done
        printf ' } }\n'
}
release() { # release NODE…
        local n
        for n in "$@"; do
                touch "$W/gate-$n"
        done
}
drop_as() { # drop_as USER NAME <<JSON: the user writes tmp/NAME.json and renames it into new/
        as "$1" sh -c "cat >'$SPOOL/tmp/$2.json' && mv '$SPOOL/tmp/$2.json' '$SPOOL/new/$2.json'"
}
error_of() { # error_of NAME: the .error file of a rejected NAME.json (wherever in rejected/ it landed)
        find "$SPOOL/rejected" -name "$1.json.error" 2>/dev/null | head -n 1
}
rejected() { [ -n "$(error_of "$1")" ]; }
lines_are() { [ "$(grep -c "^$1" "$W/ledger")" = "$2" ]; }                # lines_are PREFIX N: polled
quiet() { "$@" >/dev/null; }
no_unfinished() { [ "$(ctl --json list --all | jq '[.[] | select(.state == "queued" or .state == "running")] | length')" = 0 ]; }
submit_file() { # submit_file NAME NODE…: a job file readable by everyone, for orchctl submit
        job "${@:2}" >"$W/$1.json"
        chmod 644 "$W/$1.json"
        echo "$W/$1.json"
}

# ---- UserMaxJobs=
start_orchd --user-max-jobs 2 --admin-group "$G" --max-parallel 16
job j1 | drop_as "$UA" j1
job j2 | drop_as "$UA" j2
id1=$(job_id_of j1) && id2=$(job_id_of j2) || bail_out "A's first two jobs were not accepted"
job j3 | drop_as "$UA" j3
ok "A's third unfinished job is rejected" wait_for 10 rejected j3
like "$(cat "$(error_of j3)")" "user $UA has 2 unfinished jobs, the limit UserMaxJobs= is 2; wait for some to finish" \
        "its .error names the limit, A's figure and the cap"
f=$(submit_file s3 s3)
is_exit 75 "A's orchctl submit over the cap exits 75 (EX_TEMPFAIL)" ctl_as "$UA" submit "$f"
like "$(cat "$T/last.err")" "you have 2 unfinished jobs, the limit UserMaxJobs= is 2" "and says which limit, A's figure and the cap"
is "$(ctl_as "$UA" --json list | jq length)" 2 "nothing of A's was accepted over the cap"
ok "B is not affected by A's count" quiet ctl_as "$UB" submit "$(submit_file b1 b1)"
for k in 1 2 3; do
        ok "root is exempt (job $k)" quiet ctl submit "$(submit_file r$k r$k)"
        ok "an AdminGroup= member is exempt (job $k)" quiet ctl_as "$UADM" submit "$(submit_file adm$k adm$k)"
done
quiet ctl cancel "$id1"
is_exit 2 "A's first job ends cancelled" wait_job "$id1"
ok "with one job finished, A may submit again" quiet ctl_as "$UA" submit "$(submit_file s4 s4)"
is_exit 75 "a retry of A's cancelled job is refused while A is at the cap" ctl_as "$UA" retry "$id1"
like "$(cat "$T/last.err")" "UserMaxJobs= is 2" "naming the limit"
release j2
ok "A's second job ends once released" wait_job "$id2"
ok "below the cap, the retry is taken" quiet ctl_as "$UA" retry "$id1"
release j1 s4 b1 r1 r2 r3 adm1 adm2 adm3
ok "the retried job succeeds" wait_job "$id1"
ok "every job ends" wait_for 30 no_unfinished
stop_orchd

# ---- UserMaxNodes=
start_orchd --user-max-nodes 3 --admin-group "$G"
job n1 n2 | drop_as "$UA" nodes1
idn=$(job_id_of nodes1) || bail_out "A's 2-node job was not accepted"
job n3 n4 | drop_as "$UA" nodes2
ok "A's job that would exceed UserMaxNodes= is rejected" wait_for 10 rejected nodes2
like "$(cat "$(error_of nodes2)")" "user $UA has 2 nodes in unfinished jobs, the limit UserMaxNodes= is 3" \
        "its .error names the limit, A's figure and the cap"
is_exit 75 "A's orchctl submit of it exits 75" ctl_as "$UA" submit "$(submit_file nodes3 n5 n6)"
like "$(cat "$T/last.err")" "you have 2 nodes in unfinished jobs.*UserMaxNodes= is 3" "saying why"
ok "a 1-node job still fits" quiet ctl_as "$UA" submit "$(submit_file nodes4 n7)"
ok "root is exempt" quiet ctl submit "$(submit_file nodes5 n8 n9 n10 n11)"
release n1 n2 n7 n8 n9 n10 n11
ok "every job ends" wait_for 30 no_unfinished
stop_orchd

# ---- UserMaxBytes=: the job files of A's finished jobs still in the spool count.
bytes=0
start_orchd --user-max-bytes 4K
for id in $(ctl --json list --all | jq -r --arg u "$(id -u "$UA")" '.[] | select(.owner.uid == ($u | tonumber)) | .id'); do
        bytes=$((bytes + $(stat -c %s "$SPOOL/jobs/$id/job.json")))
done
diag "A has $bytes bytes of finished job files in the spool"
pad=$(head -c $((4096 - bytes + 100)) /dev/zero | tr '\0' x)
printf '{ "env": { "PAD": "%s" }, "cwd": "/", "nodes": { "p": { "cmd": ["true"] } } }\n' "$pad" | drop_as "$UA" big
ok "A's job file that would exceed UserMaxBytes= is rejected" wait_for 10 rejected big
like "$(cat "$(error_of big)")" "user $UA has .* of job files in the spool \\(finished jobs included\\), the limit UserMaxBytes= is 4.0 KiB" \
        "its .error names the limit, A's figure (finished jobs included) and the cap"
printf '{ "env": { "PAD": "%s" }, "cwd": "/", "nodes": { "p": { "cmd": ["true"] } } }\n' "$pad" >"$W/big2.json"
chmod 644 "$W/big2.json"
is_exit 75 "A's orchctl submit of it exits 75" ctl_as "$UA" submit "$W/big2.json"
like "$(cat "$T/last.err")" "UserMaxBytes=" "naming UserMaxBytes="
ok "root is exempt" quiet ctl submit "$W/big2.json"
ok "B is not affected" quiet ctl_as "$UB" submit "$W/big2.json"
stop_orchd

# ---- UserMaxRunning=: A holds one slot however many are free; root (exempt) takes the rest.
: >"$W/ledger"
start_orchd --user-max-running 1 --max-parallel 4
ida=$(ctl_as "$UA" submit "$(submit_file run-a a1 a2 a3)") || bail_out "A cannot submit"
idr=$(ctl submit "$(submit_file run-r r1 r2 r3)") || bail_out "root cannot submit"
ok "four nodes start (every slot)" wait_for 10 lines_are "" 4
is "$(grep -c '^a' "$W/ledger")" 1 "A runs one node (UserMaxRunning=1) although its job came first"
is "$(grep -c '^r' "$W/ledger")" 3 "root, exempt, runs three"
release a1
ok "when A's node ends, A's next one takes its slot" wait_for 10 lines_are a 2
release a2 a3 r1 r2 r3
ok "A's job ends" wait_job "$ida"
ok "root's job ends" wait_job "$idr"
stop_orchd

# ---- The fair share of MaxParallel=2: A's wide job takes both slots; B's node gets the first that frees.
: >"$W/ledger"
start_orchd --max-parallel 2
ida=$(ctl_as "$UA" submit "$(submit_file wide 10 w1 w2 w3 w4 w5)") || bail_out "A cannot submit"
ok "A's wide job takes both slots" wait_for 10 lines_are "" 2
idb=$(ctl_as "$UB" submit "$(submit_file small s1 s2)") || bail_out "B cannot submit"
is "$(node_field "$idb" s1 state)" pending "B's node waits: no slot is free"
first=$(head -n 1 "$W/ledger")
release "$first"
ok "a third node starts once A's first ends" wait_for 10 lines_are "" 3
is "$(sed -n 3p "$W/ledger")" s1 "it is B's node, not A's next (A is at its share, B below it)"
second=$(sed -n 2p "$W/ledger")
release "$second"
ok "a fourth starts once A's second ends" wait_for 10 lines_are "" 4
like "$(sed -n 4p "$W/ledger")" "^w" "it is A's: B (one running) is at its share and A below it"
release w1 w2 w3 w4 w5 s1 s2
ok "A's job ends" wait_job "$ida"
ok "B's job ends" wait_job "$idb"
stop_orchd
done_testing
