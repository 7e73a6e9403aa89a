/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The wire between orchd and orchd-keeper (src/keeper/): one message per datagram of a unix
 * SOCK_SEQPACKET socket, fds beside it with SCM_RIGHTS. Pure: building and checking bytes, no I/O.
 *
 * A message is a 12-byte header (magic, version, type, body length, all in host byte order: both ends run on
 * one machine) and a body of fields read back in the order they were written: u8, u32, u64 as fixed-width
 * host-order integers, a string as u32 length + the bytes + a NUL (no NUL inside; length UINT32_MAX = NULL,
 * with no bytes), a string vector as u32 count + that many strings (none NULL). Every read is checked
 * against what is left; the first failure sticks (-EBADMSG) and later reads return zeros, so a decoder
 * reads all its fields and checks once. A body must be consumed exactly: trailing bytes are an error.
 * Nothing in a decoded message is trusted beyond its shape: the keeper runs as root and orchd's peer is
 * checked by SO_PEERCRED, but a message is still bounded (KEEPER_MSG_MAX, KEEPER_STRV_MAX).
 *
 * The attempt a message is about is a KeeperKey (job id, node index, attempt number): the same triple the
 * job's starts file records (job-spawn.c), so orchd finds it again after a restart.
 *
 * Who sends what:
 *   orchd → keeper: HELLO (first on every connection), START (+ fds, body: KeeperKey + TaskParams, see
 *                   supervise-wire.h), STOP, KILL, FREE, FREEZE, ACK_END
 *   keeper → orchd: WELCOME (answers HELLO: then one RUNNING per running attempt and one END per end not
 *                   acknowledged yet, then SYNCED), STARTED, FAILED, OUTPUT, END (body: KeeperKey +
 *                   TaskResult)
 *
 * Compatibility: an upgrade restarts orchd while the keepers of the old version run on, and the new orchd
 * must adopt their attempts. So a field may only be appended to a body, and a reader takes its absence as
 * the old meaning (RUNNING's frozen flag came so); any other change bumps KEEPER_PROTO_VERSION. A keeper
 * of another version is refused at recovery (-EPROTO): its attempts are interrupted as after a reboot
 * (orchd(8)), which the release notes of such a version must say, so that an administrator can run
 * `orchctl stop-nodes` before the upgrade.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEPER_PROTO_MAGIC UINT32_C(0x4f4b5031) /* "OKP1" */
#define KEEPER_PROTO_VERSION 1U
#define KEEPER_HEADER_SIZE 12U
/* The largest datagram either side sends or accepts. A START whose body is larger (a huge environment)
 * travels in a sealed memfd instead (KEEPER_MSG_START_MEMFD), as orchd-exec's request does. */
#define KEEPER_MSG_MAX (64U * 1024U)
/* The largest START body in a memfd: far above what execve() takes. */
#define KEEPER_MEMFD_MAX (64U * 1024U * 1024U)
/* Bounds of what a decoder accepts, whatever the body length says. */
#define KEEPER_STRV_MAX (1U << 20)
/* At most this many fds ride with one message. */
#define KEEPER_FDS_MAX 5U

typedef enum KeeperMsgType {
        KEEPER_MSG_HELLO = 1,   /* o→k: u32 flags (KEEPER_HELLO_*) */
        KEEPER_MSG_WELCOME,     /* k→o: u32 keeper pid, u64 keeper start time (proc_start_time), u32 uid */
        KEEPER_MSG_START,       /* o→k: key, TaskParams; fds: log dir, starts file, ends file[, cgroup] */
        KEEPER_MSG_START_MEMFD, /* o→k: no body; fds: sealed memfd holding a START body, then its fds */
        KEEPER_MSG_STARTED,     /* k→o: key, u32 pid, u64 pid start time, u64 started_at */
        KEEPER_MSG_FAILED,      /* k→o: key, i32 -errno (nothing runs, the end file has no line) */
        KEEPER_MSG_STOP,        /* o→k: key, u64 grace_usec */
        KEEPER_MSG_KILL,        /* o→k: key */
        KEEPER_MSG_OUTPUT,      /* k→o: key (new output in its log; coalesced per loop iteration) */
        KEEPER_MSG_END,         /* k→o: key, TaskResult (already in the ends file) */
        KEEPER_MSG_ACK_END,     /* o→k: key (orchd has the end durably: the keeper forgets it) */
        KEEPER_MSG_RUNNING,     /* k→o: like STARTED, then bool frozen; an attempt running at HELLO */
        KEEPER_MSG_SYNCED,      /* k→o: no body; every RUNNING and unacknowledged END was sent */
        KEEPER_MSG_FREE,        /* o→k: key (orchd drops the attempt: SIGKILL, reap, no END) */
        KEEPER_MSG_FREEZE,      /* o→k: key, bool freeze (task_freeze(): cgroup.freeze 1 or 0) */
        KEEPER_MSG_STAY,        /* o→k: no body; fd: its listening socket (a reload to KillNodes=no) */
        _KEEPER_MSG_MAX,
} KeeperMsgType;

/* HELLO flags. */
#define KEEPER_HELLO_RECOVER 1U /* orchd restarted: list what runs and what ended (WELCOME … SYNCED) */

typedef struct KeeperKey {
        uint64_t job;
        uint32_t node;
        uint32_t attempt;
} KeeperKey;

/* A growing message under construction. error sticks at the first failure (-ENOMEM, -E2BIG). */
typedef struct KeeperWriter {
        uint8_t *buf;
        size_t len;
        size_t cap;
        size_t max; /* the message may not grow past this (KEEPER_MSG_MAX, or KEEPER_MEMFD_MAX) */
        int error;
} KeeperWriter;

/* A received message being read. Strings returned point into buf, which must outlive them. */
typedef struct KeeperReader {
        const uint8_t *buf;
        size_t len;
        size_t pos;
        int error; /* -EBADMSG once a read ran past the end or met a malformed field */
} KeeperReader;

/* Start a message of type with the header written; max bounds the whole message. The writer owns buf:
 * free it with keeper_writer_done() or take it. */
void keeper_writer_init(KeeperWriter *w, KeeperMsgType type, size_t max);

/* Start a writer of a bare body (no header): a START body for a memfd. */
void keeper_writer_init_body(KeeperWriter *w, size_t max);

/* Append fields. On failure the writer's error is set and later appends do nothing. */
void keeper_put_u8(KeeperWriter *w, uint8_t v);
void keeper_put_u32(KeeperWriter *w, uint32_t v);
void keeper_put_u64(KeeperWriter *w, uint64_t v);
void keeper_put_i32(KeeperWriter *w, int32_t v);
void keeper_put_bool(KeeperWriter *w, bool v);
void keeper_put_str(KeeperWriter *w, const char *s);   /* NULL allowed */
void keeper_put_strv(KeeperWriter *w, char *const *v); /* NULL-terminated; NULL = empty */
void keeper_put_key(KeeperWriter *w, const KeeperKey *k);

/* Write the body length into the header. Returns 0 with the message in w->buf/w->len, or the sticky
 * error. */
int keeper_writer_finish(KeeperWriter *w);

/* Free the buffer (accepts a writer that was never used). */
void keeper_writer_done(KeeperWriter *w);

/* Check a received datagram's header: magic, version, a known type, and a body length equal to what
 * arrived. Returns the type (> 0) with r positioned at the body, or -EBADMSG (malformed), -EPROTO (another
 * version). */
int keeper_reader_init(KeeperReader *r, const void *buf, size_t len);

/* Read a bare body (from a memfd). */
void keeper_reader_init_body(KeeperReader *r, const void *buf, size_t len);

/* Read fields; after a failure they return 0/false/NULL and r->error is -EBADMSG. */
uint8_t keeper_get_u8(KeeperReader *r);
uint32_t keeper_get_u32(KeeperReader *r);
uint64_t keeper_get_u64(KeeperReader *r);
int32_t keeper_get_i32(KeeperReader *r);
bool keeper_get_bool(KeeperReader *r); /* anything but 0 or 1 is malformed */
const char *keeper_get_str(KeeperReader *r);
void keeper_get_key(KeeperReader *r, KeeperKey *ret);

/* Read a string vector into a new NULL-terminated array (malloc'd; its strings point into the buffer).
 * Returns 0 with *ret, -EBADMSG or -ENOMEM (also stored in r->error). */
int keeper_get_strv(KeeperReader *r, char ***ret);

/* The end of a decode: 0 if every field read well and nothing is left over, else -EBADMSG (or the sticky
 * error). */
int keeper_reader_finish(const KeeperReader *r);

/* The name of a message type for messages ("start", …), "unknown" for anything else. */
const char *keeper_msg_type_to_string(int type);
