#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The journal message catalog (src/daemon/orchd.catalog) against the MESSAGE_IDs the daemon sends
# (src/daemon/log-ids.h) and the JOURNAL section of orchd(8): journalctl itself imports the catalog into a
# scratch root (--root, so nothing of the system's is touched), and must list exactly those ids, each
# with a Subject and Defined-By: orchd. Needs no root and no running journald.
#
# Then (root only) the rendering: a real orchd on a real systemd-journald (tests/journald.sh) sends an
# entry of every MESSAGE_ID along every path that sends one (a node and a job that succeed, fail, are
# retried, cancelled, interrupted by a stop and orphaned by a crash; a rejected file; control actions on a
# job and on none), and `journalctl -x` shows each with its catalog text, with no "@FIELD@" left (a field
# the text names but the entry lacks). journalctl -x reads the catalog database at its fixed path: it runs
# in a private mount namespace where a tmpfs over /var/lib/systemd holds the database of this catalog, so
# the system's catalog is never touched. Entries are those of this test's spool (ORCH_SPOOL).
#
# orchd runs with KillNodes=yes, so that a stop interrupts a node and a crash orphans one (both have
# MESSAGE_IDs of their own).

. "$(dirname "$0")/lib.sh"

command -v journalctl >/dev/null || {
        echo "1..0 # SKIP no journalctl (package systemd)"
        _done=1
        exit 0
}

R=$T/root
mkdir -p "$R/usr/lib/systemd/catalog"
cp "$TOP_SRCDIR/src/daemon/orchd.catalog" "$R/usr/lib/systemd/catalog/"
is_exit 0 "journalctl --update-catalog imports the catalog" journalctl --root="$R" --update-catalog
is_exit 0 "journalctl --list-catalog reads it back" journalctl --root="$R" --list-catalog
cp "$T/last.out" "$T/list"

ids=$(sed -n 's/^#define ORCH_MESSAGE_[A-Z_]* "\([0-9a-f]\{32\}\)"$/\1/p' "$TOP_SRCDIR/src/daemon/log-ids.h" | sort)
[ -n "$ids" ] || bail_out "no MESSAGE_IDs found in src/daemon/log-ids.h"
is "$(awk '{ print $1 }' "$T/list" | sort)" "$ids" "the catalog has exactly the MESSAGE_IDs of src/daemon/log-ids.h"
is "$(grep -cv '^[0-9a-f]\{32\} orchd: [^ ]' "$T/list")" 0 "every entry has Defined-By: orchd and a Subject"
is "$(printf '%s\n' "$ids" | uniq -d)" "" "no MESSAGE_ID is used for two event kinds"

missing=
for id in $ids; do
        grep -q "$id" "$TOP_SRCDIR/man/orchd.8" || missing="$missing $id"
done
is "$missing" "" "orchd(8) lists every MESSAGE_ID"

journalctl --root="$R" --dump-catalog >"$T/dump" 2>&1
bad=
for id in $ids; do
        # The entry: from its "-- ID" line to the next; it needs a man page and some text besides headers.
        awk -v id="-- $id" '$0 == id { on = 1; next } /^-- [0-9a-f]+$/ { on = 0 } on' "$T/dump" >"$T/entry"
        grep -q '^Documentation: man:' "$T/entry" && grep -qv '^[A-Z][A-Za-z-]*: \|^$' "$T/entry" || bad="$bad $id"
done
is "$bad" "" "every catalog entry has a Documentation link and an explanation"

# ------------------------------------------------------------------------------------- rendering (-x)

render_skip() {
        local d
        for d in "every kind of event reached the journal along each of its paths" \
                "journalctl -x renders every entry of every MESSAGE_ID with its catalog text" \
                "no entry renders with a literal @FIELD@" \
                "every field a catalog text names is in every entry of its MESSAGE_ID"; do
                skip "$d" "$1"
        done
        done_testing
        exit 0
}
[ "$(id -u)" = 0 ] || render_skip "needs root (journald, a mount namespace)"
command -v unshare >/dev/null || render_skip "no unshare (package util-linux)"
[ -d /var/lib/systemd ] || render_skip "no /var/lib/systemd to hide the system's catalog under"
JOURNALD_CTL=$TOP_SRCDIR/tests/journald.sh
JPID=$T/journald.pid
lock_journald
"$JOURNALD_CTL" start "$JPID" >"$T/journald-start.out" 2>&1 || render_skip "no journald: $(cat "$T/journald-start.out")"
trap '_rc=$?; "$JOURNALD_CTL" stop "$JPID" >/dev/null 2>&1; (exit $_rc); _cleanup' EXIT

start_orchd --kill-nodes yes
sid=$(cat "$SPOOL/spool-id") || bail_out "no spool-id"
drop_job ok <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] } } }
EOF
drop_job bad <<EOF
{ "nodes": { "f": { "cmd": ["/bin/false"], "retry": { "attempts": 2, "delay": 0.01 } } } }
EOF
drop_job invalid <<EOF
{ "nodes": { "x": { "cmd": [] } } }
EOF
drop_job cancelme <<EOF
{ "nodes": { "c": { "cmd": ["/bin/sh", "-c", "$(gate_cmd never)"] } } }
EOF
drop_job interrupt <<EOF
{ "nodes": { "i": { "cmd": ["/bin/sh", "-c", "echo \$\$ >$W/i.\$ORCH_ATTEMPT; $(gate_cmd i)"] } } }
EOF
ok_id=$(job_id_of ok) && bad_id=$(job_id_of bad) && cid=$(job_id_of cancelme) && iid=$(job_id_of interrupt) ||
        bail_out "jobs not accepted"
