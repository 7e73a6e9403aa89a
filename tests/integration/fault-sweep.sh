#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The syscall fault sweep: the intake path (a job file dropped into new/) and the commit path (node starts
# and ends recorded) with one system call failing, for every call number N of each interesting call in
# turn. strace attaches to every thread of a running orchd (the loop and the committer thread; not the
# nodes) with --inject=SYSCALL:error=ERR:when=N, which fails the N-th such call of each thread; then a
# three-node job (a, then b and c) is dropped. Whatever happens, orchd must either carry on (the job
# ends) or fail-stop cleanly (a non-zero exit, not a crash, with its reason logged); then, after strace
# detaches and a normal restart:
#   - every state file parses with orchd's own reader (tests/helpers/state-dump)
#   - the file was never lost: accepted once, or still in new/, or rejected with a reason (.error)
#   - the job completes (a final state) and each node ran after its dependency, never two at once
#
# Which calls: write, fsync, rename (rename, renameat, renameat2) and openat, with EIO. The numbers N run
# from 1 to one past the most calls of that kind one thread makes for such a job (measured on a baseline
# run, under strace without injection). By default (CI) every N of fsync and rename and every third N of
# write and openat; FAULT_SWEEP=full runs every N, with ENOSPC too for write and fsync; FAULT_CASES runs
# the cases it lists ("rename:EIO:1 write:ENOSPC:3"), and KEEP_TMP=1 keeps each case's spool and trace.
#
# A case where orchd neither carries on nor stops (alive, the job not done after 10 s) is a "stall". A
# transient error while taking a file (claim rename, open, the staging directory's files) once left the
# file for "the next rescan", which came only with SIGHUP or a restart; intake now rescans by itself after
# such an error. FAULT_KNOWN=stall, a known-failure switch, reports stalls as TAP TODO (expected failures)
# instead of failures; it is off by default: the sweep is strict.
#
# Needs root (ptrace of the daemon) and strace; skipped otherwise.

# Known-failure switch (see above); empty: the sweep is strict.
: "${FAULT_KNOWN=}"
# Many restarts: a longer bound than lib.sh's default (set before lib.sh starts the watchdog).
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
. "$(dirname "$0")/lib.sh"

: "${STATE_DUMP:=$(find_built tests/helpers/state-dump)}"
: "${FAULT_SWEEP:=ci}"

if [ "$(id -u)" -ne 0 ] || ! command -v strace >/dev/null; then
        skip "fault sweep" "needs root and strace"
        done_testing
fi

# A node: holds an flock on its own lock while it runs (a second holder at once is an overlap), and
# appends "start NODE PID OVERLAP" and "end NODE PID" to the case's ledger.
cat >"$W/node" <<'NODE'
#!/bin/sh
exec 9>>"$1.lock.$ORCH_NODE"
if flock -n 9; then ov=0; else ov=1; fi
echo "start $ORCH_NODE $$ $ov" >>"$1"
echo "end $ORCH_NODE $$" >>"$1"
NODE
chmod 755 "$W/node"

job_json() { # job_json LEDGER
        local n="\"$W/node\", \"$1\""
        printf '{"name":"sweep","nodes":{"a":{"cmd":[%s]},"b":{"cmd":[%s],"after":["a"]},"c":{"cmd":[%s],"after":["a"]}}}\n' \
                "$n" "$n" "$n"
}

TRACE_SET() { # TRACE_SET NAME: the syscall set of a name
        case $1 in
        rename) echo rename,renameat,renameat2 ;;
        *) echo "$1" ;;
        esac
}

attach() { strace_attach "$CASE/trace" "$@" 2>"$CASE/strace.err"; }
detach() { strace_detach; }

job_state() { # job_state: the state of job "sweep" on disk (state-dump), empty if not accepted
        "$STATE_DUMP" "$SPOOL" 2>/dev/null | jq -r 'select(.ok and .name == "sweep") | .state' | head -n 1
}
job_final() {
        case $(job_state) in succeeded | failed | cancelled) return 0 ;; esac
        return 1
}
# wait_final SECONDS: until the job is final on disk or the file rejected, or orchd is gone; a client call every 2 s wakes a
# loop that does not run by itself (the known stall after a start, fixed elsewhere; not what this tests)
wait_final() {
        local deadline=$(($(date +%s%N) + $1 * 1000000000)) poke=0
        until job_final || [ -e "$REJ/sweep.json.error" ]; do
                [ -z "$ORCHD_PID" ] || pid_alive "$ORCHD_PID" || return 2
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                poke=$((poke + 1))
                [ $((poke % 40)) -ne 0 ] || ctl list >/dev/null 2>&1
                sleep 0.05
        done
}

