/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Node output to the journal (SPEC section 7): every line a node writes becomes one entry with
 * SYSLOG_IDENTIFIER=orchd, ORCH_JOB, ORCH_NODE, ORCH_ATTEMPT, ORCH_STREAM=stdout|stderr and PRIORITY 6
 * (info) for stdout, 4 (warning) for stderr. One LogFwd per attempt, fed by supervise.c with every chunk it
 * reads. The log file is written by supervise.c independently: whatever happens here, it stays complete.
 */

#include <stddef.h>
#include <stdint.h>

/* Lines longer than this are split into several entries (ORCH_LINE_BREAK=line-max), as journald does
 * with its LineMax= default. */
#define LOGFWD_LINE_MAX (48U * 1024U)

typedef enum LogFwdStream {
        LOGFWD_STDOUT,
        LOGFWD_STDERR,
        _LOGFWD_STREAM_MAX,
} LogFwdStream;

typedef struct LogFwd LogFwd;

/* Returns 0 with *ret, or -ENOMEM. node is copied. */
int logfwd_new(uint64_t job, const char *node, unsigned attempt, LogFwd **ret);

/* A chunk of output of one stream, in order. Never fails: what cannot be forwarded is dropped. */
void logfwd_output(LogFwd *f, LogFwdStream stream, const char *buf, size_t n);

/* The stream ended: forward its unfinished last line (ORCH_LINE_BREAK=eof) and any pending report. */
void logfwd_end(LogFwd *f, LogFwdStream stream);

/* Accepts NULL, returns NULL. */
LogFwd *logfwd_free(LogFwd *f);
