/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * committer.c — group commit of journal files on one worker thread.
 *
 * Owns: the worker thread, the eventfd that wakes the loop, and every
 * CommitOp (its buffer) until it is written. An op names its directory
 * (relative to a directory fd its caller keeps open for the committer's
 * life) and the thread opens it only for the write, so the fds in use do not
 * grow with the batch: a batch of 100,000 jobs needs two at a time.
 * Invariants: the loop thread alone touches `open`; `queued`, `durable_gen`,
 * `error` and `busy` are shared under `lock`; the thread alone touches the
 * batch it is writing. Batches are written strictly in generation order, so
 * a job's journal files appear in sequence order. A write error stops the
 * thread: nothing after a failed write is made durable or reported. The
 * writes the failed batch did not finish are kept (the failed one first), so
 * that committer_resume() can write them, in the same order, once the cause
 * is gone (a full filesystem); otherwise the owner fail-stops. Does not decide
 * what to write: that is the manager's.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "committer.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

typedef struct CommitOp {
        int at_fd;    /* borrowed */
        char dir[32]; /* below at_fd; COMMIT_SEGMENT, COMMIT_SNAPSHOT */
        CommitKind kind;
        uint64_t seq;
        uint64_t reuse; /* COMMIT_SEGMENT: the obsolete segment to rewrite as this one, 0 = none */
        char *buf;
        size_t len;
        commit_fn fn;    /* COMMIT_CALL */
        int sync_fd;     /* COMMIT_CALL: fsynced once per batch after every op ran (borrowed), or -1 */
        commit_fn after; /* COMMIT_CALL with sync_fd: run once that fsync is done */
        void (*free_data)(void *data);
        void *data;
        const char *what;
} CommitOp;

typedef struct Batch {
        CommitOp *ops;
        size_t n, cap;
        uint64_t gen;
} Batch;

struct Committer {
        sd_event *event;
        sd_event_source *efd_source;
        int efd;
        committer_done_cb done;
        committer_error_cb on_error;
        void *userdata;

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t work;    /* thread waits: queued batch or quit */
        pthread_cond_t settled; /* drain waits: a batch finished */

        Batch open;            /* loop thread only */
        uint64_t last_gen;     /* loop thread only: last generation handed out */
        uint64_t reported_gen; /* loop thread only: last generation passed to done() */

        Batch queued;         /* under lock */
        bool busy;            /* under lock */
        bool quit;            /* under lock */
        uint64_t durable_gen; /* under lock */
        int error;            /* under lock; first write error, set until committer_resume() */
        char error_what[128]; /* under lock */
        Batch unwritten;      /* under lock: what the failed batch did not write, failed write first */
        bool lost;            /* under lock: writes were dropped (out of memory), so no resuming */
        uint64_t n_batches, n_writes, write_usec; /* under lock */
};

static void op_done(CommitOp *op) {
        free(op->buf);
        if (op->free_data)
                op->free_data(op->data);
        *op = (CommitOp){};
}

static void batch_clear(Batch *b) {
        for (size_t i = 0; i < b->n; i++)
                op_done(&b->ops[i]);
        b->n = 0;
}

static void batch_done(Batch *b) {
        batch_clear(b);
        free(b->ops);
        *b = (Batch){};
}

static int batch_reserve(Batch *b, size_t n) {
        size_t cap = MAX(b->cap * 2, (size_t) 16);
        CommitOp *ops;

        if (n <= b->cap)
                return 0;
        cap = MAX(cap, n);
        ops = reallocarray(b->ops, cap, sizeof(CommitOp));
        if (!ops)
                return -ENOMEM;
        b->ops = ops;
        b->cap = cap;
        return 0;
}

static int batch_push(Batch *b, const CommitOp *op) {
        int r = batch_reserve(b, b->n + 1);

        if (r < 0)
                return r;
        b->ops[b->n++] = *op;
        return 0;
}

/* Move every op of src to the end of dst (src ends empty). */
static int batch_append(Batch *dst, Batch *src) {
        int r;

        for (size_t i = 0; i < src->n; i++) {
                r = batch_push(dst, &src->ops[i]);
                if (r < 0)
                        return r;
                src->ops[i] = (CommitOp){};
        }
        src->n = 0;
        return 0;
}

