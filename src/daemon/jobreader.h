/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Reading, parsing and validating job files on a worker thread, so the event loop never spends the
 * seconds a worst-case file (4 MiB, 100,000 env keys or nodes) takes: the loop hands over an open file or
 * the bytes of a submission, and gets back, in the order it handed them over, the JobSpec or the errors.
 * The thread touches nothing but the request: deciding what becomes of the file (key, admission,
 * acceptance, rejection) stays on the loop (spool.c).
 */

#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "jobspec.h"
#include "jobprep.h"

typedef struct JobReader JobReader;
typedef struct JobRead JobRead;

/* Called on the loop thread, in submission order, once rd is done; takes rd over (jobread_free()). */
typedef void (*jobread_done_fn)(JobRead *rd, void *userdata);

struct JobRead {
        /* In, set by the caller before jobreader_submit(). */
        int fd;          /* the file to read to EOF (taken over), or -EBADF to parse buf */
        size_t max_size; /* reading more than this fails with -EFBIG */
        char *buf;       /* the bytes (taken over), when fd < 0 */
        size_t size;
        JobLimits limits;
        char *default_name; /* the name of a job that has none (taken over) */
        bool prepare;       /* build prep too, for the owner below (jobread_prepare_for()) */
        char *owner_home, *owner_user, *owner_shell, *lang;
        jobread_done_fn done;
        /* Run on the worker thread once the bytes parsed (r == 0) and what is built ahead is there, may be
         * NULL: more work on this request alone (spool.c writes a big job's files ahead). after_data is
         * owned by userdata. */
        void (*after_parse)(JobRead *rd, void *after_data);
        void *after_data;
        void *userdata;
        void (*free_userdata)(void *userdata); /* releases userdata in jobread_free(), may be NULL */

        /* Out, set by the thread. */
        bool parsed;         /* the bytes were read (or given) and jobspec_parse() ran: r is its result */
        int r;               /* parsed: 0 (spec), -EINVAL (errors), -ENOMEM; else -EFBIG (the file grew
                              * past max_size) or another -errno of reading */
        JobSpec *spec;       /* with r == 0 */
        JobErrors *errors;   /* with r == -EINVAL */
        uint64_t parse_usec; /* time spent in jobspec_parse() */
        JobRun *run;         /* with r == 0: the job's run, every node pending, the job's own fields unset
                              * (NULL on OOM: the loop makes it then) */
        char *state_nodes;   /* with run: journal_build_snapshot_nodes() of spec and run (NULL on OOM: the
                              * loop builds it all then) */
        size_t state_nodes_len;
        JobPrep *prep; /* with r == 0 and prepare: the job's DAG and env base (NULL on OOM: the loop
                        * builds them then) */

        JobRead *next; /* private */
};

/* A request with nothing set: fd -EBADF, r -EINPROGRESS. NULL on OOM. */
JobRead *jobread_new(void);
/* Close and free everything the request still holds, its userdata included. Accepts NULL, returns NULL. */
JobRead *jobread_free(JobRead *rd);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobRead *, jobread_free);

/* On the loop: look up the account of uid (the job's owner), so that the thread builds rd->prep too.
 * Returns 0 or -ENOMEM. */
int jobread_prepare_for(JobRead *rd, uid_t uid);

/* Start the worker thread. Returns 0 or -errno. */
int jobreader_new(sd_event *e, JobReader **ret);

/* Stop the thread (after the request it is working on) and free every request not yet delivered.
 * Accepts NULL, returns NULL. */
JobReader *jobreader_free(JobReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobReader *, jobreader_free);

/* Queue rd (taken over). Its done callback runs later, on the loop, never from here. A file of at most
 * 16 KiB with no request pending is read and parsed right here instead (two thread wake-ups cost more);
 * it is delivered the same way. */
void jobreader_submit(JobReader *r, JobRead *rd);

/* Do rd's work right here, on the calling thread, as the worker would (the caller then handles rd itself:
 * for a queue that has grown too long, where waiting costs more memory than the work costs time). */
void jobread_run(JobRead *rd);

/* Requests submitted and not yet delivered. */
size_t jobreader_pending(const JobReader *r);
