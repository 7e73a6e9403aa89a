#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Build the libFuzzer targets (fuzz/fuzz-*.c) with clang under AddressSanitizer + UBSan, linked against the
# pure modules of src/ compiled the same way. Run by `make fuzz` from a configured build directory (which
# provides config.h and the generated src/shared/io.orchd.Manager.varlink.h):
#
#   build.sh SRCDIR BUILDDIR OUTDIR
#
# CLANG (default clang) must support -fsanitize=fuzzer: on Debian 12 that is clang-14 with
# libclang-rt-14-dev (contrib/deps.sh installs both). JSON_C_CFLAGS/JSON_C_LIBS default to pkg-config's.

set -euo pipefail

SRC=$(cd "$1" && pwd)
BUILD=$(cd "$2" && pwd)
OUT=$3
: "${CLANG:=clang}"
: "${JSON_C_CFLAGS:=$(pkg-config --cflags json-c)}"
: "${JSON_C_LIBS:=$(pkg-config --libs json-c)}"

# The pure modules: no event loop, no logging, nothing to stub. PURE_SOURCES is Makefile.am's list of them
# (the .c files of src_libpure_a_SOURCES), so a new module is linked here without a second list to keep.
: "${PURE_SOURCES:?set by make fuzz: the .c files of src_libpure_a_SOURCES}"
# spawnrec.c is left out: no fuzz target calls it, and its static_assert on SIG_DFL is not a constant to clang.
PURE=
for f in $PURE_SOURCES; do
        f=${f#src/shared/}
        [ "$f" = spawnrec.c ] || PURE="$PURE ${f%.c}"
done
TARGETS="job journal varlink conf"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# shellcheck disable=SC2206 # words
CFLAGS=(-std=gnu11 -g -O1 $SAN -include "$BUILD/config.h" -I"$SRC/src/shared" -I"$BUILD/src/shared" $JSON_C_CFLAGS
        -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror)

if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
        "$CLANG" -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
        echo "error: $CLANG cannot build libFuzzer targets (-fsanitize=fuzzer); on Debian 12:" \
                "apt-get install clang libclang-rt-14-dev" >&2
        exit 1
fi

mkdir -p "$OUT/obj"
objs=()
for m in $PURE; do
        o=$OUT/obj/$m.o
        # Rebuild only what changed: the module or any header (cheap enough to compare against all).
        if [ ! -e "$o" ] || [ -n "$(find "$SRC/src/shared/$m.c" "$SRC/src/shared" -maxdepth 1 -name '*.h' -newer "$o" 2>/dev/null | head -n 1)" ] ||
                [ "$SRC/src/shared/$m.c" -nt "$o" ]; then
                echo "  CC(fuzz) src/shared/$m.c"
                "$CLANG" "${CFLAGS[@]}" -fsanitize=fuzzer-no-link -c "$SRC/src/shared/$m.c" -o "$o"
        fi
        objs+=("$o")
done
for t in $TARGETS; do
        echo "  CCLD(fuzz) fuzz/fuzz-$t"
        # shellcheck disable=SC2086 # words
        "$CLANG" "${CFLAGS[@]}" -fsanitize=fuzzer "$SRC/fuzz/fuzz-$t.c" "${objs[@]}" $JSON_C_LIBS -lm \
                -o "$OUT/fuzz-$t"
done
