#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl logs JOB [NODE] [--attempt N] [-f] (SPEC §5, §7): a node's output byte for byte (invalid UTF-8 as
# U+FFFD, several chunks, no final newline), attempts of a retried node, every node with prefixes, --json,
# following a running node, a node that has not started yet and a whole job, the error exit codes, and
# a client that stops reading a large stream: the daemon neither grows nor cuts it off, stays responsive,
# and the client later gets the whole file.

: "${TEST_TIMEOUT:=180}" # several python clients, each slow to start on a loaded machine
. "$(dirname "$0")/lib.sh"

probe() { python3 "$TOP_SRCDIR/tests/integration/varlink-probe.py" "$SOCK" "$@"; }

# What a correct UTF-8 decoder shows for a file: the bytes with each invalid sequence replaced by U+FFFD.
replaced() { python3 -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1], "rb").read().decode("utf-8", "replace").encode())' "$1"; }

start_orchd --max-parallel 4

# 1 MiB and a bit of mixed output: text, a multibyte character cut by each of the first chunk boundaries,
# NUL bytes, invalid bytes (a lone 0xff, an overlong form, a surrogate), a truncated sequence, no final newline.
python3 - "$W/mixed.bin" <<'PY'
import sys
out = bytearray()
line = 0
while len(out) < (1 << 20) + 4096:
    out += b"line %06d: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n" % line
    line += 1
for k in (1, 2, 3):
    pos = k * 65536 - k  # a 4-byte character across the boundary of chunk k
    out[pos:pos] = b"\xf0\x9f\x98\x80"
out += b"nul\x00byte \xff lone, \xc0\xaf overlong, \xed\xa0\x80 surrogate, \xe2\x82 truncated, end"
open(sys.argv[1], "wb").write(out)
PY
printf 'attempt-specific\n' >"$W/small.txt"
drop_job mixed <<EOF
{ "nodes": {
    "bin":   { "cmd": ["/bin/cat", "$W/mixed.bin"] },
    "empty": { "cmd": ["/bin/true"] },
    "flaky": { "cmd": ["/bin/sh", "-c", "echo \"attempt \$ORCH_ATTEMPT one\"; echo \"attempt \$ORCH_ATTEMPT two\"; [ \$ORCH_ATTEMPT -ge 2 ]"],
               "retry": { "attempts": 3, "delay": 0.05 } },
    "never": { "cmd": ["/bin/true"], "after": ["flaky"], "when": "failure" }
} }
EOF
id=$(job_id_of mixed) || bail_out "job not accepted"
wait_job "$id" || bail_out "job $id did not succeed"
logs=$SPOOL/jobs/$id/logs

ctl logs "$id" bin >"$T/bin.out"
is "$?" 0 "logs JOB NODE exits 0"
replaced "$W/mixed.bin" >"$T/bin.want"
ok "a node's output arrives byte for byte, invalid UTF-8 as U+FFFD (1 MiB, NULs, chunk boundaries, no final newline)" \
        cmp "$T/bin.out" "$T/bin.want"
ok "the log file itself holds the raw bytes" cmp "$logs/bin.1.log" "$W/mixed.bin"
ok "what orchctl prints is valid UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$T/bin.out"
is "$(tail -c 120 "$T/bin.out" | tr '\0' '0' | tr -d '\n' | grep -o 'nul0byte.*' )" \
        $'nul0byte \xef\xbf\xbd lone, \xef\xbf\xbd\xef\xbf\xbd overlong, \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate, \xef\xbf\xbd truncated, end' \
        "one U+FFFD per maximal invalid subpart"
is "$(ctl logs "$id" empty | wc -c)" 0 "a node that printed nothing: empty output"

is "$(ctl logs "$id" flaky)" $'attempt 2 one\nattempt 2 two' "without --attempt: the latest attempt (2)"
is "$(ctl logs "$id" flaky --attempt 1)" $'attempt 1 one\nattempt 1 two' "--attempt 1: the first attempt's output"
is "$(ctl logs --attempt 2 "$id" flaky)" $'attempt 2 one\nattempt 2 two' "--attempt 2 before the arguments"

