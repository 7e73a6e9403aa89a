/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-schedule.c — the manager as the host of its jobs.
 *
 * Owns: the JobHost callbacks every Job gets (job-host.h), the lists of
 * unsettled jobs (active) and of those that may still start (startable), the
 * run slots across jobs (MaxParallel=, read from the effective configuration,
 * and the per-user fair share of usage.h; by priority, then id), the list of dirty
 * jobs and their flush into one group commit per loop iteration, the
 * one-shot wake-up that makes that iteration come, the later and trim
 * timers, and the drain at shutdown.
 * Invariants: a flush happens only while the committer is idle, so whatever
 * changes during a commit joins the next one; nothing starts while the spool
 * is read-only; the post source does all of this once per iteration;
 * startable is the unfinished jobs of active, in the same order.
 */

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "retention.h"
#include "time-util.h"
#include "unfinished.h"

/* How long a commit may wait for the answers of starts just sent (flush_waits_for_starts()). */
#define START_BATCH_USEC (2 * USEC_PER_MSEC)

/* ---- the jobs that compete for slots ------------------------------------------------------------ */

/* Higher priority first, then older (smaller id) first. */
static bool runs_before(const Job *a, const Job *b) {
        if (a->spec->priority != b->spec->priority)
                return a->spec->priority > b->spec->priority;
        return a->id < b->id;
}

/* Insert j into list, kept in runs_before() order. Returns 0 or -ENOMEM. */
static int insert_sorted(Job ***list, size_t *n, size_t *cap, Job *j) {
        size_t pos;
        int r;

        r = push_ptr(list, n, cap, j);
        if (r < 0)
                return r;
        for (pos = *n - 1; pos > 0 && runs_before(j, (*list)[pos - 1]); pos--)
                (*list)[pos] = (*list)[pos - 1];
        (*list)[pos] = j;
        return 0;
}

/* Remove j from list, keeping the order of the rest. Returns whether it was there. */
static bool remove_sorted(Job **list, size_t *n, const Job *j) {
        for (size_t i = 0; i < *n; i++)
                if (list[i] == j) {
                        memmove(list + i, list + i + 1, (*n - i - 1) * sizeof(Job *));
                        (*n)--;
                        return true;
                }
        return false;
}

int manager_add_active(Manager *m, Job *j) {
        int r;

        r = insert_sorted(&m->active, &m->n_active, &m->cap_active, j);
        if (r < 0)
                return r;
        r = insert_sorted(&m->startable, &m->n_startable, &m->cap_startable, j);
        if (r < 0)
                (void) remove_sorted(m->active, &m->n_active, j);
        return r;
}

void manager_job_finished(void *userdata, Job *j) {
        Manager *m = userdata;

        (void) remove_sorted(m->startable, &m->n_startable, j);
}

void manager_job_settled(void *userdata, Job *j) {
        Manager *m = userdata;

        (void) remove_sorted(m->startable, &m->n_startable, j); /* there if it never finished */
        if (remove_sorted(m->active, &m->n_active, j))
                (void) usage_job_finished(&m->usage, j->run->uid, j->spec->n_nodes, true);
        if (m->conf.keep_count != CONF_KEEP_FOREVER && m->n_jobs - m->n_active > m->conf.keep_count)
                manager_gc_soon(m);
        (void) unfinished_mark(spool_unfinished_fd(m->spool), j->id, false);
        spool_kick(m->spool); /* jobs waiting for room may fit now */
}

int manager_job_retried(void *userdata, Job *j) {
        Manager *m = userdata;
        int r = manager_add_active(m, j);

        (void) unfinished_mark(spool_unfinished_fd(m->spool), j->id, true);
        if (r >= 0)
                r = usage_job_finished(&m->usage, j->run->uid, j->spec->n_nodes, false);
        if (r >= 0)
                manager_schedule_soon(m);
        return r;
}

/* ---- per-iteration work: schedule, then flush ----------------------------------------------- */

/* sd-event runs post sources only after some other source was dispatched: work that arises outside a
 * dispatch (start-up recovery, files taken from new/ at start) would wait for an unrelated event, such as a
 * client's call. The wake-up source is that other source: a one-shot defer, enabled whenever there is
 * per-iteration work, so the post source runs in the very next iteration whatever woke the loop or not. */
