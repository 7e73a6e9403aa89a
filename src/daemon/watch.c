/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.c — the Watch method: live progress of one job (orchctl watch).
 *
 * Owns: a job's JobWatch (j->watch, NULL while nobody watches): its watchers
 * (a reference on each Watch call) and the change lists of its commits that
 * are not durable yet. Invariants (SPEC §4, nothing reported before it is
 * durable):
 *   - a change list is built when job_flush() puts the job's records into a
 *     generation, from exactly the nodes and fields it writes, and is sent
 *     only once that generation is durable; a node changed twice within one
 *     commit window is reported once, in its committed (latest) state;
 *   - a watcher's first reply (the whole job) is built when it arrives and
 *     held until everything the job had changed by then is durable; it gets
 *     only the change lists built after it arrived, so it never sees a node
 *     go back to an older state;
 *   - the last watcher leaving frees the JobWatch: a job nobody watches costs
 *     nothing but the pointer tests in the scheduler's hooks.
 * A watcher that does not read is cut off by control.c's stream backlog cap
 * (then its disconnect callback drops it here); memory per watcher is that
 * cap plus one reply. Deliberately not here: who may watch (methods.c's
 * lookup decides, as for Status) and rendering (cli/watch.c).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "methods-internal.h"
#include "protocol.h"
#include "watch.h"

typedef struct Watcher {
        ControlCall *call;  /* a reference */
        json_object *first; /* the first reply, held until first_gen is durable; NULL once sent */
        uint64_t first_gen;
        uint64_t from_batch; /* change lists numbered below this are older than the first reply */
} Watcher;

typedef struct WatchBatch {
        uint64_t number;
        uint64_t gen;       /* the generation holding these records */
        json_object *reply; /* {"changes": [...], "job_change"?: {...}} */
} WatchBatch;

struct JobWatch {
        Watcher *watchers;
        size_t n_watchers;
        WatchBatch *batches; /* oldest first; gens never decrease */
        size_t n_batches;
        uint64_t next_batch;
};

JobWatch *watch_free(JobWatch *w) {
        if (!w)
                return NULL;
        for (size_t k = 0; k < w->n_watchers; k++) {
                control_call_set_disconnect_callback(w->watchers[k].call, NULL, NULL);
                control_call_unref(w->watchers[k].call);
                json_object_put(w->watchers[k].first);
        }
        for (size_t k = 0; k < w->n_batches; k++)
                json_object_put(w->batches[k].reply);
        free(w->watchers);
        free(w->batches);
        return mfree(w);
}

/* {"job": the job with its nodes}, or NULL on OOM. */
static json_object *job_reply(const Job *j) {
        json_object *p = job_status_reply(j);

        if (p && j->spec->n_nodes >= BIG_JOB_NODES)
                manager_trim_soon(j->manager); /* once the reply's tree is gone */
        return p;
}

/* ---- change lists ----------------------------------------------------------------------------- */

static json_object *node_change(const Job *j, uint32_t i) {
        json_object *o = protocol_node_to_json(&j->run->nodes[i]);

        if (o && json_object_object_add(o, "id", json_object_new_string(j->spec->nodes[i].id)) < 0)
                o = (json_object_put(o), NULL);
        return o;
}

/* The job's own fields, taken from its status object so they are rendered exactly as Status does. */
static json_object *job_change(const Job *j) {
        _cleanup_json_ json_object *status = protocol_job_to_json(j->spec, j->run, false);
        json_object *o = json_object_new_object(), *v;

        if (!status || !o) {
                json_object_put(o);
                return NULL;
        }
        for (const char *const *key =
                     (const char *const[]){ "state", "reason", "started_at", "finished_at", NULL };
             *key; key++) {
                v = json_object_object_get_ex(status, *key, &v) ? json_object_get(v) : NULL;
                if (json_object_object_add(o, *key, v) < 0) {
                        json_object_put(v);
                        return (json_object_put(o), NULL);
                }
        }
        return o;
}

/* What this flush writes: each dirty node once (the list may name a node several times), in the order the
 * nodes first changed, and the job's fields if they changed. */
static json_object *changes_build(const Job *j) {
        _cleanup_free_ uint8_t *seen = calloc(j->spec->n_nodes / 8 + 1, 1);
        _cleanup_json_ json_object *p = json_object_new_object();
        json_object *changes = json_object_new_array_ext((int) MIN(j->n_dirty, (size_t) INT32_MAX));

        if (!seen || !p || !changes || json_object_object_add(p, "changes", changes) < 0) {
                json_object_put(changes);
                return NULL;
        }
        for (size_t k = 0; k < j->n_dirty; k++) {
                uint32_t i = j->dirty[k];
                json_object *o;

                if (seen[i / 8] & (1U << (i % 8)))
                        continue;
                seen[i / 8] |= (uint8_t) (1U << (i % 8));
                o = node_change(j, i);
                if (!o || json_object_array_add(changes, o) < 0)
                        return json_object_put(o), NULL;
        }
        if (j->job_dirty) {
                json_object *o = job_change(j);

                if (!o || json_object_object_add(p, "job_change", o) < 0)
                        return json_object_put(o), NULL;
        }
        return TAKE_PTR(p);
}

