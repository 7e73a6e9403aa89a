#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every kind of rejection (SPEC §2, §3): a regular file moves to rejected/UID/ unchanged, with NAME.json.error
# (text naming the file, the JSON path and the problem; line:col for syntax errors) and NAME.json.error.json
# beside it (with the owner's uid). Unsafe files are refused without being read: hard links and oversize
# files are kept; what is not a regular file (symlink, FIFO, directory) is removed, not kept (issue 8,
# point 6: the symlink itself, never its target), and only its error files remain. rejected/ is 0700.
# Long names (red team F3.2) are kept under a shortened name that records the name as dropped.
# Ignored names stay in new/. The daemon keeps running and accepts a valid job afterwards.

. "$(dirname "$0")/lib.sh"

start_orchd
mkdir -p "$T/orig"

# put NAME: the original from stdin, kept in $T/orig for cmp, then renamed into new/.
put() {
        cat >"$T/orig/$1"
        cp "$T/orig/$1" "$SPOOL/tmp/$1"
        mv "$SPOOL/tmp/$1" "$SPOOL/new/$1"
}

removed() { # removed NAME: wait ≤ 10 s for both error files of NAME (no file: it was removed)
        wait_for 10 test -e "$REJ/$1.error.json" -a -e "$REJ/$1.error"
}

# check_removed NAME ERE: NAME is gone from new/ and not in rejected/, its error files say ERE and that it
# was removed, and the JSON record says removed, with the uid of its creator (root here).
check_removed() {
        local name=$1 ere=$2
        if ! removed "$name"; then
                fail "$name is removed with an error record" "rejected/: $(ls -la "$SPOOL/rejected" 2>&1)"
        elif [ -e "$REJ/$name" ] || [ -L "$REJ/$name" ]; then
                fail "$name: not kept in rejected/" "$(ls -la "$REJ/$name")"
        elif [ -e "$SPOOL/new/$name" ] || [ -L "$SPOOL/new/$name" ]; then
                fail "$name: no longer in new/"
        elif ! grep -Eq -- "$ere.*removed, not kept" "$REJ/$name.error"; then
                fail "$name: .error says /$ere/ and that it was removed" "got: $(cat "$REJ/$name.error")"
        elif ! jq -e --argjson u "$(id -u)" '.removed == true and .uid == $u' "$REJ/$name.error.json" >/dev/null; then
                fail "$name: .error.json has removed: true and the uid" "got: $(cat "$REJ/$name.error.json")"
        else
                pass "$name removed: $(head -n 1 "$REJ/$name.error" | cut -c1-100)"
        fi
}

rejected() { # rejected NAME: wait ≤ 10 s for rejected/NAME and both error files
        wait_for 10 test -e "$REJ/$1.error.json" -a -e "$REJ/$1.error" \
                -a \( -e "$REJ/$1" -o -L "$REJ/$1" \)
}

# check_rejected NAME ERE [JSONPATH]: one test for the move, the error texts and the JSON form (with an
# error whose path starts with JSONPATH: "nodes.a.after" matches "nodes.a.after[0]").
check_rejected() {
        local name=$1 ere=$2 path=${3:-} err ej
        if ! rejected "$name"; then
                fail "$name is rejected" "rejected/: $(ls -la "$SPOOL/rejected" 2>&1)" "new/: $(ls -la "$SPOOL/new" 2>&1)"
                return
        fi
        err=$(cat "$REJ/$name.error")
        ej=$REJ/$name.error.json
        if ! grep -Eq -- "$ere" "$REJ/$name.error"; then
                fail "$name: .error says /$ere/" "got: $err"
        elif ! grep -Fq -- "$name" "$REJ/$name.error"; then
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
                pass "$name rejected: $(head -n 1 "$REJ/$name.error" | cut -c1-100)"
        fi
}

