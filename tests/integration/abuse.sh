#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The control socket under abuse (issue 3): message size caps enforced before buffering (256 KiB for any
# call, 4 MiB + 64 KiB for Submit), garbage, truncated and malformed input, the idle deadline (also for a
# first message that never comes or never ends), clients that hang up with a call pending, SIGPIPE, the
# per-uid and total connection caps (the last 8 connections kept for root), 300 idle clients, and a client
# that pipelines calls without reading the replies (back-pressure). Every abuse ends with an error reply or
# a close, never a crash, and other users are still served. Hostile clients: control-abuse.py (raw sockets).
# The connection-cap parts act as other uids with setpriv, so they need root (skipped otherwise).

TEST_TIMEOUT=${TEST_TIMEOUT:-300}
. "$(dirname "$0")/lib.sh"

# Other uids run the helper from $T (the source tree may not be readable for them); $T holds the socket.
chmod 0755 "$T"
cp "$TOP_SRCDIR/tests/integration/control-abuse.py" "$T/control-abuse.py"
chmod 0644 "$T/control-abuse.py"
# The system's python3 first: a version manager's shim can take a second to start.
PYTHON3=$(PATH=$NODE_PATH:$PATH command -v python3) || bail_out "python3 not found"
abuse() { "$PYTHON3" "$T/control-abuse.py" "$SOCK" "$@"; }
serving() { ctl list >/dev/null 2>&1; }
alive_and_serving() { # alive_and_serving WHEN: one TAP line: the daemon is running and answers list
        if pid_alive "$ORCHD_PID" && serving; then
                pass "$1: orchd is alive and serving"
        else
                fail "$1: orchd is alive and serving"
        fi
}
first_error() { # first_error: the "error" and "reason" of the first reply line on stdin
        sed -n 1p | jq -r '"\(.error) \(.parameters.reason)"' 2>/dev/null
}
kb() { # kb FIELD: a VmXXX figure of the daemon, in kB
        awk -v f="$1:" '$1 == f { print $2 }' "/proc/$ORCHD_PID/status"
}
# Reset the daemon's peak RSS (VmHWM) to its current RSS (root only; else the check is only looser).
reset_peak() { echo 5 >"/proc/$ORCHD_PID/clear_refs" 2>/dev/null || true; }
call_of_size() { # call_of_size METHOD-PREFIX SUFFIX BYTES: PREFIX + "a"… + SUFFIX + NUL, BYTES long without NUL
        "$PYTHON3" -c 'import sys; p, s, n = sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3])
sys.stdout.buffer.write(p + b"a" * (n - len(p) - len(s)) + s + b"\0")' "$@"
}
flood() { # flood PREFIX METHOD MIN MAX MIB: 64 MiB of one call: refused once orchd took > MIN, < MAX bytes,
        # and its peak RSS grew by less than MIB MiB (three TAP lines)
        local sent grew rss0
        reset_peak
        rss0=$(kb VmRSS)
        abuse flood "$1" "$FLOOD" >"$T/flood.json"
        is "$(jq -r '"\(.reply.error) \(.reply.parameters.reason)"' "$T/flood.json")" \
                "io.orchd.Manager.ProtocolError message too large" "a 64 MiB $2 call is refused as too large"
        sent=$(jq -r .sent "$T/flood.json")
        ok "… once orchd took more than $3 but less than $4 bytes of it ($sent)" test "$sent" -gt "$3" -a "$sent" -lt "$4"
        grew=$(($(kb VmHWM) - rss0))
        ok "… and its peak RSS grew by less than $5 MiB (${grew} kB)" test "$grew" -lt $(($5 * 1024))
}
LIST_X='{"method":"io.orchd.Manager.List","parameters":{"x":"'
SUBMIT_X='{"method":"io.orchd.Manager.Submit","parameters":{"name":"big.json","job":"'
SMALL_MAX=$((256 * 1024))
CALL_MAX=$((4 * 1024 * 1024 + 64 * 1024))
FLOOD=$((64 * 1024 * 1024))

# ------------------------------------------------------------------ deadlines (a 1 s idle deadline)
ORCHD_CONTROL_IDLE_TIMEOUT=1s start_orchd
track_pid_file "$W/long.pid"
drop_job long <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/long.pid; exec $W/sleep 600"] } } }
EOF
id=$(job_id_of long) || bail_out "job not accepted"

