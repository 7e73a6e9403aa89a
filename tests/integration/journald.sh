#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Journal integration (SPEC §7) against a real systemd-journald: started by tests/journald.sh when none
# answers (root only; otherwise the whole test is skipped, saying why), and stopped at the end if this test
# started it. Checks, with `journalctl -o json`, that every line of node output is one entry with
# SYSLOG_IDENTIFIER=orchd, ORCH_JOB/ORCH_NODE/ORCH_ATTEMPT/ORCH_STREAM/ORCH_PID and PRIORITY 6 (stdout) or 4
# (stderr) for nodes with "output": "separate" (merged output, the default, is output-order.sh's): a long line split at 48 KiB, invalid UTF-8 and a NUL byte kept as bytes, a last line without
# newline flushed at EOF; that the state changes carry their MESSAGE_IDs with ORCH_STATE; and that without
# journald (a private mount namespace with an empty or stale /run/systemd/journal, and journald stopped
# while orchd runs) the daemon says forwarding is off and the log files are still complete. Every entry
# of the daemon carries ORCH_SPOOL, the id in SPOOL/spool-id, made once and kept across restarts and a
# move of the spool.
# The journal is global and keeps earlier runs: every query is limited to entries after a cursor taken at
# the start and to the daemon's _PID.

# A flood drained at journald's pace and journald stopped and restarted: more than the default minute
# under ASan.
: "${TEST_TIMEOUT:=180}"
. "$(dirname "$0")/lib.sh"

command -v unshare >/dev/null || skip_all "no unshare (package util-linux)"

use_journald
ours_journald=
[ -s "$JPID" ] && ours_journald=1

