#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The failure summary of orchctl wait, submit --wait and watch (issue 11, point 2): for each node that ended
# failed and made the job fail, "FAILED: NODE (REASON, job ID)", its command as given (a shell string with
# metacharacters as is; an argv quoted for a shell) and the last lines of its last attempt's output (cut at
# --tail-lines, 20 by default, with a note), as ninja reports a failed edge; not for allow_failure nodes,
# skipped or succeeded ones; nothing for a job that succeeded; --quiet; --json's "failures" fields; the
# daemon's Logs tail and command parameters (checked, bounded: a 16 MiB log is not read to show 20 lines);
# another user gets no output of the job; and the live progress of wait and submit --wait on a terminal
# (stderr), none when stderr is not one.

: "${TEST_TIMEOUT:=120}"
. "$(dirname "$0")/lib.sh"

probe() { python3 "$TOP_SRCDIR/tests/integration/varlink-probe.py" "$SOCK" "$@"; }
no_match() { # no_match TEXT FILE: FILE does not contain TEXT
        ! grep -qF -- "$1" "$2"
}
failed_job() { # failed_job NAME NODE: FID = job NAME's id once it has failed, FSIZE = NODE's first log's size
        FID=$(job_id_of "$1") || bail_out "job $1 not accepted"
        is_exit 1 "job $1 fails" wait_job "$FID"
        FSIZE=$(stat -c %s "$SPOOL/jobs/$FID/logs/$2.1.log")
}
# on_tty_until OUT GATE ERE ARGS…: orchctl ARGS on a terminal (output to OUT) until OUT matches ERE, then
# open GATE and wait for it; TTY_RC is its exit status
on_tty_until() {
        local out=$1 gate=$2 ere=$3 pid
        shift 3
        TERM=xterm "$PTY" -w 100,20 "$ORCHCTL" -s "$SOCK" "$@" >"$out" &
        pid=$!
        track_bg $pid
        wait_for 30 grep -qE "$ere" "$out" || diag "no match for /$ere/: $(cat -v "$out")"
        open_gate "$gate"
        wait "$pid"
        TTY_RC=$?
}
seq_lines() { # seq_lines FROM TO: "line FROM" … "line TO", one a line
        local i
        for ((i = $1; i <= $2; i++)); do echo "line $i"; done
}

start_orchd

# ---- a job with failures of every kind --------------------------------------------------------------------
# compile prints 30 lines and a line of shell metacharacters (31 lines: more than the default tail of 20);
# argv is an argv command (quoted when shown); flaky fails twice (the summary shows attempt 2's output);
# nosuch never ran (spawn:ENOENT: a command, no output); allowed fails with allow_failure (not listed); dep
# is skipped by compile's failure (not listed); ok succeeds.
drop_job mixed <<'EOF'
{ "nodes": {
    "ok":      { "cmd": "echo ok-out" },
    "compile": { "cmd": "for i in $(seq 1 30); do echo \"line $i\"; done; echo 'x <&|>;$y \"q\"'; exit 3" },
    "argv":    { "cmd": ["sh", "-c", "echo argv-out; exit 7", "a b", "it's"] },
    "flaky":   { "cmd": "echo attempt-$ORCH_ATTEMPT-out; exit 1", "retry": { "attempts": 2, "delay": 0 } },
    "nosuch":  { "cmd": ["/nonexistent/o11f-prog", "--flag"] },
    "allowed": { "cmd": "echo allowed-out; exit 5", "allow_failure": true },
    "dep":     { "cmd": "echo dep-out", "after": ["compile"] } } }
EOF
id=$(job_id_of mixed) || bail_out "job mixed not accepted"
ctl wait "$id" >"$T/wait.out" 2>"$T/wait.err"
is "$?" 1 "wait: exit status 1 (failed), as before"
diag_file "$T/wait.out" 80
is "$(cat "$T/wait.err")" "" "wait: nothing on stderr when it is not a terminal (no progress)"
ok "no colour or cursor movement when stdout is not a terminal" no_match $'\033' "$T/wait.out"
is "$(grep -c '^FAILED: ' "$T/wait.out")" 4 "four FAILED headers: compile, argv, flaky, nosuch"
is "$(grep '^FAILED: ' "$T/wait.out")" "FAILED: compile (exit:3, job $id)
FAILED: argv (exit:7, job $id)
FAILED: flaky (exit:1, attempt 2, job $id)
FAILED: nosuch (spawn:ENOENT, job $id)" "headers in job file order, with reason (and attempt when not the first)"
ok "allow_failure, skipped and succeeded nodes are not listed" test -z \
        "$(grep -E '^FAILED: (allowed|dep|ok) |allowed-out|dep-out|ok-out' "$T/wait.out")"
