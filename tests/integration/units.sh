#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The systemd units (issue 4): systemd-analyze verify accepts orchd.service and orchd.socket (checked on a
# copy naming the built orchd, since verify wants ExecStart= to exist), systemd-analyze security rates
# orchd.service at or below the exposure threshold, and systemd-tmpfiles creates the spool with the modes
# of SPEC §8 from our tmpfiles.d snippet.

. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || { skip "unit checks" "systemd-analyze is missing"; done_testing; exit 0; }
src=$TOP_SRCDIR/systemd
# Exposure on systemd's 0-10 scale, times 10: 5.1 measured; fail above 5.2. It was 4.9 until issue 12:
# Delegate=yes and the cgroup tree left writable (no ProtectControlGroups=) are what per-node cgroups cost.
THRESHOLD=52

mkdir -p "$T/units"
sed -e "s|@sbindir@|$(dirname "$ORCHD")|g; s|@sysconfdir@|/etc|g; s|@localstatedir@|/var|g" \
        "$src/orchd.service.in" >"$T/units/orchd.service"
cp "$src/orchd.socket" "$T/units/"
ok "systemd-analyze verify accepts orchd.service and orchd.socket" \
        systemd-analyze verify --man=no "$T/units/orchd.service" "$T/units/orchd.socket"
ok "the service is Type=notify with a watchdog" grep -qx "Type=notify" "$T/units/orchd.service"
ok "WatchdogSec= is set" grep -q "^WatchdogSec=" "$T/units/orchd.service"

systemd-analyze security --offline=yes "$T/units/orchd.service" >"$T/security.out" 2>&1
score=$(sed -n 's/.*Overall exposure level for orchd.service: \([0-9.]*\).*/\1/p' "$T/security.out")
diag "systemd-analyze security: exposure $score (threshold $(awk "BEGIN{print $THRESHOLD/10}"))"
like "$score" "^[0-9]+\.[0-9]$" "systemd-analyze security rates the service"
ok "exposure at or below the threshold" \
        systemd-analyze security --offline=yes --threshold=$THRESHOLD "$T/units/orchd.service"

if command -v systemd-tmpfiles >/dev/null; then
        sed -e "s|@localstatedir@|/var|g" "$src/orchd.tmpfiles.in" >"$T/orchd-tmpfiles.conf"
        ok "systemd-tmpfiles applies our snippet" \
                systemd-tmpfiles --root="$T/root" --create "$T/orchd-tmpfiles.conf"
        mode() { stat -c %a "$T/root/var/spool/orchd/$1"; }
        is "$(mode new)" 1733 "new/ is 1733"
        is "$(mode tmp)" 1733 "tmp/ is 1733"
        is "$(mode jobs)" 700 "jobs/ is 700"
        is "$(mode rejected)" 700 "rejected/ is 700 (root's alone: orchctl rejected serves its files)"
else
        skip "tmpfiles snippet" "systemd-tmpfiles is missing"
fi
done_testing