wait_rejected invalid.json || bail_out "invalid.json was not rejected"
wait_job "$ok_id" >/dev/null
wait_job "$bad_id" >/dev/null
wait_for 20 node_state_is "$cid" c running || bail_out "node c did not start"
ctl cancel "$cid" >/dev/null || bail_out "cannot cancel"
wait_job "$cid" >/dev/null
ctl gc >/dev/null || bail_out "orchctl gc failed"
wait_for 20 test -s "$W/i.1" || bail_out "node i did not start"
stop_orchd # i is interrupted: it runs again at the next start (on_interrupt "rerun")
start_orchd --kill-nodes yes
wait_for 20 test -s "$W/i.2" || bail_out "node i did not run again"
track_pid_file "$W/i.2"
kill9_orchd # i's second attempt is orphaned: the next start kills it
start_orchd --kill-nodes yes
wait_for 20 test -s "$W/i.3" || bail_out "node i did not run a third time"
open_gate i
wait_job "$iid" >/dev/null
stop_orchd
journalctl --sync

journalctl -q -o json ORCH_SPOOL="$sid" | jq -s . >"$T/sent.json" || bail_out "no JSON from journalctl"
paths='[.[] | select(.MESSAGE_ID) | [.MESSAGE_ID, .ORCH_STATE // "", .ORCH_REASON // "", .ORCH_ACTION // ""] | join(" ")]'
want=
for k in DAEMON_READY JOB_ACCEPTED JOB_REJECTED JOB_STARTED NODE_STARTED NODE_FINISHED NODE_RETRYING \
        JOB_FINISHED RECOVERY CONTROL FORWARDING; do
        want="$want $k=$(sed -n "s/^#define ORCH_MESSAGE_$k \"\([0-9a-f]*\)\"$/\1/p" "$TOP_SRCDIR/src/daemon/log-ids.h")"
done
mid() { local v; for v in $want; do [ "${v%%=*}" = "$1" ] && echo "${v#*=}"; done; }
missing=
for p in "$(mid NODE_FINISHED) succeeded" "$(mid NODE_FINISHED) failed exit:1" "$(mid NODE_FINISHED) cancelled" \
        "$(mid JOB_FINISHED) succeeded" "$(mid JOB_FINISHED) failed" "$(mid NODE_RETRYING) retry_wait exit:1" \
        "$(mid NODE_RETRYING) .* interrupted" "$(mid RECOVERY)   " "$(mid RECOVERY)  orphan-killed" \
        "$(mid CONTROL)  .*cancel" "$(mid CONTROL)   gc" "$(mid JOB_REJECTED) rejected" "$(mid FORWARDING) on" \
        "$(mid DAEMON_READY)   " "$(mid JOB_ACCEPTED) queued" "$(mid JOB_STARTED) running" "$(mid NODE_STARTED) running"; do
        jq -r "$paths | .[]" "$T/sent.json" | grep -q "^$p" || missing="$missing [$p]"
done
is "$missing" "" "every kind of event reached the journal along each of its paths"

# journalctl -x with this catalog's database in place of the system's, for this spool's entries only.
R=$T/root
cat >"$T/render.sh" <<EOF
set -e
mount -t tmpfs tmpfs /var/lib/systemd
mkdir /var/lib/systemd/catalog
cp "$R/var/lib/systemd/catalog/database" /var/lib/systemd/catalog/
for id; do
        journalctl -x -q --no-pager -o short ORCH_SPOOL="$sid" MESSAGE_ID="\$id" >"$T/render.\$id"
done
EOF
ids=$(for v in $want; do echo "${v#*=}"; done)
# shellcheck disable=SC2086
unshare -m sh "$T/render.sh" $ids || bail_out "cannot render in a mount namespace"
bad=
literal=
for id in $ids; do
        n=$(jq --arg m "$id" '[.[] | select(.MESSAGE_ID == $m)] | length' "$T/sent.json")
        [ "$n" -gt 0 ] && [ "$(grep -c '^░░ Defined-By: orchd$' "$T/render.$id")" = "$n" ] || bad="$bad $id($n)"
        grep -q '@[A-Z_][A-Z0-9_]*@' "$T/render.$id" && literal="$literal $(grep -o '@[A-Z_][A-Z0-9_]*@' "$T/render.$id" | sort -u | tr '\n' ' ')in $id;"
done
is "$bad" "" "journalctl -x renders every entry of every MESSAGE_ID with its catalog text"
is "$literal" "" "no entry renders with a literal @FIELD@"
# systemd 252 renders a field the entry lacks as its bare name ("reason: ORCH_REASON"), later versions as
# "@ORCH_REASON@": what the text names must be in every entry of its MESSAGE_ID.
lacking=$(python3 - "$TOP_SRCDIR/src/daemon/orchd.catalog" "$T/sent.json" <<'PY'
import json, re, sys
names, cur = {}, None
for line in open(sys.argv[1]):
    m = re.match(r"^-- ([0-9a-f]{32})$", line)
    if m:
        cur = m.group(1)
        names[cur] = set()
    elif cur:
        names[cur] |= set(re.findall(r"@([A-Z_][A-Z0-9_]*)@", line))
out = set()
for e in json.load(open(sys.argv[2])):
    for f in names.get(e.get("MESSAGE_ID"), ()):
        if f not in e:
            out.add("%s lacks %s (%s)" % (e["MESSAGE_ID"], f, e.get("MESSAGE", "")[:60]))
print("; ".join(sorted(out)))
PY
)
is "$lacking" "" "every field a catalog text names is in every entry of its MESSAGE_ID"

done_testing