is "$(abuse idle silent --timeout 15)" closed "a connection that never sends a call is closed (first-message deadline)"
is "$(abuse idle after-call --timeout 15)" closed "a connection idle after its call is closed (idle deadline)"
is "$(abuse idle trickle --timeout 15)" closed \
        "a call trickled a byte at a time, never finished, is closed too (partial input is no activity)"
is "$(abuse idle "wait:$id" --timeout 4)" open "a pending Wait is not idleness: still open after 4 idle deadlines"
alive_and_serving "after the deadlines"
out=$(ORCHD_CONTROL_IDLE_TIMEOUT=soon timeout 10 "$ORCHD" --spool "$T/spool2" --socket "$T/s2.sock" 2>&1)
is "$?" 1 "orchd refuses to start with a bad ORCHD_CONTROL_IDLE_TIMEOUT"
like "$out" "ORCHD_CONTROL_IDLE_TIMEOUT='soon' is not a positive duration" "and says which variable and why"
stop_orchd

# ------------------------------------------------------------------ everything else: default deadline
start_orchd
ok "the job survived the restart" wait_for 10 node_state_is "$id" a running

# Size caps, before buffering.
# (Its padding is a parameter List does not declare: the answer names it, so the call was read whole.)
is "$(call_of_size "$LIST_X" '"}}' "$SMALL_MAX" | abuse send | sed -n 1p | jq -r '"\(.error) \(.parameters.parameter)"')" \
        "org.varlink.service.InvalidParameter x" "a List call of exactly 256 KiB is answered"
is "$(call_of_size "$LIST_X" '"}}' $((SMALL_MAX + 1)) | abuse send | first_error)" \
        "io.orchd.Manager.ProtocolError message too large" "one byte more: ProtocolError 'message too large'"
flood "$LIST_X" List 0 $((1024 * 1024)) 8
alive_and_serving "after the List flood"

# Exactly the cap gets past the framing (the job text is no valid job file); one byte more does not.
is "$(call_of_size "$SUBMIT_X" '"}}' "$CALL_MAX" | abuse send --timeout 20 | first_error)" \
        "io.orchd.Manager.InvalidJob null" "a Submit call of exactly 4 MiB + 64 KiB reaches Submit"
is "$(call_of_size "$SUBMIT_X" '"}}' $((CALL_MAX + 1)) | abuse send --timeout 20 | first_error)" \
        "io.orchd.Manager.ProtocolError message too large" "one byte more: ProtocolError 'message too large'"
flood "$SUBMIT_X" Submit "$CALL_MAX" $((6 * 1024 * 1024)) 24
# A second "method" member would have the last word: it cannot smuggle a large List past the small cap.
is "$(call_of_size '{"method":"io.orchd.Manager.Submit","method":"io.orchd.Manager.List","parameters":{"x":"' \
        '"}}' $((SMALL_MAX + 4096)) | abuse send | first_error)" \
        "io.orchd.Manager.ProtocolError message too large" "Submit named first, then List: refused as too large"
alive_and_serving "after the Submit flood"
{
        printf '{ "nodes": { "a": { "cmd": ["/bin/true"] } } }'
        head -c $((1024 * 1024)) /dev/zero | tr '\0' ' '
} >"$T/padded.json"
is_exit 0 "orchctl submit of a 1 MiB job file still works (its call names Submit first)" \
        ctl submit --wait "$T/padded.json"

# Garbage, truncated and malformed input: an error reply and a close.
head -c 65536 /dev/urandom >"$T/garbage"
printf '\0' >>"$T/garbage"
abuse send <"$T/garbage" >"$T/out"
is "$(tail -n 1 "$T/out")" closed "64 KiB of random bytes: the connection is closed"
is "$(grep -vc '"io.orchd.Manager.ProtocolError"' "$T/out")" 1 "… after nothing but ProtocolError replies"
is "$(printf '{"method":"io.orchd.Manager.List","para' | abuse send --shut | tr '\n' ' ')" \
        '{"error":"io.orchd.Manager.ProtocolError","parameters":{"reason":"truncated message at end of stream"}} closed ' \
        "a call cut off by EOF: ProtocolError 'truncated message at end of stream', then a close"
like "$(printf '{"method":"io.orchd.Manager.List","parameters":{"x":"\xff\xfe"}}\0' | abuse send | first_error)" \
        "^io.orchd.Manager.ProtocolError invalid JSON at offset [0-9]+: invalid utf-8" "invalid UTF-8: ProtocolError"
