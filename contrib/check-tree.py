#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The tree's shape, checked in seconds:  contrib/check-tree.py [--root DIR] [CHECK...]   (or: make check-tree)
#
# CHECKs (default: all, in this order; each prints PASS or FAIL with what breaks it):
#   cycles  no #include cycle among the modules of src/daemon. A module is X.c + X.h + X-internal.h; an
#           arrow A -> B is an #include "B.h" or "B-internal.h" (a header that exists in src/daemon) in a file
#           of A. Each cycle is printed as a path of modules with the #include lines that make each arrow.
#   layers  src/shared includes nothing from src/daemon, src/cli or src/exec; src/cli and src/exec nothing
#           from src/daemon (nor from each other). The include paths of Makefile.am enforce this when
#           compiling; this makes it explicit and fast.
#   length  no C file (.c, .h) under src/ over 600 lines (STYLE.md).
#   format  every C file under src/, tests/, fuzz/ and bench/ is clang-format clean with the checked-in
#           .clang-format (clang-format --dry-run --Werror; $CLANG_FORMAT names the binary), and no line is
#           longer than its ColumnLimit (clang-format leaves long strings and comments alone).
#   scripts every test script Makefile.am lists (integration_tests) exists and is executable: the test
#           driver runs it as a command, and a new one committed without its mode fails only there.
# Exits 0 when every check run passes, 1 when one fails, 2 on a usage or set-up error (no clang-format).

import argparse
import os
import re
import subprocess
import sys
from collections import deque

MAX_LINES = 600
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
C_SUFFIXES = (".c", ".h")


def rel(root, path):
    return os.path.relpath(path, root)


def c_files(root, top):
    """The .c and .h files under root/top, sorted (none if top does not exist)."""
    out = []
    for d, dirs, files in os.walk(os.path.join(root, top)):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        out += [os.path.join(d, f) for f in sorted(files) if f.endswith(C_SUFFIXES)]
    return out


def includes(path):
    """(line number, line, included name) for each #include "…" of a file."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                out.append((n, line.rstrip("\n"), m.group(1)))
    return out


# ------------------------------------------------------------------------------------------------ cycles


def module_of(filename):
    base = filename[:-2]
    return base[: -len("-internal")] if base.endswith("-internal") else base


def daemon_graph(root):
    """{module: {target module: [(file, line number, line), …]}} over src/daemon."""
    d = os.path.join(root, "src", "daemon")
    graph = {}
    if not os.path.isdir(d):
        return graph
    headers = {f for f in os.listdir(d) if f.endswith(".h")}
    for f in sorted(os.listdir(d)):
        if not f.endswith(C_SUFFIXES):
            continue
        m = module_of(f)
        edges = graph.setdefault(m, {})
        for n, line, name in includes(os.path.join(d, f)):
            if "/" in name or name not in headers:
                continue
            t = module_of(name)
            if t != m:
                edges.setdefault(t, []).append((f"src/daemon/{f}", n, line.strip()))
    return graph


def sccs(graph):
    """Strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            pushed = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                    pushed = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if pushed:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def shortest_cycle(graph, comp, start):
    """A shortest cycle start -> … -> start inside comp (BFS), as a list of modules ending with start."""
    members = set(comp)
    prev = {}
    q = deque([start])
    while q:
        v = q.popleft()
        for w in sorted(graph.get(v, {})):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return [start] + path[::-1][1:] + [start] if len(path) > 1 else [start, start]
            if w not in prev:
                prev[w] = v
                q.append(w)
    return None


def check_cycles(root):
    graph = daemon_graph(root)
    if not graph:
        return True, ["(no src/daemon)"]
    comps = sccs(graph)
    if not comps:
        return True, [f"{len(graph)} modules in src/daemon, no include cycle"]
    lines = []
    for comp in comps:
        lines.append(f"{len(comp)} modules in a cycle: {' '.join(comp)}")
        cyc = shortest_cycle(graph, comp, comp[0])
        if cyc:
            lines.append("  one cycle: " + " -> ".join(cyc))
            for a, b in zip(cyc, cyc[1:]):
                for f, n, line in graph[a][b]:
                    lines.append(f"    {a} -> {b}: {f}:{n}: {line}")
        lines.append("  every arrow inside it (remove enough of them to break it):")
        for a in comp:
            for b in sorted(t for t in graph[a] if t in comp):
                where = ", ".join(f"{f}:{n}" for f, n, _ in graph[a][b])
                lines.append(f"    {a} -> {b}: {where}")
    return False, lines


