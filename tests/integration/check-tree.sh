#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# contrib/check-tree.py, the tree check (make check-tree), on small fake trees in $T: a clean tree passes
# every check; a tree with an include cycle among src/daemon modules (through an X-internal.h), src/shared
# and src/cli including a daemon header, a 601-line C file, a misformatted file and a line over the column
# limit fails, and the report names each of them with its file and line; so does a test script Makefile.am
# lists that is missing or not executable. No daemon is started.

. "$(dirname "$0")/lib.sh"

CHECK=$TOP_SRCDIR/contrib/check-tree.py
command -v python3 >/dev/null || {
        skip "check-tree" "python3 is missing"
        done_testing
}
have_cf=1
command -v "${CLANG_FORMAT:-clang-format}" >/dev/null || have_cf=

# c_file PATH [INCLUDE…]: a small C file, formatted as .clang-format wants, including the quoted headers
c_file() {
        local p=$1 name i
        shift
        name=$(basename "${p%.*}" | tr -c 'a-z0-9\n' '_')
        mkdir -p "$(dirname "$p")"
        {
                echo "// SPDX-License-Identifier: LGPL-2.1-or-later"
                for i; do
                        echo "#include \"$i\""
                done
                echo
                case $p in
                *.h) echo "int ${name}_f(void);" ;;
                *) printf 'int %s_f(void) {\n        return 0;\n}\n' "$name" ;;
                esac
        } >"$p"
}

# The clean tree: daemon modules a -> b -> c (c with an internal header), cli and shared on their own.
C=$T/clean
mkdir -p "$C"
cp "$TOP_SRCDIR/.clang-format" "$C/.clang-format"
c_file "$C/src/daemon/a.c" a.h b.h
c_file "$C/src/daemon/a.h"
c_file "$C/src/daemon/b.c" b.h c.h
c_file "$C/src/daemon/b.h"
c_file "$C/src/daemon/c.c" c.h c-internal.h util.h
c_file "$C/src/daemon/c.h"
c_file "$C/src/daemon/c-internal.h" c.h
c_file "$C/src/shared/util.c" util.h
c_file "$C/src/shared/util.h"
c_file "$C/src/cli/cmd.c" util.h
c_file "$C/tests/unit/test-a.c" a.h
printf '# Map\n\n`src/daemon/b.c:b_f` calls into `src/daemon/c.c:c_f()`; see `src/shared/util.h`.\n' \
        >"$C/ARCHITECTURE.md"
# Exactly 600 lines: the limit itself is allowed.
{
        echo "// SPDX-License-Identifier: LGPL-2.1-or-later"
        for i in $(seq 599); do echo "int v$i;"; done
} >"$C/src/daemon/d.c"
is "$(wc -l <"$C/src/daemon/d.c")" 600 "the clean tree has a file of exactly 600 lines"
# The test scripts Makefile.am lists, each executable.
mkdir -p "$C/tests/integration"
printf '#!/bin/sh\n' >"$C/tests/integration/ok.sh"
chmod +x "$C/tests/integration/ok.sh"
printf 'integration_tests = \\\n\ttests/integration/ok.sh\n\nTESTS = $(integration_tests)\n' >"$C/Makefile.am"

# Without clang-format the format check cannot run (the script exits 2 saying so): the others still do.
checks=()
[ -n "$have_cf" ] || checks=(cycles layers length architecture scripts)
python3 "$CHECK" --root "$C" "${checks[@]}" >"$T/clean.out" 2>&1
rc=$?
is "$rc" 0 "a clean tree passes (exit 0)"
ok "… and says so" grep -qx 'check-tree: all checks passed' "$T/clean.out"
for c in cycles layers length architecture scripts; do
        ok "clean tree: PASS $c" grep -qx "PASS $c" "$T/clean.out"
done
diag "$(cat "$T/clean.out")"
is_exit 0 "one check can be run alone" python3 "$CHECK" --root "$C" cycles
ok "… and only it is reported" sh -c "grep -qx 'PASS cycles' '$T/last.out' && ! grep -q 'layers' '$T/last.out'"
is_exit 2 "an unknown check is a usage error (exit 2)" python3 "$CHECK" --root "$C" nosuch
like "$(cat "$T/last.err")" "unknown check nosuch: the checks are cycles, layers, length, format, architecture, scripts" "which names the checks"

# The broken tree: the same, plus one fault of each kind.
B=$T/broken
cp -a "$C" "$B"
# c-internal.h includes a.h: a -> b -> c -> a, the last arrow through c's internal header.
c_file "$B/src/daemon/c-internal.h" c.h a.h
c_file "$B/src/daemon/x.c" x.h a.h
c_file "$B/src/daemon/x.h"
# The layers: shared includes a daemon header, cli another (by a relative path).
c_file "$B/src/shared/util.c" util.h a.h
c_file "$B/src/cli/cmd.c" util.h ../daemon/b.h
echo "int v600;" >>"$B/src/daemon/d.c"
# ARCHITECTURE.md goes stale: a function moved away, a file removed (b_f is still declared in b.h).
printf '`src/daemon/b.h:b_f` and `src/daemon/a.c:gone_f()` and `src/daemon/nosuch.c`, `src/daemon/c.c:c_f`\n' \
        >"$B/ARCHITECTURE.md"
