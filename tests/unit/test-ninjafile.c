/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for ninjafile*.c: statements, scopes and evaluation order as ninja 1.11 has them, path
 * canonicalization, the plan through phony/implicit/order-only/validation inputs, and the errors (each
 * with FILE:LINE) for what ninja rejects and for the bounds (expansion size, include depth, cycles).
 * Files are served from memory by the read callback.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "ninjafile.h"

typedef struct MemFile {
        const char *name, *text;
} MemFile;

static int mem_read(void *userdata, const char *path, size_t max, char **ret, size_t *ret_size) {
        for (const MemFile *m = userdata; m->name; m++)
                if (streq(m->name, path)) {
                        size_t n = strlen(m->text);
                        if (n > max)
                                return -EFBIG;
                        *ret = strdup(m->text);
                        *ret_size = n;
                        return *ret ? 0 : -ENOMEM;
                }
        return -ENOENT;
}

static NinjaFile *parse_ok(const MemFile *files) {
        NinjaLimits l;
        NinjaFile *f = NULL;
        char *err = NULL;
        int r;

        ninjafile_limits_init(&l);
        r = ninjafile_parse(files[0].name, mem_read, (void *) files, &l, &f, &err);
        if (r < 0)
                fail_msg("parse failed: %d %s", r, err);
        return f;
}

/* Parse that must fail with r, its message starting with want. */
static void parse_fails(const MemFile *files, size_t max_value, int want_r, const char *want) {
        NinjaLimits l;
        NinjaFile *f = NULL;
        char *err = NULL;
        int r;

        ninjafile_limits_init(&l);
        if (max_value)
                l.max_value = max_value;
        r = ninjafile_parse(files[0].name, mem_read, (void *) files, &l, &f, &err);
        assert_int_equal(r, want_r);
        assert_null(f);
        assert_non_null(err);
        if (strncmp(err, want, strlen(want)) != 0)
                fail_msg("error '%s' does not start with '%s'", err, want);
        free(err);
}

static const NinjaEdge *edge_of(const NinjaFile *f, const char *out) {
        int e = ninjafile_find_output(f, out);

        assert_true(e >= 0);
        return &f->edges[e];
}

static void test_evaluation(void **state) {
        const MemFile files[] = { { "build.ninja",
                                    "# comment\n"
                                    "cc = gcc\n"
                                    "flags = -O2\n"
                                    "rule cc\n"
                                    "  command = $cc $flags ${extra} -c $in -o $out$\n"
                                    "      $ # continued\n"
                                    "  description = CC $out\n"
                                    "\n"
                                    "build a.o | a.d: cc a.c | a.h || gen\n"
                                    "  extra = -g\n"
                                    "  flags = $flags -Wall\n"
                                    "build b$ c.o: cc ./x/../b$$.c $:z\n"
                                    "rule gen\n"
                                    "  command = touch $out && echo $description\n"
                                    "  description = [$in_newline]\n"
                                    "build gen: gen p q\n"
                                    "cc = clang\n" },
                                  {} };
        NinjaFile *f = parse_ok(files);
        const NinjaEdge *e;

        assert_int_equal(f->n_edges, 3);
        e = edge_of(f, "a.o");
        /* build bindings are evaluated at once ($flags is -O2 then); $cc at the end (clang) */
        assert_string_equal(e->command, "clang -O2 -Wall -g -c a.c -o a.o # continued");
        assert_int_equal(e->n_outs, 2);
        assert_int_equal(e->n_explicit_outs, 1);
        assert_int_equal(e->n_ins, 3);
        assert_int_equal(e->n_explicit_ins, 1);
        assert_int_equal(e->n_implicit_ins, 1);
        assert_string_equal(e->ins[2], "gen");
        assert_string_equal(e->where, "build.ninja:9");
        e = edge_of(f, "b c.o");
        assert_string_equal(e->ins[0], "b$.c");
        assert_string_equal(e->ins[1], ":z");
        assert_string_equal(e->command, "clang -O2  -c 'b$.c' ':z' -o 'b c.o' # continued");
        e = edge_of(f, "gen");
        assert_string_equal(e->command, "touch gen && echo [p\nq]");
        assert_int_equal(ninjafile_find_output(f, "a.c"), -ENOENT);
        assert_true(ninjafile_is_input(f, "a.c"));
        ninjafile_free(f);
}