# The job's reason is its first failed node's: compile's, argv's or flaky's, whichever ended first.
like "$(tail -n 1 "$T/wait.out")" "^$id mixed failed \(exit:[371]\)\$" "the last line is the job's line, as before"

# compile's block: header, command as written, the note, the last 20 lines exactly.
awk '/^FAILED: compile /{f=1} /^FAILED: argv /{f=0} f' "$T/wait.out" >"$T/compile.block"
{
        echo "FAILED: compile (exit:3, job $id)"
        echo 'for i in $(seq 1 30); do echo "line $i"; done; echo '"'"'x <&|>;$y "q"'"'"'; exit 3'
        echo "[... last 20 lines shown; all of it: orchctl logs $id compile]"
        seq_lines 12 30
        echo 'x <&|>;$y "q"'
} >"$T/compile.want"
ok "compile: the command with its metacharacters as written, then exactly the last 20 lines" \
        cmp "$T/compile.block" "$T/compile.want"
ok "argv: the argv quoted for a shell" grep -qxF "sh -c 'echo argv-out; exit 7' 'a b' 'it'\\''s'" "$T/wait.out"
ok "argv: its output" grep -qxF "argv-out" "$T/wait.out"
ok "flaky: the last attempt's output only" grep -qxF "attempt-2-out" "$T/wait.out"
ok "flaky: not the first attempt's" no_match "attempt-1-out" "$T/wait.out"
awk '/^FAILED: nosuch /{f=1; next} /^FAILED: |^[0-9]+ mixed /{f=0} f' "$T/wait.out" >"$T/nosuch.block"
is "$(cat "$T/nosuch.block")" "/nonexistent/o11f-prog --flag" "nosuch (never ran): its command, no output"

# --tail-lines, --quiet
ctl wait --tail-lines 3 "$id" >"$T/tail3.out"
is "$(awk '/^FAILED: compile /{f=1} /^FAILED: argv /{f=0} f' "$T/tail3.out" | tail -n 3)" "line 29
line 30
x <&|>;\$y \"q\"" "--tail-lines 3: the last 3 lines"
ok "--tail-lines 3: line 28 is cut" no_match "line 28" "$T/tail3.out"
ctl wait --tail-lines 0 "$id" >"$T/tail0.out"
ok "--tail-lines 0: commands but no output" test "$(grep -c '^FAILED: ' "$T/tail0.out")" = 4 -a \
        -z "$(grep -xE 'line [0-9]+|argv-out|attempt-2-out' "$T/tail0.out")"
is_exit 64 "--tail-lines 10001: usage error" ctl wait --tail-lines 10001 "$id"
is_exit 64 "--tail-lines x: usage error" ctl wait --tail-lines x "$id"
like "$(ctl wait --quiet "$id")" "^$id mixed failed \(exit:[371]\)\$" "--quiet: only the job's line"
is_exit 1 "--quiet: the same exit status" ctl wait -q "$id"

# --json
ctl --json wait "$id" >"$T/wait.json"
is "$?" 1 "--json: exit status 1"
jq_ok "--json: failures lists compile, argv, flaky, nosuch in order" \
        '.[0].failures | map(.node) == ["compile","argv","flaky","nosuch"]' "$T/wait.json"
jq_ok "--json: compile's fields" --arg out "$(seq_lines 12 30; echo 'x <&|>;$y "q"')" \
        '.[0].failures[0] | .state == "failed" and .reason == "exit:3" and .attempt == 1 and .exit_code == 3
         and .signal == null and (.cmd | type) == "string" and (.cmd | test("seq 1 30"))
         and .output == ($out + "\n") and .output_skipped == 79' "$T/wait.json"
jq_ok "--json: an argv command is an array" \
        '.[0].failures[1].cmd == ["sh","-c","echo argv-out; exit 7","a b","it'"'"'s"]' "$T/wait.json"
jq_ok "--json: flaky is attempt 2" '.[0].failures[2] | .attempt == 2 and .output == "attempt-2-out\n"' "$T/wait.json"
jq_ok "--json: nosuch has no output" \
        '.[0].failures[3] | .reason == "spawn:ENOENT" and .output == "" and .output_skipped == 0' "$T/wait.json"
