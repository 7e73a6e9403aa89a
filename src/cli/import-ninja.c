/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/import-ninja.c — "orchctl import-ninja [-C DIR] [-o FILE | --submit [--wait]] [TARGET...]": an
 * existing ninja build as one job. Reads DIR/build.ninja with the pure parser (shared/ninjafile*.c, no
 * ninja needed), plans what the targets need, and writes one node per build edge with a command: its
 * command run by /bin/sh -c as ninja runs it, cwd the build directory (absolute), `after` the edges it
 * waits for (through phony edges; explicit, implicit and order-only inputs alike), its id made from the
 * edge's first output by nodeid_from_path() (the path itself when it is a valid id; never two alike).
 *
 * Before an edge runs, ninja creates its outputs' directories and writes its rspfile. Here: an output
 * directory that does not exist at import time is made by the node ("mkdir -p -- DIR || exit" before its
 * command), and each rspfile is written now (its content can be far larger than a command may be).
 * depfile/deps only feed ninja's next incremental build and are ignored; dyndep is not supported (a
 * warning names the edges). Deliberately not here: reading the manifest (ninjafile.c), the job's
 * validation (jobspec.c: checked locally before anything is written or sent).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "fsutil.h"
#include "jobspec.h"
#include "json-util.h"
#include "ninjafile.h"
#include "nodeid.h"
#include "orchctl.h"

#define MANIFEST "build.ninja"

typedef struct Import {
        int dir_fd;
        char *dir; /* absolute */
        NinjaFile *f;
        uint32_t *order, **deps;
        size_t n_order, *n_deps;
        char **ids; /* per edge, NULL for an edge not planned */
} Import;

static void import_done(Import *im) {
        if (im->f) {
                for (size_t i = 0; im->ids && i < im->f->n_edges; i++)
                        free(im->ids[i]);
                ninjafile_plan_free(im->f, im->order, im->deps, im->n_deps);
        }
        free(im->ids);
        ninjafile_free(im->f);
        free(im->dir);
        safe_close(im->dir_fd);
}

/* A NinjaReadFn: path is relative to the build directory (userdata, absolute), read as a job file is. */
static int read_at(void *userdata, const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *full = NULL;
        uint64_t file_size;
        int r;

        if (asprintf(&full, "%s/%s", (const char *) userdata, path) < 0)
                return -ENOMEM;
        r = jobfile_read(path[0] == '/' ? path : full, max, ret, ret_size, &file_size);
        if (r >= 0 && !*ret)
                return -EFBIG;
        return r;
}

static int load(Import *im, char **targets, size_t n_targets) {
        _cleanup_free_ char *err = NULL;
        NinjaLimits limits;
        int r;

        im->dir_fd = open(arg_ninja_dir ?: ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (im->dir_fd < 0)
                return fail(EX_NOINPUT, "cannot open build directory '%s': %m", arg_ninja_dir ?: ".");
        im->dir = realpath(arg_ninja_dir ?: ".", NULL);
        if (!im->dir)
                return fail(EX_NOINPUT, "cannot resolve build directory '%s': %m", arg_ninja_dir ?: ".");
        ninjafile_limits_init(&limits);
        r = ninjafile_parse(MANIFEST, read_at, im->dir, &limits, &im->f, &err);
        if (r == -ENOMEM)
                return fail(EX_SOFTWARE, "out of memory");
        if (r < 0)
                return fail(r == -ENOENT || r == -EACCES ? EX_NOINPUT : EX_DATAERR, "%s/%s", im->dir,
                            strna(escaped(err)));
        r = ninjafile_plan(im->f, targets, n_targets, &im->order, &im->n_order, &im->deps, &im->n_deps,
                           &err);
        if (r == -ENOMEM)
                return fail(EX_SOFTWARE, "out of memory");
        if (r < 0)
                return fail(EX_DATAERR, "%s", strna(escaped(err)));
        return 0;
}

/* The node id of every planned edge. */
static int make_ids(Import *im) {
        im->ids = calloc(MAX(im->f->n_edges, (size_t) 1), sizeof(char *));
        if (!im->ids)
                return fail(EX_SOFTWARE, "out of memory");
        for (size_t i = 0; i < im->n_order; i++) {
                const NinjaEdge *e = &im->f->edges[im->order[i]];
                int r = nodeid_from_path(e->outs[0], &im->ids[im->order[i]]);

                if (r == -ENAMETOOLONG)
                        return fail(EX_DATAERR,
                                    "%s: output '%s' is too long for a node id (over %u bytes once "
                                    "escaped, see orchctl(1))",
                                    e->where, escaped(e->outs[0]), NODEID_MAX);
                if (r < 0)
                        return fail(EX_SOFTWARE, "out of memory");
        }
        return 0;
}

/* Whether the directory of path (relative to the build directory) is missing; its length in *ret_len. */
static bool dir_missing(int dir_fd, const char *path, size_t *ret_len) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = NULL;
        struct stat st;

        if (!slash || slash == path)
                return false;
        dir = strndup(path, (size_t) (slash - path));
        *ret_len = (size_t) (slash - path);
        return dir && fstatat(dir_fd, dir, &st, 0) < 0 && errno == ENOENT;
}

