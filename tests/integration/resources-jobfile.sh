#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The job file's "resources" and "retry.on_oom" as hostile input (issue 12): files that another user drops
# into new/ (or submits) with resources values that are negative, huge, not numbers, in unknown units,
# 65 characters long, nested objects or unknown keys are rejected with an error naming the JSON path and
# the accepted forms, the daemon keeps running, and orchctl validate says the same without a daemon.
# Whether the host can enforce a valid limit is not judged here (that is the cgroup runtime's intake
# check); only the parse side is.

. "$(dirname "$0")/lib.sh"

# The hostile file: every field wrong in a different way.
hostile() {
        cat <<'EOF'
{ "resources": { "memory_max": "12Q", "swap": "1G" },
  "defaults": { "resources": { "cpu_max": "1e999" } },
  "nodes": {
    "a": { "cmd": ["true"], "resources": { "memory_max": -1, "memory_high": 99999999999999999999999,
                                           "pids_max": 4194305, "cpu_weight": 0, "io_weight": "100",
                                           "cpu_max": { "cores": 1 } } },
    "b": { "cmd": ["true"], "resources": { "memory_max": "01234567890123456789012345678901234567890123456789012345678901234" } },
    "c": { "cmd": ["true"], "resources": { "limits": { "memory_max": "1G" } }, "retry": { "on_oom": 1 } }
  }
}
EOF
}

# want_errors TEXT LABEL: TEXT names each bad field with its JSON path and what is accepted.
want_errors() {
        local text=$1 label=$2
        like "$text" "resources\\.memory_max: expected a size: bytes as an integer, or a string with a binary unit K, M, G or T" \
                "$label: a bad size names the field and the accepted forms"
        like "$text" "resources\\.swap: unknown field \\(expected one of: memory_max, memory_high, cpu_max, cpu_weight, io_weight, pids_max\\)" \
                "$label: an unknown key inside resources is named, with the known ones"
        like "$text" "defaults\\.resources\\.cpu_max: expected cores as a number or a string" "$label: \"1e999\" cores"
        like "$text" "nodes\\.a\\.resources\\.memory_max: must be between 1M and 1024T" "$label: a negative size"
        like "$text" "nodes\\.a\\.resources\\.memory_high: expected a size" "$label: a size beyond int64"
        like "$text" "nodes\\.a\\.resources\\.pids_max: must be between 1 and 4194304, got 4194305" "$label: pids_max bound"
        like "$text" "nodes\\.a\\.resources\\.cpu_weight: must be between 1 and 10000, got 0" "$label: weight bound"
        like "$text" "nodes\\.a\\.resources\\.io_weight: expected an integer between 1 and 10000, got \"100\"" \
                "$label: a weight as a string"
        like "$text" "nodes\\.a\\.resources\\.cpu_max: expected cores .* got an object" "$label: a nested object"
        like "$text" "nodes\\.b\\.resources\\.memory_max: must be between 1M and 1024T .*got \"0123456789012345678901234567890123456789[0-9]*\"…" \
                "$label: a 65-digit string: out of range, shown shortened"
        like "$text" "nodes\\.c\\.resources\\.limits: unknown field" "$label: a nested unknown object"
        like "$text" "nodes\\.c\\.retry\\.on_oom: expected true or false, got 1" "$label: retry.on_oom must be a boolean"
}

hostile >"$T/hostile.json"
out=$(ctl validate "$T/hostile.json" 2>&1)
is $? 65 "orchctl validate: the hostile file is invalid (65)"
want_errors "$out" "validate"

start_orchd

if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null; then
        U=o12r-a
        add_account "$U" -m
        uid=$(id -u "$U")
        chmod 711 "$T"
        # Another user drops it: rejected in that user's rejected/ directory, with the errors.
        hostile | as "$U" sh -c "cat >'$SPOOL/tmp/hostile.json' && mv '$SPOOL/tmp/hostile.json' '$SPOOL/new/hostile.json'" ||
                bail_out "user $U cannot drop a job"
        ok "the dropped hostile job is rejected" \
                wait_for 10 test -e "$SPOOL/rejected/$uid/hostile.json.error" -a -e "$SPOOL/rejected/$uid/hostile.json.error.json"
        want_errors "$(cat "$SPOOL/rejected/$uid/hostile.json.error" 2>/dev/null)" "drop"
        jq_ok "the JSON record has the owner's uid and the resources paths" --argjson u "$uid" \
                '.uid == $u and ([.errors[].path] | index("nodes.a.resources.pids_max") != null)' \
                "$SPOOL/rejected/$uid/hostile.json.error.json"
        # The same file through the socket.
        cp "$T/hostile.json" "$T/hostile-submit.json"
        chmod 644 "$T/hostile-submit.json"
        out=$(ctl_as "$U" submit "$T/hostile-submit.json" 2>&1)
        isnt $? 0 "submit of the hostile job by $U fails"
        want_errors "$out" "submit"
else
        skip "another user's hostile drop and submit" "needs root, useradd and setpriv"
        drop_job hostile <"$T/hostile.json"
        ok "the dropped hostile job is rejected" wait_rejected hostile.json
        want_errors "$(cat "$REJ/hostile.json.error" 2>/dev/null)" "drop"
fi

# The daemon is unharmed and still accepts a valid job (without resources, which any host runs).
drop_job fine <<'EOF'
{ "nodes": { "a": { "cmd": ["true"], "retry": { "attempts": 2, "on_oom": false } } } }
EOF
id=$(job_id_of fine) || bail_out "a valid job is not accepted after the hostile ones"
is_exit 0 "a valid job with retry.on_oom runs" wait_job "$id"

done_testing
