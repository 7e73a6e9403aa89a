/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jobreader.c — job files read, parsed and validated on one worker thread (a small one with nothing
 * queued ahead of it: on the loop, at submission).
 *
 * Owns: the worker thread, the eventfd that wakes the loop, and every JobRead from jobreader_submit()
 * until its done callback takes it. Invariants: requests are handled and delivered strictly in submission
 * order (one thread, two FIFO lists; the loop works on one itself only when none is pending), so files are
 * accepted in the order they were taken in; `todo`, `finished` and `quit` are shared under `lock`; the
 * thread works on one request it has unlinked, touching only that request (read_full_fd, jobspec_parse,
 * and what is built ahead for the job: its JobRun, the text of its nodes in state.json, its JobPrep; no
 * loop state, no logging); the loop alone runs callbacks.
 * Modelled on committer.c.
 */

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "jobreader.h"
#include "journal.h"
#include "macro.h"
#include "pwcache.h"
#include "time-util.h"

/* A job file at most this big is read and parsed on the loop when the worker has nothing queued. */
#define JOBREADER_INLINE_MAX (16U * 1024U)

typedef struct Fifo {
        JobRead *head, *tail;
} Fifo;

struct JobReader {
        sd_event *event;
        sd_event_source *efd_source;
        int efd;

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t work;

        Fifo todo;        /* under lock */
        Fifo finished;    /* under lock */
        bool quit;        /* under lock */
        size_t n_pending; /* loop thread only: submitted, not yet delivered */
};

static void fifo_push(Fifo *f, JobRead *rd) {
        rd->next = NULL;
        if (f->tail)
                f->tail->next = rd;
        else
                f->head = rd;
        f->tail = rd;
}

static JobRead *fifo_pop(Fifo *f) {
        JobRead *rd = f->head;

        if (rd) {
                f->head = rd->next;
                if (!f->head)
                        f->tail = NULL;
                rd->next = NULL;
        }
        return rd;
}

static void fifo_free(Fifo *f) {
        JobRead *rd;

        while ((rd = fifo_pop(f)))
                jobread_free(rd);
}

JobRead *jobread_new(void) {
        JobRead *rd = calloc(1, sizeof(JobRead));

        if (rd)
                *rd = (JobRead){ .fd = -EBADF, .r = -EINPROGRESS };
        return rd;
}

JobRead *jobread_free(JobRead *rd) {
        if (!rd)
                return NULL;
        safe_close(rd->fd);
        free(rd->buf);
        free(rd->default_name);
        free(rd->state_nodes);
        free(rd->owner_home);
        free(rd->owner_user);
        free(rd->owner_shell);
        free(rd->lang);
        jobprep_free(rd->prep);
        job_run_free(rd->run);
        jobspec_free(rd->spec);
        jobspec_errors_free(rd->errors);
        if (rd->free_userdata)
                rd->free_userdata(rd->userdata);
        free(rd);
        return NULL;
}

/* On the worker thread, or on the loop (jobreader.h). */
void jobread_run(JobRead *rd) {
        uint64_t t0;

        if (rd->fd >= 0) {
                free(rd->buf);
                rd->buf = NULL;
                rd->r = read_full_fd(rd->fd, rd->max_size, &rd->buf, &rd->size);
                rd->fd = safe_close(rd->fd);
                if (rd->r < 0)
                        return;
        }
        rd->parsed = true;
        t0 = now_usec(CLOCK_MONOTONIC);
        rd->r = jobspec_parse(rd->buf, rd->size, &rd->limits, rd->default_name, &rd->spec, &rd->errors);
        rd->parse_usec = now_usec(CLOCK_MONOTONIC) - t0;
        if (rd->r < 0)
                return;
        /* The new job's run (its nodes, all pending) and the biggest part of its state.json are built here
         * too: for 100,000 nodes, tens of milliseconds the loop would spend. */
        if (job_run_new(rd->spec->n_nodes, &rd->run) >= 0)
                rd->state_nodes = journal_build_snapshot_nodes(rd->spec, rd->run, &rd->state_nodes_len);
        if (rd->prepare) {
                NodeEnvOwner owner = { .home = rd->owner_home,
                                       .user = rd->owner_user,
                                       .shell = rd->owner_shell };

                (void) jobprep_new(rd->spec, &owner, rd->lang, &rd->prep);
        }
        if (rd->after_parse)
                rd->after_parse(rd, rd->after_data);
}

