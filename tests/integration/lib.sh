# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Shared helpers for the integration tests (sourced, never run). Each test is a bash script printing TAP
# for automake's tap-driver.sh. It gets a private temp dir $T (removed at exit unless KEEP_TMP=1) holding
# the spool ($SPOOL), the control socket ($SOCK), the daemon's stderr ($T/orchd.log) and a work dir ($W)
# for files written by nodes. A watchdog ends any test that runs longer than TEST_TIMEOUT seconds, so a
# hung daemon fails the test instead of hanging `make check`.
#
# Time bounds only catch hangs, never decide an order: every bound a test gives lib.sh's waits (wait_for,
# wait_rejected, job_id_of, wait_job, stop_orchd, and the watchdog's TEST_TIMEOUT) is multiplied by
# TEST_TIME_SCALE (default 3), so that the suite passes on a loaded machine (make check -j4 while every
# core is busy) with the same scripts. A wait returns as soon as what it waits for is there.
#
# Binaries come from the environment set by Makefile.am (ORCHD, ORCHCTL, SPIN, PTY, TOP_SRCDIR); when a
# test is run by hand from a build directory they fall back to ./src/… and ./tests/helpers/….

set -u

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${TOP_SRCDIR:=$(cd "$TESTS_DIR/../.." && pwd)}"

find_built() { # find_built RELPATH: the first existing executable of $PWD/RELPATH and $TOP_SRCDIR/RELPATH
        local p
        for p in "$PWD/$1" "$TOP_SRCDIR/$1"; do
                if [ -x "$p" ]; then
                        echo "$p"
                        return 0
                fi
        done
        echo "$TOP_SRCDIR/$1"
}
: "${ORCHD:=$(find_built src/orchd)}"
: "${ORCHCTL:=$(find_built src/orchctl)}"
: "${SPIN:=$(find_built tests/helpers/spin)}"
: "${PTY:=$(find_built tests/helpers/pty)}"
: "${ORCHD_EXEC_HELPER:=$(find_built src/orchd-exec)}"
: "${ORCHD_KEEPER:=$(find_built src/orchd-keeper)}"
: "${TEST_TIMEOUT:=60}"
: "${TEST_TIME_SCALE:=3}"
# Job files name $SPIN and nodes run in another cwd: make the paths absolute.
case $ORCHD in /*) ;; *) ORCHD=$PWD/$ORCHD ;; esac
case $ORCHCTL in /*) ;; *) ORCHCTL=$PWD/$ORCHCTL ;; esac
case $SPIN in /*) ;; *) SPIN=$PWD/$SPIN ;; esac
case $PTY in /*) ;; *) PTY=$PWD/$PTY ;; esac
case $ORCHD_EXEC_HELPER in /*) ;; *) ORCHD_EXEC_HELPER=$PWD/$ORCHD_EXEC_HELPER ;; esac
case $ORCHD_KEEPER in /*) ;; *) ORCHD_KEEPER=$PWD/$ORCHD_KEEPER ;; esac
export ORCHD ORCHCTL SPIN PTY TOP_SRCDIR ORCHD_EXEC_HELPER ORCHD_KEEPER

# The base PATH of a node (SPEC §3).
NODE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---------------------------------------------------------------------------------------------------- TAP

_tap_n=0
_tap_failed=0
_tap_planned=

plan() { # plan N: print the plan up front (otherwise done_testing prints it at the end)
        _tap_planned=$1
        echo "1..$1"
}

diag() { # diag TEXT…: a TAP comment line per line of text
        local line
        printf '%s\n' "$*" | while IFS= read -r line; do
                printf '# %s\n' "$line"
        done
}

diag_file() { # diag_file FILE [MAXLINES]: a file's last lines as TAP comments (minus orchd's per-call noise)
        [ -e "$1" ] || {
                diag "($1 does not exist)"
                return 0
        }
        diag "--- ${1} (last ${2:-80} lines, without 'Control call' lines) ---"
        grep -v 'Control call io\.orchd\.' "$1" | tail -n "${2:-80}" | sed 's/^/# /'
}

pass() { # pass DESC
        _tap_n=$((_tap_n + 1))
        echo "ok $_tap_n - $1"
}

fail() { # fail DESC [DIAG…]
        _tap_n=$((_tap_n + 1))
        _tap_failed=$((_tap_failed + 1))
        echo "not ok $_tap_n - $1"
        shift
        [ $# -eq 0 ] || diag "$@"
}

skip() { # skip DESC REASON
        _tap_n=$((_tap_n + 1))
        echo "ok $_tap_n - $1 # SKIP $2"
}

ok() { # ok DESC CMD…: pass if CMD exits 0
        local desc=$1
        shift
        if "$@"; then
                pass "$desc"
        else
                fail "$desc" "command failed: $*"
        fi
}

is() { # is GOT WANT DESC
        if [ "$1" = "$2" ]; then
                pass "$3"
        else
                fail "$3" "got '$1', want '$2'"
        fi
}

isnt() { # isnt GOT UNWANTED DESC
        if [ "$1" != "$2" ]; then
                pass "$3"
        else
                fail "$3" "got '$1', want anything else"
        fi
}

like() { # like GOT ERE DESC
        if printf '%s' "$1" | grep -Eq -- "$2"; then
                pass "$3"
        else
                fail "$3" "got '$1', want a match for /$2/"
        fi
}

is_exit() { # is_exit WANT DESC CMD…: pass if CMD exits with status WANT
        local want=$1 desc=$2 got
        shift 2
        "$@" >"$T/last.out" 2>"$T/last.err"
        got=$?
        if [ "$got" = "$want" ]; then
                pass "$desc"
        else
                fail "$desc" "exit status: got $got, want $want: $*" "stdout: $(head -c 2000 "$T/last.out")" \
                        "stderr: $(head -c 2000 "$T/last.err")"
        fi
}

jq_ok() { # jq_ok DESC [JQ-OPTIONS…] FILTER FILE: pass if jq -e FILTER FILE is true (output not shown)
        local desc=$1
        shift
        if jq -e "$@" >/dev/null 2>"$T/jq.err"; then
                pass "$desc"
        else
                fail "$desc" "jq -e ${*:1:$#-1} failed on: $(head -c 3000 "${@: -1}")" "$(cat "$T/jq.err")"
        fi
}

bail_out() { # bail_out REASON: abort the whole test
        echo "Bail out! $*"
        _tap_failed=$((_tap_failed + 1))
        _bailed=1
        exit 1
}

done_testing() {
        [ -n "$_tap_planned" ] || echo "1..$_tap_n"
        if [ -n "$_tap_planned" ] && [ "$_tap_planned" != "$_tap_n" ]; then
                diag "planned $_tap_planned tests but ran $_tap_n"
                _tap_failed=$((_tap_failed + 1))
        fi
        _done=1
        [ "$_tap_failed" -eq 0 ]
        exit $?
}

# ------------------------------------------------------------------------------------ temp dir, cleanup

_bailed=
_done=
ORCHD_PID=
_watchdog_pid=

T=$(mktemp -d "${TMPDIR:-/tmp}/orchd-test.XXXXXX") || {
        echo "Bail out! mktemp -d failed"
        exit 1
}
SPOOL=$T/spool
# Where the rejected job files of the test's own user are kept (a file of uid U: $SPOOL/rejected/U/).
REJ=$SPOOL/rejected/$(id -u)
SOCK=$T/orchd.sock
W=$T/work
mkdir -p "$W"
# Files in $T/kill/ hold pids of processes a test started that may outlive the daemon (orphaned nodes after
# kill -9). Cleanup kills those, by pid, but only while their command line still names $T: a pid may have
# been reused by then. Long-running nodes therefore run $W/sleep (a symlink to sleep) rather than sleep.
mkdir -p "$T/kill"
ln -s "$(command -v sleep)" "$W/sleep"

pid_alive() { # pid_alive PID: a process with this pid exists and is not all zombie. A killed daemon's main
        # thread is a zombie before its other threads have exited, and its files (its spool lock among them)
        # are released only with the last: it is alive until then.
        local f st
        for f in "/proc/$1/task/"*/stat; do
                st=$(sed 's/^.*) //' "$f" 2>/dev/null | cut -d' ' -f1) || continue
                [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] && return 0
        done
        return 1
}
proc_start() { # proc_start PID: the start time of process PID (/proc/PID/stat field 22), empty when gone
        sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'
}
gone() { # gone PID START: the process that had PID and START is no more (a zombie is gone; a reused pid is
        # another process): for processes that are nobody's children here, whose pids may come round again
        [ "$(proc_start "$1")" != "$2" ] || ! pid_alive "$1"
}