ctl logs "$id" >"$T/all.out"
is "$?" 0 "logs JOB exits 0"
is "$(grep -av '^bin ' "$T/all.out")" $'flaky   | attempt 1 one\nflaky   | attempt 1 two\nflaky#2 | attempt 2 one\nflaky#2 | attempt 2 two' \
        "without NODE: every line prefixed with its node (and attempt 2), padded, in job order"
{ cat "$T/bin.want"; echo; } >"$T/bin.want-nl"
grep -a '^bin ' "$T/all.out" | sed 's/^bin     | //' >"$T/all.bin"
ok "without NODE: the big node's lines are whole, even those split across chunks (the last one ended)" \
        cmp "$T/all.bin" "$T/bin.want-nl"
is "$(ctl logs "$id" --attempt 2 | cut -d'|' -f1 | sort -u | tr -d ' ' | tr '\n' ' ')" "flaky#2 " \
        "without NODE, --attempt 2: only the nodes that have an attempt 2"

# A line longer than what orchctl holds for a node (64 KiB) is printed in pieces, each prefixed, none lost.
drop_job longline <<EOF
{ "nodes": { "l": { "cmd": ["/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\\\0' x; echo; echo after"] } } }
EOF
lid=$(job_id_of longline) || bail_out "job longline not accepted"
wait_job "$lid" || bail_out "job longline failed"
ctl logs "$lid" >"$T/long.out"
is "$(awk '{ print substr($0, 1, 4) length($0) }' "$T/long.out" | tr '\n' ' ')" "l | 65540 l | 34468 l | 9 " \
        "a 100,000-byte line is printed as prefixed pieces of at most 64 KiB"
is "$(sed 's/^l | //' "$T/long.out" | tr -d '\n' | tr -cd x | wc -c)" 100000 "and no byte of it is lost"

ctl --json logs "$id" >"$T/json.out"
is "$?" 0 "--json logs exits 0"
jq_ok "--json: one object per chunk, each with node, attempt and data" -s \
        'length > 16 and all(.[]; (.node | type) == "string" and (.attempt | type) == "number" and (.data | type) == "string")' \
        "$T/json.out"
jq -j -s '[.[] | select(.node == "bin") | .data] | add' "$T/json.out" >"$T/json.bin"
ok "--json: the data of a node's chunks joined is its output" cmp "$T/json.bin" "$T/bin.want"
is "$(jq -r -s '[.[] | "\(.node).\(.attempt)"] | unique | join(" ")' "$T/json.out")" "bin.1 flaky.1 flaky.2" \
        "--json: chunks name their node and attempt; empty outputs send none"
is "$(jq -r -s '[.[] | select(.end) | "\(.node).\(.attempt)"] | join(" ")' "$T/json.out")" "bin.1 flaky.1 flaky.2" \
        "--json: the last chunk of each attempt says end"

# Errors.
is_exit 66 "no such job: 66" ctl logs 999
like "$(cat "$T/last.err")" "no such job '999'" "it says which job"
is_exit 66 "no such node: 66" ctl logs "$id" nope
like "$(cat "$T/last.err")" "has no node 'nope'" "it says which node"
is_exit 66 "no such attempt: 66" ctl logs "$id" flaky --attempt 3
like "$(cat "$T/last.err")" "node 'flaky' of job '$id' has no attempt 3" "it says which attempt"
is_exit 66 "a node that never ran has no attempt: 66" ctl logs "$id" never
like "$(cat "$T/last.err")" "node 'never' of job '$id' has not run" "it says the node has not run"
is_exit 64 "--attempt 0: usage error" ctl logs "$id" flaky --attempt 0
is_exit 64 "--attempt x: usage error" ctl logs "$id" flaky --attempt x
is_exit 64 "logs without a job: usage error" ctl logs
is_exit 64 "logs with too many arguments: usage error" ctl logs "$id" bin extra
is_exit 64 "--follow does not apply to status" ctl status "$id" -f
is "$(probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"node\":\"bin\"}" | jq -r .error)" org.varlink.service.ExpectedMore \
        "Logs without \"more\": ExpectedMore"
