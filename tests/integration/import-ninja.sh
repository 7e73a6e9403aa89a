#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl import-ninja (issue 11, point 3) and node ids with '/' (issue 11): a hand-written build.ninja
# with variables, rules, a phony alias, implicit and order-only inputs, include and subninja, an rspfile,
# outputs whose paths are no valid id, and a failing edge is imported and run by the real orchd as a
# second account; its outputs are byte-compared with ninja's own build of a copy (ninja-build is in
# contrib/deps.sh). Then: what a broken manifest and an unknown target say (FILE:LINE, exit 65), and the
# abuse of path-like node ids by that account: "../../etc/x", "a//b", 241-byte ids are rejected with the
# rule; a 240-byte id full of '/' runs, its log is one file in logs/ (no directory made) that
# `orchctl logs` reads. A tiny CMake project is compared too when cmake is installed (optional).

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip "import-ninja" "needs root, useradd and setpriv"
        done_testing
        exit 0
fi

U=o11na
add_account "$U" -m
chmod 711 "$T"
start_orchd

P=$T/proj
mkdir -p "$P/sub"
cat >"$P/build.ninja" <<'NINJA'
# variables, a rule using a build-level binding, include and subninja
greeting = hello
include rules.ninja

build gen/config.h: gen
  value = 42
build obj/a.o: compile src/a.c || gen/config.h
build obj/b.o: compile src/b.c | gen/config.h
build out$ dir/lib+x.a: archive obj/a.o obj/b.o
build libs: phony out$ dir/lib+x.a
build app: link main.c || libs
subninja sub/sub.ninja
build all: phony app sub/extra.txt
build broken: fail app
default all
NINJA
cat >"$P/rules.ninja" <<'NINJA'
rule gen
  command = printf '#define VALUE %s /* %s */\n' $value $greeting > $out
rule compile
  command = { cat gen/config.h; cat $in; } > $out
rule archive
  command = while read -r f; do cat "$$f"; done < $out.rsp > $out
  rspfile = $out.rsp
  rspfile_content = $in_newline
rule link
  command = cat "out dir/lib+x.a" $in > $out && echo linked >&2
rule fail
  command = echo about to fail; exit 3
NINJA
cat >"$P/sub/sub.ninja" <<'NINJA'
greeting = from sub
rule say
  command = echo $greeting $in > $out
build sub/extra.txt: say app
NINJA
mkdir -p "$P/src"
echo 'int a;' >"$P/src/a.c"
echo 'int b;' >"$P/src/b.c"
echo 'int main;' >"$P/main.c"
chown -R "$U:" "$P"
cp -a "$P" "$T/ref"

imp() { as "$U" "$ORCHCTL" -s "$SOCK" import-ninja "$@"; }

job=$(imp -C "$P") || bail_out "import-ninja failed"
printf '%s\n' "$job" >"$T/job.json"
jq_ok "one node per edge with a command (phony edges make none)" \
        '.nodes | keys == ["app", "esc--out_20dir_2flib_2bx.a", "gen/config.h", "obj/a.o", "obj/b.o", "sub/extra.txt"]' "$T/job.json"
jq_ok "cwd is the build directory, absolute" --arg d "$P" '.cwd == $d' "$T/job.json"
jq_ok "order-only and implicit inputs are dependencies" \
        '.nodes["obj/a.o"].after == ["gen/config.h"] and .nodes["obj/b.o"].after == ["gen/config.h"]' "$T/job.json"
jq_ok "a phony input is resolved to the edges behind it" \
        '.nodes.app.after == ["esc--out_20dir_2flib_2bx.a"]' "$T/job.json"
jq_ok "subninja has its own scope; the failing edge is not a default target" \
        '.nodes["sub/extra.txt"].cmd == "echo from sub app > sub/extra.txt" and (.nodes.broken == null)' "$T/job.json"
jq_ok "a missing output directory is made by the node, as ninja makes it" \
        '.nodes["obj/a.o"].cmd | startswith("mkdir -p -- obj || exit\n")' "$T/job.json"
ok "the rspfile is written at import" grep -qx 'obj/b.o' "$P/out dir/lib+x.a.rsp"
is_exit 0 "orchctl validate takes the job" "$ORCHCTL" validate "$T/job.json"

id=$(imp -C "$P" --submit) || bail_out "import-ninja --submit failed"
is_exit 0 "the imported job succeeds" wait_job "$id"
is "$(job_status "$id" | jq -r .owner.uid)" "$(id -u "$U")" "it ran as the account that imported it"
like "$(ctl_as "$U" logs "$id" esc--out_20dir_2flib_2bx.a; ctl_as "$U" logs "$id" app)" "linked" "logs of an escaped id and a plain one"

cmds_match() { # cmds_match DIR: the imported commands (without the mkdir lines) are ninja's own, as a set
        diff <(ninja -C "$1" -t commands all sub/extra.txt broken | sort -u) \
                <(imp -C "$1" all broken | jq -r '.nodes[].cmd' | grep -v '^mkdir -p -- .* || exit$' | sort -u)
}
if command -v ninja >/dev/null; then
        ok "the commands are those ninja runs (ninja -t commands)" cmds_match "$T/ref"
        as "$U" ninja -C "$T/ref" >"$T/ninja.out" 2>&1 || diag_file "$T/ninja.out"
        for f in gen/config.h obj/a.o obj/b.o "out dir/lib+x.a" app sub/extra.txt; do
                ok "same bytes as ninja's build: $f" cmp "$T/ref/$f" "$P/$f"
        done
else
        skip "outputs compared with ninja's" "ninja is not installed"
fi

