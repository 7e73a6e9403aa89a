/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Node output to the journal (SPEC section 7): every line a node writes becomes one entry with
 * SYSLOG_IDENTIFIER=orchd, ORCH_JOB, ORCH_NODE, ORCH_ATTEMPT, ORCH_PID (the node's pid: _PID is orchd's)
 * and ORCH_STREAM: "output" with PRIORITY 6 (info) for a node whose stdout and stderr share one pipe (the
 * default: which line came from which stream is not known), or for "output": "separate" "stdout" with
 * PRIORITY 6 and "stderr" with PRIORITY 4 (warning: compilers and most tools print warnings and progress
 * there, not only errors). ORCH_SPOOL is added to every entry by journald.c. One LogFwd per attempt, fed
 * by supervise.c with every chunk it reads. The log file is written by supervise.c independently: whatever
 * happens here, it stays complete.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Lines longer than this are split into several entries (ORCH_LINE_BREAK=line-max), as journald does
 * with its LineMax= default. */
#define LOGFWD_LINE_MAX (48U * 1024U)

typedef enum LogFwdStream {
        LOGFWD_STDOUT,
        LOGFWD_STDERR,
        LOGFWD_OUTPUT, /* stdout and stderr merged */
        _LOGFWD_STREAM_MAX,
} LogFwdStream;

typedef struct LogFwd LogFwd;

/* Returns 0 with *ret, or -ENOMEM. node is copied. */
int logfwd_new(uint64_t job, const char *node, unsigned attempt, LogFwd **ret);

/* The node's pid, sent as ORCH_PID from now on (0 = none). Accepts NULL. */
void logfwd_set_pid(LogFwd *f, pid_t pid);

/* A chunk of output of one stream, in order. Never fails: what cannot be forwarded is dropped. */
void logfwd_output(LogFwd *f, LogFwdStream stream, const char *buf, size_t n);

/* The stream ended: forward its unfinished last line (ORCH_LINE_BREAK=eof) and any pending report. */
void logfwd_end(LogFwd *f, LogFwdStream stream);

/* Accepts NULL, returns NULL. */
LogFwd *logfwd_free(LogFwd *f);
