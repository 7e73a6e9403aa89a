#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Two builds side by side in one run: each benchmark runs against OLD, then NEW, then OLD and NEW again
# (ROUNDS, default 2), so drift of a noisy machine falls on both. OLD and NEW are build directories holding
# src/orchd, src/orchctl and src/orchd-exec. BENCHES picks the scripts (default: independent chain latency
# bigjob idle owner). Prints each script's figures under a header naming the build; no pass/fail.
#
#   bench/compare.sh /tmp/build-old /tmp/build-new

set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 OLD_BUILD_DIR NEW_BUILD_DIR" >&2; exit 2; }
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd)
for b in "$old" "$new"; do
        for p in orchd orchctl orchd-exec; do
                [ -x "$b/src/$p" ] || { echo "$0: $b/src/$p is missing (build it first)" >&2; exit 2; }
        done
done
rc=0
for round in $(seq "${ROUNDS:-2}"); do
        for bench in ${BENCHES:-independent chain latency bigjob idle owner}; do
                for b in "$old" "$new"; do
                        [ "$b" = "$old" ] && which=old || which=new
                        echo
                        echo "#### round $round, $bench.sh, $which ($b)"
                        ORCHD=$b/src/orchd ORCHCTL=$b/src/orchctl ORCHD_EXEC_HELPER=$b/src/orchd-exec \
                                ORCHD_KEEPER=$b/src/orchd-keeper \
                                "$dir/$bench.sh" || { echo "($bench.sh failed with status $?)"; rc=1; }
                done
        done
done
exit "$rc"
