/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nodeenv.c — builds node environments (SPEC §3).
 *
 * Owns nothing beyond the arrays it returns. Invariant: every returned array
 * is NULL-terminated, owns each of its strings, and holds each variable name
 * at most once (the last writer wins, in SPEC order, in the place of the
 * first). Names are found through a hash index, so a build costs time linear
 * in the number of variables: a job file may hold thousands, and a node's
 * environment is built at every start. Deliberately does not
 * inherit anything from the daemon's own environment except LANG: a node's
 * environment must not depend on how orchd was started.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "nodeenv.h"

typedef struct Env {
        char **v;
        size_t n, cap;
        size_t *slot;   /* open addressing by name: 1 + the index in v, 0 = free */
        size_t n_slots; /* a power of two, at least twice n: probes stay short */
} Env;

static size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

/* The slot of the entry named by entry's first klen bytes, or the free slot where it would go. */
static size_t *env_slot(const Env *e, const char *entry, size_t klen) {
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */

        for (size_t i = 0; i < klen; i++)
                h = (h ^ (unsigned char) entry[i]) * UINT64_C(1099511628211);
        for (size_t i = h & (e->n_slots - 1);; i = (i + 1) & (e->n_slots - 1)) {
                size_t s = e->slot[i];

                if (s == 0 || (strneq(e->v[s - 1], entry, klen) && e->v[s - 1][klen] == '='))
                        return &e->slot[i];
        }
}

/* Make the index big enough for want entries. Returns 0 or -ENOMEM. */
static int env_reindex(Env *e, size_t want) {
        size_t n = 64, *slot;

        while (n < 2 * want)
                n *= 2;
        if (n <= e->n_slots)
                return 0;
        slot = calloc(n, sizeof(size_t));
        if (!slot)
                return -ENOMEM;
        free(e->slot);
        e->slot = slot;
        e->n_slots = n;
        for (size_t i = 0; i < e->n; i++)
                *env_slot(e, e->v[i], strcspn(e->v[i], "=")) = i + 1;
        return 0;
}

/* Take entry ("KEY=VALUE", owned) into e, replacing (and freeing) an entry with the same KEY. */
static int env_take(Env *e, char *entry) {
        size_t klen, *slot;

        if (!entry || env_reindex(e, e->n + 1) < 0) {
                free(entry);
                return -ENOMEM;
        }
        klen = strcspn(entry, "=");
        slot = env_slot(e, entry, klen);
        if (*slot > 0) {
                free(e->v[*slot - 1]);
                e->v[*slot - 1] = entry;
                return 0;
        }
        if (e->n + 1 >= e->cap) {
                size_t cap = MAX(e->cap * 2, (size_t) 16);
                char **v = reallocarray(e->v, cap, sizeof(char *));

                if (!v) {
                        free(entry);
                        return -ENOMEM;
                }
                e->v = v;
                e->cap = cap;
        }
        e->v[e->n++] = entry;
        e->v[e->n] = NULL;
        *slot = e->n;
        return 0;
}

static int env_set(Env *e, const char *key, const char *value) {
        char *s;

        return env_take(e, asprintf(&s, "%s=%s", key, value) < 0 ? NULL : s);
}

static int env_copy_all(Env *e, char *const *l) {
        for (size_t i = 0; l && l[i]; i++) {
                int r = env_take(e, strdup(l[i]));

                if (r < 0)
                        return r;
        }
        return 0;
}

/* Both builders add at least one variable, so e->v is never NULL on success. */
static int env_finish(Env *e, int r, char ***ret) {
        free(e->slot);
        if (r < 0) {
                strv_free(e->v);
                return r;
        }
        *ret = e->v;
        return 0;
}

int nodeenv_base(const NodeEnvOwner *owner, const char *lang, char *const *job_env, char ***ret) {
        Env e = {};
        int r;

        r = env_set(&e, "PATH", NODEENV_PATH);
        if (r >= 0 && owner->home)
                r = env_set(&e, "HOME", owner->home);
        if (r >= 0 && owner->user)
                r = env_set(&e, "USER", owner->user);
        if (r >= 0 && owner->user)
                r = env_set(&e, "LOGNAME", owner->user);
        if (r >= 0)
                r = env_set(&e, "SHELL", isempty(owner->shell) ? "/bin/sh" : owner->shell);
        if (r >= 0 && lang)
                r = env_set(&e, "LANG", lang);
        if (r >= 0)
                r = env_copy_all(&e, job_env);
        return env_finish(&e, r, ret);
}

int nodeenv_node(char *const *base, char *const *node_env, uint64_t job_id, const char *job_name, const char *node,
                 unsigned attempt, char ***ret) {
        Env e = {};
        char id[24], at[16];
        int r;

        e.cap = strv_length(base) + strv_length(node_env) + 5;
        e.v = calloc(e.cap, sizeof(char *));
        if (!e.v)
                return -ENOMEM;
        snprintf(id, sizeof(id), "%" PRIu64, job_id);
        snprintf(at, sizeof(at), "%u", attempt);
        r = env_copy_all(&e, base);
        if (r >= 0)
                r = env_copy_all(&e, node_env);
        if (r >= 0)
                r = env_set(&e, "ORCH_JOB_ID", id);
        if (r >= 0)
                r = env_set(&e, "ORCH_JOB_NAME", job_name);
        if (r >= 0)
                r = env_set(&e, "ORCH_NODE", node);
        if (r >= 0)
                r = env_set(&e, "ORCH_ATTEMPT", at);
        return env_finish(&e, r, ret);
}