spool_on_tmpfs() { # spool_on_tmpfs WHAT OPTIONS: $SPOOL becomes a tmpfs of its own (mount -o OPTIONS), unmounted
        # at exit; without root, or where mounting is refused, the whole test is skipped (WHAT names it)
        if [ "$(id -u)" -ne 0 ]; then
                skip "$1" "needs root to mount a private tmpfs"
                done_testing
                exit 0
        fi
        mkdir -p "$SPOOL"
        if ! mount -t tmpfs -o "$2,mode=0755" orchd-test "$SPOOL" 2>"$T/mount.err"; then
                skip "$1" "cannot mount a tmpfs here: $(cat "$T/mount.err")"
                done_testing
                exit 0
        fi
        _tmpfs_spool=$SPOOL
}

# Throwaway accounts and groups of root-only tests: names unique to each test file (tests run in parallel).
_accounts=() _groups=()
_remove_account() { # _remove_account NAME: the account, and its home only where add_account -m made it
        local h
        id "$1" >/dev/null 2>&1 || return 0
        h=$(getent passwd "$1" | cut -d: -f6)
        shadow_cmd userdel -f "$1" >/dev/null 2>&1 # never -r with -f: that removes a home such as / whoever owns it
        [ "$h" = "/home/$1" ] && rm -rf -- "$h"
        return 0
}
_remove_accounts() {
        local u g
        for u in "${_accounts[@]}"; do
                _remove_account "$u"
        done
        for g in "${_groups[@]}"; do
                getent group "$g" >/dev/null && shadow_cmd groupdel "$g" >/dev/null 2>&1
        done
}
# shadow_cmd CMD…: an account tool (useradd, usermod, userdel, groupadd, groupdel, gpasswd) that tries again
# while another process holds the lock of /etc/passwd, /etc/group or /etc/shadow (parallel tests and other
# test runs on the machine create accounts too: useradd then exits 1 or 10 with "cannot lock /etc/passwd;
# try again later"). Gives up after SHADOW_LOCK_WAIT seconds (default 120: a generous bound, not a window)
# and returns the tool's status; its stderr is shown unless it was only the lock.
: "${SHADOW_LOCK_WAIT:=120}"
shadow_cmd() {
        local deadline=$(($(date +%s%N) + SHADOW_LOCK_WAIT * 1000000000)) rc err=$T/shadow.err.$BASHPID
        while :; do
                "$@" 2>"$err"
                rc=$?
                if [ "$rc" -eq 0 ] || ! grep -qiE 'cannot lock|unable to lock|try again later' "$err"; then
                        cat "$err" >&2
                        rm -f "$err"
                        return "$rc"
                fi
                if [ "$(date +%s%N)" -ge "$deadline" ]; then
                        diag "$1: the account files stayed locked for ${SHADOW_LOCK_WAIT} s: $(cat "$err")" >&2
                        rm -f "$err"
                        return "$rc"
                fi
                # A short random pause, so two waiting tests do not retry in lock step.
                sleep "0.$((RANDOM % 4 + 1))"
        done
}
# lock_accounts: before a test makes its accounts, it takes a machine-wide lock named after the test file,
# held until it exits: the accounts' names are the test's own (o8inc…), and another run of the same test on
# this machine (another build directory or worktree) would otherwise delete them as leftovers mid-run. The
# wait is bounded by the other run's own watchdog; ours restarts once we hold the lock. add_account and
# add_group take it; a test that calls useradd itself calls lock_accounts first.
# _machine_lock VAR FILE WHAT: take the machine-wide lock FILE (in /run/lock) into fd variable VAR, held
# until the test exits; while another holder has it, our watchdog is paused.
_machine_lock() {
        local -n _fd=$1
        [ -z "$_fd" ] || return 0
        local dir=/run/lock f
        [ -d "$dir" ] && [ -w "$dir" ] || dir=${TMPDIR:-/tmp}
        f=$dir/$2
        exec {_fd}>>"$f" || bail_out "cannot open the lock $f"
        flock -n "$_fd" && return 0
        diag "$3 ($f): waiting for it to end"
        kill "$_watchdog_pid" 2>/dev/null
        wait "$_watchdog_pid" 2>/dev/null
        flock -w "$((TEST_TIMEOUT * TEST_TIME_SCALE + 60))" "$_fd" || bail_out "$3 held $f too long"
        _start_watchdog
}
_accounts_lock_fd=
lock_accounts() {
        _machine_lock _accounts_lock_fd "orchd-tests-accounts.$(basename "$0" .sh)" \
                "another run of $(basename "$0") holds its accounts"
}
skip_all() { # skip_all REASON: skip the whole test (plan 1..0), saying why
        echo "1..0 # SKIP $*"
        _done=1
        exit 0
}
JOURNALD_CTL=$TOP_SRCDIR/tests/journald.sh
JPID=
JOURNALD_PID=
use_journald() { # use_journald: a journald answers, this test's alone while it runs (lock_journald); one
        # started here (its pid in $JPID) is stopped at exit. $JOURNALD_PID: the journald that answers (a test
        # that SIGSTOPs it needs no SIGCONT at exit). Skips the test without root, journalctl or journald.
        local rc
        [ "$(id -u)" = 0 ] || skip_all "needs root to start systemd-journald and to read the system journal"
        command -v journalctl >/dev/null || skip_all "no journalctl (package systemd)"
        JPID=$T/journald.pid
        lock_journald
        "$JOURNALD_CTL" start "$JPID" >"$T/journald-start.out" 2>&1
        rc=$?
        [ "$rc" = 77 ] && skip_all "$(cat "$T/journald-start.out")"
        [ "$rc" = 0 ] || bail_out "cannot start journald: $(cat "$T/journald-start.out")"
        JOURNALD_PID=$(cat "$JPID" 2>/dev/null || pgrep -xo systemd-journal)
}
_stop_journald() {
        [ -n "$JPID" ] || return 0
        [ "$(cat "/proc/$JOURNALD_PID/comm" 2>/dev/null)" = systemd-journal ] && kill -CONT "$JOURNALD_PID"
        "$JOURNALD_CTL" stop "$JPID" >/dev/null 2>&1
}
# lock_journald: a test that uses the journald (tests/journald.sh start … stop) takes this lock first and
# holds it to its end. A journald is started by the first test that finds none and stopped at its exit, and
# journald.sh stops and restarts it on purpose: two such tests at once would pull it from under each other.
_journald_lock_fd=
lock_journald() {
        _machine_lock _journald_lock_fd orchd-tests-journald "another test uses the tests' journald"
}
add_group() { # add_group NAME: a new group (a leftover of that name is replaced), removed at exit
        lock_accounts
        _groups+=("$1")
        getent group "$1" >/dev/null && shadow_cmd groupdel "$1" >/dev/null 2>&1
        shadow_cmd groupadd "$1" || bail_out "cannot create group $1"
}
add_account() { # add_account NAME [USERADD-OPTION…]: a new account (a leftover of that name is replaced) with
        # the password "*" (none, and not locked: useradd's "!" is a locked account, which runs no jobs),
        # removed at exit
        local u=$1
        shift
        lock_accounts
        _accounts+=("$u")
        _remove_account "$u"
        shadow_cmd useradd -s /bin/sh "$@" "$u" || bail_out "cannot create user $u"
        shadow_cmd usermod -p '*' "$u" || bail_out "cannot set the password of $u to '*'"
}
as() { # as USER CMD…: CMD as USER with their groups, HOME, USER and the nodes' PATH
        local u=$1
        shift
        setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups \
                env HOME="$(getent passwd "$u" | cut -d: -f6)" USER="$u" PATH="$NODE_PATH" "$@"
}
ctl_as() { # ctl_as USER ARGS…: orchctl on this test's socket as USER
        local u=$1
        shift
        as "$u" "$ORCHCTL" -s "$SOCK" "$@"
}