same() { # same NAME: rejected/NAME is byte-identical to the original
        ok "$1: the rejected file is the original, byte for byte" cmp "$T/orig/$1" "$REJ/$1"
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
is "$(jq -r '.errors[0].line' "$REJ/syntax.json.error.json" 2>/dev/null)" 3 "syntax.json: error line 3"
like "$(jq -r '.errors[0].column' "$REJ/syntax.json.error.json" 2>/dev/null)" '^[1-9][0-9]*$' \
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

is "$(stat -c %a "$SPOOL/rejected")" 700 "rejected/ is 0700"
is "$(stat -c '%a %u' "$REJ")" "700 $(id -u)" "rejected/UID/ is 0700, the daemon's"
jq_ok "syntax.json: .error.json names the owner's uid and says the file was kept" --argjson u "$(id -u)" \
        '.uid == $u and .removed == false' "$REJ/syntax.json.error.json"

# A symlink to a valid job: the link itself is removed, the target is never read, changed or run.
cat >"$T/target.json" <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo ran >> $W/symlink-ran"] } } }
EOF
cp "$T/target.json" "$T/target.copy"
ln -s "$T/target.json" "$SPOOL/tmp/link.json"
mv "$SPOOL/tmp/link.json" "$SPOOL/new/link.json"
check_removed link.json 'is a symbolic link'
ok "link.json: the target is untouched" cmp "$T/target.json" "$T/target.copy"

# A hard link (st_nlink 2) to a valid job, made in tmp/ and renamed in (link(2) alone is no inotify event
# orchd listens to; SPEC §2 names IN_MOVED_TO and IN_CLOSE_WRITE).
cp "$T/target.copy" "$T/hard-src.json"
ln "$T/hard-src.json" "$SPOOL/tmp/hard.json"
mv "$SPOOL/tmp/hard.json" "$SPOOL/new/hard.json"
check_rejected hard.json 'has 2 hard links'
ok "hard.json: the rejected file is still the same inode" test "$REJ/hard.json" -ef "$T/hard-src.json"
ok "hard.json: unchanged" cmp "$T/target.copy" "$REJ/hard.json"

# A FIFO: opening it for reading without O_NONBLOCK would hang the daemon.
mkfifo "$SPOOL/tmp/fifo.json"
mv "$SPOOL/tmp/fifo.json" "$SPOOL/new/fifo.json"
check_removed fifo.json 'is a FIFO'

# A directory with content, a subdirectory and a symlink to outside (which must survive): all removed.
mkdir -p "$SPOOL/tmp/dir.json/sub" "$T/outside"
touch "$SPOOL/tmp/dir.json/inside" "$SPOOL/tmp/dir.json/sub/deeper" "$T/outside/keep"
ln -s "$T/outside" "$SPOOL/tmp/dir.json/sub/link"
mv "$SPOOL/tmp/dir.json" "$SPOOL/new/dir.json"
check_removed dir.json 'is a directory'
ok "dir.json: what its symlink pointed to is untouched" test -e "$T/outside/keep"
ok "dir.json: nothing of it is left anywhere in the spool" \
        test -z "$(find "$SPOOL" -name inside -o -name deeper 2>/dev/null)"

# A directory whose creator keeps adding entries through an fd it holds: removal is bounded; the daemon
# neither loops nor blocks, and the directory ends up removed or out of reach (rejected/.trash, root's).
python3 - "$SPOOL/tmp/busy.json" "$SPOOL/new/busy.json" "$T/busy.stop" <<'PY' &
import os, sys
src, dst, stop = sys.argv[1:]
os.mkdir(src)
fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
os.rename(src, dst)
i = 0
while not os.path.exists(stop) and i < 2000000:
    try:
        os.close(os.open("f%d" % i, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    except OSError:
        break
    i += 1
PY
busy_pid=$!
track_bg $busy_pid
if removed busy.json; then
        pass "busy.json: an error record is written while its creator is still filling it"
else
        fail "busy.json: an error record is written while its creator is still filling it" "$(ls -la "$SPOOL/rejected")"
fi
touch "$T/busy.stop"
wait "$busy_pid"
like "$(cat "$REJ/busy.json.error" 2>/dev/null)" 'is a directory' "busy.json: the record says what it was"
ok "busy.json: not in new/ nor kept in rejected/" test ! -e "$SPOOL/new/busy.json" -a ! -e "$REJ/busy.json"
ok "busy.json: the daemon still answers" ctl list

# Over the bound of entries removed per directory (10,000): it goes out of reach, its owner is told, and
# the next start removes it.
mkdir "$SPOOL/tmp/huge.json"
(cd "$SPOOL/tmp/huge.json" && seq 1 10001 | sed 's/^/e/' | xargs touch)
mv "$SPOOL/tmp/huge.json" "$SPOOL/new/huge.json"
if removed huge.json && wait_for 10 grep -q 'could not be emptied' "$REJ/huge.json.error"; then
        pass "huge.json: its record says it could not be emptied and was moved out of reach"
else
        fail "huge.json: its record says it could not be emptied and was moved out of reach" \
                "$(cat "$REJ/huge.json.error" 2>&1)"
fi
ok "huge.json: it is in rejected/.trash" test -n "$(find "$SPOOL/rejected/.trash" -mindepth 1 -maxdepth 1)"
stop_orchd
start_orchd
ok "huge.json: the next start removes rejected/.trash" test ! -e "$SPOOL/rejected/.trash"

# 5 MiB: a valid job padded with spaces, over the 4 MiB limit.
{
        echo '{ "nodes": { "a": { "cmd": "true" } } }'
        head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' '
} >"$T/orig/big.json"
cp "$T/orig/big.json" "$SPOOL/tmp/big.json"
mv "$SPOOL/tmp/big.json" "$SPOOL/new/big.json"
check_rejected big.json 'over the .*byte limit'
same big.json

# Long names (red team F3.2). 240 bytes: NAME.error.json would pass NAME_MAX (255), so the copy is kept as a
# prefix plus a unique tag. 250 bytes, valid: longer than a job file name may be (248), refused for that.
# Neither may stay in jobs/.intake (where it was retried at every start and SIGHUP, and blocked its name).
long240=$(printf 'l%.0s' $(seq 235)).json
long250=$(printf 'm%.0s' $(seq 245)).json
put "$long240" <<<'{ "nodes": '
put "$long250" <<<'{ "nodes": { "a": { "cmd": "true" } } }'
entry_of() { # entry_of NAME: the --json entry of the rejection of a file dropped as NAME (and kept under another)
        ctl --json rejected | jq -e --arg n "$1" '[.[] | select(.original == $n)] | if length == 1 then .[0] else empty end' 2>/dev/null
}
for long in "$long240" "$long250"; do
        n=${#long}
        if ! ok "a $n-byte name is rejected, kept under another name" wait_for 10 entry_of "$long"; then
                diag "intake: $(ls "$SPOOL/jobs/.intake" | cut -c1-40)"
                continue
        fi
        kept=$(entry_of "$long" | jq -r .name)
        ok "$n bytes: the name kept fits with its .error.json suffix ($((${#kept} + 11)) bytes)" \
                test $((${#kept} + 11)) -le 255
        like "$kept" "^${long:0:1}{150,}\.[0-9a-f]+-[0-9a-f]+\.json$" "$n bytes: a prefix of the name and a unique tag"
        ok "$n bytes: the copy is the original" cmp "$T/orig/$long" "$REJ/$kept"
        like "$(ctl rejected "$kept")" "Dropped as: $long" "$n bytes: orchctl rejected NAME shows the name as dropped"
        ok "$n bytes: --file gives the bytes back" cmp "$T/orig/$long" <(ctl rejected "$kept" --file)
done
like "$(entry_of "$long240" | jq -r .error)" "^$long240:[0-9]+:[0-9]+: " "240 bytes: rejected for its content"
like "$(entry_of "$long250" | jq -r .error)" "its name is 250 bytes long, a job file name may have at most 248: rename it" \
        "250 bytes: rejected for its name, saying how long it may be"
is "$(ls -A "$SPOOL/jobs/.intake")" "" "nothing is left in jobs/.intake"

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
ok "no error file for ignored names" test ! -e "$REJ/notes.txt.error" -a ! -e "$REJ/.hidden.json.error"
if [ "$(id -u)" = 0 ]; then
        # As root orchd runs a file as its owner, unless the config says that user may not run jobs.
        stop_orchd
        start_orchd --allow-users root
        printf '{ "nodes": { "a": { "cmd": ["/bin/true"] } } }' >"$SPOOL/tmp/nobodys.json"
        chown 65534 "$SPOOL/tmp/nobodys.json"
        mv "$SPOOL/tmp/nobodys.json" "$SPOOL/new/"
        ok "a file of a user not in AllowUsers= is rejected" wait_for 10 test -e "$SPOOL/rejected/65534/nobodys.json.error"
        like "$(cat "$SPOOL/rejected/65534/nobodys.json.error" 2>/dev/null)" "belongs to user .*, who is not in AllowUsers=" \
                "the error says why"
else
        skip "a file owned by another uid is rejected" "an unprivileged test cannot create a file owned by another uid"
fi
done_testing
