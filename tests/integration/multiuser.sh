#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Multi-user operation (SPEC §8, issue 4), orchd as root with two test users: a job runs as the owner of
# the dropped file (uid, primary gid, supplementary groups, HOME/USER/SHELL, the home as cwd) or as the
# caller of submit; another user can neither see nor cancel it (77, logged with the caller's uid) and
# lists none of it; AdminGroup= members see everything; root-owned drops run as root; a symlink or a hard
# link planted in new/ never runs as anyone; an owner without an account is rejected; the spool
# directories get the modes of SPEC §8.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "multi-user operation" "needs root, useradd and setpriv"
        done_testing
        exit 0
fi

UA=orchd-ta UB=orchd-tb G=orchd-tg
add_group "$G"
for u in "$UA" "$UB"; do
        add_account "$u" -m
done
shadow_cmd usermod -a -G "$G" "$UA"
uida=$(id -u "$UA") uidb=$(id -u "$UB") gid_g=$(getent group "$G" | cut -d: -f3)
# The whole test dir is private (0700) by default: let the users reach the spool, the socket and files.
chmod 711 "$T"
start_orchd

is "$(stat -c %a "$SPOOL/new")" 1733 "new/ is 1733 (anyone drops, nobody lists)"
is "$(stat -c %a "$SPOOL/tmp")" 1733 "tmp/ is 1733"
is "$(stat -c %a "$SPOOL/jobs")" 700 "jobs/ is 700"
isnt "$(as "$UA" ls "$SPOOL/new" >/dev/null 2>&1; echo $?)" 0 "a user cannot list new/"

probe='["/bin/sh", "-c", "echo uid=$(id -u) gid=$(id -g) groups=$(id -G) home=$HOME user=$USER shell=$SHELL pwd=$(pwd)"]'
# A drops a job the normal way: write in tmp/, rename into new/.
as "$UA" sh -c "printf '%s' '{ \"nodes\": { \"p\": { \"cmd\": $probe } } }' >'$SPOOL/tmp/a.json' && mv '$SPOOL/tmp/a.json' '$SPOOL/new/a.json'" ||
        bail_out "user $UA cannot drop a job"
ida=$(job_id_of a) || bail_out "A's job not accepted"
is_exit 0 "A's job succeeds" wait_job "$ida"
out=$(cat "$SPOOL/jobs/$ida/logs/p.1.log")
diag "A's node: $out"
like "$out" "uid=$uida gid=$(id -g "$UA") " "the node runs with A's uid and primary gid"
like "$out" "groups=.*\\b$gid_g\\b" "with A's supplementary groups (initgroups)"
like "$out" "home=/home/$UA user=$UA shell=/bin/sh pwd=/home/$UA\$" "with A's HOME, USER, SHELL, and A's home as cwd"
is "$(job_status "$ida" | jq .owner.uid)" "$uida" "status shows A as the owner"

# B may not see or touch A's job.
is_exit 77 "B: status of A's job is refused (77)" ctl_as "$UB" status "$ida"
is_exit 77 "B: cancel of A's job is refused (77)" ctl_as "$UB" cancel "$ida"
is_exit 77 "B: retry of A's job is refused (77)" ctl_as "$UB" retry "$ida"
is "$(ctl_as "$UB" --json list --all | jq length)" 0 "B lists none of A's jobs"
is "$(ctl_as "$UA" --json list --all | jq -r '.[].id')" "$ida" "A lists A's job"
ok "the refusal is logged with B's uid" grep -q "uid $uidb was refused io.orchd.Manager.Status on job $ida" "$T/orchd.log"

# B submits through the socket: the job runs as B.
printf '{ "nodes": { "p": { "cmd": %s } } }' "$probe" >"$T/b.json"
chmod 644 "$T/b.json"
idb=$(ctl_as "$UB" submit "$T/b.json") || bail_out "B cannot submit"
is_exit 0 "B's submitted job succeeds" ctl_as "$UB" wait "$idb"
like "$(cat "$SPOOL/jobs/$idb/logs/p.1.log")" "uid=$uidb .*user=$UB" "it ran as B, the caller"
is_exit 77 "A may not see B's job" ctl_as "$UA" status "$idb"

# A node whose program only root may run fails to start for A: it is not run as root.
install -m 0700 /bin/true "$T/rootonly"
printf '{ "nodes": { "x": { "cmd": ["%s"] } } }' "$T/rootonly" >"$T/deny.json"
chmod 644 "$T/deny.json"
idx=$(ctl_as "$UA" submit "$T/deny.json") || bail_out "A cannot submit"
is_exit 1 "A's job running a root-only program fails" ctl_as "$UA" wait "$idx"
is "$(node_field "$idx" x reason)" "spawn:EACCES" "with spawn:EACCES: the exec happened as A"