# new_case NAME: a fresh spool and socket of its own
new_case() {
        CASE=$T/cases/$1
        mkdir -p "$CASE"
        SPOOL=$CASE/spool
        SOCK=$CASE/orchd.sock
        REJ=$SPOOL/rejected/0
        LEDGER=$CASE/ledger
}

drop() {
        mkdir -p "$SPOOL/tmp" "$SPOOL/new"
        job_json "$LEDGER" >"$SPOOL/tmp/sweep.json"
        mv "$SPOOL/tmp/sweep.json" "$SPOOL/new/sweep.json"
}

# ------------------------------------------------------------------------- baseline: count the calls
declare -A MAXN
new_case baseline
start_orchd --log-level info
attach write,fsync,fdatasync,rename,renameat,renameat2,openat || bail_out "strace cannot attach to orchd: $(cat "$CASE/strace.err")"
drop
wait_final 30 || bail_out "baseline job did not finish: $(job_state)"
detach
stop_orchd
for sc in write fsync rename openat; do
        # The most calls of the kind one thread made (strace prefixes each line with the thread id).
        MAXN[$sc]=$(grep -E "^[0-9]+ +(<\.\.\. )?($(TRACE_SET "$sc" | tr , '|'))\(" "$CASE/trace" | awk '{ print $1 }' |
                sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')
        [ -n "${MAXN[$sc]}" ] || MAXN[$sc]=0
        diag "baseline: at most ${MAXN[$sc]} $sc calls per thread for one job"
done
ok "baseline: the job succeeds under strace without injection" test "$(job_state)" = succeeded

# ----------------------------------------------------------------------------------------- one case
declare -A OUTCOME
run_case() { # run_case SYSCALL ERRNO N
        local sc=$1 err=$2 n=$3 name="$1-$2-$3" why="" st rc inj
        new_case "$name"
        start_orchd --log-level info
        inj="$(TRACE_SET "$sc"):error=$err:when=$n"
        if ! attach "$(TRACE_SET "$sc")" "$inj"; then
                fail "$name: strace attaches" "$(cat "$CASE/strace.err")"
                detach
                return
        fi
        drop
        wait_final 10
        rc=$?
        detach
        # Where the injection hit: a failed write to an eventfd (the committer waking the loop) is no fault
        # a system can have (it fails only when the counter overflows, and then the loop is awake anyway).
        local fd target=""
        for fd in $(grep '(INJECTED)' "$CASE/trace" | sed -n 's/^[0-9]* *write(\([0-9]*\),.*/\1/p'); do
                target+=" $(readlink "/proc/$ORCHD_PID/fd/$fd" 2>/dev/null)"
        done
        if [ "$rc" -eq 2 ]; then
                # orchd exited by itself: a fail-stop must be an exit with a status, not a crash.
                wait "$ORCHD_PID"
                st=$?
                ORCHD_PID=
                if [ "$st" -eq 0 ] || [ "$st" -gt 128 ]; then
                        why="orchd ended with status $st under the fault (a crash or a silent exit, not a fail-stop)"
                elif ! grep -q '^<[0-3]>' "$T/orchd.log"; then
                        why="orchd exited with status $st without logging an error saying why"
                fi
                OUTCOME[$name]="fail-stop (exit $st)"
        elif [ "$rc" -eq 1 ]; then
                OUTCOME[$name]="stalled under the fault"
                stop_orchd 20
        else
                OUTCOME[$name]="carried on"
                stop_orchd 20 || why="orchd did not stop on SIGTERM"
        fi
        # A normal restart, then the invariants.
        start_orchd --log-level info
        if ! wait_final 30 && ! [ -e "$REJ/sweep.json.error" ]; then
                why="${why:+$why; }after a restart the job is not final (state '$(job_state)')"
        fi
        stop_orchd 20
        local dump accepted
        if ! dump=$("$STATE_DUMP" "$SPOOL" 2>&1); then
                why="${why:+$why; }a state file does not parse: $(echo "$dump" | jq -r 'select(.ok == false) | "jobs/\(.dir): \(.error)"' 2>/dev/null | head -n 3)"
        fi
        accepted=$(echo "$dump" | jq -r 'select(.ok and .name == "sweep") | .dir' 2>/dev/null | wc -l)
        if [ "$accepted" -gt 1 ]; then
                why="${why:+$why; }the file was accepted $accepted times"
        elif [ "$accepted" -eq 0 ]; then
                if [ -e "$REJ/sweep.json.error" ]; then
                        OUTCOME[$name]+=", rejected: $(head -c 200 "$REJ/sweep.json.error")"
                        # Allowed (accounted for, with a reason), but a valid file: say so in the summary.
                        diag "$name: the valid file was rejected under the fault: $(head -c 200 "$REJ/sweep.json.error")"
                elif [ -e "$SPOOL/new/sweep.json" ]; then
                        why="${why:+$why; }the file is still in new/ after a restart"
                else
                        why="${why:+$why; }the file was lost (not accepted, not in new/, not rejected)"
                fi
        else
                OUTCOME[$name]+=", job $("$STATE_DUMP" "$SPOOL" 2>/dev/null | jq -r 'select(.ok and .name == "sweep") |
                        .state + ([.nodes | to_entries[] | select(.value.reason) | " (\(.key): \(.value.reason))"] | join(""))')"
        fi
        # An injected EIO may fail a node (spawn:EIO), but EBADF says orchd handed a closed fd to a spawn.
        if [[ ${OUTCOME[$name]} == *spawn:EBADF* ]]; then
                why="${why:+$why; }a node failed with spawn:EBADF: a closed fd was used to start it"
        fi
        if grep -q '^start [a-z] [0-9]* 1$' "$LEDGER" 2>/dev/null; then
                why="${why:+$why; }two executions of a node at once: $(grep '^start [a-z] [0-9]* 1$' "$LEDGER" | head -n 2)"
        fi
        # b and c start only after a ended (the ledger's order).
        if [ -e "$LEDGER" ] && ! awk '$1 == "end" && $2 == "a" { done = 1 } $1 == "start" && $2 != "a" && !done { bad = 1 } END { exit bad }' "$LEDGER"; then
                why="${why:+$why; }a dependent started before a ended: $(tr '\n' ';' <"$LEDGER")"
        fi
        if [ -z "$why" ] && [ "${OUTCOME[$name]%%,*}" = "stalled under the fault" ] && [[ $target == *eventfd* ]]; then
                skip "$sc $err #$n: stalled" "the injected failure hit a write to an eventfd ($target), which cannot fail"
        elif [ -z "$why" ] && [ "${OUTCOME[$name]%%,*}" = "stalled under the fault" ]; then
                local msg="$sc $err #$n: orchd neither carried on nor stopped: the job was not done after 10 s"
                msg+=" ($(grep -v 'Control call' "$T/orchd.log.1" | grep -m1 '^<[0-4]>' | cut -c1-160))"
                if [[ ,$FAULT_KNOWN, == *,stall,* ]]; then
                        _tap_n=$((_tap_n + 1))
                        echo "not ok $_tap_n - $msg # TODO known failure (FAULT_KNOWN=stall); after a restart: ${OUTCOME[$name]#*, }"
                else
                        fail "$msg"
                fi
        elif [ -z "$why" ]; then
                pass "$sc $err #$n: ${OUTCOME[$name]}; state parses, file accounted for, no overlap"
                [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$CASE"
        else
                fail "$sc $err #$n: ${OUTCOME[$name]}" "$why" "$(grep -v 'Control call' "$T/orchd.log.1" 2>/dev/null | tail -n 15)"
        fi
        [ -e "$T/orchd.log.1" ] && cat "$T/orchd.log.1" >>"$T/all.log" && : >"$T/orchd.log.1"
}

sweep() { # sweep SYSCALL ERRNO STEP
        local n
        for ((n = 1; n <= MAXN[$1] + 1; n += $3)); do
                run_case "$1" "$2" "$n"
        done
}

if [ -n "${FAULT_CASES:-}" ]; then # by hand: FAULT_CASES="rename:EIO:1 write:ENOSPC:3"
        for c in $FAULT_CASES; do
                IFS=: read -r sc err n <<<"$c"
                run_case "$sc" "$err" "$n"
        done
elif [ "$FAULT_SWEEP" = full ]; then
        for sc in fsync rename write openat; do
                sweep "$sc" EIO 1
        done
        sweep write ENOSPC 1
        sweep fsync ENOSPC 1
else
        sweep fsync EIO 1
        sweep rename EIO 1
        sweep write EIO 3
        sweep openat EIO 3
fi
declare -A TALLY
for k in "${!OUTCOME[@]}"; do
        TALLY[${OUTCOME[$k]%%,*}]=$((${TALLY[${OUTCOME[$k]%%,*}]:-0} + 1))
done
for k in "${!TALLY[@]}"; do
        diag "$k: ${TALLY[$k]} cases"
done
done_testing
