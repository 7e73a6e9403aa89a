/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * NinjaFile: a build.ninja read the way ninja 1.11 reads it, for `orchctl import-ninja`. Parsing
 * (ninjafile.c, values in ninjafile-eval.c): rule/build/pool/default/include/subninja statements and
 * variables, $-escapes, file scopes (subninja opens a child scope, include does not), build-level
 * bindings evaluated at once, rule variables (command, rspfile, …) evaluated once the whole file is read
 * with ninja's order ($in/$out, build bindings, rule bindings, the file scopes). Paths are canonicalized
 * as ninja does ("./a" and "b/../a" are "a"). Pools are parsed and ignored; depfile/deps only matter to
 * an incremental build and are ignored. The graph (ninjafile-graph.c): which edges a set of targets
 * needs, each with its dependencies resolved through phony edges.
 *
 * Every byte is untrusted: sizes are bounded (NinjaLimits) and every error is one message
 * "FILE:LINE: what is wrong". Pure: files are read through a callback, no logging.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "textbuf.h"

typedef struct NinjaEdge {
        char **outs; /* canonical paths: [0, n_explicit_outs) explicit, the rest implicit */
        size_t n_outs, n_explicit_outs;
        char **ins; /* explicit, then n_implicit_ins implicit, then order-only */
        size_t n_ins, n_explicit_ins, n_implicit_ins;
        char **validations; /* |@ paths: built along, not dependencies */
        size_t n_validations;
        char *command;         /* NULL for a phony edge */
        char *rspfile;         /* NULL unless the rule has a non-empty rspfile */
        char *rspfile_content; /* "" when rspfile is set without content */
        bool generator;        /* generator = 1: the edge that regenerates the manifest */
        bool dyndep;           /* dyndep is set: its dynamic dependencies are not known here */
        char *where;           /* "FILE:LINE" of the build statement */
} NinjaEdge;

typedef struct NinjaIndex NinjaIndex;

typedef struct NinjaFile {
        NinjaEdge *edges;
        size_t n_edges;
        char **defaults; /* canonical paths of every `default` statement, in order */
        size_t n_defaults;
        NinjaIndex *index; /* output path → edge, input paths */
} NinjaFile;

typedef struct NinjaLimits {
        size_t max_file_bytes;  /* per file read */
        size_t max_total_bytes; /* of all files read */
        size_t max_value;       /* bytes of one evaluated value or path */
        size_t max_depth;       /* include/subninja nesting */
        size_t max_edges;
} NinjaLimits;

/* Read path (as given in the manifest, relative to the build directory) into *ret (malloc'd, NUL added)
 * and *ret_size; at most max bytes (-EFBIG beyond). Returns 0 or -errno. */
typedef int (*NinjaReadFn)(void *userdata, const char *path, size_t max, char **ret, size_t *ret_size);

/* Defaults: 64 MiB per file, 256 MiB in all, 4 MiB per value, 32 levels, 1,000,000 edges. */
void ninjafile_limits_init(NinjaLimits *l);

/* Parse the manifest path and what it includes. Returns 0 with *ret, -EINVAL/-EFBIG/-ELOOP with
 * *reterr_msg ("FILE:LINE: message"), -errno of read (message naming the file), or -ENOMEM. */
int ninjafile_parse(const char *path, NinjaReadFn read, void *userdata, const NinjaLimits *limits,
                    NinjaFile **ret, char **reterr_msg);

NinjaFile *ninjafile_free(NinjaFile *f);

/* The edge producing the canonical path, or -ENOENT. */
int ninjafile_find_output(const NinjaFile *f, const char *path);

/* Whether path is an input of some edge (a source file, or an output used by another edge). */
bool ninjafile_is_input(const NinjaFile *f, const char *path);

/* Canonicalize path in place as ninja does: drop "." and empty components, resolve "x/.." (leading ".."
 * stay). Returns its new length. "" stays "" (the parser rejects empty paths). */
size_t ninjafile_canon_path(char *path);

/* The edges needed to build the targets (paths as the user gives them; none: the defaults, else every
 * root output but generator edges), in dependency order, phony edges left out: *ret_order (n_order edge
 * indices), and for each planned edge e (ret_deps[e], n ret_n_deps[e]; NULL/0 for others) the real edges
 * it waits for, through phony edges, explicit, implicit and order-only inputs alike. Validations are
 * planned too, as no one's dependency. Returns 0, -ENOENT with *reterr_msg for an unknown target,
 * -ELOOP with it for a dependency cycle, -ENOMEM. */
int ninjafile_plan(const NinjaFile *f, char *const *targets, size_t n_targets, uint32_t **ret_order,
                   size_t *ret_n_order, uint32_t ***ret_deps, size_t **ret_n_deps, char **reterr_msg);

/* Free what ninjafile_plan() returned (deps has f->n_edges entries). */
void ninjafile_plan_free(const NinjaFile *f, uint32_t *order, uint32_t **deps, size_t *n_deps);

/* Append path shell-quoted as ninja quotes $in and $out: as it is when every byte is safe
 * ([A-Za-z0-9_+./-]), else in single quotes. */
void ninjafile_shell_quote(TextBuf *out, const char *path);
