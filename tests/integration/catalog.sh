#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The journal message catalog (src/daemon/orchd.catalog) against the MESSAGE_IDs the daemon sends
# (src/daemon/log-ids.h) and the JOURNAL section of orchd(8): journalctl itself imports the catalog into a
# scratch root (--root, so nothing of the system's is touched), and must list exactly those ids, each
# with a Subject and Defined-By: orchd. Needs no root and no running journald.

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

done_testing