static void manager_wake(Manager *m) {
        if (m->wake_source)
                (void) sd_event_source_set_enabled(m->wake_source, SD_EVENT_ONESHOT);
}

/* JobHost.mark_dirty: the job is flushed with the next commit (once: the job tells us once per flush). */
static void manager_mark_dirty(void *userdata, Job *j) {
        Manager *m = userdata;

        if (push_ptr(&m->dirty, &m->n_dirty, &m->cap_dirty, j) < 0)
                manager_fail_stop(m, -ENOMEM, "recording job state");
        manager_wake(m);
}

void manager_schedule_soon(Manager *m) {
        m->schedule_needed = true;
        manager_wake(m);
}

static int manager_on_later(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_schedule_soon(userdata);
        return 0;
}

void manager_schedule_later(Manager *m, uint64_t usec) {
        int r, on = SD_EVENT_OFF;

        if (m->later_source && sd_event_source_get_enabled(m->later_source, &on) >= 0 && on != SD_EVENT_OFF)
                return; /* one is due already */
        if (m->later_source) {
                r = sd_event_source_set_time_relative(m->later_source, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->later_source, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(m->event, &m->later_source, CLOCK_MONOTONIC, usec,
                                               USEC_PER_MSEC / 10, manager_on_later, m);
                if (r >= 0)
                        (void) sd_event_source_set_description(m->later_source, "schedule-later");
        }
        if (r < 0)
                log_warning_errno(r, "Failed to arm a later scheduling pass: %m");
}

void manager_trim_soon(Manager *m) {
        m->trim_needed = true;
        manager_wake(m);
}

static int manager_on_trim_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_trim_soon(userdata);
        return 0;
}

void manager_trim_later(Manager *m) {
        int r;

        if (m->trim_source) {
                r = sd_event_source_set_time_relative(m->trim_source, TRIM_LATER_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->trim_source, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(m->event, &m->trim_source, CLOCK_MONOTONIC, TRIM_LATER_USEC,
                                               USEC_PER_SEC, manager_on_trim_timer, m);
                if (r >= 0)
                        (void) sd_event_source_set_description(m->trim_source, "trim-later");
        }
        if (r < 0)
                manager_trim_soon(m); /* at once rather than never */
}

/* Whether more than one user has unfinished jobs, or a cap on running nodes applies: then slots are handed
 * out by share (schedule_shared); else by priority alone, which is the same and cheaper. */
static bool schedule_needs_share(const Manager *m) {
        unsigned users = 0;

        for (size_t i = 0; i < m->usage.n_users; i++) {
                const UserUsage *e = &m->usage.users[i];

                if (e->n[USAGE_JOBS] == 0)
                        continue;
                if (++users > 1 || (m->conf.user_max_running > 0 && !e->exempt))
                        return true;
        }
        return false;
}

/* The fair share of MaxParallel between the users with work (usage.h): first every user up to its share,
 * in priority order, then the leftovers by priority. A user with ready nodes is never starved by another
 * user's big job: as slots free, they go to whoever is below its share. */
static void schedule_shared(Manager *m, unsigned *slots) {
        Usage *u = &m->usage;

        usage_pass_begin(u, m->conf.max_parallel, m->conf.user_max_running);
        for (size_t i = 0; i < m->n_startable; i++)
                if (usage_pass_note(u, m->startable[i]->run->uid, m->startable[i]->n_running,
                                    job_wants_slot(m->startable[i])) < 0)
                        manager_fail_stop(m, -ENOMEM, "scheduling");
        (void) usage_pass_ready(u);
        for (UsageRound round = 0; round < _USAGE_ROUND_MAX; round++)
                for (size_t i = 0; i<m->n_startable && * slots> 0; i++) {
                        Job *j = m->startable[i];
                        unsigned allow = usage_slots_for(u, j->run->uid, *slots, round), started;

                        if (allow == 0)
                                continue;
                        started = job_start_ready(j, &allow);
                        *slots -= started;
                        usage_took(u, j->run->uid, started);
                }
}

static void manager_schedule(Manager *m) {
        if (m->read_only.on)
                return; /* a start that cannot be recorded must not happen; the resume schedules again */
        /* Starting a node can end it at once (spawn failure), which frees its slot again: loop. */
        for (unsigned rounds = 0; m->schedule_needed && rounds < 64; rounds++) {
                unsigned slots = m->conf.max_parallel > m->n_running ? m->conf.max_parallel - m->n_running :
                                                                       0;

                m->schedule_needed = false;
                if (slots > 0 && schedule_needs_share(m)) {
                        schedule_shared(m, &slots);
                        continue;
                }
                for (size_t i = 0; i < m->n_startable && slots > 0; i++)
                        (void) job_start_ready(m->startable[i], &slots);
        }
}

/* Write every dirty job as one group commit. Only when the committer is idle: whatever changes while a
 * batch is being written joins the next one, so a busy loop writes few, larger commits. */
static void flush_dirty(Manager *m) {
        uint64_t gen = committer_next_gen(m->committer);
        int r;

        for (size_t i = 0; i < m->n_dirty; i++) {
                r = job_flush(m->dirty[i], gen);
                if (r < 0)
                        manager_fail_stop(m, r, "building a journal record");
        }
        m->n_dirty = 0;
        if (committer_has_open(m->committer))
                assert_se(committer_seal(m->committer) == gen);
}

static int on_batch_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return 0; /* the post source flushes */
}

