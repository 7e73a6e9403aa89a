#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run each fuzz target built by build.sh for a bounded time, from its seed corpus, and print one line per
# target: "PASS fuzz-T (N executions in S s)" or "FAIL fuzz-T (crash: ...)" with the reproducer's path.
#
#   run.sh SRCDIR OUTDIR [TARGET…]
#
# FUZZ_SECONDS (default 60) bounds each target; FUZZ_JOBS (default 2) runs that many targets at once (one
# core each). New inputs found go to OUTDIR/corpus-T/ (the seeds are only read); a crash leaves OUTDIR/crash-T-* (reproduce: OUTDIR/fuzz-T FILE). Exits 1 if any target failed.

set -uo pipefail

SRC=$1 OUT=$2
shift 2
TARGETS=${*:-job journal varlink conf}
: "${FUZZ_SECONDS:=60}"
: "${FUZZ_JOBS:=2}"

run_one() { # run_one T: fuzz T, write OUT/T.result
        local t=$1 log=$OUT/fuzz-$t.log execs rc seeds
        mkdir -p "$OUT/corpus-$t"
        # Seeds: the golden job files of the unit tests and the examples for the job parser; the files in
        # fuzz/corpus/T/ for the others.
        case $t in
        job) seeds=("$SRC/tests/data/jobs/valid" "$SRC/tests/data/jobs/invalid" "$SRC/contrib/examples") ;;
        *) seeds=("$SRC/fuzz/corpus/$t") ;;
        esac
        # -max_len: job files and journal directories need room; 64 KiB keeps runs fast. Leaks fail too.
        "$OUT/fuzz-$t" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 -artifact_prefix="$OUT/crash-$t-" \
                -dict="$SRC/fuzz/json.dict" "$OUT/corpus-$t" "${seeds[@]}" >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        if [ "$rc" -eq 0 ]; then
                echo "PASS  fuzz-$t (${execs:-?} executions in ${FUZZ_SECONDS} s)" >"$OUT/$t.result"
        else
                {
                        echo "FAIL  fuzz-$t (exit $rc after ${execs:-?} executions; log $log)"
                        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' "$log" |
                                head -n 8 | sed 's/^/      /'
                } >"$OUT/$t.result"
        fi
}

failed=0 running=0
for t in $TARGETS; do
        if [ ! -x "$OUT/fuzz-$t" ]; then
                echo "FAIL  fuzz-$t (not built: run make fuzz)"
                failed=1
                continue
        fi
        rm -f "$OUT/$t.result"
        run_one "$t" &
        running=$((running + 1))
        if [ "$running" -ge "$FUZZ_JOBS" ]; then
                wait -n
                running=$((running - 1))
        fi
done
wait
for t in $TARGETS; do
        [ -e "$OUT/$t.result" ] || continue
        cat "$OUT/$t.result"
        grep -q '^PASS' "$OUT/$t.result" || failed=1
done
exit "$failed"
