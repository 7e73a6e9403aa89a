#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A real C build through `orchctl import-ninja` against ninja itself (issue 11, point 3): a Debian source
# package (PROJECT: libwebp, the default, 154 edges; or json-c, 85 edges, the issue's project but
# under the 90 edges asked for) configured by cmake with the Ninja generator, built from clean with
# `ninja -j2` and with `orchctl import-ninja --submit --wait` on an orchd with --max-parallel 2, in
# interleaved rounds (ROUNDS, default 3), always in the same build directory so that paths embedded in
# the objects are the same. After every build each object, library and program is byte-compared with
# ninja's first build (Debian's ar is deterministic: no timestamps in the archives). Prints the edges,
# the wall times per round and the median orchd/ninja ratio; the orchd time includes reading
# build.ninja and submitting. Also the CPU time of the commands (user+sys of the reaped children:
# ninja's, orchd's), the same work both ways.
#
# On a machine busy with other work the wall ratio favours orchd: with the kernel's autogroup
# scheduling (/proc/sys/kernel/sched_autogroup_enabled) every session gets a fair share, and orchd
# starts each node in a session of its own while ninja's commands share one (ninja runs here under
# setsid, as from a terminal of its own). On an idle machine the ratio is orchd's own cost.
#
# Needs network once (Debian's archive): adds a deb-src entry for bookworm in
# /etc/apt/sources.list.d/orchd-bench-src.sources and installs cmake, ninja-build and gcc (BENCH_DEPS;
# as root). The source is kept in $BENCH_BUILD/PROJECT between runs. Not run by make check.

. "$(dirname "$0")/common.sh" || exit 1

: "${ROUNDS:=3}"
: "${PROJECT:=libwebp}"
BENCH_DEPS=(cmake ninja-build gcc)
SRC_CACHE=$BENCH_BUILD/$PROJECT

fetch_source() {
        local missing=() p
        for p in "${BENCH_DEPS[@]}"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        if [ "${#missing[@]}" -gt 0 ]; then
                note "installing ${missing[*]}"
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        fi
        [ -f "$SRC_CACHE/src/CMakeLists.txt" ] && return 0
        mkdir -p "$SRC_CACHE/dl" "$SRC_CACHE/src"
        if ! (cd "$SRC_CACHE/dl" && apt-get source --download-only -qq "$PROJECT" >/dev/null 2>&1 </dev/null); then
                note "adding a deb-src entry for bookworm"
                printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                        >/etc/apt/sources.list.d/orchd-bench-src.sources
                apt-get update -qq
                (cd "$SRC_CACHE/dl" && apt-get source --download-only -qq "$PROJECT" >/dev/null 2>&1)
        fi
        tar -xf "$(ls "$SRC_CACHE"/dl/*.orig.tar.* | grep -v '\.asc$' | head -n 1)" -C "$SRC_CACHE/src" --strip-components=1
}

configure() { # a clean build directory $BD (cmake is not timed)
        rm -rf "$BD"
        cmake -S "$SRC_CACHE/src" -B "$BD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null 2>&1
}

artifacts() { # artifacts DEST: copy every object, library and program of $BD
        mkdir -p "$1"
        (cd "$BD" && find . -type f \( -name '*.o' -o -name '*.a' -o -name '*.so*' -o -perm -u+x \) \
                ! -path './CMakeFiles/[0-9]*' ! -name '*.cmake' ! -name '*.sh' -print0 |
                xargs -0 cp --parents -t "$1")
}

compare() { # compare DIR: byte-compare with the first ninja build; prints the count of files
        local n
        n=$(cd "$B/ref" && find . -type f | wc -l)
        if ! diff -r "$B/ref" "$1" >"$B/diff.out" 2>&1; then
                note "DIFFERENT outputs in $1:"
                head -n 20 "$B/diff.out" >&2
                exit 1
        fi
        echo "$n"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

build_orchd
fetch_source
BD=$B/build
start_orchd --max-parallel 2

configure
edges=$(ctl import-ninja -C "$BD" | jq '.nodes | length')
printf '%s (%s): %s edges with a command (cmake %s, ninja %s), %s rounds, 2 parallel\n' \
        "$PROJECT" "$(basename "$(ls "$SRC_CACHE"/dl/*.dsc)" .dsc)" "$edges" \
        "$(cmake --version | sed -n '1s/.* //p')" "$(ninja --version)" "$ROUNDS"
printf '%-6s %10s %10s %8s %12s %12s %s\n' round ninja_s orchd_s ratio ninja_cpu_s orchd_cpu_s files_identical
HZ=$(getconf CLK_TCK)
ratios=()
for r in $(seq "$ROUNDS"); do
        configure
        t0=$(now_ns)
        ncpu=$(bash -c 'setsid -w ninja -C "$1" -j2 >/dev/null && cut -d" " -f16,17 /proc/$$/stat' _ "$BD" |
                awk '{ print $1 + $2 }')
        t1=$(now_ns)
        if [ "$r" = 1 ]; then artifacts "$B/ref"; fi
        artifacts "$B/ninja.$r"
        compare "$B/ninja.$r" >/dev/null

        configure
        c0=$(cut -d' ' -f16,17 "/proc/$ORCHD_PID/stat" | awk '{ print $1 + $2 }')
        t2=$(now_ns)
        ctl import-ninja -C "$BD" --submit --wait >/dev/null
        t3=$(now_ns)
        ocpu=$(($(cut -d' ' -f16,17 "/proc/$ORCHD_PID/stat" | awk '{ print $1 + $2 }') - c0))
        artifacts "$B/orchd.$r"
        files=$(compare "$B/orchd.$r")
        rm -rf "$B/ninja.$r" "$B/orchd.$r"

        ratio=$(awk -v a=$((t3 - t2)) -v b=$((t1 - t0)) 'BEGIN { printf "%.3f", a / b }')
        ratios+=("$ratio")
        printf '%-6s %10.2f %10.2f %8s %12.2f %12.2f %s\n' "$r" "$(awk -v t=$((t1 - t0)) 'BEGIN { print t / 1e9 }')" \
                "$(awk -v t=$((t3 - t2)) 'BEGIN { print t / 1e9 }')" "$ratio" "$(awk -v c="$ncpu" -v h="$HZ" 'BEGIN { print c / h }')" \
                "$(awk -v c="$ocpu" -v h="$HZ" 'BEGIN { print c / h }')" "$files"
done
printf 'median orchd/ninja wall time: %s (%s edges, %s rounds, outputs byte-identical)\n' \
        "$(printf '%s\n' "${ratios[@]}" | median)" "$edges" "$ROUNDS"