jq_ok "--json: no failures_omitted, no error members" \
        '(.[0] | has("failures_omitted") | not) and all(.[0].failures[]; has("error") | not)' "$T/wait.json"
ctl --json --quiet wait "$id" >"$T/quiet.json"
jq_ok "--json --quiet: no failures member" '.[0] | has("failures") | not' "$T/quiet.json"

# watch (not a terminal): the summary before the final line
ctl watch "$id" >"$T/watch.out"
is "$?" 1 "watch: exit status 1"
ok "watch prints the summary at the end" grep -qxF "FAILED: compile (exit:3, job $id)" "$T/watch.out"
like "$(tail -n 1 "$T/watch.out")" "^$id mixed failed \(exit:[371]\)\$" "watch: then the job's line"
ctl --json watch "$id" >"$T/watch.json"
jq_ok "watch --json: the end event carries failures beside the job" -s \
        '.[-1].event == "end" and (.[-1].failures | map(.node)) == ["compile","argv","flaky","nosuch"]
         and (.[-1].job | has("failures") | not)' "$T/watch.json"

# ---- no summary for a job that succeeded ------------------------------------------------------------------
drop_job fine <<'EOF'
{ "nodes": { "a": { "cmd": "echo fine-out" }, "b": { "cmd": "exit 1", "allow_failure": true } } }
EOF
idf=$(job_id_of fine) || bail_out "job fine not accepted"
is "$(ctl wait "$idf")" "$idf fine succeeded" "a job that succeeded (one allow_failure failure): only its line"
jq_ok "--json: failures is empty" '.[0].failures == []' <(ctl --json wait "$idf")

# ---- submit --wait ----------------------------------------------------------------------------------------
cat >"$T/sub.json" <<'EOF'
{ "nodes": { "s": { "cmd": "echo submitted-out; exit 9" } } }
EOF
ctl submit --wait "$T/sub.json" >"$T/sub.out" 2>"$T/sub.err"
is "$?" 1 "submit --wait: exit status 1"
ids=$(head -n 1 "$T/sub.out")
is "$(tail -n +2 "$T/sub.out")" "FAILED: s (exit:9, job $ids)
echo submitted-out; exit 9
submitted-out
$ids sub failed (exit:9)" "submit --wait: the id, the summary, the job's line"
is "$(cat "$T/sub.err")" "" "submit --wait: nothing on stderr when it is not a terminal"

# ---- the daemon side: Logs with tail and command ----------------------------------------------------------
probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"node\":\"compile\",\"tail\":2,\"command\":true}" --more \
        >"$T/probe.out"
is "$?" 0 "Logs with tail and command: a success"
jq_ok "the data is the last 2 lines, skipped the bytes before" -s \
        '[.[] | select(.continues) | .parameters] | length == 1 and .[0].data == "line 30\nx <&|>;$y \"q\"\n"
         and .[0].skipped == 223 and .[0].end == true' "$T/probe.out"
jq_ok "the last reply: cmd (argv as run), shell, allow_failure" -s \
        '.[-1].parameters | .cmd[0:2] == ["/bin/sh","-c"] and .shell == true and .allow_failure == false' \
        "$T/probe.out"
probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"node\":\"nosuch\",\"command\":true}" --more >"$T/probe2.out"
jq_ok "command for a node without output: only the last reply" -s \
        'length == 1 and .[0].parameters.cmd == ["/nonexistent/o11f-prog","--flag"]' "$T/probe2.out"
probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"node\":\"dep\",\"command\":true}" --more >"$T/probe3.out"
jq_ok "command for a node that never started: no NoSuchAttempt" -s \
        'length == 1 and (.[0].error | not) and .[0].parameters.cmd == ["/bin/sh","-c","echo dep-out"]' \
        "$T/probe3.out"
for bad in '"tail":0' '"tail":10001' '"tail":"5"' '"command":"yes"'; do
        is "$(probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"node\":\"compile\",$bad}" --more | jq -r .error)" \
                org.varlink.service.InvalidParameter "Logs with $bad: InvalidParameter"
done
is "$(probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"command\":true}" --more | jq -r .error)" \
        org.varlink.service.InvalidParameter "Logs with command but no node: InvalidParameter"
probe io.orchd.Manager.Logs "{\"id\":\"$id\",\"tail\":1}" --more >"$T/probe4.out"
jq_ok "tail without node: the last line of each attempt of every node" -s \
        '[.[] | select(.continues) | .parameters | select(.node == "flaky") | .data] == ["attempt-1-out\n","attempt-2-out\n"]' \
        "$T/probe4.out"