# ------------------------------------------------------------------------------------------------ layers

# A layer may include from itself and from the layers listed here, nothing else under src/.
ALLOWED = {"shared": ["shared"], "cli": ["cli", "shared"], "exec": ["exec", "shared"], "daemon": ["daemon", "shared"],
           "keeper": ["keeper", "daemon", "exec", "shared"]}


def check_layers(root):
    src = os.path.join(root, "src")
    bad = []
    n_files = 0
    for layer, allowed in ALLOWED.items():
        for path in c_files(root, os.path.join("src", layer)):
            n_files += 1
            here = os.path.dirname(path)
            for n, line, name in includes(path):
                # The compiler's order: the including file's directory, then the -I directories.
                cands = [os.path.normpath(os.path.join(here, name))]
                cands += [os.path.normpath(os.path.join(src, a, name)) for a in allowed]
                cands += [os.path.normpath(os.path.join(src, o, name)) for o in ALLOWED if o not in allowed]
                found = next((c for c in cands if os.path.isfile(c)), None)
                if not found:
                    continue  # a system header, or one generated in the build tree
                r = os.path.relpath(found, src).split(os.sep)
                target = r[0] if len(r) > 1 else None
                if target in ALLOWED and target not in allowed:
                    bad.append(f"{rel(root, path)}:{n}: {line.strip()}  -> src/{'/'.join(r)}: "
                               f"src/{layer} may include only from {', '.join('src/' + a for a in allowed)}")
    if bad:
        return False, bad
    return True, [f"{n_files} files: shared -> nothing above it; cli, exec -> shared; daemon -> shared"]


# ------------------------------------------------------------------------------------------------ length


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def check_length(root):
    files = c_files(root, "src")
    long = [(count_lines(p), p) for p in files]
    long = sorted(((n, p) for n, p in long if n > MAX_LINES), reverse=True)
    if long:
        return False, [f"{rel(root, p)}: {n} lines (over {MAX_LINES} by {n - MAX_LINES})" for n, p in long]
    return True, [f"{len(files)} files under src/, none over {MAX_LINES} lines"]


# ------------------------------------------------------------------------------------------------ format


