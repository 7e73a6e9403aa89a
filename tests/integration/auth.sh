#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Authorization on SO_PEERCRED (SPEC §8, issue 3): root and the daemon's own uid may act on every job,
# anyone else only on jobs they own, and every refusal (exit 77) is logged with the caller's uid and the
# call. orchd as an ordinary user takes jobs only from its own uid (as root it runs a submission as the
# caller: multiuser.sh). Checked twice: with
# orchd as root (a stranger: uid 65534) and with orchd as uid 65534 (root, that uid, and a third: 65533).
# Other uids come from setpriv, so the test needs root (skipped otherwise).

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
        skip "authorization by uid" "needs root and setpriv to act as other uids"
        done_testing
fi

# Other uids must reach the socket and read the job files: $T is private otherwise.
chmod 0755 "$T"
mkdir -p "$T/files"
cat >"$T/files/hello.json" <<'EOF'
{ "cwd": "/", "nodes": { "a": { "cmd": ["/bin/true"] } } }
EOF
chmod 0644 "$T/files/hello.json"
cp "$TOP_SRCDIR/tests/integration/varlink-probe.py" "$T/varlink-probe.py"
chmod 0644 "$T/varlink-probe.py"

as_ctl() { # as_ctl UID ARGS…: orchctl on this test's socket as UID
        local u=$1
        shift
        as_uid "$u" "$ORCHCTL" -s "$SOCK" "$@"
}
refused_logged() { # refused_logged UID METHOD ID: one TAP line: the refusal is in orchd's log
        local n
        n=$(grep -c "uid $1 was refused io\.orchd\.Manager\.$2 on job $3\." "$T/orchd.log")
        if [ "$n" -ge 1 ]; then
                pass "… and logged: uid $1 was refused $2 on job $3"
        else
                fail "… and logged: uid $1 was refused $2 on job $3" "no such line in $T/orchd.log"
        fi
}
denied() { # denied UID ID: every call on job ID by UID gets 77 and is logged; the job is left as it was
        local u=$1 id=$2 state verb
        state=$(job_field "$id" state)
        is "$(as_ctl "$u" --json list --all | jq length)" 0 "uid $u lists none of the jobs of others"
        is_exit 77 "uid $u: status of job $id: 77" as_ctl "$u" status "$id"
        like "$(cat "$T/last.err")" "permission denied" "… saying permission denied"
        refused_logged "$u" Status "$id"
        for verb in Cancel Pause Resume Graph; do
                is_exit 77 "uid $u: ${verb,,} of job $id: 77" as_ctl "$u" "${verb,,}" "$id"
                refused_logged "$u" "$verb" "$id"
        done
        is_exit 77 "uid $u: cancel of one node of job $id: 77" as_ctl "$u" cancel "$id" a
        is_exit 77 "uid $u: wait for job $id: 77" as_ctl "$u" wait "$id" --timeout 5
        # orchctl wait asks Status first: the Wait call itself, from an independent client.
        is "$(as_uid "$u" python3 "$T/varlink-probe.py" "$SOCK" io.orchd.Manager.Wait "{\"id\":\"$id\"}" | jq -r .error)" \
                io.orchd.Manager.PermissionDenied "uid $u: a raw Wait call on job $id: PermissionDenied"
        refused_logged "$u" Wait "$id"
        is "$(job_field "$id" state)" "$state" "job $id is still $state: none of that changed it"
        is_exit 66 "uid $u: status of a job that does not exist: 66" as_ctl "$u" status 999
        is_exit 0 "uid $u may read the counters (stats)" as_ctl "$u" stats
}
refused_submit() { # refused_submit UID: an orchd that is not root takes no job from UID
        local u=$1
        is_exit 77 "uid $u may not submit" as_ctl "$u" submit "$T/files/hello.json"
        like "$(cat "$T/last.err")" "hello\.json: permission denied: orchd does not take jobs from uid $u\$" \
                "… and orchctl says so, naming the file and the uid"
        like "$(grep "uid $u was refused a submission" "$T/orchd.log")" "orchd \\(uid $DAEMON_UID\\) runs jobs only as itself" \
                "… which is logged with the caller's and the daemon's uid"
}
allowed() { # allowed UID ID: UID may see, pause, resume and graph job ID
        local u=$1 id=$2
        is "$(as_ctl "$u" --json list --all | jq -r --arg id "$id" '[.[] | select(.id == $id)] | length')" 1 \
                "uid $u lists job $id"
        is_exit 0 "uid $u: status of job $id" as_ctl "$u" status "$id"
        is_exit 0 "uid $u: pause job $id" as_ctl "$u" pause "$id"
        is "$(job_field "$id" state)" paused "… it is paused"
        like "$(grep "uid $u paused job $id\\." "$T/orchd.log")" . "… and orchd logged who paused it"
        is_exit 0 "uid $u: resume job $id" as_ctl "$u" resume "$id"
        is "$(job_field "$id" state)" running "… it runs again"
        is_exit 0 "uid $u: graph of job $id" as_ctl "$u" graph "$id"
}