is "$(probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"attempt\":0}" --more | jq -r .error)" \
        org.varlink.service.InvalidParameter "attempt 0: InvalidParameter"
probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"node\":\"flaky\",\"attempt\":1}" --more >"$T/probe.out"
is "$?" 0 "an independent varlink client gets the stream"
is "$(jq -c 'del(.parameters.data)' "$T/probe.out" | tr '\n' ' ')" \
        '{"continues":true,"parameters":{"attempt":1,"end":true,"node":"flaky"}} {"parameters":{}} ' \
        "a chunk with continues (the attempt's end), then a final reply without members"

# Following. "gate" prints a line, then waits for $W/go (written by the test once the follower has shown
# that line), then prints another; "late" runs after it.
drop_job follow <<EOF
{ "nodes": {
    "gate": { "cmd": ["/bin/sh", "-c", "echo first; while [ ! -e $W/go ]; do $W/sleep 0.05; done; printf 'second'"] },
    "late": { "cmd": ["/bin/sh", "-c", "echo late output"], "after": ["gate"] }
} }
EOF
fid=$(job_id_of follow) || bail_out "job follow not accepted"
ctl logs -f "$fid" gate >"$T/f-gate.out" 2>"$T/f-gate.err" &
f_gate=$!
track_bg $f_gate
ctl logs --follow "$fid" late >"$T/f-late.out" 2>"$T/f-late.err" &
f_late=$!
track_bg $f_late
ctl logs -f "$fid" >"$T/f-all.out" 2>"$T/f-all.err" &
f_all=$!
track_bg $f_all
ok "the follower shows the running node's first line" wait_for 20 grep -qx first "$T/f-gate.out"
is "$(node_field "$fid" gate state)" running "while the node is still running"
ok "the job follower shows it too" wait_for 20 grep -q '^gate | first$' "$T/f-all.out"
ok "the follower of a pending node is still waiting" pid_alive "$f_late"
touch "$W/go"
wait "$f_gate"
is "$?" 0 "the follower returns 0 when the attempt ends"
is "$(cat "$T/f-gate.out")" $'first\nsecond' "it got all of the attempt's output, the last line without newline"
wait "$f_late"
is "$?" 0 "the follower of a node that had not started returns 0 once its attempt ends"
is "$(cat "$T/f-late.out")" "late output" "it waited for the attempt and got its output"
wait "$f_all"
is "$?" 0 "the job follower returns 0 when the job ends"
is "$(cat "$T/f-all.out")" $'gate | first\ngate | second\nlate | late output' "it got every node's lines with prefixes"
is "$(job_field "$fid" state)" succeeded "the followed job succeeded"
is_exit 0 "following a finished attempt just prints it" ctl logs -f "$fid" gate
is "$(cat "$T/last.out")" $'first\nsecond' "and returns"

# A client that hangs up in the middle of a followed stream is dropped cleanly.
drop_job hangup <<EOF
{ "nodes": { "h": { "cmd": ["/bin/sh", "-c", "echo x; while [ ! -e $W/go2 ]; do $W/sleep 0.05; done"] } } }
EOF
hid=$(job_id_of hangup) || bail_out "job hangup not accepted"
python3 - "$SOCK" "$hid" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(20)
s.sendall(json.dumps({"method": "io.orchd.Manager.Logs", "more": True,
                      "parameters": {"id": sys.argv[2], "node": "h", "follow": True}}).encode() + b"\0")
buf = b""
while b"\0" not in buf:
    buf += s.recv(65536)
s.close()
PY
touch "$W/go2"
is_exit 0 "after a follower hung up, the job goes on and ends" wait_job "$hid"

