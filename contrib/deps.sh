#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Install the packages needed to build and test orchd on Debian 12, if any is missing (idempotent: with
# everything installed it does nothing and needs no root). Sourced by quickstart.sh and test.sh, or run.

ORCHD_DEPS=(autoconf automake libtool pkg-config make gcc libjson-c-dev libsystemd-dev libcmocka-dev libpam0g-dev jq
        ninja-build valgrind graphviz python3 systemd util-linux iproute2 strace clang libclang-rt-14-dev clang-format)

orchd_install_deps() {
        local missing=() p
        for p in "${ORCHD_DEPS[@]}"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        [ "${#missing[@]}" -eq 0 ] && return 0
        echo "==> installing ${missing[*]}"
        local sudo=()
        if [ "$(id -u)" != 0 ]; then
                command -v sudo >/dev/null || {
                        echo "missing packages ${missing[*]}; run as root or install sudo" >&2
                        return 1
                }
                sudo=(sudo)
        fi
        "${sudo[@]}" apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ORCHD_AS_USER: a command prefix that runs a command as the user who invoked sudo (so build trees and the
# quick-start daemon are theirs, not root's); empty otherwise. setpriv execs in place (no supervising
# parent), so `"${ORCHD_AS_USER[@]}" CMD &` leaves CMD's own pid in $! and a SIGTERM reaches CMD directly.
ORCHD_AS_USER=()
if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        ORCHD_AS_USER=(setpriv --reuid="$SUDO_USER" --regid="$(id -g "$SUDO_USER")" --init-groups
                env HOME="$(getent passwd "$SUDO_USER" | cut -d: -f6)" USER="$SUDO_USER" LOGNAME="$SUDO_USER")
fi

as_user() { # as_user CMD…: run CMD with the ORCHD_AS_USER prefix
        "${ORCHD_AS_USER[@]}" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        set -euo pipefail
        orchd_install_deps
fi
