#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every kind of rejection (SPEC §2, §3): the file moves to rejected/ unchanged (the symlink itself, never
# its target), with NAME.json.error (text naming the file, the JSON path and the problem; line:col for
# syntax errors) and NAME.json.error.json beside it. Unsafe files (symlink, hard link, FIFO, directory,
# oversize) are refused without being read. Ignored names stay in new/. The daemon keeps running and
# accepts a valid job afterwards.

. "$(dirname "$0")/lib.sh"

start_orchd
mkdir -p "$T/orig"

# put NAME: the original from stdin, kept in $T/orig for cmp, then renamed into new/.
put() {
        cat >"$T/orig/$1"
        cp "$T/orig/$1" "$SPOOL/tmp/$1"
        mv "$SPOOL/tmp/$1" "$SPOOL/new/$1"
}

rejected() { # rejected NAME: wait ≤ 10 s for rejected/NAME and both error files
        wait_for 10 test -e "$SPOOL/rejected/$1.error.json" -a -e "$SPOOL/rejected/$1.error" \
                -a \( -e "$SPOOL/rejected/$1" -o -L "$SPOOL/rejected/$1" \)
}

# check_rejected NAME ERE [JSONPATH]: one test for the move, the error texts and the JSON form (with an
# error whose path starts with JSONPATH: "nodes.a.after" matches "nodes.a.after[0]").
check_rejected() {
        local name=$1 ere=$2 path=${3:-} err ej
        if ! rejected "$name"; then
                fail "$name is rejected" "rejected/: $(ls -la "$SPOOL/rejected" 2>&1)" "new/: $(ls -la "$SPOOL/new" 2>&1)"
                return
        fi
        err=$(cat "$SPOOL/rejected/$name.error")
        ej=$SPOOL/rejected/$name.error.json
        if ! grep -Eq -- "$ere" "$SPOOL/rejected/$name.error"; then
                fail "$name: .error says /$ere/" "got: $err"
        elif ! grep -Fq -- "$name" "$SPOOL/rejected/$name.error"; then
                fail "$name: .error names the file" "got: $err"
        elif ! jq -e --arg f "$name" '(.file | type == "string") and (.file | endswith($f))
                        and (.errors | type == "array" and length >= 1)
                        and all(.errors[]; (.message | type == "string") and has("path") and has("line") and has("column"))' \
                        "$ej" >/dev/null 2>&1; then
                fail "$name: .error.json has {file, errors:[{path, message, line, column}]}" "got: $(cat "$ej")"
        elif [ -n "$path" ] && ! jq -e --arg p "$path" 'any(.errors[]; .path | startswith($p))' "$ej" >/dev/null; then
                fail "$name: .error.json names the JSON path $path" "got: $(cat "$ej")"
        elif [ -e "$SPOOL/new/$name" ] || [ -L "$SPOOL/new/$name" ]; then
                fail "$name: no longer in new/"
        else
                pass "$name rejected: $(head -n 1 "$SPOOL/rejected/$name.error" | cut -c1-100)"
        fi
}

same() { # same NAME: rejected/NAME is byte-identical to the original
        ok "$1: the rejected file is the original, byte for byte" cmp "$T/orig/$1" "$SPOOL/rejected/$1"
}

put syntax.json <<'EOF'
{
  "nodes": {
    "a": { "cmd": "true" ,, }
  }
}
EOF
check_rejected syntax.json '3:[0-9]+'
same syntax.json
is "$(jq -r '.errors[0].line' "$SPOOL/rejected/syntax.json.error.json" 2>/dev/null)" 3 "syntax.json: error line 3"
like "$(jq -r '.errors[0].column' "$SPOOL/rejected/syntax.json.error.json" 2>/dev/null)" '^[1-9][0-9]*$' \
        "syntax.json: error column is a positive number"

put dupkey.json <<'EOF'
{ "nodes": { "a": { "cmd": "true", "cmd": "false" } } }
EOF
check_rejected dupkey.json '[Dd]uplicate'
same dupkey.json

put unknown.json <<'EOF'
{ "nodes": { "a": { "cmd": "true", "bogus": 1 } } }
EOF
check_rejected unknown.json 'nodes\.a.*bogus|bogus.*nodes\.a'
same unknown.json

put cycle.json <<'EOF'
{ "nodes": { "a": { "cmd": "true", "after": ["b"] }, "b": { "cmd": "true", "after": ["a"] } } }
EOF
check_rejected cycle.json 'a -> b -> a|b -> a -> b'
same cycle.json

put dangling.json <<'EOF'
{ "nodes": { "a": { "cmd": "true", "after": ["nope"] } } }
EOF
check_rejected dangling.json 'nope' 'nodes.a.after'
same dangling.json

put badrange.json <<'EOF'
{ "nodes": { "e2e": { "cmd": "true", "retry": { "attempts": 1000 } } } }
EOF
check_rejected badrange.json 'nodes\.e2e\.retry\.attempts' 'nodes.e2e.retry.attempts'
same badrange.json

