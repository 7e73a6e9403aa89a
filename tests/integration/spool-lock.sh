#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One daemon per spool (issue 9, point 2): a second orchd on a spool in use (with a socket of its own)
# exits at once with status 75 (EX_TEMPFAIL) and a message naming the holder's pid, touching nothing: the
# first daemon's running node is not killed and ends normally, and no file of the spool changes. The
# lock dies with its holder, so a restart after kill -9 is not refused.

. "$(dirname "$0")/lib.sh"

snapshot() { # snapshot FILE: every path of the spool with its type, mode, size, mtime, ctime and inode
        find "$SPOOL" -printf '%P %y %m %s %T@ %C@ %i\n' | sort >"$1"
}

start_orchd
track_pid_file "$W/n.pid"
drop_job gated <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "echo \$\$ > $W/n.pid; while [ ! -e $W/go ]; do sleep 0.01; done"] },
             "after": { "cmd": ["true"], "after": ["n"] } } }
EOF
id=$(job_id_of gated) || bail_out "job not accepted"
wait_for 20 test -s "$W/n.pid" || bail_out "node n did not start"
node_pid=$(cat "$W/n.pid")
ok "node n is recorded running" wait_for 20 disk_node_is "$id" n running
is "$(cat "$SPOOL/orchd.lock" 2>/dev/null)" "$ORCHD_PID" "orchd.lock holds the daemon's pid"

snapshot "$T/before"
t0=$(now)
timeout 30 "$ORCHD" --config "$T/orchd.conf" --spool "$SPOOL" --socket "$T/second.sock" --log-level debug \
        </dev/null >"$T/second.out" 2>"$T/second.log"
rc=$?
elapsed=$((($(now) - t0) / 1000000))
is "$rc" 75 "a second orchd on the spool exits with status 75 (EX_TEMPFAIL)"
ok "at once (${elapsed} ms < 10000)" test "$elapsed" -lt 10000
like "$(cat "$T/second.log")" "Spool $SPOOL is in use by another orchd \\(pid $ORCHD_PID," \
        "its message names the spool and the holder's pid"
ok "the message says what to do" grep -q 'Stop that one first, or give this one another --spool' "$T/second.log"
# (the messages only: their source locations name the build's path, which may hold any word)
ok "it recovered nothing" eval "! sed 's/ ([^ ]*:[0-9]* [a-z_]*)\$//' '$T/second.log' | grep -qi 'recover\|interrupt\|kill'"
ok "it did not create its socket" test ! -e "$T/second.sock"
snapshot "$T/after"
if cmp -s "$T/before" "$T/after"; then
        pass "no file or directory of the spool changed"
else
        fail "no file or directory of the spool changed" "$(diff "$T/before" "$T/after")"
fi
ok "the first daemon's node is still running" pid_alive "$node_pid"
ok "the first daemon still runs" pid_alive "$ORCHD_PID"

touch "$W/go"
is_exit 0 "the job ends normally" ctl wait "$id" --timeout 30
expect_node "$id" n succeeded null
is "$(node_field "$id" n attempts)" 1 "node n ran once"
expect_node "$id" after succeeded null

# The kernel drops the lock with its holder: a kill -9 leaves no stale lock.
kill9_orchd
start_orchd
ok "after kill -9 of the holder, a new orchd takes the spool (running, and answering list)" \
        sh -c "kill -0 $ORCHD_PID && '$ORCHCTL' -s '$SOCK' list >/dev/null"
is "$(cat "$SPOOL/orchd.lock" 2>/dev/null)" "$ORCHD_PID" "orchd.lock holds the new daemon's pid"
done_testing