# Background helpers (listeners, followers, holders) a test starts with `CMD &`: register each with
# `track_bg $!`. Cleanup ends them (SIGTERM to each and to its children, SIGKILL what is left after 5 s) and
# reaps them before anything else, so that none outlives the test holding its TAP pipe open (make would wait
# for it) or a connection to a daemon being stopped. Background jobs a test forgot to register are ended
# the same way and named in a diagnostic. Only the running jobs of the shell's job table are candidates: a
# pid the test has already reaped may belong to someone else by now.
_bg_pids=()
track_bg() { # track_bg PID…: cleanup ends and reaps these background processes of the test shell
        _bg_pids+=("$@")
}
_end_bg() {
        local p c pids=() known=" ${_bg_pids[*]} "
        for p in $(jobs -rp); do
                [ "$p" != "$ORCHD_PID" ] && [ "$p" != "$_watchdog_pid" ] || continue
                pid_alive "$p" || continue
                case $known in
                *" $p "*) ;;
                *) diag "cleanup: ending background process $p, which the test did not track_bg:" \
                        "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" ;;
                esac
                pids+=("$p")
        done
        [ ${#pids[@]} -gt 0 ] || return 0
        for p in "${pids[@]}"; do
                for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
                        kill -TERM "$c" 2>/dev/null
                done
                kill -TERM "$p" 2>/dev/null
        done
        for p in "${pids[@]}"; do
                _wait_exit "$p" 5 || kill -KILL "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        _bg_pids=()
}

_cleanup() {
        local rc=$? f p
        trap - EXIT TERM INT
        if [ -n "$_watchdog_pid" ]; then
                kill "$_watchdog_pid" 2>/dev/null
                wait "$_watchdog_pid" 2>/dev/null
        fi
        _end_bg
        if [ -n "$ORCHD_PID" ]; then
                kill -TERM "$ORCHD_PID" 2>/dev/null
                _wait_exit "$ORCHD_PID" 10 || kill -KILL "$ORCHD_PID" 2>/dev/null
                wait "$ORCHD_PID" 2>/dev/null
        fi
        _kill_keepers
        _stop_journald
        # What the test set up outside $T, undone once the daemon (and so every node) is gone.
        _remove_cgroup
        [ -z "$_tmpfs_spool" ] || umount -l "$_tmpfs_spool" 2>/dev/null
        _remove_accounts
        for f in "$T"/kill/*; do
                [ -f "$f" ] || continue
                for p in $(cat "$f"); do
                        tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF "$T" && kill -KILL "$p" 2>/dev/null
                done
        done
        if [ -z "$_done" ] || [ "$_tap_failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
                [ -n "$_done" ] || [ -n "$_bailed" ] || echo "Bail out! test script ended early (status $rc)"
                diag_file "$T/orchd.log" 150
                [ -e "$T/orchd.log.1" ] && diag_file "$T/orchd.log.1" 60
        fi
        if [ "${KEEP_TMP:-0}" = 1 ]; then
                diag "kept $T"
        else
                rm -rf "$T"
        fi
        [ "$rc" -ne 0 ] || [ "$_tap_failed" -eq 0 ] || rc=1
        exit "$rc"
}
cgroup2_mount() { # cgroup2_mount: where the cgroup2 file system is mounted (as orchd looks for it); 1 if nowhere
        local m
        for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
                [ "$(stat -fc %T "$m" 2>/dev/null)" = cgroup2fs ] && echo "$m" && return 0
        done
        return 1
}
# The cgroup subtree of this test's spool (orchd(8), ISOLATION), when a daemon killed with -9 and not
# restarted left it: what still runs there is killed, its directories removed. Only ever orchd-ID of this
# spool's id, which no other test or daemon uses.
_remove_cgroup() {
        local id base d i
        id=$(head -c 16 "$SPOOL/spool-id" 2>/dev/null) || return 0
        [ "${#id}" = 16 ] || return 0
        for base in /sys/fs/cgroup/orchd-"$id" /sys/fs/cgroup/unified/orchd-"$id"; do
                [ -d "$base" ] || continue
                for d in $(find "$base" -mindepth 1 -depth -type d 2>/dev/null); do
                        echo 1 >"$d/cgroup.kill" 2>/dev/null
                        for i in $(seq 100); do rmdir "$d" 2>/dev/null && break; sleep 0.02; done
                done
                rmdir "$base" 2>/dev/null
        done
}
_tmpfs_spool=
trap _cleanup EXIT
trap 'diag "watchdog: test exceeded $((TEST_TIMEOUT * TEST_TIME_SCALE)) s (TEST_TIMEOUT=$TEST_TIMEOUT × TEST_TIME_SCALE=$TEST_TIME_SCALE)"
        bail_out "timed out after $((TEST_TIMEOUT * TEST_TIME_SCALE)) s"' TERM
trap 'bail_out "interrupted"' INT

# The watchdog: after TEST_TIMEOUT × TEST_TIME_SCALE seconds, kill the test shell's children (whatever it is blocked on) and
# send it SIGTERM, whose trap bails out and cleans up. It stops itself (and its sleep) when killed.
_start_watchdog() {
        local main=$$
        (
                trap 'kill "$sp" 2>/dev/null; exit 0' TERM
                sleep "$((TEST_TIMEOUT * TEST_TIME_SCALE))" &
                sp=$!
                wait "$sp"
                kill -TERM "$main" 2>/dev/null
                for c in $(ps -o pid= --ppid "$main" 2>/dev/null); do
                        [ "$c" = "$BASHPID" ] || kill -TERM "$c" 2>/dev/null
                done
        ) &
        _watchdog_pid=$!
}
_start_watchdog

# strace_attach OUT SET [INJECT [THREAD]]: strace every thread of $ORCHD_PID (not its children), or only
# the one named THREAD (orchd-commit, orchd-read), for the syscalls SET, with -e inject=INJECT if not empty,
# writing to OUT; sets STRACE_PID. Returns once those threads are traced (1 if that takes over 10 s).
# Needs root and strace.
strace_attach() { # OUT SET [INJECT [COMM]]: trace orchd's threads (named COMM), or STRACE_TARGET's
        local out=$1 set=$2 inject=${3:-} comm=${4:-} tasks=() tids=() t deadline
        for t in /proc/"${STRACE_TARGET:-$ORCHD_PID}"/task/*; do
                [ -z "$comm" ] || [ "$(cat "$t/comm" 2>/dev/null)" = "$comm" ] || continue
                tasks+=("$t")
                tids+=(-p "${t##*/}")
        done
        [ ${#tids[@]} -gt 0 ] || return 1
        strace -qq -o "$out" -e trace="$set" ${inject:+-e inject="$inject"} "${tids[@]}" &
        STRACE_PID=$!
        deadline=$(($(date +%s%N) + 10000000000))
        for t in "${tasks[@]}"; do
                until [ "$(awk '/^TracerPid:/ { print $2 }' "$t/status" 2>/dev/null)" = "$STRACE_PID" ]; do
                        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                        pid_alive "$ORCHD_PID" || return 0
                        sleep 0.01
                done
        done
}

keeper_pid() { # keeper_pid: the pid of the orchd-keeper the running orchd started (root's nodes), if any
        pgrep -P "$ORCHD_PID" -x orchd-keeper | head -1
}

spool_keepers() { # spool_keepers: the pids of this spool's orchd-keepers (their command line names its id)
        local id p
        id=$(cat "$SPOOL/spool-id" 2>/dev/null) || return 0
        for p in $(pgrep -x orchd-keeper); do
                tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF " $id " && echo "$p"
        done
}

_kill_keepers() { # the spool's keepers and the nodes they run (each its own process group), so no test leaks
        local p c
        for p in $(spool_keepers); do
                for c in $(pgrep -P "$p"); do
                        kill -KILL -- "-$c" 2>/dev/null
                done
                kill -KILL "$p" 2>/dev/null
        done
}

strace_detach() { # the strace of strace_attach lets go of orchd
        [ -n "${STRACE_PID:-}" ] || return 0
        kill -INT "$STRACE_PID" 2>/dev/null
        wait "$STRACE_PID" 2>/dev/null
        STRACE_PID=
}

now() { # now: CLOCK_REALTIME in ns
        date +%s%N
}

_wait_exit() { # _wait_exit PID SECONDS: poll until PID is gone or a zombie (≤ SECONDS × TEST_TIME_SCALE)
        local deadline=$(($(date +%s%N) + $2 * TEST_TIME_SCALE * 1000000000))
        while pid_alive "$1"; do
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                sleep 0.05
        done
        return 0
}

control_sockets() { # control_sockets: how many of orchd's fds are sockets on $SOCK: its listener and each
        # accepted connection (both carry SOCK's path in /proc/net/unix). Unlike a count of all its fds, this
        # does not drift when other fds come and go (the journald socket closes when journald restarts).
        local f l inodes=" "
        for f in /proc/"$ORCHD_PID"/fd/*; do
                l=$(readlink "$f") && [[ $l == socket:* ]] && inodes+="${l//[!0-9]/} "
        done
        awk -v p="$SOCK" -v ino="$inodes" '$8 == p && index(ino, " " $7 " ") { n++ } END { print n + 0 }' /proc/net/unix
}

wait_for() { # wait_for SECONDS CMD…: poll CMD every 50 ms until it succeeds; 1 after SECONDS × TEST_TIME_SCALE
        local deadline=$(($(date +%s%N) + ${1%.*} * TEST_TIME_SCALE * 1000000000))
        shift
        until "$@"; do
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                sleep 0.05
        done
        return 0
}

# wait_rejected NAME [SECONDS]: wait (default 10 s) until the rejection of NAME (a file of the test's own
# user) is complete: orchd writes NAME.error, then NAME.error.json, then moves the file in as NAME, so the
# kept copy is the last to appear; waiting for .error alone races with the move.
wait_rejected() {
        wait_for "${2:-10}" test -e "$REJ/$1.error" -a -e "$REJ/$1.error.json" -a -e "$REJ/$1"
}

# --------------------------------------------------------------------------------------------- daemon

ctl() { # ctl ARGS…: orchctl on this test's socket
        "$ORCHCTL" -s "$SOCK" "$@"
}

as_uid() { # as_uid UID CMD…: CMD as UID (gid UID, no supplementary groups, a PATH anyone may use); root only
        local u=$1
        shift
        setpriv --reuid="$u" --regid="$u" --clear-groups env PATH="$NODE_PATH" "$@"
}

_orchd_ready() {
        [ -S "$SOCK" ] && "$ORCHCTL" -s "$SOCK" list >/dev/null 2>&1
}

_orchd_logged_ready() { # the daemon logged that it is ready (read from its log: no connection to it)
        grep -q ' ready: spool ' "$T/orchd.log"
}

start_orchd() { # start_orchd [ARGS…]: start orchd on $SPOOL/$SOCK in the background, wait until ready (≤ 60 s)
        [ -x "$ORCHD" ] || bail_out "orchd not built: $ORCHD"
        [ -x "$ORCHCTL" ] || bail_out "orchctl not built: $ORCHCTL"
        # Keep the previous run's log: a restart must not hide what happened before it.
        [ -e "$T/orchd.log" ] && cat "$T/orchd.log" >>"$T/orchd.log.1" && : >"$T/orchd.log"
        # Never the host's /etc/orchd/orchd.conf: an empty one of our own (a test's --config comes later and wins).
        [ -e "$T/orchd.conf" ] || : >"$T/orchd.conf"
        # As root, other users' nodes need the PAM service file: the project's, not whatever /etc holds.
        if [ -z "${ORCHD_PAM_CONFDIR:-}" ] && [ "$(id -u)" = 0 ]; then
                mkdir -p "$T/pam.d" && cp "$TOP_SRCDIR/contrib/pam.d/orchd" "$T/pam.d/orchd" &&
                        ln -sf /etc/pam.d/common-account "$T/pam.d/common-account" || bail_out "cannot set up $T/pam.d"
                export ORCHD_PAM_CONFDIR=$T/pam.d
        fi
        "$ORCHD" --config "$T/orchd.conf" --spool "$SPOOL" --socket "$SOCK" --log-level debug "$@" \
                2>>"$T/orchd.log" </dev/null &
        ORCHD_PID=$!
        # Until it answers or exits: the bound only catches a hang (a wrapper that starts python first, on a
        # loaded machine, took more than 5 s).
        local deadline=$(($(date +%s%N) + 60000000000))
        until "${_ORCHD_READY:-_orchd_ready}"; do
                # Asked again once it is gone: a readiness test that accepts a dead daemon may have seen it alive.
                if ! pid_alive "$ORCHD_PID" && ! "${_ORCHD_READY:-_orchd_ready}"; then
                        wait "$ORCHD_PID"
                        local rc=$?
                        ORCHD_PID=
                        bail_out "orchd exited during startup with status $rc"
                fi
                [ "$(date +%s%N)" -lt "$deadline" ] || bail_out "orchd not ready within 60 s"
                sleep 0.02
        done
}

start_orchd_unattended() { # start_orchd_unattended [ARGS…]: start_orchd, but ready is read from the log, so not
        # one client call wakes the daemon (what it does next it must do by itself)
        _ORCHD_READY=_orchd_logged_ready start_orchd "$@"
}

stop_orchd() { # stop_orchd [SECONDS]: SIGTERM, wait ≤ SECONDS (default 20); sets ORCHD_STATUS, 0 if it exited
        local pid=$ORCHD_PID
        ORCHD_STATUS=
        [ -n "$pid" ] || return 1
        kill -TERM "$pid" 2>/dev/null
        if ! _wait_exit "$pid" "${1:-20}"; then
                diag "orchd (pid $pid) did not exit within ${1:-20} s of SIGTERM; killing it"
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
                ORCHD_PID=
                ORCHD_STATUS=timeout
                return 1
        fi
        wait "$pid"
        ORCHD_STATUS=$?
        ORCHD_PID=
        return 0
}

kill9_orchd() { # kill9_orchd: SIGKILL the daemon and reap it
        [ -n "$ORCHD_PID" ] || return 1
        kill -KILL "$ORCHD_PID" 2>/dev/null
        wait "$ORCHD_PID" 2>/dev/null
        ORCHD_PID=
        return 0
}

# ----------------------------------------------------------------------------------------------- jobs

_json_name() { # NAME or NAME.json → NAME.json
        case $1 in
        *.json) echo "$1" ;;
        *) echo "$1.json" ;;
        esac
}

drop_job() { # drop_job NAME <<JSON: write SPOOL/tmp/NAME.json from stdin (copy kept in $T/dropped/), rename into new/
        local f
        f=$(_json_name "$1")
        mkdir -p "$SPOOL/tmp" "$SPOOL/new" "$T/dropped"
        cat >"$T/dropped/$f" || return 1
        cp "$T/dropped/$f" "$SPOOL/tmp/$f" || return 1
        mv "$SPOOL/tmp/$f" "$SPOOL/new/$f"
}

job_id_of() { # job_id_of NAME [SECONDS]: print the id of the job named NAME, polling ≤ SECONDS (60; a 100,000-node
        # file takes over 10 s to be accepted under ASan on a loaded machine) for it and for its jobs/ID; 1 if
        # none appears
        local name=${1%.json} id deadline=$(($(date +%s%N) + ${2:-60} * TEST_TIME_SCALE * 1000000000))
        while :; do
                id=$(ctl --json list --all 2>/dev/null |
                        jq -r --arg n "$name" '[.[] | select(.name == $n)][0].id // empty' 2>/dev/null)
                if [ -n "$id" ]; then
                        # Once it is jobs/ID (its acceptance durable), not jobs/.#ID: its nodes may start
                        # before that, and the tests that look into a job's directory look there.
                        while [ ! -d "$SPOOL/jobs/$id" ] && [ "$(date +%s%N)" -lt "$deadline" ]; do
                                sleep 0.02
                        done
                        echo "$id"
                        return 0
                fi
                if [ -e "$REJ/$name.json.error" ]; then
                        diag "job '$name' was rejected:" "$(cat "$REJ/$name.json.error")" >&2
                        return 1
                fi
                [ "$(date +%s%N)" -lt "$deadline" ] || break
                sleep 0.05
        done
        diag "job '$name' not listed within $((${2:-60} * TEST_TIME_SCALE)) s" >&2
        return 1
}

wait_job() { # wait_job ID [SECONDS]: orchctl wait with a timeout (default 30 s, × TEST_TIME_SCALE); orchctl's status
        ctl wait "$1" --timeout "$((${2:-30} * TEST_TIME_SCALE))" >/dev/null
}

job_status() { # job_status ID: the --json status object
        ctl --json status "$1"
}

job_field() { # job_field ID FIELD: .FIELD of the job's status (jq -r; "null" when null)
        job_status "$1" | jq -r --arg f "$2" '.[$f]'
}

node_field() { # node_field ID NODE FIELD: .nodes.NODE.FIELD of the job's status
        job_status "$1" | jq -r --arg n "$2" --arg f "$3" '.nodes[$n][$f]'
}

node_state_is() { # node_state_is ID NODE STATE: for polling with wait_for
        [ "$(node_field "$1" "$2" state 2>/dev/null)" = "$3" ]
}

node_summary() { # node_summary ID: "node state reason attempts" per line, sorted (for diagnostics)
        job_status "$1" | jq -r '.nodes | to_entries[] | "\(.key) \(.value.state) \(.value.reason) \(.value.attempts)"' |
                sort
}

expect_node() { # expect_node ID NODE STATE REASON: one TAP line for a node's final state and reason
        local got
        got=$(job_status "$1" | jq -r --arg n "$2" '.nodes[$n] | "\(.state) \(.reason)"')
        is "$got" "$3 $4" "job $1 node $2: $3 ($4)"
}

# ---------------------------------------------------------------------------- recorded state, on disk

disk_view() { # disk_view ID: job ID's state as recorded, {"job":…,"nodes":{…}}: state.json, then the newer
        # journal-*.json in order (as recovery reads them); fails while the daemon replaces a file under us
        local d=$SPOOL/jobs/$1
        jq -se '.[0].seq as $s | reduce (.[0], (.[1:][] | select(.seq > $s))) as $f
                ({}; .job += ($f.job // {}) | .nodes += ($f.nodes // {}))' \
                "$d/state.json" $(cd "$d" 2>/dev/null && ls | grep '^journal-[0-9]*\.json$' | sort | sed "s|^|$d/|") \
                2>/dev/null
}

disk_job_is() { # disk_job_is ID STATE: the recorded state of job ID is STATE (for polling with wait_for)
        [ "$(disk_view "$1" | jq -r .job.state)" = "$2" ]
}

disk_node_is() { # disk_node_is ID NODE STATE [ATTEMPT]: node NODE of job ID is recorded in STATE (at ATTEMPT)
        local got
        got=$(disk_view "$1" | jq -r --arg n "$2" '.nodes[$n] | "\(.state) \(.attempt)"') || return 1
        [ "${got% *}" = "$3" ] && { [ -z "${4:-}" ] || [ "${got#* }" = "$4" ]; }
}

_disk_job_id() {
        local f
        for f in "$SPOOL"/jobs/[1-9]*/state.json; do
                [ -e "$f" ] && jq -e --arg s "$1" '.job.source == $s' "$f" >/dev/null 2>&1 &&
                        basename "$(dirname "$f")" && return 0
        done
        return 1
}

disk_job_id() { # disk_job_id FILE: the id of the job accepted from FILE (e.g. x.json), read from the spool;
        # polled (≤ 20 s): a job's nodes start before its acceptance is durable (jobs/.#ID until then)
        local deadline=$(($(date +%s%N) + 20 * TEST_TIME_SCALE * 1000000000))
        until _disk_job_id "$1"; do
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                sleep 0.05
        done
}

# ------------------------------------------------------------------------------------- node helpers

# $W/rec NAME SECONDS: append "start NAME NS" to $W/events, sleep, append "end NAME NS". Appends of one
# short line are atomic (O_APPEND), so concurrent nodes do not interleave within a line.
# $W/rec NAME @FILE: the same, but instead of sleeping wait until FILE exists (a gate the test opens with
# touch, so no timing window depends on the machine's load).
# $W/rec NAME +N: instead of sleeping wait until $W/events holds at least N start lines (a rendezvous: nodes
# that must run at the same time each end only once all of them have started, however slowly they start).
# A third argument, SECONDS, is work after the gate: a sleep that only widens the recorded interval.
make_recorder() {
        cat >"$W/rec" <<EOF
#!/bin/sh
echo "start \$1 \$(date +%s%N)" >>"$W/events"
case "\$2" in
@*) while [ ! -e "\${2#@}" ]; do sleep 0.01; done ;;
+*) while [ "\$(grep -c '^start ' "$W/events")" -lt "\${2#+}" ]; do sleep 0.01; done ;;
*) sleep "\$2" ;;
esac
[ -z "\${3:-}" ] || sleep "\$3"
echo "end \$1 \$(date +%s%N)" >>"$W/events"
EOF
        chmod +x "$W/rec"
}

