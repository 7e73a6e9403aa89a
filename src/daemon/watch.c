/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.c — the Watch method: live progress of one job (orchctl watch).
 *
 * Owns: a job's JobWatch (its observer, job.h, while anybody watches): its watchers
 * (a reference on each Watch call) and the change lists of its commits that
 * are not durable yet. Invariants (SPEC §4, nothing reported before it is
 * durable):
 *   - a change list is built when job_flush() puts the job's records into a
 *     generation (the observer's flush), from exactly the nodes and fields it writes, and is sent
 *     only once that generation is durable; a node changed twice within one
 *     commit window is reported once, in its committed (latest) state;
 *   - a watcher's first reply (the whole job) is built when it arrives and
 *     held until everything the job had changed by then is durable; it gets
 *     only the change lists built after it arrived, so it never sees a node
 *     go back to an older state;
 *   - the last watcher leaving frees the JobWatch and its observer: a job
 *     nobody watches costs nothing.
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

typedef struct JobWatch {
        Manager *manager;
        Job *job;
        Watcher *watchers;
        size_t n_watchers;
        WatchBatch *batches; /* oldest first; gens never decrease */
        size_t n_batches;
        uint64_t next_batch;
} JobWatch;

static const JobObserverOps watch_observer_ops;

static JobWatch *watch_free(JobWatch *w) {
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
static json_object *job_reply(Manager *m, const Job *j) {
        json_object *p = job_status_reply(j);

        if (p && j->spec->n_nodes >= BIG_JOB_NODES)
                manager_trim_soon(m); /* once the reply's tree is gone */
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
static json_object *changes_build(const Job *j, const uint32_t *nodes, size_t n_nodes, bool job_changed) {
        _cleanup_free_ uint8_t *seen = calloc(j->spec->n_nodes / 8 + 1, 1);
        _cleanup_json_ json_object *p = json_object_new_object();
        json_object *changes = json_object_new_array_ext((int) MIN(n_nodes, (size_t) INT32_MAX));

        if (!seen || !p || !changes || json_object_object_add(p, "changes", changes) < 0) {
                json_object_put(changes);
                return NULL;
        }
        for (size_t k = 0; k < n_nodes; k++) {
                uint32_t i = nodes[k];
                json_object *o;

                if (seen[i / 8] & (1U << (i % 8)))
                        continue;
                seen[i / 8] |= (uint8_t) (1U << (i % 8));
                o = node_change(j, i);
                if (!o || json_object_array_add(changes, o) < 0)
                        return json_object_put(o), NULL;
        }
        if (job_changed) {
                json_object *o = job_change(j);

                if (!o || json_object_object_add(p, "job_change", o) < 0)
                        return json_object_put(o), NULL;
        }
        return TAKE_PTR(p);
}

/* The observer's flush: remember what changed, to tell the watchers once gen is durable. On OOM the daemon
 * fail-stops, like any failure to record state. */
static void watch_on_flush(Job *j, uint64_t gen, const uint32_t *nodes, size_t n_nodes, bool job_changed,
                           void *userdata) {
        JobWatch *w = userdata;
        WatchBatch *b;
        json_object *reply;

        if (n_nodes == 0 && !job_changed)
                return;
        reply = changes_build(j, nodes, n_nodes, job_changed);
        b = reply ? reallocarray(w->batches, w->n_batches + 1, sizeof(WatchBatch)) : NULL;
        if (!b) {
                json_object_put(reply);
                manager_fail_stop(w->manager, -ENOMEM, "the changes of a watched job");
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

/* The observer's durable: send the watchers what gen holds (and first replies that waited for it). */
static void watch_on_durable(Job *j, uint64_t gen, void *userdata) {
        JobWatch *w = userdata;
        size_t done = 0;

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

/* The observer's end: send every watcher its final reply and drop them all. */
static void watch_on_end(Job *j, void *userdata) {
        _cleanup_json_ json_object *final = NULL;
        JobWatch *w = userdata;

        final = job_reply(w->manager, j);
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
        job_remove_observer(j, &watch_observer_ops, w);
        watch_free(w);
}

/* The observer's detach: the job is being freed; its watchers are dropped without a reply. */
static void watch_on_detach(Job *j, void *userdata) {
        watch_free(userdata);
}

static const JobObserverOps watch_observer_ops = {
        .flush = watch_on_flush,
        .durable = watch_on_durable,
        .end = watch_on_end,
        .detach = watch_on_detach,
};

/* ---- watchers --------------------------------------------------------------------------------- */

static void watch_on_disconnect(ControlCall *call, void *userdata) {
        JobWatch *w = userdata;
        Job *j = w->job;

        for (size_t k = 0; w && k < w->n_watchers; k++) {
                if (w->watchers[k].call != call)
                        continue;
                json_object_put(w->watchers[k].first);
                control_call_unref(call);
                w->watchers[k] = w->watchers[--w->n_watchers];
                log_debug("Job %" PRIu64 ": a watcher went away, %zu left.", j->id, w->n_watchers);
                break;
        }
        if (w->n_watchers == 0) { /* nobody watches: no more change lists */
                job_remove_observer(j, &watch_observer_ops, w);
                watch_free(w);
        }
}

/* The generation that covers everything j changed so far (0: all durable), as methods.c holds replies. */
static uint64_t job_pending_gen(Manager *m, const Job *j) {
        uint64_t gen = job_records_gen(j);

        return gen <= committer_durable_gen(m->committer) ? 0 : gen;
}

/* The job's JobWatch, created (with its observer) for the first watcher. Returns it, or NULL on OOM. */
static JobWatch *watch_get(Manager *m, Job *j) {
        JobWatch *w = job_find_observer(j, &watch_observer_ops);

        if (w)
                return w;
        w = calloc(1, sizeof(JobWatch));
        if (!w)
                return NULL;
        *w = (JobWatch){ .manager = m, .job = j };
        if (job_add_observer(j, &watch_observer_ops, w) < 0)
                return mfree(w);
        return w;
}

static int watch_add(Manager *m, Job *j, ControlCall *call) {
        _cleanup_json_ json_object *first = job_reply(m, j);
        JobWatch *w;
        Watcher *x;

        if (!first)
                return -ENOMEM;
        w = watch_get(m, j);
        if (!w)
                return -ENOMEM;
        x = reallocarray(w->watchers, w->n_watchers + 1, sizeof(Watcher));
        if (!x) {
                if (w->n_watchers == 0) {
                        job_remove_observer(j, &watch_observer_ops, w);
                        watch_free(w);
                }
                return -ENOMEM;
        }
        w->watchers = x;
        x = &w->watchers[w->n_watchers++];
        *x = (Watcher){ .call = control_call_ref(call),
                        .first = TAKE_PTR(first),
                        .first_gen = job_pending_gen(m, j),
                        .from_batch = w->next_batch };
        control_call_set_disconnect_callback(call, watch_on_disconnect, w);
        log_debug("Job %" PRIu64 ": watcher added (uid %u), %zu now.", j->id,
                  (unsigned) control_call_uid(call), w->n_watchers);
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
                return watch_add(ms->manager, j, call);
        /* Already over: the final reply at once (once durable, as for Status). */
        p = job_reply(ms->manager, j);
        if (!p)
                return -ENOMEM;
        return methods_reply_job_durable(ms, call, j, p);
}
