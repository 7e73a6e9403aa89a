#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Log and terminal injection (issue 8, point 7). A file named with an escape sequence, a job whose cmd[0] or
# cwd holds a newline followed by a forged "<0>" line, and a name or key with ESC are all rejected with a
# reason naming the character (U+XXXX) and where it is. The daemon's stderr log never holds a raw control
# character from job data, so no forged "<0>" line appears. orchctl, run on a pseudo-terminal
# (tests/helpers/pty), prints no ESC byte for any of it (rejected, list, status, submit errors): job data is
# shown escaped ("\x1b"). Multi-line shell scripts and newlines in later arguments still run.

. "$(dirname "$0")/lib.sh"

ESC=$'\e'
# on_tty CMD…: CMD's output as a terminal shows it (tests/helpers/pty reads it all), colours off
# (NO_COLOR) so that any ESC byte can only come from job data.
on_tty() { NO_COLOR=1 "$PTY" "$@"; }
has_esc() { LC_ALL=C grep -q "$ESC"; }

start_orchd
evil=$'\e]0;pwned\a.json'
printf '{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo ran >> %s/evil-ran"] } } }' "$W" >"$SPOOL/tmp/$evil"
mv "$SPOOL/tmp/$evil" "$SPOOL/new/$evil"
cat >"$SPOOL/tmp/forge.json" <<'EOF'
{ "nodes": { "a": { "cmd": ["/bin/true\n<0>forged line from cmd"], "cwd": "/tmp\n<0>forged line from cwd" } } }
EOF
mv "$SPOOL/tmp/forge.json" "$SPOOL/new/forge.json"
printf '{ "name": "x\\u001b[2Jy", "nodes": { "a": { "cmd": "true" } } }' >"$SPOOL/new/name.json"
printf '{ "key": "k\\u001b[31m", "nodes": { "a": { "cmd": "true" } } }' >"$SPOOL/new/key.json"
printf '{ "nodes": { "a": { "cmd": "true", "\\u001b]0;field\\u0007": 1 } } }' >"$SPOOL/new/field.json"
for f in "$evil" forge.json name.json key.json field.json; do
        wait_rejected "$f" || bail_out "$(printf '%q' "$f") was not rejected"
done

like "$(cat "$REJ/$evil.error")" "the file name must not contain control characters, found U\+001B at byte 0: rename the file" \
        "a file named with an escape sequence is rejected, saying why"
err=$(cat "$REJ/forge.json.error")
like "$err" "nodes\.a\.cmd\[0\]: must not contain control characters, found U\+000A at byte 9" "a newline in cmd[0] is rejected"
like "$err" "nodes\.a\.cwd: must not contain control characters, found U\+000A at byte 4" "a newline in cwd is rejected"
like "$(cat "$REJ/name.json.error")" "name: must not contain control characters, found U\+001B" "ESC in name is rejected"
like "$(cat "$REJ/key.json.error")" "key: must not contain control characters, found U\+001B" "ESC in key is rejected"

# The daemon's log: every line is one message with its own "<N>" prefix; job data never adds lines.
ok "no forged <0> line in the daemon's log" test -z "$(grep -a '^<0>' "$T/orchd.log")"
ok "no raw ESC byte in the daemon's log" sh -c "! LC_ALL=C grep -q '$ESC' '$T/orchd.log'"
ok "every line of the daemon's log starts with a <N> prefix" test -z "$(grep -av '^<[0-7]>' "$T/orchd.log")"
like "$(grep -a 'forge.json' "$T/orchd.log")" "Rejected job file 'forge\.json'" "the rejection of forge.json is logged on one line"
like "$(grep -aF 'pwned' "$T/orchd.log")" "'\\\\x1b\]0;pwned\\\\a\.json'" "the escape-named file is logged escaped (\\x1b, \\a)"

# orchctl on a terminal.
out=$(on_tty "$ORCHCTL" -s "$SOCK" rejected)
if printf '%s' "$out" | has_esc; then
        fail "orchctl rejected prints no ESC byte on a terminal" "$(printf '%s' "$out" | od -c | head -20)"
