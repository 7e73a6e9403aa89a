#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run every benchmark in turn and print their figures. Each script builds what it needs (see common.sh);
# set ORCHD/ORCHCTL to measure particular binaries. No pass/fail: read the numbers.

set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
rc=0
for b in independent curve chain latency bigjob worstcase envmem idle owner; do
        echo
        "$dir/$b.sh" || {
                echo "($b.sh failed with status $?)"
                rc=1
        }
done
exit "$rc"
