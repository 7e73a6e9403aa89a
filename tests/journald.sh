#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A private systemd-journald for the tests, on machines where PID 1 is not systemd (CI containers).
#
#   tests/journald.sh start PIDFILE   start one unless some journald already answers; 0 = one answers now.
#                                     PIDFILE is written only when this call started it.
#   tests/journald.sh stop PIDFILE    stop the journald in PIDFILE, by that pid only, if it is still one.
#   tests/journald.sh check           0 when a journald answers (journalctl --sync succeeds).
#
# Needs root: journald binds /run/systemd/journal/*. It stores to /run/log/journal (volatile: Storage=auto
# without /var/log/journal) and needs a machine id; a container without /etc/machine-id gets one from
# systemd-machine-id-setup, as it would at boot. journald's own messages go to PIDFILE.out. Exit status 77
# (automake's "skip") when journald cannot be started here for lack of root or of the binary.

set -u

JOURNALD=${JOURNALD:-/lib/systemd/systemd-journald}

answers() {
        journalctl --sync >/dev/null 2>&1
}

is_journald() { # is_journald PID: a live (not zombie) systemd-journald has this pid
        [ "$(cat "/proc/$1/comm" 2>/dev/null)" = systemd-journal ] &&
                ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

start() {
        local pidfile=$1 pid i
        if answers; then
                echo "a journald already answers; not starting another"
                return 0
        fi
        [ "$(id -u)" = 0 ] || {
                echo "starting journald needs root" >&2
                return 77
        }
        [ -x "$JOURNALD" ] || {
                echo "no $JOURNALD (package systemd)" >&2
                return 77
        }
        [ -s /etc/machine-id ] || systemd-machine-id-setup >/dev/null || return 1
        mkdir -p /run/systemd/journal /run/log/journal || return 1
        # Not socket-activated, journald binds its sockets itself (and replaces stale ones).
        SYSTEMD_LOG_TARGET=console setsid "$JOURNALD" </dev/null >"$pidfile.out" 2>&1 &
        pid=$!
        echo "$pid" >"$pidfile"
        for i in $(seq 200); do
                answers && {
                        echo "journald started, pid $pid"
                        return 0
                }
                kill -0 "$pid" 2>/dev/null || {
                        echo "journald exited:" >&2
                        cat "$pidfile.out" >&2
                        rm -f "$pidfile"
                        return 1
                }
                sleep 0.025
        done
        echo "journald (pid $pid) did not answer within 5 s" >&2
        stop "$pidfile"
        return 1
}

stop() {
        local pidfile=$1 pid i
        [ -s "$pidfile" ] || return 0
        pid=$(cat "$pidfile")
        if is_journald "$pid"; then
                kill -TERM "$pid"
                for i in $(seq 200); do
                        is_journald "$pid" || break
                        sleep 0.025
                done
                is_journald "$pid" && kill -KILL "$pid"
        fi
        rm -f "$pidfile" "$pidfile.out"
        return 0
}

case ${1:-} in
start) start "${2:?usage: $0 start PIDFILE}" ;;
stop) stop "${2:?usage: $0 stop PIDFILE}" ;;
check) answers ;;
*)
        echo "usage: $0 start|stop PIDFILE, or $0 check" >&2
        exit 64
        ;;
esac