# Targets: the failing edge, through --submit --wait; its dependencies ran first.
rm -f "$P/app"
is_exit 1 "a failing edge fails the job (--submit --wait)" imp -C "$P" --submit --wait broken
idf=$(ctl --json list --all | jq -r 'map(.id) | max')
is "$(node_field "$idf" broken state)" failed "the failing edge's node failed"
is "$(node_field "$idf" broken reason)" exit:3 "with its exit status"
is "$(node_field "$idf" app state)" succeeded "what it needs ran before it"
like "$(ctl_as "$U" logs "$idf" broken)" "about to fail" "its output is there"
is "$(imp -C "$P" obj/a.o | jq -c '.nodes | keys')" '["gen/config.h","obj/a.o"]' "a target restricts the job to what it needs"

# Errors name FILE:LINE; exit 65.
mkdir -p "$T/bad" && chown "$U:" "$T/bad"
printf 'rule r\n  command = true\nbuild a: r\nbuild b: nosuchrule a\n' >"$T/bad/build.ninja"
err=$(imp -C "$T/bad" 2>&1 >/dev/null)
is "$?" 65 "an unknown rule: exit 65"
like "$err" "/bad/build.ninja:4: unknown build rule 'nosuchrule'" "named with its file and line"
printf 'rule r\n  command = true\nbuild a: r\nx = $!\n' >"$T/bad/build.ninja"
like "$(imp -C "$T/bad" 2>&1)" "build.ninja:4: bad .-escape" "a bad \$-escape: named with its line"
like "$(imp -C "$P" nosuch 2>&1)" "unknown target 'nosuch'" "an unknown target is named"
is_exit 65 "an unknown target: exit 65" imp -C "$P" nosuch
mkdir -p "$T/empty" && chown "$U:" "$T/empty"
err=$(imp -C "$T/empty" 2>&1)
is "$?" 66 "no build.ninja: exit 66"
is "$err" "orchctl: $T/empty/build.ninja: No such file or directory" "named with its path"

# Node ids with '/', as the second account (orchd is root): rejected shapes, then the longest.
for bad in '../../etc/x' 'a//b' 'a/./b' 'a/' "a$(printf 'b%.0s' $(seq 240))"; do
        printf '{ "nodes": { "%s": { "cmd": "true" } } }' "$bad" >"$T/bad.json"
        chmod 644 "$T/bad.json"
        out=$(ctl_as "$U" submit "$T/bad.json" 2>&1)
        is "$?" 65 "submit of node id '${bad:0:20}' ($(printf %s "$bad" | wc -c) bytes) is refused"
        like "$out" "invalid node id: must match" "with the rule"
done
long=$(printf 'd%.0s/' $(seq 119))x # 239 bytes of "d/d/…/x": the deepest path an id can be
long=y$long                         # 240 bytes
printf '{ "nodes": { "%s": { "cmd": "echo deep" }, "n": { "cmd": "true", "after": ["%s"] } } }' "$long" "$long" >"$T/long.json"
chmod 644 "$T/long.json"
idl=$(ctl_as "$U" submit "$T/long.json") || bail_out "a 240-byte id was refused"
is_exit 0 "a 240-byte id with 119 '/' runs" wait_job "$idl"
is "$(find "$SPOOL/jobs/$idl/logs" -mindepth 1 -type d | wc -l)" 0 "no directory is made under logs/"
name=$(printf '%s.1.log' "$long" | tr / %)
ok "its log is one file named with '%' for '/' (${#name} bytes, NAME_MAX 255)" test -f "$SPOOL/jobs/$idl/logs/$name"
is "$(ctl_as "$U" logs "$idl" "$long")" deep "orchctl logs reads it by its id"
is "$(job_status "$idl" | jq -r --arg l "$long" '.nodes[$l].state')" succeeded "status shows it"
stop_orchd || bail_out "orchd did not stop"
start_orchd
is "$(job_status "$idl" | jq -r --arg l "$long" '.nodes[$l].state')" succeeded "after a restart, from the journal"
is "$(ctl_as "$U" logs "$idl" "$long")" deep "and its log"

# A CMake project (optional: cmake is not in contrib/deps.sh).
if command -v cmake >/dev/null && command -v ninja >/dev/null && command -v cc >/dev/null; then
        C=$T/cm
        mkdir -p "$C/src"
        printf 'cmake_minimum_required(VERSION 3.13)\nproject(t C)\nadd_library(l STATIC l.c)\nadd_executable(m m.c)\ntarget_link_libraries(m l)\n' >"$C/src/CMakeLists.txt"
        echo 'int l(void) { return 7; }' >"$C/src/l.c"
        printf 'int l(void);\nint main(void) { return l() - 7; }\n' >"$C/src/m.c"
        chown -R "$U:" "$C"
        as "$U" cmake -S "$C/src" -B "$C/a" -G Ninja >/dev/null 2>&1 && as "$U" cmake -S "$C/src" -B "$C/b" -G Ninja >/dev/null 2>&1 ||
                bail_out "cmake failed"
        is "$(imp -C "$C/b" | jq -r '.nodes[].cmd' | grep -v '^mkdir -p -- .* || exit$' | sort)" \
                "$(ninja -C "$C/b" -t commands | sort)" "CMake's commands are those ninja runs"
        as "$U" ninja -C "$C/a" >/dev/null 2>&1
        is_exit 0 "a CMake build imported and run" imp -C "$C/b" --submit --wait
        ok "its static library is the same as ninja's" cmp "$C/a/libl.a" "$C/b/libl.a"
        ok "its program runs" "$C/b/m"
else
        skip "a CMake project" "cmake, ninja or cc is not installed"
fi

done_testing
