/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods-logs.c — io.orchd.Manager.Logs: node attempts' output, streamed.
 *
 * Owns: the LogReader of each Logs call (a list on the Manager), with its
 * cursors into jobs/ID/logs/NODE.ATTEMPT.log, its one cached file descriptor
 * and its wake-up source. The log file written by supervise.c is the single
 * source of truth: nothing of a node's output is ever copied into daemon
 * memory beyond the one chunk being sent. Invariants: a reader has at most
 * one chunk in flight (the next is read only from the connection's drain
 * callback, so a client that stops reading makes its reader stop reading the
 * file, and the daemon does not grow); a reader that has sent everything
 * there is sleeps until poked (new output of the job, or a durable state
 * change such as an attempt's end); a cursor never advances past a UTF-8
 * sequence that the rest of the file may still complete. With tail, a cursor
 * starts each attempt at its last lines, found by reading backwards a bounded
 * amount (LOGS_TAIL_SCAN_MAX), never the whole file.
 * Deliberately not here: output capture and the size cap (supervise.c),
 * line splitting and prefixes (the client's job: data is bytes, not lines).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "methods-internal.h"
#include "methods.h"
#include "nodeid.h"
#include "protocol.h"
#include "utf8.h"

/* Raw bytes of the log file per reply; the JSON of one reply stays under about 400 KiB even when every byte
 * needs escaping. */
#define LOGS_CHUNK_MAX (64U * 1024U)
/* With tail: the most lines asked for, and the most bytes looked at backwards from the end of a log for
 * them (so showing 20 lines of a 64 MiB log reads a few KiB, never the file). */
#define LOGS_TAIL_LINES_MAX 10000U
#define LOGS_TAIL_SCAN_MAX (256U * 1024U)

typedef struct LogCursor {
        uint32_t node;    /* index in the job spec */
        uint32_t attempt; /* the attempt being read; 0 = "the latest", resolved once the node has one */
        uint32_t last;    /* the last attempt to read; 0 = every one that comes */
        uint64_t offset;  /* bytes of that attempt's file consumed so far */
        bool end_sent;    /* the attempt has ended and a chunk saying so was sent */
        bool tail_done;   /* tail: this attempt's offset was moved to its tail */
        uint64_t skipped; /* tail: bytes left out before the offset, said in the attempt's next chunk */
        bool done;
} LogCursor;

typedef struct LogReader LogReader;
struct LogReader {
        Methods *methods;
        LogReader *prev, *next;
        ControlCall *call; /* our reference */
        uint64_t job_id;
        LogCursor *cursors;
        size_t n_cursors;
        size_t first; /* cursor to look at first: round robin when following, else job file order */
        bool follow;
        bool single;       /* one node named: NoSuchAttempt when it has no attempt to show */
        bool seen_attempt; /* single: the attempt asked for exists */
        bool sleeping;     /* everything sent; a poke wakes it */
        bool command;      /* single: the final reply carries the node's command */
        uint32_t tail;     /* only the last tail lines of each attempt; 0 = all */
        bool observing;    /* an observer of its job (new output pokes it) */
        int fd;            /* the open log file of (fd_node, fd_attempt), or -EBADF */
        uint32_t fd_node, fd_attempt;
        sd_event_source *wake_source;
};

typedef enum CursorResult {
        CURSOR_CHUNK, /* a reply was queued */
        CURSOR_WAIT,  /* nothing now; more may come */
        CURSOR_DONE,  /* nothing more, ever */
} CursorResult;

/* One chunk is read and encoded at a time, by one reader at a time: shared buffers, not per reader. */
static char read_buf[LOGS_CHUNK_MAX];
static char utf8_buf[UTF8_SANITIZE_MAX(LOGS_CHUNK_MAX)];

static const JobObserverOps reader_observer_ops;

static LogReader *reader_free(LogReader *r) {
        Job *j;

        if (!r)
                return NULL;
        j = r->observing ? manager_find_job(r->methods->manager, r->job_id) : NULL;
        if (j)
                job_remove_observer(j, &reader_observer_ops, r);
        if (r->prev)
                r->prev->next = r->next;
        else if (r->methods->log_readers == r)
                r->methods->log_readers = r->next;
        if (r->next)
                r->next->prev = r->prev;
        if (r->call) {
                control_call_set_disconnect_callback(r->call, NULL, NULL);
                control_call_set_drain_callback(r->call, NULL, NULL);
                control_call_unref(r->call);
        }
        r->wake_source = sd_event_source_disable_unref(r->wake_source);
        safe_close(r->fd);
        free(r->cursors);
        return mfree(r);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(LogReader *, reader_free);

/* Open jobs/ID/logs/NODE.ATTEMPT.log read-only. A job that has not started a node yet, or has finished,
 * holds no directory fd: open it again by id. Returns an fd, or -errno (-ENOENT: the attempt has not
 * created it yet). */
static int log_open(Manager *m, const Job *j, uint32_t node, uint32_t attempt) {
        _cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
        char name[NODEID_LOG_NAME_SIZE];
        struct stat st;

        (void) nodeid_log_name(j->spec->nodes[node].id, attempt, name);
        if (j->logs_fd < 0) {
                _cleanup_close_ int job_fd = manager_open_job_dir(m, j->id);

                if (job_fd < 0)
                        return job_fd;
                dir_fd = openat(job_fd, "logs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (dir_fd < 0)
                        return -errno;
        }
        fd = openat(j->logs_fd >= 0 ? j->logs_fd : dir_fd, name,
                    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return TAKE_FD(fd);
}

static int reader_queue_chunk(LogReader *r, const Job *j, const LogCursor *c, const char *data, size_t len,
                              bool end) {
        json_object *p = json_object_new_object();

        if (!p ||
            json_object_object_add(p, "node", json_object_new_string(j->spec->nodes[c->node].id)) < 0 ||
            json_object_object_add(p, "attempt", json_object_new_int64(c->attempt)) < 0 ||
            json_object_object_add(p, "data", json_object_new_string_len(data, (int) len)) < 0 ||
            (end && json_object_object_add(p, "end", json_object_new_boolean(true)) < 0) ||
            (c->skipped > 0 &&
             json_object_object_add(p, "skipped", json_object_new_int64((int64_t) c->skipped)) < 0)) {
                json_object_put(p);
                return -ENOMEM;
        }
        return control_call_notify(r->call, p);
}

/* Where the last `lines` lines of the file open as fd begin (a last line without a newline counts), looking
 * at most LOGS_TAIL_SCAN_MAX bytes back from its end; past that, the first character boundary within them.
 * Returns the offset, or -errno. */
static int64_t log_tail_start(int fd, uint32_t lines) {
        struct stat st;
        uint64_t end, off, seen = 0;
        uint32_t count = 0;

        if (fstat(fd, &st) < 0)
                return -errno;
        end = off = (uint64_t) st.st_size;
        while (off > 0 && end - off < LOGS_TAIL_SCAN_MAX) {
                size_t n = (size_t) MIN(MIN(off, (uint64_t) sizeof(read_buf)),
                                        LOGS_TAIL_SCAN_MAX - (end - off));
                ssize_t k = pread(fd, read_buf, n, (off_t) (off - n));

                if (k < 0)
                        return -errno;
                if ((size_t) k != n)
                        return -EIO; /* the file shrank: log files only grow */
                off -= n;
                for (size_t i = n; i-- > 0;)
                        if (read_buf[i] == '\n' && off + i != end - 1 && ++count == lines)
                                return (int64_t) (off + i + 1);
                seen = n;
        }
        /* Cut inside a line: skip the continuation bytes of a character cut there (read_buf holds them). */
        for (size_t i = 0; off > 0 && i < 3 && i < seen && ((unsigned char) read_buf[i] & 0xC0) == 0x80; i++)
                off++;
        return (int64_t) off;
}

/* Send the next chunk of the cursor's current attempt. ended: the attempt has ended, so the end of the file
 * is the end of its output: an incomplete UTF-8 sequence there is replaced rather than held back, and the
 * chunk that reaches it says "end" (an empty one if the previous chunk ended exactly there; none for an
 * attempt that printed nothing). Returns 1 when a chunk was queued, 0 at the end of what the file holds
 * now, -errno. */
static int reader_send_chunk(LogReader *r, const Job *j, LogCursor *c, bool ended) {
        size_t used, len;
        bool at_end;
        ssize_t n;
        int fd;

        if (r->fd < 0 || r->fd_node != c->node || r->fd_attempt != c->attempt) {
                r->fd = safe_close(r->fd);
                fd = log_open(r->methods->manager, j, c->node, c->attempt);
                if (fd == -ENOENT)
                        return 0; /* not created yet (a start waiting to be durable), or never: empty */
                if (fd < 0)
                        return fd;
                r->fd = fd;
                r->fd_node = c->node;
                r->fd_attempt = c->attempt;
        }
        if (r->tail > 0 && !c->tail_done) {
                int64_t start = log_tail_start(r->fd, r->tail);

                if (start < 0)
                        return (int) start;
                c->offset = c->skipped = (uint64_t) start;
                c->tail_done = true;
        }
        n = pread(r->fd, read_buf, sizeof(read_buf), (off_t) c->offset);
        if (n < 0)
                return -errno;
        /* Only a short read reaches the end of an ended attempt's file; after a full chunk, the next one may
         * complete a character cut at its end. */
        at_end = ended && (size_t) n < sizeof(read_buf);
        used = utf8_sanitize(read_buf, (size_t) n, at_end, utf8_buf, &len);
        if (used == 0 && !(at_end && c->offset > 0 && !c->end_sent))
                return 0; /* nothing (more), or only the start of a character not completely written yet */
        c->offset += used;
        c->end_sent = at_end;
        if (reader_queue_chunk(r, j, c, utf8_buf, len, at_end) < 0)
                return -ENOMEM;
        c->skipped = 0;
        return 1;
}

/* Advance one cursor: send a chunk if there is one, else say whether more may come. */
static int cursor_step(LogReader *r, const Job *j, LogCursor *c) {
        const NodeRun *n = &j->run->nodes[c->node];
        bool may_start = r->follow && !node_state_is_final(n->state) && !job_is_finished(j);

        for (;;) {
                bool running;
                int k;

                if (c->attempt == 0) {
                        if (n->attempt == 0)
                                return may_start ? CURSOR_WAIT : CURSOR_DONE;
                        c->attempt = c->last =
                                n->attempt; /* "the latest" is the latest when it first exists */
                }
                if (c->last != 0 && c->attempt > c->last)
                        return CURSOR_DONE;
                if (c->attempt > n->attempt)
                        return may_start ? CURSOR_WAIT : CURSOR_DONE;
                r->seen_attempt = true;

                running = c->attempt == n->attempt && n->state == NODE_RUNNING;
                k = reader_send_chunk(r, j, c, !running);
                if (k < 0)
                        return k;
                if (k > 0)
                        return CURSOR_CHUNK;
                if (running && r->follow)
                        return CURSOR_WAIT;
                c->attempt++; /* this attempt is sent (or, without follow, sent as far as it got) */
                c->offset = 0;
                c->end_sent = false;
                c->tail_done = false;
        }
}

static int reader_reply_no_attempt(LogReader *r, const Job *j) {
        const LogCursor *c = &r->cursors[0];
        json_object *p = json_object_new_object();
        char id[24];

        snprintf(id, sizeof(id), "%" PRIu64, j->id);
        if (!p || json_object_object_add(p, "id", json_object_new_string(id)) < 0 ||
            json_object_object_add(p, "node", json_object_new_string(j->spec->nodes[c->node].id)) < 0 ||
            json_object_object_add(p, "attempt", c->last > 0 ? json_object_new_int64(c->last) : NULL) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        return control_call_error(r->call, ORCH_ERROR_NO_SUCH_ATTEMPT, p);
}

/* The final reply's members with command: the node's argv as it runs, whether cmd was a string (then argv
 * is /bin/sh -c STRING), and allow_failure. NULL on ENOMEM. */
static json_object *reader_command(const NodeSpec *n) {
        _cleanup_json_ json_object *p = json_object_new_object();
        json_object *argv = json_object_new_array();

        if (!p || !argv || json_object_object_add(p, "cmd", argv) < 0) {
                json_object_put(argv);
                return NULL;
        }
        for (char **a = n->argv; a && *a; a++)
                if (json_object_array_add(argv, json_object_new_string(*a)) < 0)
                        return NULL;
        if (json_object_object_add(p, "shell", json_object_new_boolean(n->shell)) < 0 ||
            json_object_object_add(p, "allow_failure", json_object_new_boolean(n->allow_failure)) < 0)
                return NULL;
        return TAKE_PTR(p);
}

/* Everything is sent: the final reply (once the job's state it reflects is durable), or NoSuchAttempt (not
 * with command: the command is an answer even for a node that never ran). */
static int reader_finish(LogReader *r, const Job *j) {
        json_object *p = NULL;

        if (!j)
                return control_call_reply(r->call, NULL);
        if (r->command) {
                p = reader_command(&j->spec->nodes[r->cursors[0].node]);
                if (!p)
                        return -ENOMEM;
        } else if (r->single && !r->seen_attempt)
                return reader_reply_no_attempt(r, j);
        return methods_reply_view(r->methods, r->call, j, p);
}

/* Answer InternalError with the errno name, as control.c does for a failed handler. */
static void reader_fail(LogReader *r, int error) {
        json_object *p = json_object_new_object();

        log_warning_errno(error, "Logs of job %" PRIu64 " failed: %m", r->job_id);
        if (p)
                (void) json_object_object_add(p, "errno",
                                              json_object_new_string(strerrorname_np(-error) ?: "EIO"));
        (void) control_call_error(r->call, ORCH_ERROR_INTERNAL, p);
}

/* Queue the next chunk, or the final reply, or go to sleep until poked. Frees r when it is done.
 * XXX: following a whole job looks at every node that is not done on each wake-up; for a job of 100,000
 * nodes that is a scan per chunk. A list of the cursors that were poked would make it proportional to the
 * nodes that wrote something. */
static void reader_step(LogReader *r) {
        const Job *j = manager_find_job(r->methods->manager, r->job_id);
        bool waiting = false;
        int k = 0;

        for (size_t i = 0; j && i < r->n_cursors && control_call_is_alive(r->call); i++) {
                size_t idx = (r->first + i) % r->n_cursors;
                LogCursor *c = &r->cursors[idx];

                if (c->done)
                        continue;
                k = cursor_step(r, j, c);
                if (k < 0)
                        break;
                if (k == CURSOR_CHUNK) {
                        /* Following: the next chunk comes from the next node, so a chatty node cannot starve
                         * the others. Otherwise this node goes on until it is done: job file order. */
                        r->first = r->follow ? idx + 1 : idx;
                        return; /* the drain callback brings us back */
                }
                if (k == CURSOR_DONE)
                        c->done = true;
                else
                        waiting = true;
        }
        if (k >= 0 && waiting && control_call_is_alive(r->call)) {
                r->sleeping = true;
                return;
        }
        if (k >= 0 && control_call_is_alive(r->call))
                k = reader_finish(r, j);
        if (k < 0)
                reader_fail(r, k);
        reader_free(r);
}

static void reader_on_drain(ControlCall *call, void *userdata) {
        reader_step(userdata);
}

static void reader_on_disconnect(ControlCall *call, void *userdata) {
        reader_free(userdata);
}

static int reader_on_wake(sd_event_source *s, void *userdata) {
        reader_step(userdata);
        return 0;
}

static void reader_wake(LogReader *r) {
        if (!r->sleeping)
                return; /* a chunk is in flight: its drain looks at everything again */
        r->sleeping = false;
        (void) sd_event_source_set_enabled(r->wake_source, SD_EVENT_ONESHOT);
}

/* Node `node` of the reader's job wrote output: wake the reader if it follows that node. */
static void reader_on_output(Job *j, uint32_t node, void *userdata) {
        LogReader *r = userdata;

        if (!r->single || r->cursors[0].node == node)
                reader_wake(r);
}

/* The job is being freed: nothing more comes from it (the reader finds it gone at its next step). */
static void reader_on_detach(Job *j, void *userdata) {
        LogReader *r = userdata;

        r->observing = false;
}

static const JobObserverOps reader_observer_ops = { .output = reader_on_output, .detach = reader_on_detach };

void methods_logs_on_durable(Methods *ms) {
        for (LogReader *r = ms->log_readers; r; r = r->next)
                reader_wake(r);
}

void methods_logs_free_all(Methods *ms) {
        while (ms->log_readers)
                reader_free(ms->log_readers);
}

/* Parse node, attempt and follow. Returns 1 with the node index (-1: every node), 0 if the call was answered
 * with an error, or -errno. */
static int logs_parse(ControlCall *call, const Job *j, json_object *params, ssize_t *ret_node,
                      uint32_t *ret_attempt, bool *ret_follow, uint32_t *ret_tail, bool *ret_command) {
        json_object *v;
        char id[24];

        *ret_node = -1;
        *ret_attempt = 0;
        *ret_follow = false;
        if (json_object_object_get_ex(params, "node", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_string))
                        return methods_reply_invalid_parameter(call, "node"), 0;
                *ret_node = jobspec_find_node(j->spec, json_object_get_string(v));
                if (*ret_node < 0) {
                        snprintf(id, sizeof(id), "%" PRIu64, j->id);
                        return methods_reply_with_id(call, ORCH_ERROR_NO_SUCH_NODE, id,
                                                     json_object_get_string(v)),
                               0;
                }
        }
        if (json_object_object_get_ex(params, "attempt", &v) && !json_object_is_type(v, json_type_null)) {
                int64_t a = json_object_get_int64(v);

                if (!json_object_is_type(v, json_type_int) || a < 1 || a > UINT16_MAX)
                        return methods_reply_invalid_parameter(call, "attempt"), 0;
                *ret_attempt = (uint32_t) a;
        }
        if (json_object_object_get_ex(params, "follow", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return methods_reply_invalid_parameter(call, "follow"), 0;
                *ret_follow = json_object_get_boolean(v);
        }
        *ret_tail = 0;
        if (json_object_object_get_ex(params, "tail", &v) && !json_object_is_type(v, json_type_null)) {
                int64_t t = json_object_get_int64(v);

                if (!json_object_is_type(v, json_type_int) || t < 1 || t > LOGS_TAIL_LINES_MAX)
                        return methods_reply_invalid_parameter(call, "tail"), 0;
                *ret_tail = (uint32_t) t;
        }
        *ret_command = false;
        if (json_object_object_get_ex(params, "command", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_boolean) || *ret_node < 0)
                        return methods_reply_invalid_parameter(call, "command"), 0; /* needs node */
                *ret_command = json_object_get_boolean(v);
        }
        return 1;
}

static int reader_new(Methods *ms, ControlCall *call, Job *j, ssize_t node, uint32_t attempt, bool follow,
                      LogReader **ret) {
        _cleanup_(reader_freep) LogReader *r = NULL;
        size_t n = node >= 0 ? 1 : j->spec->n_nodes;
        int k;

        r = calloc(1, sizeof(LogReader));
        if (!r)
                return -ENOMEM;
        *r = (LogReader){ .methods = ms,
                          .call = control_call_ref(call),
                          .job_id = j->id,
                          .follow = follow,
                          .single = node >= 0,
                          .fd = -EBADF,
                          .next = ms->log_readers };
        if (ms->log_readers)
                ms->log_readers->prev = r;
        ms->log_readers = r;

        r->cursors = calloc(MAX(n, (size_t) 1), sizeof(LogCursor));
        if (!r->cursors)
                return -ENOMEM;
        r->n_cursors = n;
        for (size_t i = 0; i < n; i++)
                /* A node named without --attempt: its latest attempt. Every node: all their attempts. */
                r->cursors[i] = (LogCursor){ .node = node >= 0 ? (uint32_t) node : (uint32_t) i,
                                             .attempt = attempt > 0 ? attempt :
                                                     node >= 0      ? 0 :
                                                                      1,
                                             .last = attempt };
        k = sd_event_add_defer(ms->manager->event, &r->wake_source, reader_on_wake, r);
        if (k >= 0)
                k = sd_event_source_set_enabled(r->wake_source, SD_EVENT_OFF);
        if (k < 0)
                return k;
        k = job_add_observer(j, &reader_observer_ops, r);
        if (k < 0)
                return k;
        r->observing = true;
        control_call_set_disconnect_callback(call, reader_on_disconnect, r);
        control_call_set_drain_callback(call, reader_on_drain, r);
        *ret = TAKE_PTR(r);
        return 0;
}

int method_logs(ControlCall *call, json_object *params, void *userdata) {
        Methods *ms = userdata;
        LogReader *r = NULL;
        Job *j = methods_lookup_job(ms, call, params);
        uint32_t attempt, tail;
        ssize_t node;
        bool follow, command;
        int k;

        if (!j)
                return 0;
        k = logs_parse(call, j, params, &node, &attempt, &follow, &tail, &command);
        if (k <= 0)
                return k;
        /* Always, not only when the output would not fit one reply: a client must not work on short logs
         * and fail on long ones. */
        if (!control_call_wants_more(call))
                return control_call_error(call, VARLINK_ERROR_EXPECTED_MORE, NULL);
        k = reader_new(ms, call, j, node, attempt, follow, &r);
        if (k < 0)
                return k;
        r->tail = tail;
        r->command = command;
        reader_step(r);
        return 0;
}