# make_overlap_node: $W/node NAME [escape], a node that tells whether it ever ran beside an earlier attempt of
# itself (a lost keeper's orphan): first "overlap NAME PID" in $W/ledger for each process of an earlier attempt
# of NAME still alive (not a zombie), then its pid into $W/pids.NAME and $W/pids (killed at cleanup); with
# escape, a process in a session of its own ($W/escapee.NAME.ATTEMPT); then "start NAME ATTEMPT PID", a wait
# for $W/go.NAME (none for a NAME starting with q: it ends at once) and "end NAME ATTEMPT".
make_overlap_node() {
        : >"$W/ledger"
        track_pid_file "$W/pids"
        cat >"$W/node" <<EOF
#!/bin/sh
for p in \$(cat "$W/pids.\$1" 2>/dev/null); do
        # alive: there, and not a zombie (the dead keeper's children are reparented; who reaps them is not ours)
        case \$(sed -n 's/^State:[[:space:]]*//p' "/proc/\$p/status" 2>/dev/null) in
        "" | Z*) ;;
        *) echo "overlap \$1 \$p" >>"$W/ledger" ;;
        esac
done
echo \$\$ >>"$W/pids.\$1"
echo \$\$ >>"$W/pids"
if [ "\${2:-}" = escape ]; then
        setsid "$W/sleep" 97 &
        echo \$! >>"$W/pids.\$1"
        echo \$! >>"$W/pids"
        echo \$! >"$W/escapee.\$1.\$ORCH_ATTEMPT"
