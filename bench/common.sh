# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Shared by the benchmark scripts (sourced). Finds or builds what they need:
#   - orchd and orchctl: $ORCHD/$ORCHCTL if set, else an in-tree build at the top of the repository, else an
#     optimized build made in $BENCH_BUILD (default /var/tmp/orchd-bench-build) from a copy of the tree;
#   - the C helpers of bench/ (commit-floor, stamp, drop), compiled with cc -O2 into $BENCH_BUILD/bin.
# Work directories go under $BENCH_TMP (default /var/tmp, a disk file system: commits must pay real fsync
# cost) and are removed at exit. Every script prints figures only; none of them passes or fails.

set -euo pipefail

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_SRC/.." && pwd)
: "${BENCH_BUILD:=/var/tmp/orchd-bench-build}"
: "${BENCH_TMP:=/var/tmp}"
: "${CC:=cc}"
NODE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

note() { printf '%s\n' "$*" >&2; }

# build_orchd: ORCHD and ORCHCTL (given, from a build in $TOP, or built -O2 in $BENCH_BUILD/tree), and the
# orchd-keeper and orchd-exec next to ORCHD (use_keeper): nodes run in a keeper, and an uninstalled orchd
# finds none at its compiled-in path.
build_orchd() {
        _build_orchd && use_keeper
}
_build_orchd() {
        if [ -n "${ORCHD:-}" ] && [ -n "${ORCHCTL:-}" ]; then
                return 0
        fi
        if [ -x "$TOP/src/orchd" ] && [ -x "$TOP/src/orchctl" ]; then
                ORCHD=$TOP/src/orchd ORCHCTL=$TOP/src/orchctl
                return 0
        fi
        local b=$BENCH_BUILD/tree
        if [ ! -x "$b/src/orchd" ] || [ ! -x "$b/src/orchd-keeper" ] ||
                [ -n "$(find "$TOP/src" -newer "$b/src/orchd" -name '*.[ch]' | head -n 1)" ]; then
                note "building orchd (-O2) in $b …"
                mkdir -p "$b"
                (cd "$TOP" && tar --exclude=.git --exclude=./_build --exclude=./spool/tmp --exclude=./spool/new --exclude=./spool/jobs \
                        --exclude=./spool/rejected -cf - .) | (cd "$b" && tar -xf -)
                (cd "$b" && { [ -x configure ] || autoreconf -fi >/dev/null; } &&
                        { [ -f Makefile ] || ./configure CFLAGS="-O2 -g" >/dev/null; } &&
                        make -j"$(nproc)" src/orchd src/orchctl src/orchd-keeper src/orchd-exec >/dev/null)
        fi
        ORCHD=$b/src/orchd ORCHCTL=$b/src/orchctl
}

use_keeper() { # use_keeper: orchd-keeper and orchd-exec next to $ORCHD unless ORCHD_KEEPER/ORCHD_EXEC_HELPER say
        : "${ORCHD_KEEPER:=$(dirname "$ORCHD")/orchd-keeper}"
        : "${ORCHD_EXEC_HELPER:=$(dirname "$ORCHD")/orchd-exec}"
        export ORCHD_KEEPER ORCHD_EXEC_HELPER
}

true_job() { # true_job FILE NAME N [chain]: a job NAME of N /bin/true nodes, independent or each after the last
        awk -v name="$2" -v n="$3" -v chain="${4:-}" 'BEGIN {
                printf "{ \"name\": \"%s\", \"nodes\": {", name
                for (i = 1; i <= n; i++)
                        printf "%s\"n%d\": { \"cmd\": [\"/bin/true\"]%s }", (i > 1 ? ", " : ""), i,
                                (chain != "" && i > 1 ? ", \"after\": [\"n" i - 1 "\"]" : "")
                print "} }"
        }' >"$1"
}

build_helper() { # build_helper NAME [SRC…]: compile bench/NAME.c (with SRC… of the tree) into $BENCH_BUILD/bin/NAME
        local name=$1 out=$BENCH_BUILD/bin/$1 src newer=0
        shift
        mkdir -p "$BENCH_BUILD/bin"
        for src in "$BENCH_SRC/$name.c" "$@"; do [ "$src" -nt "$out" ] && newer=1; done
        if [ ! -x "$out" ] || [ "$newer" = 1 ]; then
                "$CC" -std=gnu11 -O2 -Wall -Wextra -I"$TOP/src/shared" -o "$out" "$BENCH_SRC/$name.c" "$@"
        fi
        echo "$out"
}

# isolation_floor N PAR: µs of spawn-cgroup (the spawn floor plus a cgroup and a log file per run, the
# floor of any per-attempt isolation), or nothing where it cannot run: not root, no cgroup2, or no clone3
# trampoline for this architecture. Its cgroups go in a directory of its own next to orchd's, removed after.
isolation_floor() {
        local bin cg2 dir us
        [ "$(id -u)" = 0 ] || return 0
        cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
        [ -n "$cg2" ] && [ -w "$cg2" ] || return 0
        bin=$(build_helper spawn-cgroup "$TOP/src/shared/clonevfork.c")
        dir=$cg2/orchd-bench-floor.$$
        mkdir -p "$dir" "$B/floor-logs" || return 0
        us=$("$bin" "$1" "$2" "$dir" "$B/floor-logs" 2>/dev/null) || us=
        rmdir "$dir"/s* "$dir" 2>/dev/null || true
        rm -rf "$B/floor-logs"
        echo "$us"
}