# ------------------------------------------------------------------ orchd as root, a stranger
start_orchd
track_pid_file "$W/root.pid"
drop_job rootjob <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/root.pid; exec $W/sleep 600"] } } }
EOF
id=$(job_id_of rootjob) || bail_out "job not accepted"
wait_for 10 node_state_is "$id" a running || fail "the job started within 10 s"
is_exit 0 "a stranger (uid 65534) may list" as_ctl 65534 list
denied 65534 "$id"
ids=$(as_ctl 65534 submit "$T/files/hello.json")
is $? 0 "as root, orchd takes a stranger's submission (it runs as them)"
is "$(job_status "$ids" | jq .owner.uid)" 65534 "… owned by the stranger"
allowed 0 "$id"
is_exit 0 "root cancels its job" ctl cancel "$id"
like "$(grep "uid 0 cancelled job $id\\." "$T/orchd.log")" . "… which is logged with its uid"
is_exit 2 "root waits for it: cancelled (2)" ctl wait "$id" --timeout 20
stop_orchd

# ------------------------------------------------------------------ orchd as uid 65534
# The daemon's spool and socket live in a directory it owns; a wrapper makes start_orchd run it as 65534.
DAEMON_UID=65534
D=$T/d65534
mkdir -p "$D"
chown 65534:65534 "$D"
SPOOL=$D/spool
SOCK=$D/orchd.sock
real_orchd=$ORCHD
ORCHD=$T/orchd-as-65534
printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups %q "$@"\n' "$real_orchd" >"$ORCHD"
chmod 0755 "$ORCHD"
start_orchd
is "$(stat -c %u "/proc/$ORCHD_PID")" 65534 "orchd runs as uid 65534"
# A file in new/ must be owned by the daemon's uid: drop it as that uid.
track_pid_file "$D/job.pid"
as_uid 65534 sh -c "mkdir -p '$SPOOL/tmp' '$SPOOL/new' && cat >'$SPOOL/tmp/own.json' && mv '$SPOOL/tmp/own.json' '$SPOOL/new/'" <<EOF
{ "cwd": "/", "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo \$\$ > $D/job.pid; exec $W/sleep 600"] } } }
EOF
id=$(job_id_of own) || bail_out "job not accepted"
wait_for 10 node_state_is "$id" a running || fail "the job started within 10 s"
is "$(job_status "$id" | jq -r .owner.uid)" 65534 "the job is owned by the daemon's uid"
allowed 0 "$id"
allowed 65534 "$id"
denied 65533 "$id"
refused_submit 65533
is_exit 0 "the daemon's uid may submit" as_ctl 65534 submit "$T/files/hello.json"
is_exit 0 "the daemon's uid cancels its job" as_ctl 65534 cancel "$id"
is_exit 2 "and waits for it: cancelled (2)" as_ctl 65534 wait "$id" --timeout 20
done_testing