fi
echo "start \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
case \$1 in q*) ;; *) while [ ! -e "$W/go.\$1" ]; do "$W/sleep" 0.02; done ;; esac
echo "end \$1 \$ORCH_ATTEMPT" >>"$W/ledger"
EOF
        chmod +x "$W/node"
}

event_time() { # event_time KIND NAME [FILE]: the ns timestamp of the first "KIND NAME" event
        awk -v k="$1" -v n="$2" '$1 == k && $2 == n { print $3; exit }' "${3:-$W/events}"
}

max_overlap() { # max_overlap [FILE]: the largest number of start..end intervals open at once
        # Sort by time, ends before starts at equal times, and keep a running count.
        awk '{ print $3, ($1 == "end" ? 0 : 1) }' "${1:-$W/events}" | sort -n -k1,1 -k2,2 |
                awk '{ n += ($2 ? 1 : -1); if (n > m) m = n } END { print m + 0 }'
}

# Gates: a node that must hold until the test says so waits on a file the test creates. No sleep decides an
# order: the node holds however slow (or fast) the machine is, and the test releases it when it has
# checked what it needed. $W/sleep, not sleep, so that cleanup can tell a leftover waiter by its command line.
gate_cmd() { # gate_cmd NAME: a sh fragment (for a node's cmd; no quotes in it) that waits until open_gate NAME
        printf 'while [ ! -e %s ]; do %s 0.01; done' "$W/gate.$1" "$W/sleep"
}
gate_file() { # gate_file NAME: the file gate NAME waits for (for nodes written in another language)
        printf '%s' "$W/gate.$1"
}
open_gate() { # open_gate NAME…: release the nodes waiting in gate_cmd NAME (a gate stays open)
        local g
        for g; do
                : >"$W/gate.$g" || bail_out "cannot open gate $g"
        done
}

track_pid_file() { # track_pid_file FILE: cleanup kills the pid FILE will hold (a node's $$)
        ln -sf "$1" "$T/kill/$(basename "$1").$RANDOM" 2>/dev/null
}