is "$(printf '\0' | abuse send | first_error)" "io.orchd.Manager.ProtocolError truncated JSON" "a NUL alone: ProtocolError"
"$PYTHON3" -c 'import sys; sys.stdout.buffer.write(b"{\"method\":\"io.orchd.Manager.List\",\"parameters\":{\"x\":" + b"[" * 100000 + b"]" * 100000 + b"}}\0")' >"$T/deep"
like "$(abuse send <"$T/deep" | first_error)" "^io.orchd.Manager.ProtocolError invalid JSON at offset [0-9]+: nesting too deep" \
        "JSON nested 100,000 deep: ProtocolError 'nesting too deep'"
printf '{"method":"io.orchd.Manager.List"}' | abuse send --no-read --repeat 50 >/dev/null
alive_and_serving "after the malformed input"

# Hanging up with a call pending or unanswered; SIGPIPE.
printf '{"method":"io.orchd.Manager.Wait","parameters":{"id":"%s"}}\0' "$id" | abuse send --no-read --repeat 20 >/dev/null
printf '{"method":"io.orchd.Manager.Status","parameters":{"id":"%s"}}\0' "$id" | abuse send --no-read --repeat 200 >/dev/null
alive_and_serving "after 20 clients hung up on a pending Wait and 200 right after a call"
ok "each hung-up Wait is dropped at once, not kept until the job ends" \
        wait_for 10 sh -c "grep -c 'A Wait caller of job $id went away' '$T/orchd.log' | grep -qx 20"
is_exit 0 "the job the hung-up Waits waited for can be cancelled" ctl cancel "$id"
is_exit 2 "and a live Wait still gets its end (cancelled: 2)" ctl wait "$id" --timeout 20
kill -PIPE "$ORCHD_PID"
alive_and_serving "after a SIGPIPE"

# Back-pressure: a client pipelines 2,000 Status calls of a 1,000-node job (1 KiB each, 2 MiB in all), then
# cancels a job ("marker"), and reads no reply. Once a reply or two are unsent, orchd stops reading that
# connection: the client stalls with most calls unsent, instead of orchd queueing 2,000 replies (~150 MB,
# measured once the marker is cancelled, should orchd take every call). The replies come later, in order.
"$PYTHON3" -c 'import json, sys
n = {"gate": {"cmd": ["/bin/sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.05; done", sys.argv[1]]}}
n.update({"node-%04d" % i: {"cmd": ["/bin/true"], "after": ["gate"]} for i in range(1000)})
json.dump({"nodes": n}, sys.stdout)' "$W/wide.release" | drop_job wide
wide=$(job_id_of wide) || bail_out "job wide not accepted"
ok "a 1,000-node job waits behind its gate" wait_for 20 node_state_is "$wide" gate running
diag "its status is $(ctl --json status "$wide" | wc -c) bytes"
drop_job marker <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "while [ ! -e '$W/wide.release' ]; do sleep 0.05; done"] } } }
EOF
marker=$(job_id_of marker) || bail_out "job marker not accepted"
reset_peak
rss0=$(kb VmRSS)
abuse pipeline 2000 "$wide" "$id" --go "$T/pipeline.go" \
        --last "{\"method\":\"io.orchd.Manager.Cancel\",\"parameters\":{\"id\":\"$marker\"}}" >"$T/pipeline.out" 2>&1 &
track_bg $!
echo "$!" >"$T/kill/pipeline"
wait_for 60 grep -q . "$T/pipeline.out"
is "$(sed -n 1p "$T/pipeline.out")" stalled "orchd stops reading a connection whose replies are not read"
# Only if orchd took every call: its peak comes once it has got to the last one.
[ "$(sed -n 1p "$T/pipeline.out")" = stalled ] || wait_for 60 sh -c "'$ORCHCTL' -s '$SOCK' --json status $marker | grep -q cancel"
grew=$(($(kb VmHWM) - rss0))
ok "… and its peak RSS grew by less than 16 MiB (${grew} kB)" test "$grew" -lt $((16 * 1024))
is_exit 0 "meanwhile another client's status of the same job is answered" ctl status "$wide"
touch "$T/pipeline.go"
ok "once the client reads, it gets its replies" wait_for 90 grep -q replies "$T/pipeline.out"
is "$(sed -n 2p "$T/pipeline.out")" "replies=2000 in-order=2000 last=ok" \
        "all 2,000, in the order of the calls, then the Cancel"