int jobread_prepare_for(JobRead *rd, uid_t uid) {
        const struct passwd *pw = pwcache_getpwuid(uid);
        const char *lang = getenv("LANG");

        /* What job_build_env() (job.c) would look up when the job is registered, a moment later. */
        rd->prepare = true;
        if (pw &&
            ((pw->pw_dir && !(rd->owner_home = strdup(pw->pw_dir))) ||
             (pw->pw_name && !(rd->owner_user = strdup(pw->pw_name))) ||
             (pw->pw_shell && !(rd->owner_shell = strdup(pw->pw_shell)))))
                return -ENOMEM;
        if (lang && !(rd->lang = strdup(lang)))
                return -ENOMEM;
        return 0;
}

static void *jobreader_thread(void *p) {
        JobReader *r = p;

        pthread_mutex_lock(&r->lock);
        for (;;) {
                JobRead *rd;

                while (!r->quit && !r->todo.head)
                        pthread_cond_wait(&r->work, &r->lock);
                if (r->quit)
                        break;
                rd = fifo_pop(&r->todo);
                pthread_mutex_unlock(&r->lock);

                jobread_run(rd);

                pthread_mutex_lock(&r->lock);
                fifo_push(&r->finished, rd);
                /* Wake the loop. An eventfd write can only fail if the counter overflows. */
                (void) !write(r->efd, &(uint64_t){ 1 }, sizeof(uint64_t));
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

static int jobreader_on_wakeup(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        JobReader *r = userdata;
        Fifo done;
        JobRead *rd;
        uint64_t v;

        (void) !read(fd, &v, sizeof(v));
        pthread_mutex_lock(&r->lock);
        done = r->finished;
        r->finished = (Fifo){};
        pthread_mutex_unlock(&r->lock);

        /* A callback may submit more (the next file): those go to todo, never into this list. */
        while ((rd = fifo_pop(&done))) {
                r->n_pending--;
                rd->done(rd, rd->userdata);
        }
        return 0;
}

int jobreader_new(sd_event *e, JobReader **ret) {
        _cleanup_(jobreader_freep) JobReader *r = NULL;
        int k;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(e);
        r->efd = -EBADF;
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->work, NULL);

        r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->efd < 0)
                return -errno;
        k = sd_event_add_io(e, &r->efd_source, r->efd, EPOLLIN, jobreader_on_wakeup, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(r->efd_source, "jobreader");
        k = -pthread_create(&r->thread, NULL, jobreader_thread, r);
        if (k < 0)
                return k;
        r->thread_started = true;
        (void) pthread_setname_np(r->thread, "orchd-read");
        *ret = TAKE_PTR(r);
        return 0;
}

JobReader *jobreader_free(JobReader *r) {
        if (!r)
                return NULL;
        if (r->thread_started) {
                pthread_mutex_lock(&r->lock);
                r->quit = true;
                pthread_cond_signal(&r->work);
                pthread_mutex_unlock(&r->lock);
                (void) pthread_join(r->thread, NULL);
        }
        fifo_free(&r->todo);
        fifo_free(&r->finished);
        sd_event_source_disable_unref(r->efd_source);
        safe_close(r->efd);
        sd_event_unref(r->event);
        pthread_cond_destroy(&r->work);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}

void jobreader_submit(JobReader *r, JobRead *rd) {
        struct stat st;

        /* Nothing ahead of it, and small: its work takes less than handing it to the worker and back (two
         * wake-ups, on a 2-CPU machine often a migration each). Done here; delivered as ever, on the loop's
         * next iteration, in order. */
        if (r->n_pending++ == 0 &&
            (rd->fd >= 0 ? fstat(rd->fd, &st) >= 0 && st.st_size <= JOBREADER_INLINE_MAX :
                           rd->size <= JOBREADER_INLINE_MAX)) {
                jobread_run(rd);
                pthread_mutex_lock(&r->lock);
                fifo_push(&r->finished, rd);
                pthread_mutex_unlock(&r->lock);
                (void) !write(r->efd, &(uint64_t){ 1 }, sizeof(uint64_t));
                return;
        }
        pthread_mutex_lock(&r->lock);
        fifo_push(&r->todo, rd);
        pthread_cond_signal(&r->work);
        pthread_mutex_unlock(&r->lock);
}

size_t jobreader_pending(const JobReader *r) {
        return r->n_pending;
}