static int op_write(const CommitOp *op) {
        _cleanup_close_ int dir_fd = -EBADF;

        if (op->kind == COMMIT_CALL)
                return op->fn(op->data);
        dir_fd = openat(op->at_fd, op->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        if (op->kind == COMMIT_SNAPSHOT)
                return journal_write_snapshot(dir_fd, op->seq, op->buf, op->len);
        if (op->kind == COMMIT_SNAPSHOT_KEEP)
                return journal_write_snapshot_keep(dir_fd, op->buf, op->len);
        return journal_write_segment_reuse(dir_fd, op->seq, op->reuse, op->buf, op->len);
}

static void op_describe(const CommitOp *op, char *what, size_t size) {
        if (op->kind == COMMIT_CALL)
                snprintf(what, size, "%s", op->what);
        else
                snprintf(what, size, "%s %" PRIu64,
                         op->kind == COMMIT_SEGMENT ? "journal segment" : "snapshot", op->seq);
}

/* The directories the calls of a batch share (committer_add_call_synced()): each fsynced once, then every
 * such call's after. A burst of acceptances pays one fsync of jobs/ per batch, not one per job. On a
 * failure *ret_failed is the first such call, so that they all run again (each is safe to repeat). */
static int batch_sync(const Batch *b, char *what, size_t what_size, size_t *ret_failed) {
        size_t first = b->n;

        for (size_t i = 0; i < b->n; i++) {
                const CommitOp *op = &b->ops[i];
                bool seen = false;

                if (op->kind != COMMIT_CALL || op->sync_fd < 0)
                        continue;
                for (size_t k = first; k < i && !seen; k++)
                        seen = b->ops[k].kind == COMMIT_CALL && b->ops[k].sync_fd == op->sync_fd;
                if (first == b->n)
                        first = i;
                if (!seen && fsync(op->sync_fd) < 0) {
                        op_describe(op, what, what_size);
                        *ret_failed = first;
                        return -errno;
                }
        }
        for (size_t i = first; i < b->n; i++)
                if (b->ops[i].kind == COMMIT_CALL && b->ops[i].sync_fd >= 0 && b->ops[i].after)
                        (void) b->ops[i].after(b->ops[i].data);
        return 0;
}

/* Write a batch; returns 0 or the first error (the rest of the batch is not attempted), with *ret_failed
 * the index of the failed write. */
static int batch_write(const Batch *b, char *what, size_t what_size, size_t *ret_failed) {
        for (size_t i = 0; i < b->n; i++) {
                int r = op_write(&b->ops[i]);

                if (r < 0) {
                        op_describe(&b->ops[i], what, what_size);
                        *ret_failed = i;
                        return r;
                }
        }
        return batch_sync(b, what, what_size, ret_failed);
}

/* Under lock: keep ops [from, n) of the failed batch b for committer_resume(); free the written ones. Each
 * write replaces a whole file (or is a call that may run again), so writing the failed one again is safe. */
static void batch_keep_unwritten(Committer *c, Batch *b, size_t from) {
        if (batch_reserve(&c->unwritten, c->unwritten.n + b->n - from) < 0) {
                c->lost = true; /* dropped below: resuming cannot work */
                return;
        }
        for (size_t i = from; i < b->n; i++) {
                assert_se(batch_push(&c->unwritten, &b->ops[i]) >= 0);
                b->ops[i] = (CommitOp){};
        }
        c->unwritten.gen = b->gen;
}

static void *committer_thread(void *p) {
        Committer *c = p;
        Batch mine = {};

        pthread_mutex_lock(&c->lock);
        for (;;) {
                char what[sizeof(c->error_what)] = "";
                size_t failed = 0;
                uint64_t t0;
                int r;

                while (!c->quit && (c->queued.n == 0 || c->error != 0))
                        pthread_cond_wait(&c->work, &c->lock);
                if (c->queued.n == 0 || c->error != 0)
                        break; /* quit with nothing (writable) left */

                /* Swap the queued batch out so the loop can keep queueing while we write. */
                Batch tmp = mine;
                mine = c->queued;
                c->queued = tmp;
                c->busy = true;
                pthread_mutex_unlock(&c->lock);

                t0 = now_usec(CLOCK_MONOTONIC);
                r = batch_write(&mine, what, sizeof(what), &failed);
                t0 = now_usec(CLOCK_MONOTONIC) - t0;

                pthread_mutex_lock(&c->lock);
                c->busy = false;
                c->n_batches++;
                c->n_writes += mine.n;
                c->write_usec += t0;
                if (r < 0) {
                        c->error = r;
                        snprintf(c->error_what, sizeof(c->error_what), "%s", what);
                        batch_keep_unwritten(c, &mine, failed);
                } else
                        c->durable_gen = mine.gen;
                batch_clear(&mine);
                pthread_cond_broadcast(&c->settled);
                pthread_mutex_unlock(&c->lock);

                /* Wake the loop. An eventfd write can only fail if the counter overflows. */
                (void) !write(c->efd, &(uint64_t){ 1 }, sizeof(uint64_t));

                pthread_mutex_lock(&c->lock);
        }
        pthread_mutex_unlock(&c->lock);
        batch_done(&mine);
        return NULL;
}

static int committer_on_wakeup(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Committer *c = userdata;
        uint64_t v, durable;
        char what[sizeof(c->error_what)];
        int error;

        (void) !read(fd, &v, sizeof(v));

        pthread_mutex_lock(&c->lock);
        durable = c->durable_gen;
        error = c->error;
        memcpy(what, c->error_what, sizeof(what));
        pthread_mutex_unlock(&c->lock);

        if (error != 0) {
                c->on_error(c, error, what, c->userdata);
                return 0;
        }
        if (durable > c->reported_gen) {
                c->reported_gen = durable;
                c->done(c, durable, c->userdata);
        }
        return 0;
}

int committer_new(sd_event *e, committer_done_cb done, committer_error_cb on_error, void *userdata,
                  Committer **ret) {
        Committer *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->done = done;
        c->on_error = on_error;
        c->userdata = userdata;
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->work, NULL);
        pthread_cond_init(&c->settled, NULL);

        c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->efd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(e, &c->efd_source, c->efd, EPOLLIN, committer_on_wakeup, c);
        if (r < 0)
                goto fail;
        /* Durability news first: it unblocks dependents, so handle it before new work piles up. */
        (void) sd_event_source_set_priority(c->efd_source, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_description(c->efd_source, "committer");

        r = -pthread_create(&c->thread, NULL, committer_thread, c);
        if (r < 0)
                goto fail;
        c->thread_started = true;
        (void) pthread_setname_np(c->thread, "orchd-commit"); /* for top -H, and tests that trace it alone */
        *ret = c;
        return 0;
fail:
        committer_free(c);
        return r;
}

Committer *committer_free(Committer *c) {
        if (!c)
                return NULL;
        if (c->thread_started) {
                pthread_mutex_lock(&c->lock);
                c->quit = true;
                pthread_cond_signal(&c->work);
                pthread_mutex_unlock(&c->lock);
                (void) pthread_join(c->thread, NULL);
        }
        batch_done(&c->open);
        batch_done(&c->queued);
        batch_done(&c->unwritten);
        sd_event_source_disable_unref(c->efd_source);
        safe_close(c->efd);
        sd_event_unref(c->event);
        pthread_cond_destroy(&c->settled);
        pthread_cond_destroy(&c->work);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

static int add_write(Committer *c, int at_fd, const char *dir, CommitKind kind, uint64_t seq, uint64_t reuse,
                     char *buf, size_t len) {
        CommitOp op = { .at_fd = at_fd, .kind = kind, .seq = seq, .reuse = reuse, .buf = buf, .len = len };
        int r;

        if (strlen(dir) >= sizeof(op.dir)) {
                free(buf);
                return -ENAMETOOLONG;
        }
        strcpy(op.dir, dir);
        r = batch_push(&c->open, &op);
        if (r < 0)
                free(buf);
        return r;
}

int committer_add(Committer *c, int at_fd, const char *dir, CommitKind kind, uint64_t seq, char *buf,
                  size_t len) {
        return add_write(c, at_fd, dir, kind, seq, 0, buf, len);
}

int committer_add_segment(Committer *c, int at_fd, const char *dir, uint64_t seq, uint64_t reuse, char *buf,
                          size_t len) {
        return add_write(c, at_fd, dir, COMMIT_SEGMENT, seq, reuse, buf, len);
}

int committer_add_call(Committer *c, commit_fn fn, void (*free_data)(void *data), void *data,
                       const char *what) {
        return committer_add_call_synced(c, fn, -EBADF, NULL, free_data, data, what);
}

int committer_add_call_synced(Committer *c, commit_fn fn, int sync_fd, commit_fn after,
                              void (*free_data)(void *data), void *data, const char *what) {
        CommitOp op = {
                .kind = COMMIT_CALL,
                .fn = fn,
                .sync_fd = sync_fd,
                .after = after,
                .free_data = free_data,
                .data = data,
                .what = what,
        };
        int r;

        r = batch_push(&c->open, &op);
        if (r < 0 && free_data)
                free_data(data);
        return r;
}

bool committer_busy(const Committer *c) {
        Committer *m = (Committer *) c; /* the lock is not part of the logical state */
        bool busy;

        pthread_mutex_lock(&m->lock);
        busy = m->busy || m->queued.n > 0;
        pthread_mutex_unlock(&m->lock);
        return busy;
}

bool committer_has_open(const Committer *c) {
        return c->open.n > 0;
}

uint64_t committer_seal(Committer *c) {
        uint64_t gen = ++c->last_gen;
        int r;

        pthread_mutex_lock(&c->lock);
        r = batch_append(&c->queued, &c->open);
        if (r < 0 && c->error == 0) {
                /* Cannot queue what we promised to write: that is a failed write too. */
                c->error = r;
                c->lost = true;
                snprintf(c->error_what, sizeof(c->error_what), "queueing a batch");
                (void) !write(c->efd, &(uint64_t){ 1 }, sizeof(uint64_t));
        }
        c->queued.gen = gen;
        pthread_cond_signal(&c->work);
        pthread_mutex_unlock(&c->lock);
        return gen;
}

uint64_t committer_next_gen(const Committer *c) {
        return c->last_gen + 1;
}

uint64_t committer_durable_gen(const Committer *c) {
        Committer *m = (Committer *) c;
        uint64_t g;

        pthread_mutex_lock(&m->lock);
        g = m->durable_gen;
        pthread_mutex_unlock(&m->lock);
        return g;
}

int committer_drain(Committer *c) {
        uint64_t target;
        int r;

        target = committer_has_open(c) ? committer_seal(c) : c->last_gen;
        pthread_mutex_lock(&c->lock);
        while (c->durable_gen < target && c->error == 0)
                pthread_cond_wait(&c->settled, &c->lock);
        r = c->error;
        pthread_mutex_unlock(&c->lock);
        return r;
}

int committer_resume(Committer *c) {
        int r = 0;

        pthread_mutex_lock(&c->lock);
        if (c->lost)
                r = -ENOMEM;
        else if (c->error != 0) {
                /* The unwritten part of the failed batch goes first, then whatever was sealed meanwhile: the
                 * writes happen in the order they were added. Room first, so the move itself cannot fail. */
                r = batch_reserve(&c->unwritten, c->unwritten.n + c->queued.n);
                if (r >= 0) {
                        Batch tmp;

                        if (c->queued.n > 0)
                                c->unwritten.gen = c->queued.gen;
                        assert_se(batch_append(&c->unwritten, &c->queued) >= 0);
                        tmp = c->queued;
                        c->queued = c->unwritten;
                        c->unwritten = tmp;
                        c->error = 0;
                        c->error_what[0] = '\0';
                        pthread_cond_signal(&c->work);
                }
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

void committer_stats(const Committer *c, uint64_t *ret_batches, uint64_t *ret_writes, uint64_t *ret_usec) {
        Committer *m = (Committer *) c;

        pthread_mutex_lock(&m->lock);
        *ret_batches = m->n_batches;
        *ret_writes = m->n_writes;
        *ret_usec = m->write_usec;
        pthread_mutex_unlock(&m->lock);
}
