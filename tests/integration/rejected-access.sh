#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# rejected/ is for owners only (issue 8, point 6), orchd as root with two real accounts A and B. An existing
# spool's 0755 rejected/ is repaired to 0700 at start, with a log line. B can open neither A's rejected
# file nor its .error; A gets them through orchctl rejected: the list shows A's and not B's, NAME shows the
# whole error, NAME --file gives back the bytes exactly (also bytes that are not UTF-8). A directory and a
# FIFO that A drops into new/ are removed, not kept, and A's list reports them. Root sees everyone's, with
# the owner.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "rejected/ access" "needs root, useradd and setpriv"
        done_testing
        exit 0
fi

UA=o8inc UB=o8ind
for u in "$UA" "$UB"; do
        add_account "$u" -m
done
uida=$(id -u "$UA") uidb=$(id -u "$UB")
RA=$SPOOL/rejected/$uida RB=$SPOOL/rejected/$uidb
drop_as() { # drop_as USER NAME: stdin to tmp/NAME as USER, then renamed into new/
        as "$1" sh -c "umask 022; cat >'$SPOOL/tmp/$2' && mv '$SPOOL/tmp/$2' '$SPOOL/new/$2'"
}

chmod 711 "$T"
# A spool made by an older orchd: rejected/ 0755.
mkdir -p "$SPOOL/rejected"
chmod 755 "$SPOOL/rejected"
start_orchd
is "$(stat -c %a "$SPOOL/rejected")" 700 "an existing 0755 rejected/ is made 0700 at start"
like "$(grep 'rejected from 0755 to 0700' "$T/orchd.log")" "Changing the mode of .*/rejected from 0755 to 0700" \
        "the log says so"

printf '{ "nodes": { "a": { "cmd": "true", "env": { "TOKEN": "secret-of-A" } } }, }\n' >"$T/a.orig"
drop_as "$UA" a.json <"$T/a.orig"
printf '{ "nodes": { "b": { "cmd": "true", "env": { "TOKEN": "secret-of-B" } } }, }\n' | drop_as "$UB" b.json
# Not UTF-8 at all: the bytes must come back as they were.
printf '\xff\xfe{"nodes": 1}\x00\x01\n' | drop_as "$UA" binary.json
for f in a.json binary.json; do
        wait_for 10 test -e "$RA/$f.error.json" || bail_out "$f not rejected (in rejected/UID/)"
done
wait_for 10 test -e "$RB/b.json.error.json" || bail_out "b.json not rejected (in rejected/UID/)"

is "$(jq .uid "$RA/a.json.error.json")" "$uida" "a.json.error.json records A's uid"
is "$(stat -c '%a %u' "$RA")" "700 0" "A's rejections are in rejected/UID/, 0700 and root's"
isnt "$(as "$UB" cat "$RA/a.json" >/dev/null 2>&1; echo $?)" 0 "B cannot open A's rejected file"
isnt "$(as "$UB" cat "$RA/a.json.error" >/dev/null 2>&1; echo $?)" 0 "B cannot open A's .error"
isnt "$(as "$UA" ls "$SPOOL/rejected" >/dev/null 2>&1; echo $?)" 0 "A cannot list rejected/"
isnt "$(as "$UA" ls "$RA" >/dev/null 2>&1; echo $?)" 0 "nor their own rejected/UID/"

list_a=$(ctl_as "$UA" rejected)
like "$list_a" "a\.json .*a\.json:1:[0-9]+: " "A's list shows a.json with the first line of its error"
like "$list_a" "binary\.json" "and binary.json"
ok "A's list does not show B's file" test -z "$(printf '%s\n' "$list_a" | grep 'b\.json')"
is "$(ctl_as "$UB" --json rejected | jq -r '[.[].name] | join(" ")')" "b.json" "B's list holds only b.json"
jq_ok "--json entries have name, uid, user, time, error, removed" --argjson u "$uida" \
        'all(.[]; (.uid == $u) and (.user == "o8inc") and (.time | test("^[0-9]{4}-")) and (.error | type == "string") and (.removed == false))' \
        <(ctl_as "$UA" --json rejected)
is_exit 66 "A asking for B's file: exit 66, as for a missing one" ctl_as "$UA" rejected b.json
like "$(cat "$T/last.err")" "you have no rejected file 'b\.json'" "saying there is no such file of A's"
is_exit 66 "a name that does not exist: 66" ctl_as "$UA" rejected nope.json
is_exit 66 "a name with a slash: 66" ctl_as "$UA" rejected ../jobs/x.json

show=$(ctl_as "$UA" rejected a.json)
like "$show" "Owner: o8inc \(uid $uida\)" "rejected NAME shows the owner"
like "$show" "a\.json:1:[0-9]+: " "and the whole error"
ctl_as "$UA" rejected a.json --file >"$T/a.back"
ok "rejected NAME --file gives back A's bytes exactly" cmp "$T/a.back" "$T/a.orig"
ctl_as "$UA" rejected binary.json --file >"$T/binary.back"
ok "bytes that are not UTF-8 come back exactly" cmp "$T/binary.back" <(printf '\xff\xfe{"nodes": 1}\x00\x01\n')

# Non-regular entries: removed, reported to their owner.
as "$UA" mkdir "$SPOOL/tmp/dir.json"
as "$UA" touch "$SPOOL/tmp/dir.json/inside"
as "$UA" mv "$SPOOL/tmp/dir.json" "$SPOOL/new/dir.json"
as "$UA" mkfifo "$SPOOL/tmp/fifo.json"
as "$UA" mv "$SPOOL/tmp/fifo.json" "$SPOOL/new/fifo.json"
for f in dir.json fifo.json; do
        wait_for 10 test -e "$RA/$f.error.json" || bail_out "$f not handled"