# ---- bounded: a 35 MB log is not read to show its last lines ---------------------------------------------
drop_job huge <<'EOF'
{ "nodes": { "big": { "cmd": "seq 1 2000000 | sed 's/^/huge line /'; echo last-words; exit 4" } } }
EOF
failed_job huge big
idh=$FID size=$FSIZE
diag "log size: $size bytes"
if command -v strace >/dev/null && [ "$(id -u)" = 0 ] && strace_attach "$T/strace.out" pread64,read; then
        t0=$(now)
        ctl wait "$idh" >"$T/huge.out"
        t1=$(now)
        strace_detach
        bytes=$(awk -F'= ' '/^[0-9]+ +pread64\(/ { s += $NF } END { print s + 0 }' "$T/strace.out")
        diag "orchd pread for the summary of a $size-byte log: $bytes bytes, wait took $(((t1 - t0) / 1000000)) ms"
        ok "orchd read under 512 KiB of the $size-byte log" test "$bytes" -lt 524288
else
        ctl wait "$idh" >"$T/huge.out"
        skip "orchd's reads are bounded" "needs root and strace"
fi
is "$(awk '/^FAILED: big /{f=1; next} f' "$T/huge.out" | sed -n '3,21p;22q' | head -n 1)" "huge line 1999982" \
        "the huge log: the 20 lines shown start at line 1999982"
is "$(tail -n 2 "$T/huge.out" | head -n 1)" "last-words" "the huge log: last-words is the last line shown"

# A line longer than the scan (300,000 two-byte characters, no newline): the last 256 KiB, cut at a
# character boundary (no U+FFFD), and skipped + data is the whole file.
drop_job long <<'EOF'
{ "nodes": { "l": { "cmd": "head -c 300000 /dev/zero | tr '\\0' x | sed 's/x/é/g'; printf z; exit 1" } } }
EOF
failed_job long l
idlong=$FID lsize=$FSIZE
probe io.orchd.Manager.Logs "{\"id\":\"$idlong\",\"node\":\"l\",\"tail\":20}" --more >"$T/long.out"
jq_ok "a line over 256 KiB: at most 256 KiB of it, from a character boundary, all of the rest" -s \
        --argjson size "$lsize" '[.[] | select(.continues) | .parameters] as $c
         | ($c | map(.data) | add) as $d | ($d | utf8bytelength) <= 262144 and ($d | test("\ufffd") | not)
         and ($d | test("^(é)+z$")) and $c[0].skipped + ($d | utf8bytelength) == $size' "$T/long.out"

# ---- another user gets nothing of the job -----------------------------------------------------------------
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null; then
        UA=o11fa UB=o11fb
        add_account "$UA" -m
        add_account "$UB" -m
        chmod 711 "$T"
        chmod 644 "$T/sub.json"
        cat >"$T/secret.json" <<'EOF'
{ "nodes": { "x": { "cmd": "echo o11f-secret-line; exit 2" } } }
EOF
        chmod 644 "$T/secret.json"
        ida=$(ctl_as "$UA" submit "$T/secret.json") || bail_out "user $UA cannot submit"
        ctl_as "$UA" wait "$ida" >"$T/owner.out" 2>&1
        is "$?" 1 "the owner's wait: exit status 1"
        ok "the owner gets the summary with the output" grep -qxF "o11f-secret-line" "$T/owner.out"
        ctl_as "$UB" wait "$ida" >"$T/other.out" 2>&1
        is "$?" 77 "another user's wait: permission denied (77)"
        ok "another user gets no output line" no_match "o11f-secret-line" "$T/other.out"
        ok "nor the command" no_match "echo o11f" "$T/other.out"
        ctl_as "$UB" --json wait "$ida" >"$T/other.json" 2>&1
        ok "nor with --json" no_match "o11f-secret" "$T/other.json"
        is "$(as "$UB" python3 "$TOP_SRCDIR/tests/integration/varlink-probe.py" "$SOCK" io.orchd.Manager.Logs \
                "{\"id\":\"$ida\",\"node\":\"x\",\"tail\":5,\"command\":true}" --more | jq -r .error)" \
                io.orchd.Manager.PermissionDenied "another user's Logs with tail and command: PermissionDenied"
else
        skip "another user gets nothing of the job" "needs root, useradd and setpriv"
fi