printf 'int  main( void ){return 0;}\n' >"$B/tests/unit/bad.c"
mkdir -p "$B/bench"
# A listed script committed without its mode, and one that is not there.
printf '#!/bin/sh\n' >"$B/tests/integration/noexec.sh"
chmod -x "$B/tests/integration/noexec.sh"
printf 'integration_tests = \\\n\ttests/integration/ok.sh \\\n\ttests/integration/noexec.sh \\\n\ttests/integration/gone.sh\n' \
        >"$B/Makefile.am"
printf '// SPDX-License-Identifier: LGPL-2.1-or-later\n#include "%s.h"\n' "$(printf 'w%.0s' $(seq 105))" \
        >"$B/bench/wide.c"

python3 "$CHECK" --root "$B" "${checks[@]}" >"$T/broken.out" 2>&1
is "$?" 1 "a broken tree fails (exit 1)"
diag "$(cat "$T/broken.out")"
out=$(cat "$T/broken.out")
like "$out" "(^|$(printf '\n'))FAIL cycles" "cycles: FAIL"
like "$out" "3 modules in a cycle: a b c" "the cycle's modules are named"
like "$out" "one cycle: a -> b -> c -> a" "the cycle is printed as a path"
like "$out" 'c -> a: src/daemon/c-internal\.h:3: #include "a\.h"' "each arrow with the include line that makes it"
like "$out" 'b -> c: src/daemon/b\.c:3: #include "c\.h"' "… every arrow of the path"
ok "a module outside the cycle (x) is not in it" sh -c "! grep -q 'cycle: .*x' '$T/broken.out'"
like "$out" "FAIL layers" "layers: FAIL"
like "$out" 'src/shared/util\.c:3: #include "a\.h"  -> src/daemon/a\.h: src/shared may include only from src/shared' \
        "shared including a daemon header is named"
like "$out" 'src/cli/cmd\.c:3: #include "\.\./daemon/b\.h"  -> src/daemon/b\.h: src/cli may include only from src/cli, src/shared' \
        "cli including a daemon header by a relative path is named"
like "$out" "FAIL length" "length: FAIL"
like "$out" "src/daemon/d\\.c: 601 lines \\(over 600 by 1\\)" "the 601-line file is named"
if [ -n "$have_cf" ]; then
        like "$out" "FAIL format" "format: FAIL"
        like "$out" "tests/unit/bad\\.c: not clang-format clean at 1 line\\(s\\): 1" "the misformatted file is named"
        like "$out" "bench/wide\\.c:2: 1[0-9][0-9] columns \\(limit 109\\)" "the line over the column limit is named"
        ok "formatted files are not named" sh -c "! grep -q 'src/daemon/a\\.c: not clang-format' '$T/broken.out'"
else
        for d in "format: FAIL" "the misformatted file is named" "the line over the column limit is named" \
                "formatted files are not named"; do
                skip "$d" "clang-format is missing"
        done
fi
like "$out" "FAIL architecture" "architecture: FAIL"
like "$out" "names src/daemon/a\\.c:gone_f, but src/daemon/a\\.c defines no function gone_f\\(\\)" \
        "a function ARCHITECTURE.md names that is not there is named"
like "$out" "names src/daemon/b\\.h:b_f, but src/daemon/b\\.h defines no function b_f\\(\\)" \
        "… a prototype is not a definition"
like "$out" "names src/daemon/nosuch\\.c, but src/daemon/nosuch\\.c does not exist" "a missing file is named"
ok "a reference that holds is not named" sh -c "! grep -q 'c\\.c:c_f' '$T/broken.out'"
like "$out" "FAIL scripts" "scripts: FAIL"
like "$out" "tests/integration/noexec\\.sh: not executable" "a listed script that is not executable is named"
like "$out" "tests/integration/gone\\.sh: missing" "a listed script that is not there is named"
ok "an executable one is not named" sh -c "! grep -q 'ok\\.sh' '$T/broken.out'"
if [ -n "$have_cf" ]; then
        like "$(tail -n 1 "$T/broken.out")" \
                "check-tree: 6 check\\(s\\) failed: cycles layers length format architecture scripts" \
                "the last line sums up what failed"
else
        like "$(tail -n 1 "$T/broken.out")" "check-tree: 5 check\\(s\\) failed: cycles layers length architecture scripts" \
                "the last line sums up what failed"
fi
done_testing