else
        pass "orchctl rejected prints no ESC byte on a terminal"
fi
like "$out" '\\x1b\]0;pwned\\a\.json' "it shows the rejected file's name escaped"
out=$(on_tty "$ORCHCTL" -s "$SOCK" rejected "$evil")
ok "orchctl rejected NAME (an escape-named file) prints no ESC byte" sh -c "! printf '%s' \"\$1\" | LC_ALL=C grep -q '$ESC'" _ "$out"
like "$out" 'Name: \\x1b\]0;pwned\\a\.json' "and shows the name escaped"
out=$(on_tty "$ORCHCTL" -s "$SOCK" rejected field.json)
ok "an error quoting an unknown field with ESC prints no ESC byte" sh -c "! printf '%s' \"\$1\" | LC_ALL=C grep -q '$ESC'" _ "$out"

# submit reports errors of a file named with an escape sequence without printing it raw.
cp "$REJ/forge.json" "$T/$evil"
on_tty "$ORCHCTL" -s "$SOCK" submit "$T/$evil" >"$T/submit.out" 2>&1
ok "submit of an escape-named file prints no ESC byte" sh -c "! LC_ALL=C grep -q '$ESC' '$T/submit.out'"
like "$(cat "$T/submit.out")" 'the file name must not contain control characters' "and says why it was refused"

# What is still allowed runs: a multi-line shell script and a newline in a later argument.
drop_job ok <<EOF
{ "nodes": {
  "script": { "cmd": "set -e\n\techo one >> $W/ok.out\necho two >> $W/ok.out" },
  "argv": { "cmd": ["/bin/sh", "-c", "echo three >> $W/ok.out\necho four >> $W/ok.out"], "after": ["script"] }
} }
EOF
id=$(job_id_of ok) || bail_out "the multi-line job was not accepted"
is_exit 0 "a multi-line shell script and a newline in a later argument run" wait_job "$id"
is "$(tr '\n' ' ' <"$W/ok.out")" "one two three four " "all of their lines ran"
for verb in list status; do
        args=("$verb")
        [ "$verb" = status ] && args+=("$id")
        out=$(on_tty "$ORCHCTL" -s "$SOCK" "${args[@]}")
        ok "orchctl $verb prints no ESC byte on a terminal" sh -c "! printf '%s' \"\$1\" | LC_ALL=C grep -q '$ESC'" _ "$out"
done
ok "the escape-named job never ran" test ! -e "$W/evil-ran"

# Node output on a terminal: colours pass, a title change, a cursor move and a CR do not act on it (they are
# escaped); piped, the bytes are the node's own. (The pseudo-terminal itself turns each LF into CR LF.)
printf '#!/bin/sh\nprintf "\\033]0;pwned\\007plain \\033[1;31mred\\033[0m\\033[2Jx\\rover\\n"\n' >"$W/paint"
chmod +x "$W/paint"
drop_job paint <<EOF
{ "nodes": { "p": { "cmd": ["$W/paint"] } } }
EOF
id=$(job_id_of paint) || bail_out "the painting job was not accepted"
is_exit 0 "a node printing escape sequences succeeds" wait_job "$id"
for form in "p" ""; do
        out=$(on_tty "$ORCHCTL" -s "$SOCK" logs "$id" $form | LC_ALL=C od -An -c | tr -s ' \n' ' ')
        like "$out" '033 \[ 1 ; 3 1 m r e d' "logs ${form:+NODE }on a terminal keeps the colour sequence"
        ok "… but not the title change, the screen clear or the CR" \
                sh -c "! printf '%s' \"\$1\" | grep -qE '033 \\] 0|033 \\[ 2 J|x \\\\r o v e r'" _ "$out"
        like "$out" '\\ x 1 b \] 0 ; p w n e d' "… which it shows escaped"
done
ctl logs "$id" p >"$T/paint.raw"
is "$(LC_ALL=C od -An -c "$T/paint.raw" | tr -s ' \n' ' ' | cut -c1-10)" " 033 ] 0 ;" "piped, logs gives the bytes as they are"
done_testing