/* Write the edge's rspfile now, as ninja does right before the command. Returns 0 or an exit code. */
static int write_rspfile(const Import *im, const NinjaEdge *e) {
        _cleanup_close_ int fd = -EBADF;
        size_t len;
        int r;

        if (dir_missing(im->dir_fd, e->rspfile, &len)) {
                _cleanup_free_ char *dir = strndup(e->rspfile, len);

                for (char *p = dir; p && (p = strchr(p + 1, '/'));) { /* mkdir -p */
                        *p = '\0';
                        (void) mkdirat(im->dir_fd, dir, 0777);
                        *p = '/';
                }
                if (dir)
                        (void) mkdirat(im->dir_fd, dir, 0777);
        }
        fd = openat(im->dir_fd, e->rspfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd < 0)
                return fail(EX_CANTCREAT, "%s: cannot write rspfile '%s': %m", e->where,
                            escaped(e->rspfile));
        r = loop_write(fd, e->rspfile_content, strlen(e->rspfile_content));
        if (r < 0)
                return fail(EX_IOERR, "%s: cannot write rspfile '%s': %s", e->where, escaped(e->rspfile),
                            strerror(-r));
        return 0;
}

/* The node's command: "mkdir -p -- DIR... || exit" for missing output directories, then the edge's. */
static char *node_command(const Import *im, const NinjaEdge *e) {
        TextBuf b = {};
        bool any = false;

        for (size_t k = 0; k < e->n_outs; k++) {
                size_t len;
                bool seen = false;

                if (!dir_missing(im->dir_fd, e->outs[k], &len))
                        continue;
                for (size_t j = 0; j < k; j++) /* once per directory */
                        seen = seen || (strncmp(e->outs[j], e->outs[k], len + 1) == 0);
                if (seen)
                        continue;
                _cleanup_free_ char *dir = strndup(e->outs[k], len);
                if (!dir)
                        return mfree(b.data);
                textbuf_puts(&b, any ? " " : "mkdir -p -- ");
                ninjafile_shell_quote(&b, dir);
                any = true;
        }
        if (any)
                textbuf_puts(&b, " || exit\n");
        textbuf_puts(&b, e->command);
        textbuf_put(&b, "", 0);
        if (b.oom)
                return mfree(b.data);
        b.data[b.len] = '\0';
        return b.data;
}

static json_object *node_object(const Import *im, uint32_t edge) {
        _cleanup_json_ json_object *n = json_object_new_object();
        _cleanup_free_ char *cmd = node_command(im, &im->f->edges[edge]);
        json_object *after;

        if (!n || !cmd || json_object_object_add(n, "cmd", json_object_new_string(cmd)) < 0)
                return NULL;
        if (im->n_deps[edge] == 0)
                return TAKE_PTR(n);
        after = json_object_new_array();
        if (!after || json_object_object_add(n, "after", after) < 0)
                return NULL;
        for (size_t k = 0; k < im->n_deps[edge]; k++)
                if (json_object_array_add(after, json_object_new_string(im->ids[im->deps[edge][k]])) < 0)
                        return NULL;
        return TAKE_PTR(n);
}