/* Whether the commit waits for the answers of starts sent just before: each brings a pid to record and
 * comes within a millisecond or so, and one commit then carries the ends that freed the slots and the
 * starts that took them (as when a start waited for its answer), not two. At most START_BATCH_USEC: a
 * timer makes sure an iteration comes then, whatever a keeper does. */
static bool flush_waits_for_starts(Manager *m) {
        uint64_t now;
        int r;

        /* An acceptance does not wait: what a client or a crash sees of the job should not lag. */
        if (!keeper_set_starting(m->keepers) || committer_has_open(m->committer)) {
                m->batch_since = 0;
                return false;
        }
        now = now_usec(CLOCK_MONOTONIC);
        if (m->batch_since == 0) {
                r = m->batch_source ? sd_event_source_set_time(m->batch_source, now + START_BATCH_USEC) :
                                      sd_event_add_time(m->event, &m->batch_source, CLOCK_MONOTONIC,
                                                        now + START_BATCH_USEC, 100, on_batch_timer, m);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->batch_source, SD_EVENT_ONESHOT);
                if (r < 0)
                        return false; /* no timer to end the wait: no wait */
                m->batch_since = now;
        }
        if (now < m->batch_since + START_BATCH_USEC)
                return true;
        m->batch_since = 0;
        return false;
}

static void manager_flush(Manager *m) {
        /* Writes queued directly (an acceptance) count too: a queued job may change nothing for a while. */
        if ((m->n_dirty > 0 || committer_has_open(m->committer)) && !committer_busy(m->committer) &&
            !flush_waits_for_starts(m))
                flush_dirty(m);
}

int manager_on_post(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        if (m->failed)
                return 0;
        manager_schedule(m);
        if (m->retention.needed && !m->stopping && !manager_loading(m))
                (void) retention_gc(&m->retention);
        manager_flush(m);
        if (m->stopping)
                manager_check_drained(m);
        if (m->trim_needed) {
                m->trim_needed = false;
                (void) malloc_trim(0);
        }
        /* Done for this iteration (a flush that waits for the committer resumes on its wake-up), so the
         * wake-up need not cost another iteration; unless scheduling stopped short of its rounds. */
        if (!m->schedule_needed)
                (void) sd_event_source_set_enabled(m->wake_source, SD_EVENT_OFF);
        return 0;
}

/* Dispatching it is its whole job: that makes the post source run (manager_wake). */
int manager_on_wake(sd_event_source *s, void *userdata) {
        return 0;
}

/* ---- shutdown ------------------------------------------------------------------------------------- */

