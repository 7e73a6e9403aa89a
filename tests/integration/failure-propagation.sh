#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Trigger rules after a failed node (SPEC §3 "when"): success-dependents are skipped with reason upstream,
# transitively; failure- and always-dependents run. allow_failure keeps the job successful while its
# dependents still see the node as failed.

. "$(dirname "$0")/lib.sh"

start_orchd --max-parallel 4

ran() { echo "[\"/bin/sh\", \"-c\", \"echo \$ORCH_NODE >> $W/ran\"]"; }

drop_job propagate <<EOF
{
  "nodes": {
    "bad":        { "cmd": ["/bin/sh", "-c", "echo bad >> $W/ran; exit 3"] },
    "on_success": { "cmd": $(ran), "after": ["bad"] },
    "on_failure": { "cmd": $(ran), "after": ["bad"], "when": "failure" },
    "on_always":  { "cmd": $(ran), "after": ["bad"], "when": "always" },
    "transitive": { "cmd": $(ran), "after": ["on_success"], "when": "success" },
    "after_handler": { "cmd": $(ran), "after": ["on_failure"] }
  }
}
EOF
id=$(job_id_of propagate) || bail_out "job not accepted"
is_exit 1 "orchctl wait exits 1 for a failed job" ctl wait "$id" --timeout 30
is "$(job_field "$id" state)" failed "job failed"
is "$(job_field "$id" reason)" "exit:3" "job reason is the first failed node's reason"
expect_node "$id" bad failed exit:3
is "$(node_field "$id" bad exit_code)" 3 "bad: exit_code 3"
expect_node "$id" on_success skipped upstream
expect_node "$id" transitive skipped upstream
expect_node "$id" on_failure succeeded null
expect_node "$id" on_always succeeded null
expect_node "$id" after_handler succeeded null
is "$(sort "$W/ran" | tr '\n' ' ')" "after_handler bad on_always on_failure " \
        "exactly bad, on_failure, on_always and after_handler ran, once each"
is "$(node_field "$id" on_success attempts)" 0 "a skipped node has 0 attempts"

rm -f "$W/ran"
drop_job tolerated <<EOF
{
  "nodes": {
    "flaky":   { "cmd": ["/bin/sh", "-c", "echo flaky >> $W/ran; exit 5"], "allow_failure": true },
    "handler": { "cmd": $(ran), "after": ["flaky"], "when": "failure" },
    "other":   { "cmd": $(ran) }
  }
}
EOF
id2=$(job_id_of tolerated) || bail_out "job not accepted"
is "$id2" $((id + 1)) "ids increase in acceptance order"
is_exit 0 "orchctl wait exits 0: an allowed failure does not fail the job" ctl wait "$id2" --timeout 30
is "$(job_field "$id2" state)" succeeded "job with only an allowed failure succeeded"
expect_node "$id2" flaky failed exit:5
expect_node "$id2" handler succeeded null
expect_node "$id2" other succeeded null
is "$(sort "$W/ran" | tr '\n' ' ')" "flaky handler other " "the when:failure handler of an allowed failure ran"
done_testing