static void test_scopes(void **state) {
        const MemFile files[] = {
                { "build.ninja",
                  "v = top\n"
                  "rule r\n"
                  "  command = echo $v $out\n"
                  "include inc.ninja\n"
                  "subninja sub/$dir.ninja\n"
                  "build top.txt: r\n"
                  "rule sh\n"
                  "  command = $cmd\n"
                  "  rspfile = $out.rsp\n"
                  "  rspfile_content = $in\n"
                  "build x: sh y\n"
                  "  cmd = cat @$out.rsp\n"
                  "build a$ b: sh c$ d\n"
                  "  cmd = true\n"
                  "default top.txt\n" },
                { "inc.ninja", "dir = s\nbuild inc.txt: r\n" },
                { "sub/s.ninja",
                  "v = sub\nbuild sub.txt: r\nrule r\n  command = own $v\nbuild own.txt: r\n" },
                {}
        };
        NinjaFile *f = parse_ok(files);

        /* include shares the scope (dir is seen by subninja's path); subninja gets a child scope whose
         * variable and rule do not leak out */
        assert_string_equal(edge_of(f, "inc.txt")->command, "echo top inc.txt");
        assert_string_equal(edge_of(f, "sub.txt")->command, "echo sub sub.txt");
        assert_string_equal(edge_of(f, "own.txt")->command, "own sub");
        assert_string_equal(edge_of(f, "top.txt")->command, "echo top top.txt");
        assert_string_equal(edge_of(f, "x")->rspfile, "x.rsp");
        assert_string_equal(edge_of(f, "x")->rspfile_content, "y");
        /* ninja opens the rspfile itself: its $out is not quoted; its content is the command's */
        assert_string_equal(edge_of(f, "a b")->rspfile, "a b.rsp");
        assert_string_equal(edge_of(f, "a b")->rspfile_content, "'c d'");
        assert_string_equal(edge_of(f, "a b")->command, "true");
        /* a build binding is evaluated when read, in the file scope, where $out is empty (as in ninja) */
        assert_string_equal(edge_of(f, "x")->command, "cat @.rsp");
        assert_int_equal(f->n_defaults, 1);
        assert_string_equal(f->defaults[0], "top.txt");
        ninjafile_free(f);
}

