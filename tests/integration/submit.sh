#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl submit (SPEC §5): the daemon validates and durably accepts the job itself, as the caller;
# submit prints each id, --wait waits with wait's exit status, an invalid file is reported with its
# errors (exit 65) and kept nowhere, a key in use is refused, and a user DenyUsers= names is refused (77).
# (Jobs running as the caller: multiuser.sh.)

. "$(dirname "$0")/lib.sh"

start_orchd
mkdir -p "$T/files"
cat >"$T/files/hello.json" <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "echo hello >> $W/ran"] } } }
EOF
cat >"$T/files/fails.json" <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "exit 7"] } } }
EOF
cat >"$T/files/bad.json" <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"], "after": ["nope"] } } }
EOF
cat >"$T/files/keyed.json" <<EOF
{ "key": "only-one", "nodes": { "a": { "cmd": ["/bin/sh", "-c", "while [ ! -e $W/keyed.go ]; do $W/sleep 0.01; done"] } } }
EOF

out=$(ctl submit "$T/files/hello.json")
is "$?" 0 "submit exits 0"
is "$out" 1 "it prints the job id"
is_exit 0 "the submitted job succeeds" ctl wait "$out" --timeout 20
is "$(cat "$W/ran")" hello "it ran once"
is "$(job_field 1 source)" hello.json "its source is the file name"
is "$(job_field 1 name)" hello "its name defaults to the file name without .json"
is "$(job_status 1 | jq -r .owner.uid)" "$(id -u)" "the caller owns it"
cmp -s "$SPOOL/jobs/1/job.json" "$T/files/hello.json"
is "$?" 0 "jobs/1/job.json holds the submitted bytes"

is_exit 1 "submit --wait exits 1 for a job that fails" ctl submit --wait "$T/files/fails.json"
is_exit 0 "submit --wait exits 0 for one that succeeds" ctl submit --wait "$T/files/hello.json"

err=$(ctl submit "$T/files/bad.json" 2>&1 >/dev/null)
is "$?" 65 "an invalid file: exit 65"
like "$err" "bad\\.json: nodes\\.a\\.after\\[0\\]: .*nope" "its error names the file, the path and the problem"
ok "nothing went to rejected/" test -z "$(ls -A "$SPOOL/rejected" 2>/dev/null)"

out=$(ctl submit "$T/files/hello.json" "$T/files/bad.json" "$T/files/hello.json" 2>/dev/null)
is "$?" 65 "a batch with one invalid file exits 65"
is "$(echo $out)" "4 5" "the valid ones were still submitted, and ids stay dense (no id for the invalid one)"

idk=$(ctl submit "$T/files/keyed.json")
err=$(ctl submit "$T/files/keyed.json" 2>&1 >/dev/null)
is "$?" 65 "a key held by an unfinished job: exit 65"
like "$err" "keyed\\.json: key: \"only-one\" is the key of job $idk" "the error names the key and the job"
touch "$W/keyed.go" # the keyed job held its key until now, however slow the machine
is_exit 0 "the keyed job ends once let go" wait_job "$idk"

# Files over 64 KiB (a read-loop bug once cut them at 65,535 bytes).
awk 'BEGIN { printf "{ \"nodes\": {"; for (i = 1; i <= 3000; i++) printf "%s\"n%d\":{\"cmd\":[\"/bin/true\"]}", (i > 1 ? "," : ""), i; print "} }" }' \
        >"$T/files/wide.json"
ok "the wide file is over 64 KiB" test "$(stat -c %s "$T/files/wide.json")" -gt 65536
is_exit 0 "validate accepts it" "$ORCHCTL" validate "$T/files/wide.json"
idw=$(ctl submit "$T/files/wide.json")
is "$?" 0 "submit sends all of it"
is "$(ctl --json status "$idw" | jq '.nodes | length')" 3000 "all 3,000 nodes arrived"
ctl cancel "$idw" >/dev/null

is_exit 66 "a missing file: exit 66" ctl submit "$T/nope.json"
is "$(ctl --json submit "$T/files/hello.json" | jq -r '.[0].file | endswith("hello.json")')" true "--json prints file and id"
is_exit 69 "no daemon: exit 69" "$ORCHCTL" -s "$T/no.sock" submit "$T/files/hello.json"

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        chmod 0755 "$T" "$T/files"; chmod 0644 "$T/files/hello.json"
        stop_orchd
        start_orchd --deny-users "$(id -un 65534)"
        is_exit 77 "a user in DenyUsers= may not submit" \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$ORCHCTL" -s "$SOCK" submit "$T/files/hello.json"
        ok "the refusal is logged with the caller's uid and why" \
                grep -q "uid 65534 was refused a submission: the job belongs to user .*, who is in DenyUsers=" "$T/orchd.log"
else
        skip "a user in DenyUsers= may not submit" "needs root and setpriv to act as another user"
fi
done_testing