# Root-owned drops run as root.
drop_job rootjob <<EOF
{ "nodes": { "p": { "cmd": $probe } } }
EOF
idr=$(job_id_of rootjob) || bail_out "root's job not accepted"
is_exit 0 "root's job succeeds" wait_job "$idr"
like "$(cat "$SPOOL/jobs/$idr/logs/p.1.log")" "^uid=0 gid=0 " "and ran as root"

# Planted links: A links to files of others in new/. Neither runs, as anyone.
printf '{ "nodes": { "p": { "cmd": ["/bin/sh", "-c", "touch %s/pwned"] } } }' "$T" >"$T/root-owned.json"
chmod 644 "$T/root-owned.json"
as "$UA" ln -s "$T/root-owned.json" "$SPOOL/new/sym.json"
ok "a symlink planted by A is rejected" wait_for 10 test -e "$SPOOL/rejected/$uida/sym.json.error"
like "$(cat "$SPOOL/rejected/$uida/sym.json.error" 2>/dev/null)" "symbolic link" "as a symbolic link"
as "$UB" sh -c "cp '$T/root-owned.json' /home/$UB/bjob.json && chmod 644 /home/$UB/bjob.json"
chmod 755 "/home/$UB"
if as "$UA" ln "/home/$UB/bjob.json" "$SPOOL/new/hard.json" 2>/dev/null; then
        ok "a hard link planted by A is rejected" wait_for 10 test -e "$SPOOL/rejected/$uidb/hard.json.error"
        like "$(cat "$SPOOL/rejected/$uidb/hard.json.error" 2>/dev/null)" "hard link" "as a hard link"
else
        pass "the kernel refuses A a hard link to B's file (fs.protected_hardlinks)"
        ln "/home/$UB/bjob.json" "$SPOOL/new/hard.json"
        ok "a hard link planted by root is rejected all the same" wait_for 10 test -e "$SPOOL/rejected/$uidb/hard.json.error"
fi
# Both were rejected above: that decision is final, so neither can be a job now or run later.
is "$(ctl --json list --all | jq '[.[] | select(.name == "sym" or .name == "hard")] | length')" 0 \
        "neither planted file became a job"
ok "nothing planted ever ran" test ! -e "$T/pwned"

# An owner without an account is rejected, never run as a bare uid.
printf '{ "nodes": { "p": { "cmd": ["/bin/true"] } } }' >"$SPOOL/tmp/ghost.json"
chown 54321:54321 "$SPOOL/tmp/ghost.json"
mv "$SPOOL/tmp/ghost.json" "$SPOOL/new/"
ok "a file of a uid without an account is rejected" wait_for 10 test -e "$SPOOL/rejected/54321/ghost.json.error"
like "$(cat "$SPOOL/rejected/54321/ghost.json.error" 2>/dev/null)" "uid 54321, which has no user account" "saying so"

# AdminGroup=: A (a member of $G) sees and controls B's job.
stop_orchd
start_orchd --admin-group "$G"
is_exit 0 "with AdminGroup=$G, A may see B's job" ctl_as "$UA" status "$idb"
is "$(ctl_as "$UA" --json list --all | jq "[.[] | select(.id == \"$idb\")] | length")" 1 "and lists it"
is_exit 77 "B (not a member) still may not see A's job" ctl_as "$UB" status "$ida"

# DropGroup=: only members may drop; new/ becomes 1730 root:GROUP.
stop_orchd
start_orchd --drop-group "$G"
is "$(stat -c '%a %G' "$SPOOL/new")" "1730 $G" "with DropGroup=$G, new/ is 1730 root:$G"
ok "a member (A) may drop" as "$UA" sh -c "printf '{ \"nodes\": { \"p\": { \"cmd\": [\"true\"] } } }' >'$SPOOL/tmp/m.json' && mv '$SPOOL/tmp/m.json' '$SPOOL/new/'"
isnt "$(as "$UB" sh -c "echo x >'$SPOOL/tmp/n.json'" 2>&1; echo $?)" 0 "a non-member (B) may not"
stop_orchd

# An unsafe spool is refused, naming the path and why.
chmod 777 "$SPOOL"
"$ORCHD" --config "$T/orchd.conf" --spool "$SPOOL" --socket "$SOCK" 2>"$T/err"
isnt $? 0 "a world-writable spool is refused"
like "$(cat "$T/err")" "Refusing to use $SPOOL: it is writable by group or others \\(mode 0777\\)" "naming path and reason"
chmod 755 "$SPOOL"
ln -s "$SPOOL" "$T/spool-link"
"$ORCHD" --config "$T/orchd.conf" --spool "$T/spool-link" --socket "$SOCK" 2>"$T/err"
isnt $? 0 "a symlinked spool is refused"
like "$(cat "$T/err")" "$T/spool-link .*not a symlink" "naming it"
done_testing