static void test_canon(void **state) {
        const char *cases[][2] = {
                { "a/b", "a/b" },   { "./a", "a" },           { "a//b/./c/", "a/b/c" }, { "a/../b", "b" },
                { "../a", "../a" }, { "a/../../b", "../b" },  { "/x/../y", "/y" },      { "/..", "/" },
                { "./", "." },      { "a/b/../../..", ".." }, { "x/./../y/z", "y/z" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[64];

                strcpy(buf, cases[i][0]);
                assert_int_equal(ninjafile_canon_path(buf), strlen(cases[i][1]));
                assert_string_equal(buf, cases[i][1]);
        }
}

/* The plan as "out:dep,dep;" in order. */
static char *plan_string(const NinjaFile *f, char *const *targets, size_t n) {
        uint32_t *order, **deps;
        size_t n_order, *n_deps;
        char *s = calloc(1, 4096), *err = NULL;

        assert_int_equal(ninjafile_plan(f, targets, n, &order, &n_order, &deps, &n_deps, &err), 0);
        for (size_t i = 0; i < n_order; i++) {
                uint32_t e = order[i];

                strcat(s, f->edges[e].outs[0]);
                strcat(s, ":");
                for (size_t k = 0; k < n_deps[e]; k++) {
                        strcat(s, k ? "," : "");
                        strcat(s, f->edges[deps[e][k]].outs[0]);
                }
                strcat(s, ";");
        }
        ninjafile_plan_free(f, order, deps, n_deps);
        return s;
}

static void test_plan(void **state) {
        const MemFile files[] = { { "build.ninja",
                                    "rule r\n  command = touch $out\n"
                                    "rule regen\n  command = cmake\n  generator = 1\n"
                                    "build build.ninja: regen CMakeLists.txt\n"
                                    "build gen.h: r\n"
                                    "build deps: phony gen.h\n"
                                    "build alias: phony deps\n"
                                    "build a.o: r a.c || alias\n"
                                    "build b.o: r b.c | gen.h\n"
                                    "build lib.a: r a.o b.o |@ check\n"
                                    "build check: r lib.a\n"
                                    "build all: phony lib.a\n"
                                    "build extra: r\n"
                                    "build loop: phony loop\n" },
                                  {} };
        NinjaFile *f = parse_ok(files);
        char *s, *t[] = { (char *) "all" }, *t2[] = { (char *) "./a.o", (char *) "a.c" };

        s = plan_string(f, t, 1); /* phony edges vanish; order-only and implicit inputs count */
        assert_string_equal(s, "gen.h:;a.o:gen.h;b.o:gen.h;lib.a:a.o,b.o;check:lib.a;");
        free(s);
        s = plan_string(f, t2, 2); /* a source file as a target needs nothing */
        assert_string_equal(s, "gen.h:;a.o:gen.h;");
        free(s);
        s = plan_string(f, NULL, 0); /* no default: the roots but the generator edge */
        assert_string_equal(s, "gen.h:;a.o:gen.h;b.o:gen.h;lib.a:a.o,b.o;check:lib.a;extra:;");
        free(s);
        ninjafile_free(f);
}

static void test_plan_errors(void **state) {
        const MemFile files[] = {
                { "build.ninja",
                  "rule r\n  command = x\nbuild a: r b\nbuild b: r c\nbuild c: r a\nbuild d: r\n" },
                {}
        };
        NinjaFile *f = parse_ok(files);
        uint32_t *order, **deps;
        size_t n_order, *n_deps;
        char *err = NULL, *t[] = { (char *) "a" }, *u[] = { (char *) "nope" };

        assert_int_equal(ninjafile_plan(f, t, 1, &order, &n_order, &deps, &n_deps, &err), -ELOOP);
        assert_string_equal(err, "dependency cycle: a -> b -> c -> a");
        free(err);
        assert_int_equal(ninjafile_plan(f, u, 1, &order, &n_order, &deps, &n_deps, &err), -ENOENT);
        assert_string_equal(err, "unknown target 'nope'");
        free(err);
        ninjafile_free(f);
}

static void test_errors(void **state) {
#define FAILS(text, r, msg)                                       \
        do {                                                      \
                const MemFile fs[] = { { "b.ninja", text }, {} }; \
                parse_fails(fs, 0, r, msg);                       \
        } while (0)
        FAILS("build a: nope\n", -EINVAL, "b.ninja:1: unknown build rule 'nope'");
        FAILS("x = $!\n", -EINVAL, "b.ninja:1: bad $-escape");
        FAILS("rule r\n  command = x\nbuild a: r\nbuild a: r\n", -EINVAL,
              "b.ninja:4: multiple rules generate 'a'");
        FAILS("\tx = 1\n", -EINVAL, "b.ninja:1: tabs are not allowed");
        FAILS("x = 1\n  y = 2\n", -EINVAL, "b.ninja:2: unexpected indentation");
        FAILS("default a\n", -EINVAL, "b.ninja:1: unknown target 'a'");
        FAILS("rule r\n  depfile = x\n", -EINVAL, "b.ninja:1: rule 'r' has no 'command =' line");
        FAILS("rule r\n  command = x\n  bogus = 1\n", -EINVAL, "b.ninja:3: unexpected variable 'bogus'");
        FAILS("rule r\n  command = x\nrule r\n  command = y\n", -EINVAL, "b.ninja:3: duplicate rule 'r'");
        FAILS("rule r\n  command = x\nbuild a: r\n  v = ${oops\n", -EINVAL, "b.ninja:4: bad ${name}");
        FAILS("build : phony\n", -EINVAL, "b.ninja:1: expected an output path");
        FAILS("build a phony\n", -EINVAL, "b.ninja:1: expected ':' after the outputs");
        FAILS("include nothere.ninja\n", -ENOENT, "b.ninja:1: cannot read 'nothere.ninja'");
        FAILS("include b.ninja\n", -ELOOP, "b.ninja:1: include/subninja nested over 32 deep");
        FAILS("rule r\n  command = $description\n  description = $command\nbuild a: r\n", -ELOOP,
              "b.ninja:4: rule variables refer to each other in a cycle");
        FAILS("\x01\n", -EINVAL, "b.ninja:1: expected a statement or a variable, got byte 0x01");
        FAILS("build a: phony b:\n", -EINVAL, "b.ninja:1: unexpected ':' in a build statement");
        {
                const MemFile fs[] = { { "b.ninja", "a = xxxxxxxx\nb = $a$a$a$a\nc = $b$b$b$b\nd = $c$c\n" },
                                       {} };
                parse_fails(fs, 100, -E2BIG, "b.ninja:3: a value expands to over 100 bytes");
        }
        {
                const MemFile fs[] = { { "none", "" }, {} };
                NinjaLimits l;
                NinjaFile *f = NULL;
                char *err = NULL;

                ninjafile_limits_init(&l);
                assert_int_equal(ninjafile_parse("missing", mem_read, (void *) fs, &l, &f, &err), -ENOENT);
                assert_string_equal(err, "missing: No such file or directory");
                free(err);
        }
#undef FAILS
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_evaluation),  cmocka_unit_test(test_scopes),
                cmocka_unit_test(test_canon),       cmocka_unit_test(test_plan),
                cmocka_unit_test(test_plan_errors), cmocka_unit_test(test_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
