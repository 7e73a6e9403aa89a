#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Identity cannot be borrowed (issue 8, point 2), orchd as root with two real accounts A and B in a shared
# group. A job runs as the owner of the dropped file, so a file someone else could have written is
# refused unread: A writes a job with umask 002 in a group-writable shared directory, B rewrites it and
# renames it into new/; it is rejected, never runs (as A or anyone), and A's error says why and how to fix
# it. A hard link B makes to A's group-writable file is refused too. In a sticky directory B cannot rename
# A's file at all. orchctl submit of the same group-writable file by A is accepted: the bytes are read by
# A's own orchctl and the identity is the caller's (SO_PEERCRED), the identity-proof path.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "identity of dropped files" "needs root, useradd and setpriv"
        done_testing
        exit 0
fi

UA=o8ina UB=o8inb G=o8ing
add_group "$G"
for u in "$UA" "$UB"; do
        add_account "$u" -m -G "$G"
done
uida=$(id -u "$UA")

chmod 711 "$T"
chmod 1777 "$W"
# A directory both may write, as project directories shared by a group are: setgid, group-writable, not
# sticky. On the spool's file system, so a rename from it into new/ works.
mkdir "$T/shared"
chgrp "$G" "$T/shared"
chmod 2775 "$T/shared"
start_orchd

# A writes a harmless job, with a umask that leaves it group-writable.
as "$UA" sh -c "umask 002; printf '%s' '{ \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] } } }' >'$T/shared/job.json'" ||
        bail_out "A cannot write in the shared directory"
is "$(stat -c %a "$T/shared/job.json")" 664 "A's job file is group-writable (umask 002)"
# B rewrites A's file (the owner stays A) and renames it into new/.
as "$UB" sh -c "printf '%s' '{ \"nodes\": { \"evil\": { \"cmd\": [\"/bin/sh\", \"-c\", \"id -u > $W/ran-as\"] } } }' >'$T/shared/job.json' && mv '$T/shared/job.json' '$SPOOL/new/job.json'" ||
        bail_out "B cannot rewrite and rename A's file (is the test set up right?)"
ok "B's rewrite of A's file is rejected" wait_for 10 test -e "$SPOOL/rejected/$uida/job.json.error.json"
is "$(jq .uid "$SPOOL/rejected/$uida/job.json.error.json" 2>/dev/null)" "$uida" "the rejection is recorded as A's (the file's owner)"
err=$(ctl_as "$UA" rejected job.json 2>&1)
like "$err" "job\.json: is group-writable \(mode 0664\): another user who can write it could make it run as you; chmod go-w it" \
        "A sees why (orchctl rejected job.json) and how to fix it"
like "$err" "or use orchctl submit" "the reason names orchctl submit"
is_exit 66 "B cannot read A's rejection" ctl_as "$UB" rejected job.json

# A hard link: B can make one to A's group-writable file (protected_hardlinks lets a user who may read and
# write a file link it). Refused for its link count.
as "$UA" sh -c "umask 002; printf '%s' '{ \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] } } }' >'$T/shared/linked.json'"
if as "$UB" ln "$T/shared/linked.json" "$SPOOL/new/linked.json" 2>"$T/ln.err"; then
        ok "a hard link B made to A's file is rejected" wait_for 10 test -e "$SPOOL/rejected/$uida/linked.json.error"
        like "$(cat "$SPOOL/rejected/$uida/linked.json.error" 2>/dev/null)" "has 2 hard links: .*cp, not ln" \
                "for its link count, saying how to fix it"
else
        skip "a hard link B made to A's file is rejected" "ln refused: $(cat "$T/ln.err")"
        skip "for its link count" "no link"
fi

# A sticky directory (like /tmp): B cannot rename A's file, whatever its mode.
mkdir "$T/sticky"
chmod 1777 "$T/sticky"
as "$UA" sh -c "umask 022; printf '%s' '{ \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] } } }' >'$T/sticky/mine.json'"
isnt "$(as "$UB" mv "$T/sticky/mine.json" "$SPOOL/new/mine.json" >/dev/null 2>&1; echo $?)" 0 \
        "in a sticky directory B cannot rename A's file into new/"

# orchctl submit is the identity-proof path: A's own orchctl reads the file, the caller is A.
as "$UA" sh -c "umask 002; printf '%s' '{ \"nodes\": { \"a\": { \"cmd\": [\"/bin/sh\", \"-c\", \"id -u > $W/submitted-as\"] } } }' >'$T/shared/sub.json'"
id=$(ctl_as "$UA" submit "$T/shared/sub.json" 2>"$T/submit.err")
like "$id" '^[0-9]+$' "A can submit the same group-writable file with orchctl submit"
if [ -n "$id" ]; then
        is_exit 0 "the submitted job succeeds" wait_job "$id"
        is "$(cat "$W/submitted-as" 2>/dev/null)" "$uida" "and ran as A"
else
        fail "the submitted job succeeds" "$(cat "$T/submit.err")"
        fail "and ran as A"
fi

# A properly made drop of A's after all of the above: once it has run, intake has handled every earlier
# file, so B's rewritten job can no longer run.
as "$UA" sh -c "umask 022; printf '%s' '{ \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] } } }' >'$SPOOL/tmp/late.json' && mv '$SPOOL/tmp/late.json' '$SPOOL/new/late.json'"
late=$(job_id_of late) || bail_out "A's correctly made job was not accepted"
is_exit 0 "A's file written with umask 022 is accepted and runs" wait_job "$late"
ok "B's rewritten job never ran (no marker)" test ! -e "$W/ran-as"
is "$(ctl --json list --all | jq '[.[] | select(.name == "job" or .name == "linked")] | length')" 0 \
        "neither B's rewrite nor the hard link became a job"
done_testing