CURSOR=$(journalctl -n 0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')

id_of() { # the MESSAGE_IDs of src/daemon/log-ids.h
        sed -n "s/^#define ORCH_MESSAGE_$1 \"\\([0-9a-f]*\\)\"$/\\1/p" "$TOP_SRCDIR/src/daemon/log-ids.h"
}

# orchd queues entries for journald and sends them from a thread: `orchctl wait` may return before the
# last ones arrive. The job's finished event is queued after all of its output, so once it is there,
# everything before it is too.
journal_has_job_end() { # journal_has_job_end PID ID
        journalctl --sync
        [ -n "$(journalctl -q -o cat ${CURSOR:+--cursor="$CURSOR"} _PID="$1" ORCH_JOB="$2" \
                MESSAGE_ID="$(id_of JOB_FINISHED)")" ]
}

entries() { # entries PID [MATCH…]: the daemon's entries since the start as JSON lines (-a: long fields too)
        local pid=$1
        shift
        journalctl --sync
        # --cursor, not --after-cursor: with matches, journalctl 252 --after-cursor skips the first match
        # when the cursor's own entry does not match. The cursor's entry is never the daemon's anyway.
        journalctl -q -a -o json ${CURSOR:+--cursor="$CURSOR"} _PID="$pid" "$@"
}

# ---------------------------------------------------------------------------------- node output lines

cat >"$W/out" <<'EOF'
#!/bin/sh
echo "line one"
echo "warn one" >&2
echo "line two"
printf 'tail without newline'
EOF
cat >"$W/long" <<'EOF'
#!/bin/sh
head -c 100000 /dev/zero | tr '\0' x
echo
echo after
EOF
cat >"$W/bin" <<'EOF'
#!/bin/sh
printf 'bad \377\376 utf8\n'
printf 'nul\000byte\n'
EOF
cat >"$W/flaky" <<EOF
#!/bin/sh
echo "attempt \$ORCH_ATTEMPT"
[ "\$ORCH_ATTEMPT" -ge 2 ]
EOF
chmod +x "$W/out" "$W/long" "$W/bin" "$W/flaky"

start_orchd
ok "orchd says journal forwarding is on" grep -q 'Journal forwarding on' "$T/orchd.log"

drop_job lines <<EOF
{ "defaults": { "output": "separate" },
  "nodes": {
    "out":   { "cmd": ["$W/out"] },
    "long":  { "cmd": ["$W/long"] },
    "bin":   { "cmd": ["$W/bin"] },
    "flaky": { "cmd": ["$W/flaky"], "retry": { "attempts": 2, "delay": 0.05 } },
    "burst": { "cmd": ["seq", "5000"] },
    "last":  { "cmd": ["/bin/false"], "after": ["out", "long", "bin", "flaky", "burst"] } } }
EOF
id=$(job_id_of lines) || bail_out "job not accepted"
is_exit 1 "the job ends (failed: its last node fails)" ctl wait "$id" --timeout 30
wait_for 10 journal_has_job_end "$ORCHD_PID" "$id" || diag "no job-finished entry in the journal within 10 s"
entries "$ORCHD_PID" ORCH_JOB="$id" >"$T/job.json"
jq -s . "$T/job.json" >"$T/job.all.json" || bail_out "journalctl -o json gave no JSON: $(head -c 500 "$T/job.json")"
J=$T/job.all.json

out_lines() { # out_lines NODE STREAM: the node's output entries of that stream, as one JSON array
        jq -c --arg n "$1" --arg s "$2" '[.[] | select(.ORCH_NODE == $n and .ORCH_STREAM == $s)]' "$J"
}

jq_ok "every output line of 'out' on stdout, in order, each once" \
        '[.[] | select(.ORCH_NODE == "out" and .ORCH_STREAM == "stdout") | .MESSAGE] ==
         ["line one", "line two", "tail without newline"]' "$J"
jq_ok "stdout entries: PRIORITY 6, SYSLOG_IDENTIFIER=orchd, ORCH_JOB, ORCH_ATTEMPT 1" --arg id "$id" \
        '[.[] | select(.ORCH_STREAM == "stdout" and .ORCH_NODE == "out")] | length == 3 and
         all(.PRIORITY == "6" and .SYSLOG_IDENTIFIER == "orchd" and .ORCH_JOB == $id and .ORCH_ATTEMPT == "1")' "$J"
jq_ok "the last line without newline is marked ORCH_LINE_BREAK=eof, the others are not" \
        '[.[] | select(.ORCH_NODE == "out" and .ORCH_STREAM == "stdout") | .ORCH_LINE_BREAK] == [null, null, "eof"]' "$J"
jq_ok "the stderr line: ORCH_STREAM=stderr, PRIORITY 4" \
        '[.[] | select(.ORCH_NODE == "out" and .ORCH_STREAM == "stderr") | [.MESSAGE, .PRIORITY]] == [["warn one", "4"]]' "$J"
jq_ok "a 100000-byte line: entries of 49152, 49152 and 1696 bytes, then the next line" \
        '[.[] | select(.ORCH_NODE == "long" and .ORCH_STREAM == "stdout") | (.MESSAGE | length)] == [49152, 49152, 1696, 5]' "$J"
jq_ok "the pieces are marked line-max, the end of the line is not" \
        '[.[] | select(.ORCH_NODE == "long" and .ORCH_STREAM) | .ORCH_LINE_BREAK] == ["line-max", "line-max", null, null]' "$J"
jq_ok "the pieces hold the line's bytes" \
        '[.[] | select(.ORCH_NODE == "long" and .ORCH_STREAM) | .MESSAGE][0:3] | add == ("x" * 100000)' "$J"
jq_ok "invalid UTF-8 is kept byte for byte (journalctl shows the bytes)" \
        '[.[] | select(.ORCH_NODE == "bin" and .ORCH_STREAM) | .MESSAGE][0] == [98, 97, 100, 32, 255, 254, 32, 117, 116, 102, 56]' "$J"
jq_ok "a NUL byte does not cut or break the entry" \
        '[.[] | select(.ORCH_NODE == "bin" and .ORCH_STREAM) | .MESSAGE][1] == [110, 117, 108, 0, 98, 121, 116, 101]' "$J"
jq_ok "each attempt's output carries its ORCH_ATTEMPT" \
        '[.[] | select(.ORCH_NODE == "flaky" and .ORCH_STREAM) | [.ORCH_ATTEMPT, .MESSAGE]] == [["1", "attempt 1"], ["2", "attempt 2"]]' "$J"
jq_ok "a burst of 5000 lines at once: every one is an entry, in order" \
        '[.[] | select(.ORCH_NODE == "burst" and .ORCH_STREAM == "stdout") | .MESSAGE] == [range(1; 5001) | tostring]' "$J"
jq_ok "every output entry carries its node's pid as ORCH_PID (not orchd's _PID)" --arg opid "$ORCHD_PID" \
        '[.[] | select(.ORCH_STREAM)] | length > 5000 and all(.ORCH_PID | test("^[1-9][0-9]*$")) and
         all(.ORCH_PID != $opid and ._PID == $opid)' "$J"
jq_ok "the two attempts of flaky: two different ORCH_PIDs" \
        '[.[] | select(.ORCH_NODE == "flaky" and .ORCH_STREAM) | .ORCH_PID] | unique | length == 2' "$J"

# ---------------------------------------------------------------------------------------- ORCH_SPOOL

spool_id=$(cat "$SPOOL/spool-id")
like "$spool_id" '^[0-9a-f]{32}$' "SPOOL/spool-id holds a 128-bit id in hex"
is "$(stat -c '%a %s' "$SPOOL/spool-id")" "644 33" "spool-id is world-readable (0644), one line"
jq_ok "every entry of the job carries ORCH_SPOOL=the spool's id (daemon messages and node output)" \
        --arg s "$spool_id" 'length > 5000 and all(.ORCH_SPOOL == $s)' "$J"
is "$(journalctl -q -o cat ${CURSOR:+--cursor="$CURSOR"} ORCH_SPOOL="$spool_id" ORCH_JOB="$id" ORCH_NODE=out ORCH_STREAM=stdout | head -n 1)" \
        "line one" "journalctl ORCH_SPOOL=ID ORCH_JOB=N finds the job's output"

out_log_ok() { # out_log_ok FILE: the log of $W/out holds its output (stdout and stderr may interleave either way)
        [ "$(wc -c <"$1")" = 47 ] && grep -q 'line one' "$1" && grep -q 'warn one' "$1" && grep -q 'line two' "$1" &&
                grep -q 'tail without newline' "$1"
}
ok "the log file still has all of out's output" out_log_ok "$SPOOL/jobs/$id/logs/out.1.log"
is "$(wc -c <"$SPOOL/jobs/$id/logs/long.1.log")" 100007 "and all of long's"

# ------------------------------------------------------------------------------------------ events

event_ok() { # event_ok DESC KIND JQ-CONDITION: some entry with MESSAGE_ID of KIND satisfies the condition
        local mid
        mid=$(id_of "$2")
        [ -n "$mid" ] || bail_out "no ORCH_MESSAGE_$2 in src/daemon/log-ids.h"
        jq_ok "$1" --arg m "$mid" "[.[] | select(.MESSAGE_ID == \$m) | select($3)] | length > 0" "$J"
}

event_ok "job accepted: ORCH_STATE=queued, ORCH_JOB_NAME, ORCH_UID" JOB_ACCEPTED \
        '.ORCH_STATE == "queued" and .ORCH_JOB_NAME == "lines" and .ORCH_UID == "0" and .PRIORITY == "6"'
event_ok "job started: ORCH_STATE=running" JOB_STARTED '.ORCH_STATE == "running"'
event_ok "node started: ORCH_NODE, ORCH_ATTEMPT, ORCH_STATE=running" NODE_STARTED \
        '.ORCH_NODE == "out" and .ORCH_ATTEMPT == "1" and .ORCH_STATE == "running"'
event_ok "node finished: succeeded" NODE_FINISHED '.ORCH_NODE == "out" and .ORCH_STATE == "succeeded"'
event_ok "node finished: failed, with ORCH_REASON" NODE_FINISHED \
        '.ORCH_NODE == "last" and .ORCH_STATE == "failed" and .ORCH_REASON == "exit:1"'
event_ok "node retrying: ORCH_STATE=retry_wait, the failed attempt, ORCH_REASON" NODE_RETRYING \
        '.ORCH_NODE == "flaky" and .ORCH_ATTEMPT == "1" and .ORCH_STATE == "retry_wait" and .ORCH_REASON == "exit:1"'
event_ok "job finished: ORCH_STATE=failed, PRIORITY 5" JOB_FINISHED \
        '.ORCH_STATE == "failed" and .ORCH_REASON == "exit:1" and .PRIORITY == "5"'
jq_ok "every event entry has SYSLOG_IDENTIFIER=orchd and a CODE_FUNC" \
        '[.[] | select(.MESSAGE_ID)] | length >= 10 and all(.SYSLOG_IDENTIFIER == "orchd" and (.CODE_FUNC | length > 0))' "$J"
jq_ok "daemon messages are not node output (no ORCH_STREAM)" '[.[] | select(.MESSAGE_ID and .ORCH_STREAM)] == []' "$J"

drop_job slow <<EOF
{ "nodes": { "s": { "cmd": ["$W/sleep", "30"] } } }
EOF
sid=$(job_id_of slow) || bail_out "job not accepted"
wait_for 10 node_state_is "$sid" s running || diag "node s did not start"
ok "cancel the slow job" ctl cancel "$sid"
wait_job "$sid" >/dev/null
wait_for 10 journal_has_job_end "$ORCHD_PID" "$sid" || diag "no job-finished entry in the journal within 10 s"
entries "$ORCHD_PID" ORCH_JOB="$sid" | jq -s . >"$T/job.all.json"
event_ok "a control action: ORCH_ACTION=cancel with the caller's ORCH_UID" CONTROL \
        '.ORCH_ACTION == "cancel" and .ORCH_UID == "0" and .PRIORITY == "5"'
event_ok "the cancelled node: ORCH_STATE=cancelled" NODE_FINISHED '.ORCH_NODE == "s" and .ORCH_STATE == "cancelled"'
ok "the daemon's stderr still has every message with its <N> prefix" \
        grep -Eq "^<5>uid 0 cancelled job $sid\\.( |\$)" "$T/orchd.log"

# A flood beyond journald's pace: orchd's queue fills and refuses lines, and says how many. Every line is
# in the journal or counted, the log file has them all, and the job's events still get through. Long lines
# (5000 × 2000 bytes, more than the 4 MiB queue) keep journald's work, and so the load on the other tests
# that run in parallel, small: its cost is per entry.
drop_job flood <<EOF
{ "nodes": { "f": { "cmd": ["/bin/sh", "-c", "yes \$(head -c 2000 /dev/zero | tr '\\\\0' x) | head -n 5000"] } } }
EOF
fid=$(job_id_of flood) || bail_out "job not accepted"
wait_job "$fid" 60
is "$(wc -l <"$SPOOL/jobs/$fid/logs/f.1.log")" 5000 "flood: the log file has all 5000 lines"
wait_for 60 journal_has_job_end "$ORCHD_PID" "$fid" || diag "no job-finished entry in the journal within 60 s"
pid=$ORCHD_PID
stop_orchd # the attempt's count of lines not forwarded, if it could not be sent, is on stderr now
entries "$pid" ORCH_JOB="$fid" | jq -s . >"$T/job.all.json"
in_journal=$(jq '[.[] | select(.ORCH_STREAM and .ORCH_LINES_DROPPED == null)] | length' "$T/job.all.json")
reported=$(jq '[.[] | .ORCH_LINES_DROPPED // empty | tonumber] | add // 0' "$T/job.all.json")
at_exit=$(sed -n "s/^<4>Job $fid node f attempt 1: \([0-9]*\) line(s) of output not forwarded.*/\1/p" "$T/orchd.log")
is "$((in_journal + reported + ${at_exit:-0}))" 5000 \
        "flood: lines in the journal ($in_journal) + reported dropped ($reported, at exit ${at_exit:-0}) = 5000"
jq_ok "flood: the job's finished event reached the journal" --arg m "$(id_of JOB_FINISHED)" \
        '[.[] | select(.MESSAGE_ID == $m)] | length == 1' "$T/job.all.json"

# Under systemd with StandardError=journal, stderr is a journal stream named by JOURNAL_STREAM=dev:ino:
# then messages that went to the journal as entries must not be written to stderr as well.
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/orchd.log") start_orchd
pid=$ORCHD_PID
stop_orchd
is "$(grep -c 'ready: spool' "$T/orchd.log")" 0 "stderr is the journal stream (JOURNAL_STREAM): no message there twice"
is "$(entries "$pid" MESSAGE_ID="$(id_of DAEMON_READY)" | wc -l)" 1 "and the journal has it once, as an entry"

# A restart keeps the id; so does a spool moved elsewhere (the id is in the spool, not its path).
start_orchd
pid=$ORCHD_PID
stop_orchd
real_spool=$SPOOL
SPOOL=$T/moved-spool
mv "$real_spool" "$SPOOL" || bail_out "cannot move the spool"
start_orchd
pid2=$ORCHD_PID
stop_orchd
mv "$SPOOL" "$real_spool" || bail_out "cannot move the spool back"
SPOOL=$real_spool
is "$(cat "$SPOOL/spool-id")" "$spool_id" "the spool's id is kept across restarts"
entries "$pid" | jq -s . >"$T/restart.json"
jq_ok "a restarted orchd sends the same ORCH_SPOOL, on every entry from its first (forwarding on)" \
        --arg s "$spool_id" 'length >= 3 and all(.ORCH_SPOOL == $s)' "$T/restart.json"
is "$(entries "$pid2" MESSAGE_ID="$(id_of DAEMON_READY)" | jq -r .ORCH_SPOOL)" "$spool_id" "so does one on the moved spool"
# spool-id is read before the spool's checks: a FIFO there must not hang the start; it is replaced.
rm -f "$SPOOL/spool-id"
mkfifo "$SPOOL/spool-id"
start_orchd
stop_orchd
like "$([ -f "$SPOOL/spool-id" ] && cat "$SPOOL/spool-id")" '^[0-9a-f]{32}$' "a FIFO as spool-id neither hangs the start nor stays: a new id replaces it"
ok "and orchd says so" grep -q "Replacing $SPOOL/spool-id: not a valid id" "$T/orchd.log"

# -------------------------------------------------------------------------------- without journald

# orchd in a mount namespace of its own, where /run/systemd/journal is an empty tmpfs ("none") or holds a
# socket nobody listens on ("stale", as a crashed journald leaves it).
cat >"$W/orchd-nojournal" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd/journal || exit 70
if [ "\$ORCHD_TEST_JOURNAL" = stale ]; then
        python3 -c "import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(\"/run/systemd/journal/socket\")" || exit 70
fi
exec "\$0" "\$@"' "$ORCHD" "\$@"
EOF
chmod +x "$W/orchd-nojournal"
real_orchd=$ORCHD

for mode in none stale; do
        ORCHD=$W/orchd-nojournal ORCHD_TEST_JOURNAL=$mode start_orchd
        case $mode in
        none) want='Journal forwarding off: no journald at /run/systemd/journal/socket (No such file or directory)' ;;
        stale) want='Journal forwarding off: no journald at /run/systemd/journal/socket (Connection refused)' ;;
        esac
        ok "journald absent ($mode): orchd says forwarding is off, and why" grep -qF "$want" "$T/orchd.log"
        drop_job "off-$mode" <<EOF
{ "nodes": { "out": { "cmd": ["$W/out"] } } }
EOF
        oid=$(job_id_of "off-$mode") || bail_out "job not accepted"
        wait_job "$oid"
        ok "journald absent ($mode): the log file is complete" out_log_ok "$SPOOL/jobs/$oid/logs/out.1.log"
        is "$(entries "$ORCHD_PID" | wc -l)" 0 "journald absent ($mode): nothing of this daemon reached the journal"
        stop_orchd