void manager_stop(Manager *m, bool kill_nodes, const char *why) {
        if (m->stopping) {
                log_notice("%s again: killing every running node now.", why);
                for (size_t i = 0; i < m->n_active; i++)
                        job_kill_all(m->active[i]);
                return;
        }
        m->stopping = true;
        if (!kill_nodes) {
                log_notice("%s: exiting; running nodes run on in their orchd-keeper (KillNodes=no).", why);
                m->detached = true;
                notify_stopping(m->n_running, true);
                for (size_t i = 0; i < m->n_active; i++)
                        job_detach(m->active[i]);
                manager_check_drained(m);
                return;
        }
        log_notice("%s: stopping running nodes (they will run again or fail per on_interrupt).", why);
        notify_stopping(m->n_running, false);
        for (size_t i = 0; i < m->n_active; i++)
                job_shutdown(m->active[i]);
        manager_check_drained(m);
}

void manager_check_drained(Manager *m) {
        int r;

        if (m->n_running > 0 && !m->detached)
                return;
        /* Everything stopped (or left running in the keepers); write what is left synchronously and leave.
         */
        flush_dirty(m);
        r = committer_drain(m->committer);
        if (r < 0)
                manager_fail_stop(m, r, "the final journal records");
        if (m->detached)
                log_info("Exiting; %u running node(s) run on in their orchd-keeper for the next orchd.",
                         m->n_running);
        else
                log_info("All nodes stopped and recorded; exiting.");
        if (m->hooks.on_drained) /* replies that wait for the stop (StopNodes) */
                m->hooks.on_drained(m->hooks.userdata);
        (void) sd_event_exit(m->event, EXIT_SUCCESS);
}

/* ---- the host of every Job (job-host.h) ------------------------------------------------------- */

static void host_schedule_soon(void *userdata) {
        manager_schedule_soon(userdata);
}

static void host_schedule_later(void *userdata, uint64_t usec) {
        manager_schedule_later(userdata, usec);
}

static void host_slots_changed(void *userdata, Job *j, int delta) {
        Manager *m = userdata;

        assert(delta > 0 || m->n_running > 0);
        m->n_running += delta;
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return b == UINT64_MAX ? a : a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void host_accounted(void *userdata, const NodeRun *n) {
        Manager *m = userdata;

        m->acct_attempts++;
        m->acct_cpu_usec = add_sat(m->acct_cpu_usec, n->cpu_usec);
        m->acct_io_read_bytes = add_sat(m->acct_io_read_bytes, n->io_read_bytes);
        m->acct_io_write_bytes = add_sat(m->acct_io_write_bytes, n->io_write_bytes);
}

static void host_spawned(void *userdata) {
        Manager *m = userdata;

        m->n_spawned++;
}

static bool host_may_start(void *userdata) {
        Manager *m = userdata;

        return !m->stopping;
}

static uint64_t host_key_holder(void *userdata, const char *key, uid_t uid) {
        return manager_key_holder(userdata, key, uid);
}

static int host_open_job_dir(void *userdata, uint64_t id) {
        return manager_open_job_dir(userdata, id);
}

/* Half the MinFreeSpace= floor (bytes, inodes) stays for what every job must record: its ends. */
static void host_log_floor(void *userdata, uint64_t *ret_bytes, uint64_t *ret_inodes) {
        Manager *m = userdata;
        uint64_t floor = spool_floor_bytes(m->spool);

        *ret_bytes = floor / 2;
        *ret_inodes = floor > 0 ? SPOOL_MIN_FREE_INODES / 2 : 0;
}

static void host_trim_soon(void *userdata) {
        manager_trim_soon(userdata);
}

static void host_fail_stop(void *userdata, int error, const char *what) {
        manager_fail_stop(userdata, error, what);
}

const JobHostOps manager_job_host_ops = {
        .mark_dirty = manager_mark_dirty,
        .schedule_soon = host_schedule_soon,
        .schedule_later = host_schedule_later,
        .slots_changed = host_slots_changed,
        .spawned = host_spawned,
        .accounted = host_accounted,
        .may_start = host_may_start,
        .finished = manager_job_finished,
        .settled = manager_job_settled,
        .retried = manager_job_retried,
        .key_holder = host_key_holder,
        .open_job_dir = host_open_job_dir,
        .log_floor = host_log_floor,
        .trim_soon = host_trim_soon,
        .fail_stop = host_fail_stop,
};
