#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Big job files (256 KiB or more) are written into jobs/.#read-N on the reader's thread, for the id the job
# will get if every file handed to the reader before it is accepted; acceptance renames that directory.
# Three big files are waiting when orchd starts, so the first two go to the reader together: a.json
# (invalid: rejected), b.json (written ahead for id 2, which it does not get: its files are written again
# for id 1) and c.json (handed over once a.json was rejected: written ahead for id 2, which it gets). Both
# accepted jobs must hold their own bytes and a state.json that names their own id and source, and nothing
# written ahead may stay behind; a jobs/.#read-N left by a crash is removed at start-up.

. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { skip "staged-intake" "python3 is needed"; done_testing; }

# A job file of about 300 KiB (20,000 env keys); with BAD, a node after one that does not exist.
big_job() { # big_job NAME [BAD]
        python3 - "$1" "${2:-}" <<'PY'
import sys
name, bad = sys.argv[1], sys.argv[2]
env = ",".join('"E%05d":"value"' % i for i in range(20000))
after = ',"after":["missing"]' if bad else ',"after":["a"]'
print('{"name":"%s","env":{%s},"nodes":{"a":{"cmd":["/bin/true"]},"b":{"cmd":["/bin/true"]%s}}}' % (name, env, after))
PY
}

mkdir -p "$SPOOL/tmp" "$SPOOL/new" "$T/dropped"
big_job a bad >"$T/dropped/a.json"
big_job b >"$T/dropped/b.json"
big_job c >"$T/dropped/c.json"
# Oldest first: intake takes a backlog in the order of the files' mtimes.
for f in a b c; do
        cp "$T/dropped/$f.json" "$SPOOL/tmp/$f.json"
done
touch -d '3 minutes ago' "$SPOOL/tmp/a.json"
touch -d '2 minutes ago' "$SPOOL/tmp/b.json"
touch -d '1 minute ago' "$SPOOL/tmp/c.json"
for f in a b c; do
        mv "$SPOOL/tmp/$f.json" "$SPOOL/new/$f.json"
done
is "$(stat -c %s "$T/dropped/b.json")" "$(stat -c %s "$SPOOL/new/b.json")" "b.json is in new/ before orchd starts"
ok "the files are big enough to be written ahead" test "$(stat -c %s "$T/dropped/b.json")" -ge 262144

start_orchd
ok "a.json (invalid) is rejected" wait_for 60 test -e "$REJ/a.json.error"
ok "b.json and c.json are accepted as jobs 1 and 2" wait_for 60 test -d "$SPOOL/jobs/1" -a -d "$SPOOL/jobs/2"
ok "job 1 holds b.json's bytes" cmp -s "$SPOOL/jobs/1/job.json" "$T/dropped/b.json"
ok "job 2 holds c.json's bytes" cmp -s "$SPOOL/jobs/2/job.json" "$T/dropped/c.json"
jq_ok "job 1's state.json names id 1 and source b.json" \
        '.job.id == "1" and .job.source == "b.json" and (.nodes | length) == 2' "$SPOOL/jobs/1/state.json"
jq_ok "job 2's state.json names id 2 and source c.json" \
        '.job.id == "2" and .job.source == "c.json" and (.nodes | length) == 2' "$SPOOL/jobs/2/state.json"
no_staged() { ! compgen -G "$SPOOL/jobs/.#read-*" >/dev/null; }
ok "nothing written ahead stays in jobs/" wait_for 30 no_staged
succeeded() { jq -e '.job.state == "succeeded"' "$SPOOL/jobs/1/state.json" "$SPOOL/jobs/2/state.json" >/dev/null; }
ok "both jobs succeed" wait_for 60 succeeded
jq_ok "their owner is the files' owner" --arg u "$(id -u)" '.job.uid == ($u | tonumber)' "$SPOOL/jobs/2/state.json"

# A crash while a big file was being written ahead leaves jobs/.#read-N: start-up removes it.
stop_orchd
mkdir -p "$SPOOL/jobs/.#read-7/logs"
echo '{}' >"$SPOOL/jobs/.#read-7/job.json"
start_orchd
ok "a jobs/.#read-N left by a crash is removed at start" no_staged
ok "the jobs are still there" test -d "$SPOOL/jobs/1" -a -d "$SPOOL/jobs/2" -a ! -e "$SPOOL/jobs/3"

done_testing