# A private work dir, and the daemon started by start_orchd, both cleaned up at exit.
B=$(mktemp -d "$BENCH_TMP/orchd-bench.XXXXXX")
SPOOL=$B/spool
SOCK=$B/orchd.sock
ORCHD_PID=
# The spool's cgroup subtree (orchd(8), ISOLATION): a stop with KillNodes=no leaves BASE and BASE/daemon
# (its keepers) for the next orchd of the spool, and a bench's spool has none. Its keepers, with nothing
# left to run and no orchd, exit by themselves; whatever still runs there is killed, then the directories go.
bench_remove_cgroup() {
        local id base d i
        id=$(head -c 16 "$SPOOL/spool-id" 2>/dev/null) || return 0
        [ "${#id}" = 16 ] || return 0
        for base in /sys/fs/cgroup/orchd-"$id" /sys/fs/cgroup/unified/orchd-"$id"; do
                [ -d "$base" ] || continue
                for d in $(find "$base" -mindepth 1 -depth -type d 2>/dev/null) "$base"; do
                        for i in $(seq 100); do rmdir "$d" 2>/dev/null && break; sleep 0.02; done
                        [ ! -d "$d" ] || { echo 1 >"$d/cgroup.kill" 2>/dev/null; sleep 0.1; rmdir "$d" 2>/dev/null; }
                done
        done
}
bench_cleanup() {
        if [ -n "$ORCHD_PID" ]; then
                kill -TERM "$ORCHD_PID" 2>/dev/null || true
                wait "$ORCHD_PID" 2>/dev/null || true
        fi
        bench_remove_cgroup
        [ "${KEEP_TMP:-0}" = 1 ] && note "kept $B" || rm -rf "$B"
}
trap bench_cleanup EXIT

now_ns() { date +%s%N; }

ctl() { "$ORCHCTL" -s "$SOCK" "$@"; }

start_orchd() { # start_orchd [ARGS…]: start orchd on a fresh spool, wait until it answers
        "$ORCHD" --spool "$SPOOL" --socket "$SOCK" "$@" 2>>"$B/orchd.log" </dev/null &
        ORCHD_PID=$!
        local i
        for i in $(seq 500); do
                [ -S "$SOCK" ] && ctl list >/dev/null 2>&1 && return 0
                kill -0 "$ORCHD_PID" 2>/dev/null || break
                sleep 0.01
        done
        note "orchd did not start; its log:"
        cat "$B/orchd.log" >&2
        exit 1
}

stop_orchd() {
        [ -n "$ORCHD_PID" ] || return 0
        kill -TERM "$ORCHD_PID" 2>/dev/null || true
        wait "$ORCHD_PID" 2>/dev/null || true
        ORCHD_PID=
}

drop_file() { # drop_file FILE NAME: copy FILE to tmp/NAME.json and rename it into new/
        mkdir -p "$SPOOL/tmp" "$SPOOL/new"
        cp "$1" "$SPOOL/tmp/$2.json"
        mv "$SPOOL/tmp/$2.json" "$SPOOL/new/$2.json"
}

wait_listed() { # wait_listed NAME: poll until the job named NAME is listed; print its id
        local id
        for (( ; ; )); do
                id=$(ctl --json list --all 2>/dev/null | jq -r --arg n "$1" '[.[] | select(.name == $n)][0].id // empty') || true
                if [ -n "$id" ]; then
                        echo "$id"
                        return 0
                fi
                if [ -e "$SPOOL/rejected/$1.json.error" ]; then
                        note "job $1 rejected: $(cat "$SPOOL/rejected/$1.json.error")"
                        exit 1
                fi
                sleep 0.01
        done
}

submit_small() { # submit_small: submit a 2-node job of /bin/true, wait for it, print its id
        local id
        echo '{ "name": "small", "nodes": { "a": { "cmd": ["/bin/true"] }, "b": { "cmd": ["/bin/true"], "after": ["a"] } } }' \
                >"$B/small.json"
        id=$(ctl submit "$B/small.json")
        ctl wait "$id" --timeout 30 >/dev/null
        echo "$id"
}

orchctl_latency() { # orchctl_latency JOB CALLS: time CALLS whole `orchctl status JOB` runs; print "P50 P99" in ms
        local i t0
        : >"$B/ctl.lat"
        for i in $(seq "$2"); do
                t0=$(now_ns)
                ctl status "$1" >/dev/null
                echo $(($(now_ns) - t0)) >>"$B/ctl.lat"
        done
        sort -n "$B/ctl.lat" | awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[int(NR*.5+.5)]/1e6, v[int(NR*.99+.5)]/1e6 }'
}

secs() { # secs NS: nanoseconds as seconds with 3 decimals
        awk -v n="$1" 'BEGIN { printf "%.3f", n / 1e9 }'
}

ratio() { # ratio A B: A/B with 2 decimals
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

machine_line() {
        echo "machine: $(nproc) CPUs, $(uname -r), $(df -T "$B" | awk 'NR == 2 { print $2 }') at $BENCH_TMP"
}

run_orchd_job() { # run_orchd_job FILE NAME: drop FILE into a fresh orchd (2 parallel), wait for it; sets orchd_ns
        local id t0
        start_orchd --max-parallel 2
        t0=$(now_ns)
        drop_file "$1" "$2"
        id=$(wait_listed "$2")
        ctl wait "$id" --timeout 600 >/dev/null || note "warning: job $id did not succeed"
        orchd_ns=$(($(now_ns) - t0))
        stop_orchd
}
