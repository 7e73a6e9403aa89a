/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What orchctl's commands share (cli/util.c): the global options, error
 * printing with SPEC §5 exit codes, tables and colours, and making calls to
 * the daemon. orchctl.c parses the command line; each command (or family of
 * commands) lives in its own cli/VERB.c.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "client.h"
#include "jobspec.h"
#include "macro.h"
#include "protocol.h"

/* SPEC §5 exit codes besides the sysexits(3) ones. */
#define EXIT_JOB_FAILED 1
#define EXIT_JOB_CANCELLED 2

/* Global options (orchctl.c). */
extern const char *arg_socket;
extern bool arg_json;
extern bool arg_color; /* stdout is a TTY, NO_COLOR unset, TERM not dumb */

/* Print "orchctl: <message>" on stderr and return code. */
int fail(int code, const char *fmt, ...) _printf_(2, 3);

/* Bytes of a node's (or the caller's rejected file) to standard output: as they are when piped; on a
 * terminal with control characters escaped but for tab, newline and colour sequences
 * (terminal_escape_buf()), so they cannot act on the reader's terminal. */
void write_output(const char *buf, size_t n);

/* Print o pretty (two-space indent) on stdout. Returns 0 or an exit code. */
int print_json(json_object *o);

/* Job data made safe for a terminal (issue 8, point 7): control characters and invalid UTF-8 escaped
 * C-style as systemctl does ("\n", "\x1b", "\\"). NULL stays NULL; "" on ENOMEM. The result lives
 * until the 8th next call, so one printf may use several. Table cells are escaped by table_add. */
const char *escaped(const char *s);
/* Print text to f line by line, each line escaped (LF kept as the line end, a last line gets one). */
void print_text_escaped(FILE *f, const char *text);

/* The ANSI colour for a job or node state, NULL when not colouring. */
const char *state_color(const char *state);

/* A table of cells, printed with every column but the last padded to its widest cell. */
typedef struct Table {
        size_t n_columns, n_cells, alloc;
        char **cells;
        const char **colors;
} Table;

void table_done(Table *t);
/* Append a cell (text copied, escaped; color borrowed, may be NULL). Returns 0 or -ENOMEM. */
int table_add(Table *t, const char *text, const char *color);
void table_print(const Table *t);

/* Members of a reply object: NULL/false when missing or of another type. */
const char *get_string(json_object *o, const char *key);
bool get_int(json_object *o, const char *key, int64_t *ret);
json_object *reply_member(json_object *reply, const char *key, json_type type);

/* An RFC 3339 timestamp of the daemon in local time ("2026-11-26 10:30:00"), or "-". */
const char *format_local_time(const char *ts, bool with_zone, char *buf, size_t size);
/* "finished/total" nodes from a counts object. */
void format_progress(json_object *counts, char *buf, size_t size);
/* Duration of a node: finished ones from duration_ms, running ones since their start; "-" if unknown. */
const char *node_duration(json_object *node, char *buf, size_t size);

/* Connect to the daemon. Returns 0, or an exit code after printing why. */
int connect_daemon(Client **ret);
/* Print a transport failure (-errno of the client) and return its exit code. */
int transport_error(int r);
/* Print a daemon error reply and return its exit code (job names the job for messages). */
int reply_error(const VarlinkMessage *m, const char *job);

/* One call. Returns 0 with *ret_parameters (owned), or an exit code after printing why. On timeout
 * (deadline reached) returns -ETIMEDOUT without printing. */
int call(Client *c, const char *method, json_object *parameters, uint64_t deadline, const char *job,
         json_object **ret_parameters);
/* A call with "more": every reply, the last one (no "continues") and an error reply included, goes to
 * on_reply, which returns 0 to go on or an exit code to stop. Returns 0 after the last reply, on_reply's
 * exit code, or an exit code after printing a transport failure. */
int call_more(Client *c, const char *method, json_object *parameters,
              int (*on_reply)(const VarlinkMessage *m, void *userdata), void *userdata);
/* Connect and make one call. */
int call_once(const char *method, json_object *parameters, const char *job, json_object **ret);

/* {"id": id}, or NULL on ENOMEM. */
json_object *id_parameters(const char *id);

/* {"id": args[0], "nodes": [args[1], …]} ("nodes" only with n_args > 1), or NULL on ENOMEM. */
json_object *job_nodes_parameters(char **args, size_t n_args);

