#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Memory and start cost of a large defaults.env (issue 8, point 3). Three jobs of N independent `true` nodes
# (default 100,000), each accepted by a fresh daemon (--max-parallel 1, so few nodes run meanwhile):
# without env (the baseline), with a KEYS-variable defaults.env (default 8,192 × 128 bytes = 1 MiB) and
# with the same variables as the job's env. For each: file size, the daemon's VmRSS once the job is listed,
# bytes per node, and the difference to the baseline per node. A daemon that copies defaults.env into
# every node needs N × 1 MiB: run such a build (ORCHD/ORCHCTL of an older tree) with a small N.
# Then STARTS (default 300) nodes run under --max-parallel 2 with and without the defaults.env: µs per
# node, so the cost of building and passing a 1 MiB environment at each start shows.

. "$(dirname "$0")/common.sh"

N=${N:-100000}
KEYS=${KEYS:-8192}
STARTS=${STARTS:-300}
build_orchd

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$ORCHD_PID/status"; }

gen() { # gen FILE NODES WHERE: a job of NODES `true` nodes; WHERE = none, defaults or job (the env's place)
        awk -v n="$2" -v k="$KEYS" -v where="$3" 'BEGIN {
                env = ""
                if (where != "none") {
                        env = "\"env\":{"
                        for (i = 0; i < k; i++) {
                                v = sprintf("v%05d", i)
                                while (length(v) < 120) v = v "x"
                                env = env sprintf("%s\"K%05d\":\"%s\"", (i ? "," : ""), i, v)
                        }
                        env = env "},"
                }
                printf "{\"name\":\"envmem\",\"cwd\":\"/\","
                if (where == "defaults") printf "\"defaults\":{%s},", substr(env, 1, length(env) - 1)
                if (where == "job") printf "%s", env
                printf "\"nodes\":{"
                for (i = 1; i <= n; i++) printf "%s\"%d\":{\"cmd\":[\"true\"]}", (i > 1 ? "," : ""), i
                print "}}"
        }' >"$1"
}

accept() { # accept WHERE: print "BYTES RSS_BEFORE RSS_AFTER SECONDS" for an N-node job with the env WHERE
        local f=$B/envmem-$1.json t0 id rss0 rss1
        gen "$f" "$N" "$1"
        rm -rf "$SPOOL"
        start_orchd --max-parallel 1 >/dev/null
        rss0=$(rss_kb)
        t0=$(now_ns)
        drop_file "$f" envmem
        id=$(wait_listed envmem)
        rss1=$(rss_kb)
        echo "$(stat -c %s "$f") $rss0 $rss1 $(secs $(($(now_ns) - t0)))"
        ctl cancel "$id" >/dev/null || note "warning: cancel failed"
        stop_orchd
}

run() { # run WHERE: µs per node of STARTS nodes under --max-parallel 2
        local f=$B/run-$1.json t0 id
        gen "$f" "$STARTS" "$1"
        rm -rf "$SPOOL"
        start_orchd --max-parallel 2 >/dev/null
        t0=$(now_ns)
        drop_file "$f" envmem
        id=$(wait_listed envmem)
        ctl wait "$id" --timeout 600 >/dev/null || note "warning: job $id did not succeed"
        echo $((($(now_ns) - t0) / 1000 / STARTS))
        stop_orchd
}

per_node() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }'; }

echo "== envmem: $N nodes; env of $KEYS variables × 128 bytes; $STARTS-node runs"
machine_line
echo "orchd: $ORCHD"
# Not `read < <(accept …)`: the next step must not start before accept's daemon has stopped.
accept none >"$B/res"
read -r size0 a0 b0 s0 <"$B/res"
base=$(per_node "$a0" "$b0")
printf '%-22s %9s bytes  VmRSS %7s → %7s kB  %6s bytes/node  accepted in %s s\n' \
        "no env (baseline)" "$size0" "$a0" "$b0" "$base" "$s0"
for where in defaults job; do
        accept "$where" >"$B/res"
        read -r size a b s <"$B/res"
        p=$(per_node "$a" "$b")
        printf '%-22s %9s bytes  VmRSS %7s → %7s kB  %6s bytes/node  accepted in %s s  (%+d bytes/node vs baseline)\n' \
                "$where.env" "$size" "$a" "$b" "$p" "$s" $((p - base))
done
run none >"$B/res"
u0=$(cat "$B/res")
run defaults >"$B/res"
u1=$(cat "$B/res")
echo "starts: $u0 µs/node without env, $u1 µs/node with the defaults.env ($(awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.1f", b / a }')×)"