done
ok "the directory is removed, not kept" test ! -e "$RA/dir.json" -a ! -e "$SPOOL/new/dir.json"
ok "the FIFO is removed, not kept" test ! -e "$RA/fifo.json" -a ! -e "$SPOOL/new/fifo.json"
list_a=$(ctl_as "$UA" rejected)
like "$list_a" "dir\.json .*is a directory: only regular files are job files, so it was removed" "A's list reports the directory"
like "$list_a" "fifo\.json .*is a FIFO" "and the FIFO"
like "$(ctl_as "$UA" rejected dir.json)" "File: removed" "rejected NAME says the entry was removed"
is_exit 66 "--file of a removed entry: 66" ctl_as "$UA" rejected dir.json --file
like "$(cat "$T/last.err")" "was not a regular file and was removed" "saying why there are no bytes"

all=$(ctl rejected)
like "$all" "OWNER" "root's list has an OWNER column"
like "$all" "b\.json .*o8ind" "root sees B's file, with its owner"
like "$all" "a\.json .*o8inc" "and A's"

# Flat entries an older orchd kept in rejected/ itself are still listed, to their owner only.
printf 'old' >"$SPOOL/rejected/old.json"
printf 'old.json: from an older orchd\n' >"$SPOOL/rejected/old.json.error"
printf '{ "uid": %s, "file": "old.json", "removed": false }' "$uida" >"$SPOOL/rejected/old.json.error.json"
chown "$uida" "$SPOOL/rejected/old.json.error.json"
like "$(ctl_as "$UA" rejected)" "old\.json .*from an older orchd" "a flat entry of an older orchd is listed to its owner"
ok "and not to B" test -z "$(ctl_as "$UB" rejected | grep 'old\.json')"
is "$(ctl_as "$UA" rejected old.json --file)" "old" "its bytes come back"

# ---- names: no oracle, no jam (red team F3.1, F3.3) ----------------------------------------------------
# The oracle: A has a rejected gw.json. B's invalid gw.json is kept as gw.json all the same: the name B's
# rejection gets says nothing about the names of others' rejections.
printf '{ "nodes": \n' | drop_as "$UA" gw.json
wait_for 10 test -e "$RA/gw.json.error.json" || bail_out "A's gw.json not rejected"
printf '{ "nodes": \n' | drop_as "$UB" gw.json
ok "B's gw.json is rejected" wait_for 10 test -e "$RB/gw.json.error.json"
is "$(ctl_as "$UB" --json rejected | jq -r '[.[].name | select(startswith("gw"))] | join(" ")')" "gw.json" \
        "B's rejected gw.json has its own name, whatever A's rejections are"
is "$(ctl rejected gw.json | grep -o 'Owner: [a-z0-9]*' | sort | tr '\n' ' ')" "Owner: $UA Owner: $UB " \
        "root asking for gw.json gets A's and B's, with owners"
is_exit 64 "--file with a name several users have: 64" ctl rejected gw.json --file
like "$(cat "$T/last.err")" "several users have a rejected file named 'gw\.json'" "saying so"

# The jam: 10,000 earlier rejections of jam.json, kept flat (as an older orchd did; it then probed
# jam.1.json … jam.9999.json, failed, left the file in jobs/.intake, and from then on no one's jam.json could
# be claimed), and as many in A's own rejected/UID/. Created directly, as root, to make it cheap.
for d in "$SPOOL/rejected" "$RA"; do
        (cd "$d" && { echo jam.json; seq -f 'jam.%g.json' 1 9999; } | sed 'p; s/$/.error/' | xargs touch) ||
                bail_out "cannot create the jam in $d"
done
# And A's rejected/UID/ cannot even be opened for now (a file stands in its place), so A's next rejection
# fails outright and A's jam.json stays in jobs/.intake: the claim of anyone's jam.json must go on.
mv "$RA" "$T/ra.saved"
: >"$RA"
printf '{ "nodes": \n' | drop_as "$UA" jam.json
wait_for 10 grep -q "Failed to open .*/rejected/$uida" "$T/orchd.log" || diag "A's rejection did not fail as arranged"
is "$(ls -A "$SPOOL/jobs/.intake")" "jam.json" "A's jam.json waits in jobs/.intake"
printf '{ "nodes": { "j": { "cmd": ["/bin/true"] } } }\n' | drop_as "$UB" jam.json
idj=$(job_id_of jam)
ok "B's jam.json is claimed and accepted all the same" test -n "$idj"
ok "nothing of B's is left in new/" test ! -e "$SPOOL/new/jam.json"
ok "B's job runs" wait_job "$idj"
rm "$RA"
mv "$T/ra.saved" "$RA"
kill -HUP "$ORCHD_PID"
intake_empty() { [ -z "$(ls -A "$SPOOL/jobs/.intake")" ]; }
ok "after the rescan A's jam.json is rejected" wait_for 10 intake_empty
printf '{ "nodes": \n' | drop_as "$UA" jam.json
a_jams() { ctl_as "$UA" --json rejected | jq -r '[.[] | select(.original == "jam.json") | .name] | unique | length'; }
# Claimed from new/ is not yet rejected: wait for the second rejection itself, not only the claim.
a_has_two_jams() { [ "$(a_jams)" = 2 ]; }
ok "and A's next jam.json too" wait_for 10 a_has_two_jams
jams=$(a_jams)
is "$jams" 2 "A has both, each under a name of its own"
like "$(ctl_as "$UA" rejected | grep -c '^jam\.')" "^2$" "listed to A"
ok "neither went to the flat rejected/" test "$(find "$SPOOL/rejected" -maxdepth 1 -name 'jam.*' | wc -l)" = 20000
done_testing
