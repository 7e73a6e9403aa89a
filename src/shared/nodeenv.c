/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nodeenv.c — builds node environments (SPEC §3).
 *
 * Owns a base's arrays and the few strings it makes (PATH … LANG); the job's
 * and the node's strings are borrowed, never copied. Invariant: every array
 * is NULL-terminated and holds each variable name at most once (the last
 * writer wins, in SPEC order, in the place of the first). The base keeps a
 * hash index by name, so a node's environment (built at every start) costs a
 * copy of the base's pointers plus one lookup per node variable: a job file
 * may hold 100,000 variables. Deliberately does not
 * inherit anything from the daemon's own environment except LANG: a node's
 * environment must not depend on how orchd was started.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "nodeenv.h"

/* An environment under construction: entries by position, and an index of them by name. Owns v and slot,
 * never the strings. */
typedef struct Env {
        char **v;
        size_t n, cap;
        size_t *slot;   /* open addressing by name: 1 + the index in v, 0 = free */
        size_t n_slots; /* a power of two, at least twice n: probes stay short */
} Env;

struct NodeEnvBase {
        Env env;
        char *own[6]; /* the strings made here (PATH … LANG); the job's are borrowed */
        size_t n_own;
};

static size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

/* The slot of the entry named by entry's first klen bytes in v (indexed by slot), or the free slot where
 * it would go. */
static size_t *env_slot(char *const *v, size_t *slot, size_t n_slots, const char *entry, size_t klen) {
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */

        for (size_t i = 0; i < klen; i++)
                h = (h ^ (unsigned char) entry[i]) * UINT64_C(1099511628211);
        for (size_t i = h & (n_slots - 1);; i = (i + 1) & (n_slots - 1)) {
                size_t s = slot[i];

                if (s == 0 || (strneq(v[s - 1], entry, klen) && v[s - 1][klen] == '='))
                        return &slot[i];
        }
}

static size_t slots_for(size_t want) {
        size_t n = 64;

        while (n < 2 * want)
                n *= 2;
        return n;
}

/* Make room (array and index) for want entries. Returns 0 or -ENOMEM. */
static int env_reserve(Env *e, size_t want) {
        size_t n = slots_for(want), *slot;

        if (want + 1 > e->cap) {
                size_t cap = MAX(want + 1, MAX(e->cap * 2, (size_t) 16));
                char **v = reallocarray(e->v, cap, sizeof(char *));

                if (!v)
                        return -ENOMEM;
                e->v = v;
                e->cap = cap;
        }
        if (n <= e->n_slots)
                return 0;
        slot = calloc(n, sizeof(size_t));
        if (!slot)
                return -ENOMEM;
        free(e->slot);
        e->slot = slot;
        e->n_slots = n;
        for (size_t i = 0; i < e->n; i++)
                *env_slot(e->v, e->slot, e->n_slots, e->v[i], strcspn(e->v[i], "=")) = i + 1;
        return 0;
}

/* Put entry ("KEY=VALUE", borrowed) into e: in the place of an entry with the same KEY, else at the end. */
static int env_put(Env *e, char *entry) {
        size_t klen, *slot;

        if (env_reserve(e, e->n + 1) < 0)
                return -ENOMEM;
        klen = strcspn(entry, "=");
        slot = env_slot(e->v, e->slot, e->n_slots, entry, klen);
        if (*slot > 0) {
                e->v[*slot - 1] = entry;
                return 0;
        }
        e->v[e->n++] = entry;
        e->v[e->n] = NULL;
        *slot = e->n;
        return 0;
}

static int base_set(NodeEnvBase *b, const char *key, const char *value) {
        char *s;

        assert(b->n_own < ELEMENTSOF(b->own));
        if (asprintf(&s, "%s=%s", key, value) < 0)
                return -ENOMEM;
        b->own[b->n_own++] = s;
        return env_put(&b->env, s);
}