# A slow reader: a node prints 12 MiB (the log cap is 64 MiB; control.c cuts off a stream that lags by 8 MiB).
# A client asks for it and reads nothing. The daemon must not buffer the file, must not cut the client
# off, and must keep answering others; when the client reads, it gets the file exactly.
drop_job big <<EOF
{ "nodes": { "big": { "cmd": ["/bin/sh", "-c", "yes 'The quick brown fox jumps over the lazy dog 0123456789' | head -c 12582912"] } } }
EOF
bid=$(job_id_of big) || bail_out "job big not accepted"
wait_job "$bid" || bail_out "job big failed"
is "$(stat -c %s "$SPOOL/jobs/$bid/logs/big.1.log")" 12582912 "the big node's log holds 12 MiB"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$ORCHD_PID/status"; }
rss_before=$(rss)
mkfifo "$T/slow.ctl"
python3 - "$SOCK" "$bid" "$T/slow.out" "$T/slow.ctl" <<'PY' &
import fcntl, json, socket, struct, sys, termios, time
sock, job, out, ctl = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX); s.connect(sock)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(json.dumps({"method": "io.orchd.Manager.Logs", "more": True,
                      "parameters": {"id": job, "node": "big"}}).encode() + b"\0")
# Say when the daemon has started pushing (bytes wait unread in the socket), then read nothing.
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0" * 4))[0] > 0:
        open(out + ".pushed", "w").close()
        break
    time.sleep(0.01)
open(ctl).read()  # block, reading nothing from the socket, until the test says go
s.settimeout(30)
buf, data = b"", bytearray()
while True:
    chunk = s.recv(1 << 16)
    if not chunk:
        sys.exit("connection closed before the final reply")
    buf += chunk
    done = False
    while b"\0" in buf:
        msg, buf = buf.split(b"\0", 1)
        m = json.loads(msg)
        if "error" in m:
            sys.exit("error reply: %s" % m["error"])
        if not m.get("continues"):
            done = True
            break
        data += m["parameters"]["data"].encode()
    if done:
        break
open(out, "wb").write(data)
PY
slow=$!
track_bg $slow
# The daemon has begun pushing the file at the client; the status calls after that are event-loop rounds
# in which it may push (or buffer) more.
wait_for 30 test -e "$T/slow.out.pushed" || fail "the daemon sent the stalled reader nothing"
answered=0
for i in 1 2 3; do
        ctl status "$bid" >/dev/null && answered=$((answered + 1))
done
is "$answered" 3 "the daemon stays responsive while a reader is stalled (3 status calls answered)"
rss_stalled=$(rss)
diag "VmRSS before the stalled reader: $rss_before kB, while stalled: $rss_stalled kB"
ok "the daemon's RSS grew by less than 4 MiB (not by the 12 MiB file)" test $((rss_stalled - rss_before)) -lt 4096
echo go >"$T/slow.ctl"
wait "$slow"
is "$?" 0 "the stalled reader, once it reads, gets a complete stream (not cut off)"
ok "and every byte of the file" cmp "$T/slow.out" "$SPOOL/jobs/$bid/logs/big.1.log"
ok "orchd is still running" pid_alive "$ORCHD_PID"

# The daemon stops while followers wait: they end (the connection closes: 69), and orchd exits cleanly.
drop_job stopping <<EOF
{ "nodes": { "s": { "cmd": ["/bin/sh", "-c", "echo up; exec $W/sleep 30"] } } }
EOF
sid=$(job_id_of stopping) || bail_out "job stopping not accepted"
ctl logs -f "$sid" s >"$T/stop-one.out" 2>"$T/stop-one.err" &
stop_one=$!
track_bg $stop_one
ctl logs -f "$sid" >"$T/stop-all.out" 2>"$T/stop-all.err" &
stop_all=$!
track_bg $stop_all
wait_for 20 grep -qx up "$T/stop-one.out" || fail "the follower shows the node's output"
wait_for 20 grep -qx 's | up' "$T/stop-all.out" || fail "the job follower shows the node's output"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd stops cleanly with followers attached"
wait "$stop_one"
# 69 as a rule; 0 would be right too (its attempt was interrupted, so it ended), if that end were made
# durable and announced before the daemon left.
like "$?" '^(69|0)$' "a node follower ends when the daemon goes away"
wait "$stop_all"
is "$?" 69 "a job follower ends with 69 when the daemon goes away"
like "$(cat "$T/stop-all.err")" "closed unexpectedly" "and says the connection closed"
done_testing
