#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Ordered output (issue 11, point 1): by default a node's stdout and stderr share one pipe, so its log
# file, `orchctl logs` and its journal entries (ORCH_STREAM=output) keep the exact order it wrote them in,
# as with ninja and Slurm. Checked with nodes that alternate the two streams 2000 times (each write a
# flush of its own): as the daemon's own user (spawned directly) and as another account (through
# orchd-exec). "output": "separate" keeps two pipes: the journal entries say ORCH_STREAM=stdout|stderr
# with PRIORITY 6|4, and the log file has every byte of both. Every output entry carries the node's pid as
# ORCH_PID. The field is validated: anything but "merged" or "separate" is rejected with a message naming
# both. The journal parts need root (a real systemd-journald, tests/journald.sh); without it they are
# skipped, the rest still runs.

: "${TEST_TIMEOUT:=120}"
. "$(dirname "$0")/lib.sh"

N=2000

# --------------------------------------------------------------------------------------- validation

cat >"$T/bad.json" <<'EOF'
{ "nodes": { "a": { "cmd": ["/bin/true"], "output": "both" } } }
EOF
"$ORCHCTL" -s "$T/nope.sock" validate "$T/bad.json" >"$T/bad.out" 2>&1
is "$?" 65 "\"output\": \"both\" is invalid (validate exits 65)"
ok "the message names the field and both accepted values" \
        grep -q 'nodes\.a\.output.*expected "merged".*or "separate", got "both"' "$T/bad.out"
cat >"$T/bad2.json" <<'EOF'
{ "nodes": { "a": { "cmd": ["/bin/true"], "output": true } } }
EOF
is_exit 65 "\"output\": true is invalid" "$ORCHCTL" -s "$T/nope.sock" validate "$T/bad2.json"
cat >"$T/good.json" <<'EOF'
{ "defaults": { "output": "separate" },
  "nodes": { "a": { "cmd": ["/bin/true"], "output": "merged" }, "b": { "cmd": ["/bin/true"] } } }
EOF
is_exit 0 "\"merged\" on a node and \"separate\" in defaults are valid" \
        "$ORCHCTL" -s "$T/nope.sock" validate "$T/good.json"

# ---------------------------------------------------------------------------------------- the nodes

# One write per line (sh's printf builtin): out 1, err 1, out 2, err 2, ... The node's pid in $W/pid.NAME.
cat >"$W/alternate" <<EOF
#!/bin/sh
echo \$\$ >"\$1"
i=1
while [ \$i -le $N ]; do
        printf 'out %d\n' \$i
        printf 'err %d\n' \$i >&2
        i=\$((i + 1))
done
printf 'no newline at the end' >&2
EOF
chmod 755 "$W/alternate"
chmod 755 "$W"
want=$T/want
{
        for i in $(seq "$N"); do printf 'out %d\nerr %d\n' "$i" "$i"; done
        printf 'no newline at the end'
} >"$want"

journal=
if [ "$(id -u)" = 0 ] && command -v journalctl >/dev/null; then
        JOURNALD_CTL=$TOP_SRCDIR/tests/journald.sh
        JPID=$T/journald.pid
        lock_journald
        if "$JOURNALD_CTL" start "$JPID" >"$T/journald-start.out" 2>&1; then
                journal=1
                trap '_rc=$?; "$JOURNALD_CTL" stop "$JPID" >/dev/null 2>&1; (exit $_rc); _cleanup' EXIT
        else
                diag "no journald: $(cat "$T/journald-start.out")"
        fi