# ---- live progress on a terminal (stderr), none when stderr is redirected -----------------------------------
drop_job live <<EOF
{ "nodes": { "p": { "cmd": "$(gate_cmd live); echo live-out; exit 6" }, "q": { "cmd": "true" } } }
EOF
idl=$(job_id_of live) || bail_out "job live not accepted"
# stderr redirected to a file (stdout the terminal): a bounded wait on the gated job shows no progress.
TERM=xterm "$PTY" -w 100,20 sh -c "\"\$0\" -s \"\$1\" wait --timeout 2 \"\$2\" 2>\"\$3\"; echo rc=\$?" \
        "$ORCHCTL" "$SOCK" "$idl" "$T/redir.err" >"$T/redir.out"
like "$(tr -d '\r' <"$T/redir.out" | tail -n 1)" '^rc=75$' "stderr redirected: the wait timed out on the gated job (75)"
ok "stderr redirected: no progress bar in the file" no_match "[#" "$T/redir.err"
ok "stderr redirected: nor on the terminal" test -z "$(grep -F '[' "$T/redir.out" | grep -E '[0-9]+/2 ')"
ok "stderr redirected: the file holds the timeout message only" grep -qF "timed out after 2" "$T/redir.err"
# stderr a terminal and --timeout: the block goes away when the wait gives up.
TERM=xterm "$PTY" -w 100,20 "$ORCHCTL" -s "$SOCK" wait --timeout 2 "$idl" >"$T/ttyt.out"
is "$?" 75 "on a terminal: --timeout still gives up with 75"
like "$(tr -d '\r' <"$T/ttyt.out" | tail -n 1 | sed 's/\x1b\[[0-9;]*[A-Za-z]//g')" \
        "^orchctl: timed out after 2 waiting for job '$idl'\$" "on a terminal: the timeout message last"
if grep -qE '\[[#.]{10,40}\]' "$T/ttyt.out"; then # drawn unless the machine is too loaded to answer within 2 s
        ok "on a terminal: the block is erased (up, clear) right before the timeout message" \
                grep -qF $'\033[1A\033[2Korchctl: timed out after 2 waiting for job' "$T/ttyt.out"
else
        skip "on a terminal: the block is erased before the timeout message" "no block drawn within 2 s"
fi
# On a terminal: the block is drawn while the job runs, then erased; the summary and line follow.
on_tty_until "$T/tty.out" live '\[[#.]{10,40}\] 1/2 ' wait "$idl"
is "$TTY_RC" 1 "on a terminal: the job's exit status (1)"
ok "on a terminal: the progress bar was drawn" grep -qE '\[[#.]{10,40}\] 1/2  1 succeeded  0 failed  1 running' \
        "$T/tty.out"
ok "on a terminal: the running node with its elapsed time" grep -qE '^  p +[0-9]' "$T/tty.out"
ok "on a terminal: redrawn in place and erased (cursor up, clear line)" grep -qF $'\033[1A\033[2K' "$T/tty.out"
ok "on a terminal: FAILED in bold red" grep -qF $'\033[1;31mFAILED:\033[0m p (exit:6, job '"$idl"')' "$T/tty.out"
like "$(tr -d '\r' <"$T/tty.out" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g')" "^$idl live failed \(exit:6\)$" \
        "on a terminal: the job's line last"
TERM=xterm "$PTY" "$ORCHCTL" -s "$SOCK" wait --quiet "$idl" >"$T/ttyq.out"
is "$(tr -d '\r' <"$T/ttyq.out" | sed 's/\x1b\[[0-9;]*m//g')" "$idl live failed (exit:6)" \
        "--quiet on a terminal: only the job's line"
TERM=dumb "$PTY" "$ORCHCTL" -s "$SOCK" wait "$idl" >"$T/dumb.out"
ok "TERM=dumb: no cursor movement" no_match $'\033[1A' "$T/dumb.out"

# submit --wait on a terminal: the same progress
cat >"$T/live2.json" <<EOF
{ "nodes": { "g": { "cmd": "$(gate_cmd live2); exit 0" } } }
EOF
on_tty_until "$T/tty2.out" live2 '\[[#.]{10,40}\] 0/1 ' submit --wait "$T/live2.json"
is "$TTY_RC" 0 "submit --wait on a terminal: exit status 0"
ok "submit --wait on a terminal: the progress bar was drawn" grep -qE '\[[#.]{10,40}\] 0/1 ' "$T/tty2.out"
ok "submit --wait on a terminal: no FAILED for a job that succeeded" no_match "FAILED" "$T/tty2.out"

done_testing