/* The job as JSON text (*ret, owned). Returns 0 or an exit code. */
static int make_job(const Import *im, char **ret) {
        _cleanup_json_ json_object *job = json_object_new_object();
        json_object *nodes = json_object_new_object();
        const char *base = strrchr(im->dir, '/');
        _cleanup_free_ char *name = NULL;
        size_t n_dyndep = 0;
        int r;

        if (!job || !nodes || asprintf(&name, "ninja-%s", base && base[1] ? base + 1 : "root") < 0 ||
            json_object_object_add(job, "name", json_object_new_string(name)) < 0 ||
            json_object_object_add(job, "cwd", json_object_new_string(im->dir)) < 0 ||
            json_object_object_add(job, "nodes", nodes) < 0) {
                json_object_put(nodes);
                return fail(EX_SOFTWARE, "out of memory");
        }
        for (size_t i = 0; i < im->n_order; i++) {
                const NinjaEdge *e = &im->f->edges[im->order[i]];
                json_object *n = node_object(im, im->order[i]);

                if (!n || json_object_object_add(nodes, im->ids[im->order[i]], n) < 0)
                        return fail(EX_SOFTWARE, "out of memory");
                if (e->rspfile && (r = write_rspfile(im, e)) != 0)
                        return r;
                if (e->dyndep && n_dyndep++ < 3)
                        fprintf(stderr,
                                "orchctl: warning: %s: dyndep is not supported; '%s' may miss "
                                "dependencies found while building\n",
                                e->where, escaped(e->outs[0]));
        }
        *ret = strdup(json_object_to_json_string_ext(
                job, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        return *ret ? 0 : fail(EX_SOFTWARE, "out of memory");
}

/* Check the job as orchd will (a generated job over a limit is said here, with the limit). */
static int check_job(const char *text) {
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_(jobspec_freep) JobSpec *spec = NULL;
        _cleanup_free_ char *msg = NULL;
        JobLimits limits;
        int r;

        jobspec_limits_init(&limits);
        r = jobspec_parse(text, strlen(text), &limits, "ninja", &spec, &errors);
        if (r == -ENOMEM)
                return fail(EX_SOFTWARE, "out of memory");
        if (r < 0) {
                msg = jobspec_errors_format(errors, "the generated job");
                if (msg)
                        print_text_escaped(stderr, msg);
                return fail(EX_DATAERR, "the build cannot be one job (see above)");
        }
        return 0;
}

static int submit(const char *text) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        _cleanup_json_ json_object *p = json_object_new_object();
        char *id;
        Client *c = NULL;
        int r;

        if (!p || json_object_object_add(p, "name", json_object_new_string(MANIFEST)) < 0 ||
            json_object_object_add(p, "job", json_object_new_string(text)) < 0)
                return fail(EX_SOFTWARE, "out of memory");
        r = connect_daemon(&c);
        if (r != 0)
                return r;
        r = client_call(c, ORCH_METHOD_SUBMIT, p, USEC_INFINITY, &m);
        client_free(c);
        if (r < 0)
                return transport_error(r);
        if (m.error)
                return reply_error(&m, NULL);
        id = (char *) get_string(m.parameters, "id");
        if (isempty(id))
                return fail(EX_SOFTWARE, "invalid reply from orchd: no job id");
        printf("%s\n", id);
        if (!arg_wait)
                return 0;
        (void) fflush(stdout);
        return verb_wait(&id, 1);
}

static int output(const char *text) {
        FILE *f;
        bool bad;

        if (!arg_ninja_output || streq(arg_ninja_output, "-")) {
                fputs(text, stdout);
                fputc('\n', stdout);
                return 0;
        }
        f = fopen(arg_ninja_output, "we");
        if (!f)
                return fail(EX_CANTCREAT, "cannot create '%s': %m", arg_ninja_output);
        fputs(text, f);
        fputc('\n', f);
        bad = fflush(f) != 0 || ferror(f);
        if (fclose(f) != 0 || bad)
                return fail(EX_IOERR, "cannot write '%s': %m", arg_ninja_output);
        return 0;
}

int verb_import_ninja(char **args, size_t n_args) {
        _cleanup_free_ char *text = NULL;
        Import im = { .dir_fd = -EBADF };
        int r;

        if (arg_wait && !arg_ninja_submit)
                return fail(EX_USAGE, "--wait needs --submit");
        if (arg_ninja_submit && arg_ninja_output)
                return fail(EX_USAGE, "-o and --submit exclude each other");
        r = load(&im, args, n_args);
        if (r == 0 && im.n_order == 0) {
                fprintf(stderr, "orchctl: nothing to build: no edge with a command is needed\n");
                import_done(&im);
                return EXIT_SUCCESS;
        }
        if (r == 0)
                r = make_ids(&im);
        if (r == 0)
                r = make_job(&im, &text);
        import_done(&im);
        if (r == 0)
                r = check_job(text);
        if (r != 0)
                return r;
        return arg_ninja_submit ? submit(text) : output(text);
}