done
ORCHD=$real_orchd

# ---------------------------------------------------------------------------- journald stops, returns

if [ -z "$ours_journald" ]; then
        skip "journald stopped while orchd runs" "the running journald is not this test's to stop"
        skip "journald back: forwarding on again" "the running journald is not this test's to stop"
        skip "journald back: output reaches the journal again" "the running journald is not this test's to stop"
        skip "journald stopped: the log file is complete" "the running journald is not this test's to stop"
else
        start_orchd
        "$JOURNALD_CTL" stop "$JPID" >/dev/null
        drop_job gone <<EOF
{ "nodes": { "out": { "cmd": ["$W/out"] } } }
EOF
        gid=$(job_id_of gone) || bail_out "job not accepted"
        wait_job "$gid"
        ok "journald stopped while orchd runs: orchd says forwarding is off" \
                wait_for 10 grep -q 'Journal forwarding off: journald is gone' "$T/orchd.log"
        ok "journald stopped: the log file is complete" out_log_ok "$SPOOL/jobs/$gid/logs/out.1.log"
        "$JOURNALD_CTL" start "$JPID" >/dev/null || bail_out "cannot restart journald"
        # orchd probes again at most every 5 s, when it has something to send: each list logs a debug line.
        forwarding_back() {
                ctl list >/dev/null
                [ "$(grep -c 'Journal forwarding on' "$T/orchd.log")" -ge 2 ]
        }
        ok "journald back: forwarding on again" wait_for 20 forwarding_back
        drop_job back <<EOF
{ "nodes": { "out": { "cmd": ["$W/out"], "output": "separate" } } }
EOF
        bid=$(job_id_of back) || bail_out "job not accepted"
        wait_job "$bid"
        wait_for 10 journal_has_job_end "$ORCHD_PID" "$bid" || diag "no job-finished entry in the journal within 10 s"
        is "$(entries "$ORCHD_PID" ORCH_JOB="$bid" ORCH_NODE=out | jq -r 'select(.ORCH_STREAM == "stdout") | .MESSAGE' | head -n 1)" \
                "line one" "journald back: output reaches the journal again"
        stop_orchd
fi

done_testing
