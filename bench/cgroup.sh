#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The cost of a cgroup per attempt (issue 12): N independent /bin/true nodes (2 at a time) and a chain of
# M /bin/true nodes, each run by orchd with --isolation auto (a cgroup made, joined and removed per
# attempt, its accounting read) and --isolation pgroup (process groups only), in alternating rounds in one
# invocation. Prints each round, the medians and the ratios cgroup/pgroup, and the extra time per attempt.
# BASELINE=DIR (a build of another tree: DIR/orchd or DIR/src/orchd, with its orchd-keeper and orchd-exec
# beside it) adds that build's cgroup run to each round, and the ratio cgroup/baseline. Nodes run in the
# keeper next to orchd (use_keeper). Needs root on a cgroup2 host (else both runs are pgroup: it says so and
# exits).

. "$(dirname "$0")/common.sh"

N=${N:-5000}
M=${M:-500}
ROUNDS=${ROUNDS:-3}
build_orchd
use_keeper
true_job "$B/independent.json" independent "$N"
true_job "$B/chain.json" chain "$M" chain
BASE_BIN=
if [ -n "${BASELINE:-}" ]; then
        BASE_BIN=$BASELINE
        [ -x "$BASE_BIN/orchd" ] || BASE_BIN=$BASELINE/src
        [ -x "$BASE_BIN/orchd" ] || { note "no orchd in $BASELINE or $BASELINE/src"; exit 1; }
fi

# run ISOLATION FILE NAME [BINDIR]: one fresh spool and daemon (BINDIR's build if given); prints the wall
# time in ns (drop → wait returns).
run() {
        local id t0
        SPOOL=$B/spool-$1-$3-$RANDOM
        if [ -n "${4:-}" ]; then
                ORCHD=$4/orchd ORCHD_KEEPER=$4/orchd-keeper ORCHD_EXEC_HELPER=$4/orchd-exec start_orchd \
                        --max-parallel 2 --isolation "$1"
        else
                start_orchd --max-parallel 2 --isolation "$1"
        fi
        if [ "$1" = auto ] && [ "$(ctl --json stats | jq -r .isolation)" != cgroup ]; then
                note "orchd runs with process groups here even with --isolation auto: nothing to compare"
                exit 1
        fi
        t0=$(now_ns)
        drop_file "$2" "$3"
        id=$(wait_listed "$3")
        ctl wait "$id" --timeout 600 >/dev/null || note "warning: job $id did not succeed"
        echo $(($(now_ns) - t0))
        stop_orchd
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== cgroup per attempt: $N independent and a chain of $M, /bin/true, cgroup vs pgroup${BASE_BIN:+ vs baseline cgroup ($BASE_BIN)}, $ROUNDS rounds"
machine_line
for what in independent chain; do
        n=$([ "$what" = chain ] && echo "$M" || echo "$N")
        : >"$B/$what.cgroup" && : >"$B/$what.pgroup" && : >"$B/$what.base"
        for r in $(seq "$ROUNDS"); do
                c=$(run auto "$B/$what.json" "$what") && echo "$c" >>"$B/$what.cgroup"
                p=$(run pgroup "$B/$what.json" "$what") && echo "$p" >>"$B/$what.pgroup"
                line=$(printf '%-12s round %d: cgroup %8s s, pgroup %8s s' "$what" "$r" "$(secs "$c")" "$(secs "$p")")
                if [ -n "$BASE_BIN" ]; then
                        b=$(run auto "$B/$what.json" "$what" "$BASE_BIN") && echo "$b" >>"$B/$what.base"
                        line="$line, baseline cgroup $(secs "$b") s"
                fi
                echo "$line"
        done
        c=$(median <"$B/$what.cgroup")
        p=$(median <"$B/$what.pgroup")
        printf '%-12s median:  cgroup %8s s, pgroup %8s s, ratio cgroup/pgroup %s, %+d µs per attempt\n' \
                "$what" "$(secs "$c")" "$(secs "$p")" "$(ratio "$c" "$p")" $(((c - p) / n / 1000))
        if [ -n "$BASE_BIN" ]; then
                b=$(median <"$B/$what.base")
                printf '%-12s median:  baseline cgroup %8s s, ratio baseline/pgroup %s, cgroup/baseline %s, %+d µs per attempt\n' \
                        "$what" "$(secs "$b")" "$(ratio "$b" "$p")" "$(ratio "$c" "$b")" $(((c - b) / n / 1000))
        fi
done