/* Options of list, wait/submit, submit and stats (orchctl.c). */
extern bool arg_all;
extern const char *arg_state;
extern uint64_t arg_timeout;           /* USEC_INFINITY: --timeout not given */
extern const char *arg_timeout_string; /* as the user wrote it, for messages */
extern bool arg_wait;
extern bool arg_prometheus;
extern bool arg_freeze; /* pause --freeze */

/* Read a job file (open, then fsutil's read_full_fd()) as orchd would be sent it (cli/jobfile.c): 0 with
 * *ret (NUL-terminated) and *ret_size, and *ret_file_size the real size (st_size of a regular file, 0 when
 * unknown). A file over limit is not an error: *ret is NULL and *ret_size limit+1. Returns 0 or -errno. */
int jobfile_read(const char *path, size_t limit, char **ret, size_t *ret_size, uint64_t *ret_file_size);

/* The error list for a file over the size limit, worded as jobspec_parse() words it but with the real
 * size (file_size 0: unknown). Returns 0 with *ret (owned) or -ENOMEM. */
int jobfile_too_large(uint64_t file_size, size_t limit, JobErrors **ret);

/* Commands in files of their own (cli/VERB.c; cancel, pause, resume, remove, gc and stop-nodes in
 * cli/jobctl.c, validate and graph in cli/jobfile.c). Each returns an exit code. */
int verb_list(char **args, size_t n_args);
int verb_status(char **args, size_t n_args);
int verb_wait(char **args, size_t n_args);
int verb_cancel(char **args, size_t n_args);
int verb_pause(char **args, size_t n_args);
int verb_resume(char **args, size_t n_args);
int verb_remove(char **args, size_t n_args);
int verb_gc(char **args, size_t n_args);
int verb_stop_nodes(char **args, size_t n_args);
int verb_validate(char **args, size_t n_args);
int verb_graph(char **args, size_t n_args);
int verb_submit(char **args, size_t n_args);
int verb_stats(char **args, size_t n_args);
int verb_retry(char **args, size_t n_args);
int verb_history(char **args, size_t n_args);

/* The exit code for finished jobs (an array of job objects): 1 if any failed, else 2 if any was
 * cancelled, else 0. */
int wait_exit_code(json_object *jobs);
/* One line per finished job of an array: "ID NAME STATE (REASON)", as wait prints them (cli/wait.c). */
void wait_print(json_object *jobs);

/* orchctl watch JOB (cli/watch.c). Returns an exit code. */
int verb_watch(char **args, size_t n_args);
/* Follow job id on c (a Watch stream) drawing watch's live block on stderr, erased at the end, until the
 * job has finished or deadline (client_now() clock) passed: 0 with *ret_job (owned, as Wait gives it),
 * -ETIMEDOUT, or an exit code after printing why. For wait and submit --wait on a terminal. */
int watch_progress(Client *c, const char *id, uint64_t deadline, json_object **ret_job);

/* Options of wait, submit --wait and watch (orchctl.c): --tail-lines N (default 20), -q/--quiet. */
extern unsigned arg_tail_lines;
extern bool arg_quiet;

/* Add to a finished job object (as Wait gives it) "failures": for a job that did not succeed, each node that
 * ended failed and made it fail (not allow_failure), at most 100, with its reason, command and the last
 * arg_tail_lines lines of its last attempt's output (Logs calls on c, access checked by orchd), and
 * "failures_omitted" when there were more (cli/failures.c). Returns 0 or an exit code after printing why. */
int failures_collect(Client *c, json_object *job);
/* Print a job's "failures" as ninja reports a failed edge: "FAILED: NODE (REASON, job ID)", the command,
 * the output (bold red FAILED on a terminal). */
void failures_print(json_object *job);

/* Options of logs (orchctl.c): --attempt N (0 = not given), -f/--follow. */
extern unsigned arg_attempt;
extern bool arg_follow;

/* orchctl logs JOB [NODE] (cli/logs.c). Returns an exit code. */
int verb_logs(char **args, size_t n_args);

/* Option of rejected (orchctl.c): --file. */
extern bool arg_file;

/* orchctl rejected [NAME] [--file] (cli/rejected.c). Returns an exit code. */
int verb_rejected(char **args, size_t n_args);

/* Options of import-ninja (orchctl.c): -C DIR, -o FILE, --submit. */
extern const char *arg_ninja_dir;
extern const char *arg_ninja_output;
extern bool arg_ninja_submit;

/* orchctl import-ninja [-C DIR] [-o FILE | --submit [--wait]] [TARGET...] (cli/import-ninja.c). */
int verb_import_ninja(char **args, size_t n_args);