def column_limit(root):
    with open(os.path.join(root, ".clang-format"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*ColumnLimit:\s*(\d+)", line)
            if m:
                return int(m.group(1))
    return 80  # clang-format's default for BasedOnStyle: LLVM


def check_format(root):
    if not os.path.isfile(os.path.join(root, ".clang-format")):
        return False, [f"{root}/.clang-format is missing"]
    limit = column_limit(root)
    files = [p for top in ("src", "tests", "fuzz", "bench") for p in c_files(root, top)]
    lines = []
    # Lines over the limit (tabs as 8 columns; UTF-8 characters as one).
    for p in files:
        with open(p, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                w = len(line.rstrip("\n").expandtabs(8))
                if w > limit:
                    lines.append(f"{rel(root, p)}:{n}: {w} columns (limit {limit})")
    # clang-format, in batches; each violation is "FILE:LINE:COL: error: code should be clang-formatted".
    cf = os.environ.get("CLANG_FORMAT", "clang-format")
    per_file = {}
    for i in range(0, len(files), 50):
        batch = files[i:i + 50]
        try:
            r = subprocess.run([cf, "--dry-run", "--Werror", *batch], cwd=root, capture_output=True, text=True)
        except FileNotFoundError:
            print(f"error: {cf} not found: install clang-format (contrib/deps.sh does), or set CLANG_FORMAT",
                  file=sys.stderr)
            sys.exit(2)
        for line in r.stderr.splitlines():
            m = re.match(r"^(.*?):(\d+):\d+: (?:error|warning): code should be clang-formatted", line)
            if m:
                per_file.setdefault(os.path.normpath(m.group(1)), []).append(int(m.group(2)))
        if r.returncode != 0 and not per_file:
            lines.append(f"{cf} failed ({r.returncode}): {r.stderr.strip()[:500]}")
    for p in files:
        hits = per_file.get(os.path.normpath(p)) or per_file.get(os.path.normpath(rel(root, p)))
        if hits:
            hits = sorted(set(hits))
            first = ", ".join(str(n) for n in hits[:5]) + (", …" if len(hits) > 5 else "")
            lines.append(f"{rel(root, p)}: not clang-format clean at {len(hits)} line(s): {first}")
    if lines:
        lines.append(f"({len(files)} files checked; fix with: clang-format -i FILE, "
                     "then review the diff)")
        return False, lines
    return True, [f"{len(files)} files clang-format clean, no line over {limit} columns"]


# ------------------------------------------------------------------------------------------ architecture


def check_architecture(root):
    """ARCHITECTURE.md stays true: every `src/PATH` it names exists, every `src/PATH:function` is defined there."""
    doc = os.path.join(root, "ARCHITECTURE.md")
    if not os.path.isfile(doc):
        return False, ["ARCHITECTURE.md is missing"]
    with open(doc, encoding="utf-8") as f:
        refs = sorted(set(re.findall(r"`(src/[A-Za-z0-9_./-]+(?::[A-Za-z_][A-Za-z0-9_]*)?)(?:\(\))?`", f.read())))
    if not refs:
        return False, ["ARCHITECTURE.md names no src/ file: the path of a job must name its functions"]
    bad = []
    for ref in refs:
        path, _, fn = ref.partition(":")
        full = os.path.join(root, path)
        if not os.path.exists(full):
            bad.append(f"ARCHITECTURE.md names {ref}, but {path} does not exist")
            continue
        if fn:
            with open(full, encoding="utf-8", errors="replace") as f:
                # A definition starts at column 0 and does not end in ';' (a prototype or a call does).
                if not any(re.match(rf"^[A-Za-z_][^;]*[^A-Za-z0-9_]{fn}\(", line) and not line.rstrip().endswith(";")
                           for line in f):
                    bad.append(f"ARCHITECTURE.md names {ref}, but {path} defines no function {fn}()")
    if bad:
        return False, bad + ["(update ARCHITECTURE.md where code moved)"]
    return True, [f"ARCHITECTURE.md: all {len(refs)} references hold"]


# ----------------------------------------------------------------------------------------------- scripts


def check_scripts(root):
    path = os.path.join(root, "Makefile.am")
    if not os.path.isfile(path):
        return True, ["no Makefile.am: no test scripts listed"]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^integration_tests\s*=((?:.*\\\n)*.*)$", text, re.M)
    if not m:
        return False, ["Makefile.am: no integration_tests list"]
    listed = re.findall(r"tests/\S+\.(?:sh|py)", m.group(1))
    bad = [f"{t}: {'missing' if not os.path.isfile(os.path.join(root, t)) else 'not executable'}"
           for t in listed if not os.access(os.path.join(root, t), os.X_OK)]
    if bad:
        return False, bad + ["(chmod +x, and commit the mode)"]
    return True, [f"{len(listed)} test scripts listed, all executable"]


CHECKS = {"cycles": check_cycles, "layers": check_layers, "length": check_length, "format": check_format,
          "architecture": check_architecture, "scripts": check_scripts}


def main():
    ap = argparse.ArgumentParser(description="Check the tree's include cycles, layers, file lengths and format.")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="the source tree (default: the one this script is in)")
    ap.add_argument("checks", nargs="*", metavar="CHECK", help="cycles, layers, length, format, architecture, scripts (default: all)")
    args = ap.parse_args()
    unknown = [c for c in args.checks if c not in CHECKS]
    if unknown:
        ap.error(f"unknown check {' '.join(unknown)}: the checks are {', '.join(CHECKS)}")
    root = os.path.abspath(args.root)
    failed = []
    for name in args.checks or list(CHECKS):
        ok, lines = CHECKS[name](root)
        print(f"{'PASS' if ok else 'FAIL'} {name}")
        for line in lines:
            print(f"    {line}")
        if not ok:
            failed.append(name)
    if failed:
        print(f"check-tree: {len(failed)} check(s) failed: {' '.join(failed)}")
        return 1
    print("check-tree: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
