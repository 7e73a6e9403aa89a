#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# pack-state.sh JOBDIR: print the state files of one job directory (SPOOL/jobs/ID) in the input format of
# fuzz-journal.c ("== NAME\n" then the bytes, for job.json, state.json and each journal-*.json), to make a
# seed for fuzz/corpus/journal/ from a real spool.

set -euo pipefail
cd "$1"
first=1
for f in job.json state.json journal-*.json; do
        [ -e "$f" ] || continue
        [ "$first" = 1 ] || printf '\n'
        first=0
        printf '== %s\n' "$f"
        cat "$f"
done