void watch_job_flush(Job *j, uint64_t gen) {
        JobWatch *w = j->watch;
        WatchBatch *b;
        json_object *reply;

        if (!w || (j->n_dirty == 0 && !j->job_dirty))
                return;
        reply = changes_build(j);
        b = reply ? reallocarray(w->batches, w->n_batches + 1, sizeof(WatchBatch)) : NULL;
        if (!b) {
                json_object_put(reply);
                manager_fail_stop(j->manager, -ENOMEM, "the changes of a watched job");
        }
        w->batches = b;
        w->batches[w->n_batches++] = (WatchBatch){ .number = w->next_batch++, .gen = gen, .reply = reply };
}

/* ---- sending ---------------------------------------------------------------------------------- */

static void watcher_send_first(Watcher *x) {
        if (!x->first)
                return;
        (void) control_call_notify(x->call, TAKE_PTR(x->first));
}

void watch_job_durable(Job *j, uint64_t gen) {
        JobWatch *w = j->watch;
        size_t done = 0;

        if (!w)
                return;
        for (size_t k = 0; k < w->n_watchers; k++)
                if (w->watchers[k].first_gen <= gen)
                        watcher_send_first(&w->watchers[k]);
        for (; done < w->n_batches && w->batches[done].gen <= gen; done++) {
                WatchBatch *b = &w->batches[done];

                for (size_t k = 0; k < w->n_watchers; k++) {
                        Watcher *x = &w->watchers[k];

                        /* A batch this watcher's first reply already covers, or (with its first reply
                         * still held, so not durable yet) one from before it arrived. */
                        if (x->first || b->number < x->from_batch)
                                continue;
                        (void) control_call_notify(x->call, json_object_get(b->reply));
                }
                json_object_put(b->reply);
        }
        if (done == 0)
                return; /* also: batches may still be NULL, which memmove must not get */
        memmove(w->batches, w->batches + done, (w->n_batches - done) * sizeof(WatchBatch));
        w->n_batches -= done;
}

void watch_job_end(Job *j) {
        _cleanup_json_ json_object *final = NULL;
        JobWatch *w = j->watch;

        if (!w)
                return;
        final = job_reply(j);
        for (size_t k = 0; k < w->n_watchers; k++) {
                ControlCall *call = w->watchers[k].call;

                /* A first reply still held would be older than this one: the final reply replaces it. */
                json_object_put(w->watchers[k].first);
                w->watchers[k].first = NULL;
                if (final)
                        (void) control_call_reply(call, json_object_get(final));
                else
                        (void) control_call_error(call, ORCH_ERROR_INTERNAL, NULL);
        }
        log_debug("Job %" PRIu64 " ended: %zu watcher(s) answered.", j->id, w->n_watchers);
        j->watch = watch_free(w);
}

/* ---- watchers --------------------------------------------------------------------------------- */

static void watch_on_disconnect(ControlCall *call, void *userdata) {
        Job *j = userdata;
        JobWatch *w = j->watch;

        for (size_t k = 0; w && k < w->n_watchers; k++) {
                if (w->watchers[k].call != call)
                        continue;
                json_object_put(w->watchers[k].first);
                control_call_unref(call);
                w->watchers[k] = w->watchers[--w->n_watchers];
                log_debug("Job %" PRIu64 ": a watcher went away, %zu left.", j->id, w->n_watchers);
                break;
        }
        if (w && w->n_watchers == 0)
                j->watch = watch_free(w); /* nobody watches: no more change lists */
}

/* The generation that covers everything j changed so far (0: all durable), as methods.c holds replies. */
static uint64_t job_pending_gen(const Job *j) {
        Committer *c = j->manager->committer;
        uint64_t gen = j->in_dirty_list ? committer_next_gen(c) : j->flushed_gen;

        return gen <= committer_durable_gen(c) ? 0 : gen;
}

static int watch_add(Job *j, ControlCall *call) {
        _cleanup_json_ json_object *first = job_reply(j);
        Watcher *x;

        if (!first)
                return -ENOMEM;
        if (!j->watch) {
                j->watch = calloc(1, sizeof(JobWatch));
                if (!j->watch)
                        return -ENOMEM;
        }
        x = reallocarray(j->watch->watchers, j->watch->n_watchers + 1, sizeof(Watcher));
        if (!x) {
                if (j->watch->n_watchers == 0)
                        j->watch = watch_free(j->watch);
                return -ENOMEM;
        }
        j->watch->watchers = x;
        x = &j->watch->watchers[j->watch->n_watchers++];
        *x = (Watcher){ .call = control_call_ref(call),
                        .first = TAKE_PTR(first),
                        .first_gen = job_pending_gen(j),
                        .from_batch = j->watch->next_batch };
        control_call_set_disconnect_callback(call, watch_on_disconnect, j);
        log_debug("Job %" PRIu64 ": watcher added (uid %u), %zu now.", j->id,
                  (unsigned) control_call_uid(call), j->watch->n_watchers);
        if (x->first_gen == 0)
                watcher_send_first(x);
        return 0;
}

int method_watch(ControlCall *call, json_object *parameters, void *userdata) {
        Methods *ms = userdata;
        json_object *p;
        Job *j;

        if (!control_call_wants_more(call))
                return control_call_error(call, VARLINK_ERROR_EXPECTED_MORE, NULL);
        j = methods_lookup_job(ms, call, parameters);
        if (!j || !control_call_is_alive(call))
                return 0; /* answered, or nobody would read a stream (oneway) */
        if (!job_is_settled(j))
                return watch_add(j, call);
        /* Already over: the final reply at once (once durable, as for Status). */
        p = job_reply(j);
        if (!p)
                return -ENOMEM;
        return methods_reply_job_durable(ms, call, j, p);
}