is "$(job_field "$marker" state)" cancelled "which took effect"
touch "$W/wide.release"
is_exit 0 "the 1,000-node job still succeeds" wait_job "$wide" 60
# However large, a reply goes out whole: the status of a 100,000-node job, about 400 times the pause bound.
"$PYTHON3" -c 'import json, sys
n = {"g": {"cmd": ["/bin/sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.05; done", sys.argv[1]]}}
n.update({"%d" % i: {"cmd": ["true"], "after": ["g"]} for i in range(99999)})
json.dump({"nodes": n}, sys.stdout, separators=(",", ":"))' "$W/huge.release" | drop_job huge
huge=$(job_id_of huge) || bail_out "job huge not accepted"
printf '{"method":"io.orchd.Manager.Status","parameters":{"id":"%s"}}\0' "$huge" |
        abuse send --shut --timeout 60 >"$T/huge.out"
diag "its status reply is $(sed -n 1p "$T/huge.out" | wc -c) bytes"
is "$(sed -n 1p "$T/huge.out" | jq '.parameters.job.nodes | length')" 100000 \
        "the status of a 100,000-node job arrives whole, in one reply"
is_exit 0 "and the job can be cancelled" ctl cancel "$huge"
alive_and_serving "after the pipelining client"

# ------------------------------------------------------------------ other uids: connection caps, idle crowds
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
        skip "connection caps and idle crowds" "needs root and setpriv to act as other uids"
        done_testing
fi

hold() { # hold UID N [--call]: UID keeps N connections (in the background); print its report when set up
        local f="$T/hold.$1"
        # Not through as_uid: $! must be the holder itself (setpriv and env exec it), so that kill reaches it.
        setpriv --reuid="$1" --regid="$1" --clear-groups env PATH="$NODE_PATH" \
                python3 "$T/control-abuse.py" "$SOCK" hold "$2" ${3:+"$3"} >"$f" 2>&1 &
        echo "$!" >"$T/kill/hold.$1"
        wait_for 30 grep -q '=' "$f" || diag "holder of uid $1 did not report: $(cat "$f")"
        cat "$f"
}
release() { # release: end every holder
        local f p
        for f in "$T"/kill/hold.*; do
                p=$(cat "$f")
                kill "$p" 2>/dev/null
                _wait_exit "$p" 10
                rm -f "$f"
        done
}
n_fds() { control_sockets; }

is "$(hold 60001 140 --call)" "open=128 closed=12" "one uid gets 128 connections; the 12 beyond them are closed"
is_exit 69 "that uid's orchctl list is turned away too" as_uid 60001 "$ORCHCTL" -s "$SOCK" list
like "$(cat "$T/last.err")" "orchd turned the connection away: your user has 128 connections open" \
        "… and orchctl says why (TooManyConnections), not just that the connection closed"
is_exit 0 "another uid's orchctl list still works" as_uid 60002 "$ORCHCTL" -s "$SOCK" list
is_exit 0 "root's orchctl status still works" ctl status "$id"
for u in 60002 60003 60004 60005 60006 60007 60008; do
        hold "$u" 128 --call >>"$T/holds"
done
is "$(sort -u "$T/holds" | tr '\n' ' ')" "open=120 closed=8 open=128 closed=0 " \
        "seven more uids get 1,016 connections in all: the last 8 of 1,024 are kept for administrators"
is "$(hold 60009 5 --call)" "open=0 closed=5" "beyond 1,016 connections, a new uid's are closed (total cap)"
is_exit 69 "so is another ordinary uid's orchctl" as_uid 60010 "$ORCHCTL" -s "$SOCK" list
like "$(cat "$T/last.err")" "the daemon has 1016 connections open" "… saying it is the total cap"
is_exit 0 "root's orchctl still works: it takes a reserved connection" ctl list
ok "orchd is still running at the total cap" pid_alive "$ORCHD_PID"
release
ok "once the holders are gone, root's orchctl works again" wait_for 10 serving

fds0=$(n_fds)
hold 60011 100 >/dev/null
hold 60012 100 >/dev/null
hold 60013 100 >/dev/null
fds_at_least() { [ "$(n_fds)" -ge "$1" ]; }
ok "300 idle clients of 3 uids are connected" wait_for 10 fds_at_least $((fds0 + 300))
is_exit 0 "with them connected, root's orchctl status works" ctl status "$id"
is_exit 0 "and another uid's orchctl list works" as_uid 60014 "$ORCHCTL" -s "$SOCK" list
release
alive_and_serving "after the idle crowd"
done_testing