NodeEnvBase *nodeenv_base_free(NodeEnvBase *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_own; i++)
                free(b->own[i]);
        free(b->env.v);
        free(b->env.slot);
        return mfree(b);
}

int nodeenv_base_new(const NodeEnvOwner *owner, const char *lang, char *const *job_env, NodeEnvBase **ret) {
        _cleanup_(nodeenv_base_freep) NodeEnvBase *b = calloc(1, sizeof(NodeEnvBase));
        size_t n = strv_length(job_env);
        int r;

        if (!b)
                return -ENOMEM;
        r = env_reserve(&b->env, ELEMENTSOF(b->own) + n); /* once, not once per doubling */
        if (r >= 0)
                r = base_set(b, "PATH", NODEENV_PATH);
        if (r >= 0 && owner->home)
                r = base_set(b, "HOME", owner->home);
        if (r >= 0 && owner->user)
                r = base_set(b, "USER", owner->user);
        if (r >= 0 && owner->user)
                r = base_set(b, "LOGNAME", owner->user);
        if (r >= 0)
                r = base_set(b, "SHELL", isempty(owner->shell) ? "/bin/sh" : owner->shell);
        if (r >= 0 && lang)
                r = base_set(b, "LANG", lang);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = env_put(&b->env, job_env[i]);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

char *const *nodeenv_base_strv(const NodeEnvBase *b) {
        return b->env.v;
}

/* The node's own entries go in the place of the base's entry of the same name, or after the base, where
 * an index of their own (extra, over out + base->n) finds a later one of the same name. */
static void node_put(const Env *base, char **out, size_t *extra, size_t n_extra_slots, size_t *n_extra,
                     char *entry) {
        size_t klen = strcspn(entry, "="), *slot;

        slot = env_slot(base->v, base->slot, base->n_slots, entry, klen);
        if (*slot > 0) {
                out[*slot - 1] = entry;
                return;
        }
        slot = env_slot(out + base->n, extra, n_extra_slots, entry, klen);
        if (*slot > 0) {
                out[base->n + *slot - 1] = entry;
                return;
        }
        out[base->n + *n_extra] = entry;
        *slot = ++*n_extra;
}

int nodeenv_node(const NodeEnvBase *base, char *const *node_env, uint64_t job_id, const char *job_name,
                 const char *node, unsigned attempt, char ***ret) {
        const Env *b = &base->env;
        size_t n_node = strv_length(node_env), n_extra = 0, n_slots = slots_for(n_node + 4), n_ptr, size;
        _cleanup_free_ size_t *extra = calloc(n_slots, sizeof(size_t));
        char **out, *orch[4], *p;
        int k;

        /* One block: the pointers (the base's, then at most every node entry and the four ORCH_*, then
         * NULL), followed by the text of the ORCH_* variables. */
        n_ptr = b->n + n_node + ELEMENTSOF(orch) + 1;
        size = n_ptr * sizeof(char *) + strlen(job_name) + strlen(node) + 128;
        out = extra ? malloc(size) : NULL;
        if (!out)
                return -ENOMEM;
        memcpy(out, b->v, b->n * sizeof(char *));
        p = (char *) (out + n_ptr);
        orch[0] = p;
        p += sprintf(p, "ORCH_JOB_ID=%" PRIu64, job_id) + 1;
        orch[1] = p;
        p += sprintf(p, "ORCH_JOB_NAME=%s", job_name) + 1;
        orch[2] = p;
        p += sprintf(p, "ORCH_NODE=%s", node) + 1;
        orch[3] = p;
        k = sprintf(p, "ORCH_ATTEMPT=%u", attempt);
        assert(p + k < (char *) out + size);

        for (size_t i = 0; i < n_node; i++)
                node_put(b, out, extra, n_slots, &n_extra, node_env[i]);
        for (size_t i = 0; i < ELEMENTSOF(orch); i++)
                node_put(b, out, extra, n_slots, &n_extra, orch[i]);
        out[b->n + n_extra] = NULL;
        *ret = out;
        return 0;
}
