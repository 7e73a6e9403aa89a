#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A job file over the 4 MiB limit is reported with its real size (issue 9, point 7): orchctl reads at most
# limit+1 bytes of it, and used to report a 21.9 MB file as "4194305 bytes". validate (text and --json),
# graph and submit say the file's size and the limit; a pipe, whose size is unknown, is "more than" it.

. "$(dirname "$0")/lib.sh"

big=$T/big.json
truncate -s 22963814 "$big" # sparse: 21.9 MB that take no room
want="file is too large: 22963814 bytes (21.9 MiB), the limit is 4194304 (4.0 MiB)"

is_exit 65 "validate of a 21.9 MB file: 65" "$ORCHCTL" validate "$big"
is "$(cat "$T/last.err")" "$big: $want" "validate reports its real size and the limit"
is_exit 65 "validate --json of it: 65" "$ORCHCTL" --json validate "$big"
is "$(jq -r '.[0].errors[0].message' "$T/last.out")" "$want" "validate --json reports its real size too"
is_exit 65 "graph of it: 65" "$ORCHCTL" graph "$big"
is "$(cat "$T/last.err")" "$big: $want" "graph reports its real size"

head -c 4194305 /dev/zero >"$T/just-over.json"
is_exit 65 "validate of a file one byte over: 65" "$ORCHCTL" validate "$T/just-over.json"
like "$(cat "$T/last.err")" "file is too large: 4194305 bytes .*, the limit is 4194304" "that one is 4194305 bytes"
is_exit 65 "validate of a big pipe: 65" sh -c "head -c 5000000 /dev/zero | '$ORCHCTL' validate /dev/stdin"
like "$(cat "$T/last.err")" "file is too large: more than 4194304 bytes, the limit is 4194304" \
        "a pipe's size is not known: more than the limit"

start_orchd
is_exit 65 "submit of the 21.9 MB file: 65" ctl submit "$big"
is "$(cat "$T/last.err")" "$big: $want" "submit reports its real size"
is "$(ctl --json list --all | jq length)" 0 "nothing was accepted"
done_testing