# A symlink to a valid job: the link itself moves, the target is never read, changed or run.
cat >"$T/target.json" <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo ran >> $W/symlink-ran"] } } }
EOF
cp "$T/target.json" "$T/target.copy"
ln -s "$T/target.json" "$SPOOL/tmp/link.json"
mv "$SPOOL/tmp/link.json" "$SPOOL/new/link.json"
check_rejected link.json 'symbolic link'
ok "link.json: rejected/link.json is still the symlink to the target" \
        test -L "$SPOOL/rejected/link.json" -a "$(readlink "$SPOOL/rejected/link.json")" = "$T/target.json"
ok "link.json: the target is untouched" cmp "$T/target.json" "$T/target.copy"

# A hard link (st_nlink 2) to a valid job, made in tmp/ and renamed in (link(2) alone is no inotify event
# orchd listens to; SPEC §2 names IN_MOVED_TO and IN_CLOSE_WRITE).
cp "$T/target.copy" "$T/hard-src.json"
ln "$T/hard-src.json" "$SPOOL/tmp/hard.json"
mv "$SPOOL/tmp/hard.json" "$SPOOL/new/hard.json"
check_rejected hard.json 'has 2 hard links'
ok "hard.json: the rejected file is still the same inode" test "$SPOOL/rejected/hard.json" -ef "$T/hard-src.json"
ok "hard.json: unchanged" cmp "$T/target.copy" "$SPOOL/rejected/hard.json"

# A FIFO: opening it for reading without O_NONBLOCK would hang the daemon.
mkfifo "$SPOOL/tmp/fifo.json"
mv "$SPOOL/tmp/fifo.json" "$SPOOL/new/fifo.json"
check_rejected fifo.json 'is a FIFO'
ok "fifo.json: still a FIFO in rejected/" test -p "$SPOOL/rejected/fifo.json"

mkdir "$SPOOL/tmp/dir.json"
touch "$SPOOL/tmp/dir.json/inside"
mv "$SPOOL/tmp/dir.json" "$SPOOL/new/dir.json"
check_rejected dir.json 'is a directory'
ok "dir.json: still a directory with its content" test -d "$SPOOL/rejected/dir.json" -a -e "$SPOOL/rejected/dir.json/inside"

# 5 MiB: a valid job padded with spaces, over the 4 MiB limit.
{
        echo '{ "nodes": { "a": { "cmd": "true" } } }'
        head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' '
} >"$T/orig/big.json"
cp "$T/orig/big.json" "$SPOOL/tmp/big.json"
mv "$SPOOL/tmp/big.json" "$SPOOL/new/big.json"
check_rejected big.json 'over the .*byte limit'
same big.json

ok "nothing of the above became a job" \
        test "$(ctl --json list --all | jq 'length')" = 0
ok "the symlinked job never ran" test ! -e "$W/symlink-ran"

# Ignored names: not *.json, or hidden. They stay in new/, untouched, even after a rescan (SIGHUP).
echo '{ "nodes": { "a": { "cmd": "true" } } }' >"$SPOOL/new/notes.txt"
echo '{ "nodes": { "a": { "cmd": "true" } } }' >"$SPOOL/new/.hidden.json"
kill -HUP "$ORCHD_PID"

ok "orchd is still running" pid_alive "$ORCHD_PID"
drop_job valid <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] } } }
EOF
id=$(job_id_of valid) || bail_out "valid job not accepted after the rejections"
is "$id" 1 "the valid job gets id 1 (ids are for accepted jobs)"
is_exit 0 "the valid job succeeds" ctl wait "$id" --timeout 20
ok "notes.txt stays in new/" test -e "$SPOOL/new/notes.txt"
ok ".hidden.json stays in new/" test -e "$SPOOL/new/.hidden.json"
ok "no error file for ignored names" test ! -e "$SPOOL/rejected/notes.txt.error" -a ! -e "$SPOOL/rejected/.hidden.json.error"
if [ "$(id -u)" = 0 ]; then
        # As root orchd runs a file as its owner, unless the config says that user may not run jobs.
        stop_orchd
        start_orchd --allow-users root
        printf '{ "nodes": { "a": { "cmd": ["/bin/true"] } } }' >"$SPOOL/tmp/nobodys.json"
        chown 65534 "$SPOOL/tmp/nobodys.json"
        mv "$SPOOL/tmp/nobodys.json" "$SPOOL/new/"
        ok "a file of a user not in AllowUsers= is rejected" wait_for 10 test -e "$SPOOL/rejected/nobodys.json.error"
        like "$(cat "$SPOOL/rejected/nobodys.json.error" 2>/dev/null)" "belongs to user .*, who is not in AllowUsers=" \
                "the error says why"
else
        skip "a file owned by another uid is rejected" "an unprivileged test cannot create a file owned by another uid"
fi
done_testing