fi
CURSOR=
[ -n "$journal" ] && CURSOR=$(journalctl -n 0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')

user=
if [ "$(id -u)" = 0 ]; then
        user=o11o1
        add_account "$user" -m
        chmod 711 "$T" # the test dir is private (0700): let the account reach the socket and its files
        chmod 777 "$W" # the other account's node writes its pid file here
fi

start_orchd

cat >"$T/job.json" <<EOF
{ "nodes": {
    "merged":   { "cmd": ["$W/alternate", "$W/pid.merged"] },
    "separate": { "cmd": ["$W/alternate", "$W/pid.separate"], "output": "separate" } } }
EOF
id=$(ctl submit "$T/job.json") || bail_out "cannot submit"
is_exit 0 "the job succeeds" wait_job "$id" 60
logs=$SPOOL/jobs/$id/logs

ok "merged: the log file has stdout and stderr in the exact order written" cmp "$logs/merged.1.log" "$want"
ctl logs "$id" merged >"$T/merged.logs"
ok "merged: orchctl logs shows that exact order" cmp "$T/merged.logs" "$want"
# Two pipes are read a chunk at a time, so the file interleaves them at chunk boundaries, even mid-line:
# only the bytes themselves can be compared. (Each stream's own order is checked in the journal below.)
same_bytes() { python3 -c 'import sys; a, b = (sorted(open(f, "rb").read()) for f in sys.argv[1:]); sys.exit(a != b)' "$@"; }
is "$(wc -c <"$logs/separate.1.log")" "$(wc -c <"$want")" "separate: the log file has as many bytes as both streams"
ok "separate: and the same bytes" same_bytes "$logs/separate.1.log" "$want"

if [ -n "$user" ]; then
        cat >"$T/user.json" <<EOF
{ "nodes": { "merged": { "cmd": ["$W/alternate", "$W/pid.user"] } } }
EOF
        chmod 644 "$T/user.json"
        uid=$(ctl_as "$user" submit "$T/user.json") || bail_out "$user cannot submit"
        is_exit 0 "as another account (through orchd-exec): the job succeeds" ctl_as "$user" wait "$uid" --timeout 60
        ok "as another account: the log file keeps the exact order" cmp "$SPOOL/jobs/$uid/logs/merged.1.log" "$want"
else
        skip "as another account (through orchd-exec): the job succeeds" "needs root"
        skip "as another account: the log file keeps the exact order" "needs root"
fi

# ---------------------------------------------------------------------------------------- the journal

if [ -z "$journal" ]; then
        for d in "merged: every line is one entry, ORCH_STREAM=output, PRIORITY 6, in the exact order" \
                "merged: the last line without newline is marked ORCH_LINE_BREAK=eof" \
                "merged: every entry carries the node's pid as ORCH_PID, orchd's as _PID" \
                "separate: stdout lines are ORCH_STREAM=stdout with PRIORITY 6, in order" \
                "separate: stderr lines are ORCH_STREAM=stderr with PRIORITY 4, in order" \
                "separate: every entry carries the node's pid as ORCH_PID"; do
                skip "$d" "needs root and a journald"
        done
        done_testing
        exit 0
fi

id_of() { sed -n "s/^#define ORCH_MESSAGE_$1 \"\\([0-9a-f]*\\)\"$/\\1/p" "$TOP_SRCDIR/src/daemon/log-ids.h"; }
journal_has_job_end() { # the job's finished event is queued after all of its output
        journalctl --sync
        [ -n "$(journalctl -q -o cat ${CURSOR:+--cursor="$CURSOR"} _PID="$ORCHD_PID" ORCH_JOB="$id" \
                MESSAGE_ID="$(id_of JOB_FINISHED)")" ]
}
wait_for 30 journal_has_job_end || diag "no job-finished entry in the journal within 30 s"
journalctl -q -a -o json ${CURSOR:+--cursor="$CURSOR"} _PID="$ORCHD_PID" ORCH_JOB="$id" | jq -s . >"$T/j.json" ||
        bail_out "journalctl -o json gave no JSON"
J=$T/j.json
jq -r '.[] | select(.ORCH_NODE == "merged" and .ORCH_STREAM) | .MESSAGE' "$J" >"$T/merged.journal"
printf '\n' >>"$want" # journalctl prints each entry as a line
is "$(jq '[.[] | select(.ORCH_NODE == "merged" and .ORCH_STREAM)] | length' "$J")" "$((2 * N + 1))" \
        "merged: one entry per line ($((2 * N + 1)))"
jq_ok "merged: every line is one entry, ORCH_STREAM=output, PRIORITY 6, in the exact order" \
        '[.[] | select(.ORCH_NODE == "merged" and .ORCH_STREAM)] | all(.ORCH_STREAM == "output" and .PRIORITY == "6")' "$J"
ok "merged: the journal has the lines in the exact order written" cmp "$T/merged.journal" "$want"
jq_ok "merged: the last line without newline is marked ORCH_LINE_BREAK=eof" \
        '[.[] | select(.ORCH_NODE == "merged" and .ORCH_STREAM)] | last | .ORCH_LINE_BREAK == "eof"' "$J"
jq_ok "merged: every entry carries the node's pid as ORCH_PID, orchd's as _PID" \
        --arg pid "$(cat "$W/pid.merged")" --arg opid "$ORCHD_PID" \
        '[.[] | select(.ORCH_NODE == "merged" and .ORCH_STREAM)] | all(.ORCH_PID == $pid and ._PID == $opid)' "$J"
jq_ok "separate: stdout lines are ORCH_STREAM=stdout with PRIORITY 6, in order" --argjson n "$N" \
        '[.[] | select(.ORCH_NODE == "separate" and .ORCH_STREAM == "stdout") | [.MESSAGE, .PRIORITY]] ==
         [range(1; $n + 1) | ["out \(.)", "6"]]' "$J"
jq_ok "separate: stderr lines are ORCH_STREAM=stderr with PRIORITY 4, in order" --argjson n "$N" \
        '[.[] | select(.ORCH_NODE == "separate" and .ORCH_STREAM == "stderr") | [.MESSAGE, .PRIORITY]] ==
         [(range(1; $n + 1) | ["err \(.)", "4"]), ["no newline at the end", "4"]]' "$J"
jq_ok "separate: every entry carries the node's pid as ORCH_PID" --arg pid "$(cat "$W/pid.separate")" \
        '[.[] | select(.ORCH_NODE == "separate" and .ORCH_STREAM)] | length > 0 and all(.ORCH_PID == $pid)' "$J"

done_testing
