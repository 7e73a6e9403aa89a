#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchd.conf (SPEC §1): [Daemon] Key=Value settings, flags overriding them (also on reload), warnings for
# unknown keys, a clear error (exit 78) naming file and line for invalid values, and SIGHUP reloading
# what can change at run time (MaxParallel= takes effect on running jobs) while saying what needs a
# restart.

. "$(dirname "$0")/lib.sh"

conf=$T/test.conf
log_has() { grep -q -- "$1" "$T/orchd.log"; }

cat >"$conf" <<EOF
# a comment
[Daemon]
MaxParallel = 1
LogLevel=debug
Frobnicate=yes
EOF
start_orchd --config "$conf"
ok "MaxParallel= from the file applies" log_has "ready: .* 1 parallel"
ok "an unknown key is a warning naming file and line" log_has "$conf:5: unknown key Frobnicate=, ignored"

# Two independent nodes; with one slot only the first starts.
drop_job pair <<EOF
{ "nodes": { "x": { "cmd": ["/bin/sh", "-c", "touch $W/x; while [ ! -e $W/go ]; do $W/sleep 0.05; done"] },
             "y": { "cmd": ["/bin/sh", "-c", "touch $W/y; while [ ! -e $W/go ]; do $W/sleep 0.05; done"] } } }
EOF
id=$(job_id_of pair) || bail_out "job not accepted"
wait_for 10 sh -c "test -e $W/x || test -e $W/y" || bail_out "no node started"
# Both are ready at once, so one scheduling pass would have started both: the daemon's states settle it.
is "$(job_status "$id" | jq -r '[.nodes[].state] | sort | join(" ")')" "pending running" \
        "with MaxParallel=1 one node runs"

sed -i 's/^MaxParallel = 1/MaxParallel=2/' "$conf"
echo "DropGroup=nogroup" >>"$conf"
kill -HUP "$ORCHD_PID"
ok "after SIGHUP with MaxParallel=2 the second node starts" wait_for 10 sh -c "test -e $W/x && test -e $W/y"
ok "the reload names the changed setting" log_has "Reload: MaxParallel= changed"
ok "a change that needs a restart is said so" log_has "Reload: DropGroup= changed, but applies only at the next start"
touch "$W/go"
is_exit 0 "the job finishes" wait_job "$id"

echo "MaxParallel=lots" >>"$conf"
kill -HUP "$ORCHD_PID"
ok "an invalid file on reload is reported with file and line" \
        wait_for 10 grep -q "Invalid configuration: $conf:[0-9]*: invalid MaxParallel=lots" "$T/orchd.log"
ok "and the configuration in force is kept" wait_for 10 grep -q "Keeping the configuration in force" "$T/orchd.log"
is_exit 0 "orchd still answers" ctl list
stop_orchd

# Flags win over the file, also on reload.
printf '[Daemon]\nMaxParallel=2\n' >"$conf"
start_orchd --config "$conf" --max-parallel 3
ok "--max-parallel overrides MaxParallel=" log_has "ready: .* 3 parallel"
printf '[Daemon]\nMaxParallel=5\n' >"$conf"
kill -HUP "$ORCHD_PID"
ok "on reload the flag still wins" wait_for 10 grep -q "Configuration reloaded: 0 setting(s) changed; 3 parallel" "$T/orchd.log"
stop_orchd

# Refusals at start: exit 78 (EX_CONFIG) with the reason.
printf '[Daemon]\nMaxLogSize=12\n' >"$conf"
"$ORCHD" --config "$conf" --spool "$SPOOL" --socket "$SOCK" 2>"$T/err"
is $? 78 "an invalid value: exit 78"
like "$(cat "$T/err")" "$conf:2: invalid MaxLogSize=12: must be a size of at least 4096 bytes" "naming file, line and rule"
printf '[Daemon]\nUserCPUWeight=alice:200\nUserCPUWeight=bob:0\n' >"$conf"
"$ORCHD" --config "$conf" --spool "$SPOOL" --socket "$SOCK" 2>"$T/err"
is $? 78 "an invalid UserCPUWeight=: exit 78"
like "$(cat "$T/err")" "$conf:3: invalid UserCPUWeight=bob:0: a weight must be a number from 1 to 10000" \
        "naming file, line, key and range"
"$ORCHD" --user-cpu-weight alice --spool "$SPOOL" 2>"$T/err"
is $? 64 "an invalid --user-cpu-weight: usage error 64"
like "$(cat "$T/err")" "invalid --user-cpu-weight 'alice': expected USER:WEIGHT entries" "saying the form"
"$ORCHD" --config "$T/missing.conf" --spool "$SPOOL" --socket "$SOCK" 2>"$T/err"
is $? 78 "a --config file that does not exist: exit 78"
like "$(cat "$T/err")" "Failed to read configuration file $T/missing.conf: No such file or directory" "saying so"
"$ORCHD" --max-parallel 0 --spool "$SPOOL" 2>"$T/err"
is $? 64 "an invalid flag: usage error 64"
like "$(cat "$T/err")" "invalid --max-parallel '0': must be a number from 1 to 1000000" "naming the flag"

done_testing
