#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A Debian-like file system for the benchmarks: an ext4 with a journal (mkfs.ext4's default), in an image
# file loop-mounted at MOUNT (default /mnt/orchd-bench). These VMs' own disk is an ext4 without a journal,
# where every inode allocation skips the inodes freed in the last ~30 s (recently_deleted()), so a file
# created per node costs more there than on a packaged host. Then:
#
#   BENCH_TMP=/mnt/orchd-bench bench/burst.sh     (any benchmark)
#   bench/journaled-fs.sh umount                  (unmount; the image stays for the next run)
#
# Needs root. IMAGE (default /var/tmp/orchd-bench-ext4.img, 3 GB sparse) is made once.

set -euo pipefail
: "${MOUNT:=/mnt/orchd-bench}"
: "${IMAGE:=/var/tmp/orchd-bench-ext4.img}"

if [ "${1:-}" = umount ]; then
        ! mountpoint -q "$MOUNT" || umount "$MOUNT"
        exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (mount)" >&2; exit 1; }
if [ ! -f "$IMAGE" ]; then
        truncate -s 3G "$IMAGE"
        mkfs.ext4 -q -F "$IMAGE"
fi
mkdir -p "$MOUNT"
mountpoint -q "$MOUNT" || mount -o loop "$IMAGE" "$MOUNT"
echo "$MOUNT: $(df -T "$MOUNT" | awk 'NR == 2 { print $2 }'), journal $(dumpe2fs -h "$IMAGE" 2>/dev/null |
        grep -q has_journal && echo yes || echo no); use BENCH_TMP=$MOUNT"
