#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Retries (SPEC §3 "retry"): on_exit limits which codes are retried, attempts are counted and capped, every
# attempt has its own log file NODE.ATTEMPT.log, and the back-off delays (0.2 s, then 0.4 s with factor 2
# and no jitter) are respected, measured from timestamps written by the node itself.

. "$(dirname "$0")/lib.sh"

start_orchd --max-parallel 4

# $W/count NAME SUCCEED_AT: append a timestamp to $W/NAME.times, echo the attempt, exit 0 on the
# SUCCEED_AT-th call and 75 before (0 = never succeed: exit 4).
cat >"$W/count" <<EOF
#!/bin/sh
date +%s%N >> "$W/\$1.times"
n=\$(wc -l < "$W/\$1.times")
echo "attempt \$ORCH_ATTEMPT call \$n"
[ "\$2" -eq 0 ] && exit 4
[ "\$n" -ge "\$2" ] && exit 0
exit 75
EOF
chmod +x "$W/count"

drop_job retry <<EOF
{
  "nodes": {
    "flaky":   { "cmd": ["$W/count", "flaky", "3"],
                 "retry": { "attempts": 5, "delay": 0.05, "jitter": 0, "on_exit": [75] } },
    "hard":    { "cmd": ["/bin/sh", "-c", "echo hard >> $W/hard.times; exit 3"],
                 "retry": { "attempts": 5, "delay": 0.05, "on_exit": [75] } },
    "exhaust": { "cmd": ["$W/count", "exhaust", "0"], "retry": { "attempts": 3, "delay": "50ms", "jitter": 0 } },
    "backoff": { "cmd": ["$W/count", "backoff", "3"],
                 "retry": { "attempts": 3, "delay": 0.2, "factor": 2, "jitter": 0 } }
  }
}
EOF
id=$(job_id_of retry) || bail_out "job not accepted"
is_exit 1 "job with a failed node: orchctl wait exits 1" ctl wait "$id" --timeout 30
is "$(job_field "$id" state)" failed "job failed"

expect_node "$id" flaky succeeded null
is "$(node_field "$id" flaky attempts)" 3 "flaky: exit 75 retried until success on attempt 3"
is "$(wc -l <"$W/flaky.times" | tr -d ' ')" 3 "flaky ran exactly 3 times"
for a in 1 2 3; do
        ok "flaky: log file flaky.$a.log holds attempt $a" grep -q "^attempt $a call $a\$" "$SPOOL/jobs/$id/logs/flaky.$a.log"
done
ok "flaky: no flaky.4.log" test ! -e "$SPOOL/jobs/$id/logs/flaky.4.log"

expect_node "$id" hard failed exit:3
is "$(node_field "$id" hard attempts)" 1 "hard: exit 3 is not in on_exit [75], so no retry"
is "$(wc -l <"$W/hard.times" | tr -d ' ')" 1 "hard ran once"

expect_node "$id" exhaust failed exit:4
is "$(node_field "$id" exhaust attempts)" 3 "exhaust: all 3 attempts used"
is "$(node_field "$id" exhaust exit_code)" 4 "exhaust: exit_code of the last attempt"
ok "exhaust: exhaust.3.log exists" test -e "$SPOOL/jobs/$id/logs/exhaust.3.log"

expect_node "$id" backoff succeeded null
mapfile -t ts <"$W/backoff.times"
if [ "${#ts[@]}" -eq 3 ]; then
        gap1=$(((ts[1] - ts[0]) / 1000000)) gap2=$(((ts[2] - ts[1]) / 1000000))
        diag "backoff gaps: ${gap1} ms, ${gap2} ms"
        ok "first retry waits ≥ 200 ms (delay 0.2)" test "$gap1" -ge 200
        ok "second retry waits ≥ 400 ms (delay × factor 2)" test "$gap2" -ge 400
        # How late a retry starts depends on the machine's load: the delays the daemon chose are in its log.
        ok "the daemon chose 200 ms, then 400 ms" sh -c "grep -q 'node backoff attempt 1 failed (exit:75), retrying in 200ms\.' '$T/orchd.log' &&
                grep -q 'node backoff attempt 2 failed (exit:75), retrying in 400ms\.' '$T/orchd.log'"
        ok "the delays are not wildly late (< 10 s each)" test "$gap1" -lt 10000 -a "$gap2" -lt 10000
else
        fail "backoff ran 3 times" "got ${#ts[@]} runs"
fi
# on_timeout: a timed-out attempt is retried by default, not with "on_timeout": false; max_delay caps.
drop_job timeouts <<EOF
{ "defaults": { "timeout": 0.3, "kill_grace": 0.1 },
  "nodes": {
    "slow_retried": { "cmd": ["$W/sleep", "600"],
                      "retry": { "attempts": 2, "delay": 0.1, "jitter": 0 } },
    "slow_once":    { "cmd": ["$W/sleep", "600"],
                      "retry": { "attempts": 3, "delay": 0.1, "jitter": 0, "on_timeout": false } },
    "capped":       { "cmd": ["/bin/sh", "-c", "date +%s%N >> $W/capped.times; exit 1"],
                      "retry": { "attempts": 3, "delay": 0.2, "factor": 10, "max_delay": 0.3, "jitter": 0 } } } }
EOF
idt=$(job_id_of timeouts) || bail_out "job timeouts not accepted"
is_exit 1 "the timeouts job fails" ctl wait "$idt" --timeout 30
expect_node "$idt" slow_retried failed timeout
# Attempts as the daemon counts them: under load a node's shell may not get to write its line within 0.3 s.
is "$(node_field "$idt" slow_retried attempts)" 2 "a timed-out attempt is retried (on_timeout defaults to true)"
expect_node "$idt" slow_once failed timeout
is "$(node_field "$idt" slow_once attempts)" 1 "on_timeout false: no retry after a timeout"
mapfile -t ct <"$W/capped.times"
if [ "${#ct[@]}" -eq 3 ]; then
        gap=$(((ct[2] - ct[1]) / 1000000))
        diag "capped second gap: ${gap} ms (uncapped it would be 2000 ms)"
        ok "the second retry waits ≥ 300 ms" test "$gap" -ge 300
        ok "max_delay caps the second delay at 0.3 s (the daemon's choice, not 2 s)" \
                grep -q 'node capped attempt 2 failed (exit:1), retrying in 300ms\.' "$T/orchd.log"
else
        fail "capped ran 3 times" "got ${#ct[@]} runs"
fi
done_testing
