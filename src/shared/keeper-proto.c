/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keeper-proto.c — the orchd ⇄ orchd-keeper message format (keeper-proto.h): header, fields, bounds.
 *
 * Invariants: a writer never grows past its max and a reader never reads past its length; both fail
 * sticky, so a caller checks once at the end. Integers are copied with memcpy (a body has no alignment).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keeper-proto.h"

/* ---- writing ---------------------------------------------------------------------------------- */

static void *writer_grow(KeeperWriter *w, size_t n) {
        size_t cap;
        uint8_t *b;

        if (w->error < 0)
                return NULL;
        if (n > w->max - w->len) {
                w->error = -E2BIG;
                return NULL;
        }
        if (w->len + n > w->cap) {
                cap = w->cap ? w->cap : 256;
                while (cap < w->len + n)
                        cap *= 2;
                if (cap > w->max)
                        cap = w->max;
                b = realloc(w->buf, cap);
                if (!b) {
                        w->error = -ENOMEM;
                        return NULL;
                }
                w->buf = b;
                w->cap = cap;
        }
        w->len += n;
        return w->buf + w->len - n;
}

static void writer_put(KeeperWriter *w, const void *p, size_t n) {
        void *d = writer_grow(w, n);

        if (d)
                memcpy(d, p, n);
}

void keeper_writer_init_body(KeeperWriter *w, size_t max) {
        *w = (KeeperWriter){ .max = max };
}

void keeper_writer_init(KeeperWriter *w, KeeperMsgType type, size_t max) {
        uint32_t magic = KEEPER_PROTO_MAGIC, len = 0;
        uint16_t version = KEEPER_PROTO_VERSION, t = (uint16_t) type;

        keeper_writer_init_body(w, max);
        writer_put(w, &magic, sizeof(magic));
        writer_put(w, &version, sizeof(version));
        writer_put(w, &t, sizeof(t));
        writer_put(w, &len, sizeof(len)); /* set by keeper_writer_finish() */
}

void keeper_put_u8(KeeperWriter *w, uint8_t v) {
        writer_put(w, &v, sizeof(v));
}

void keeper_put_u32(KeeperWriter *w, uint32_t v) {
        writer_put(w, &v, sizeof(v));
}

void keeper_put_u64(KeeperWriter *w, uint64_t v) {
        writer_put(w, &v, sizeof(v));
}

void keeper_put_i32(KeeperWriter *w, int32_t v) {
        writer_put(w, &v, sizeof(v));
}

void keeper_put_bool(KeeperWriter *w, bool v) {
        keeper_put_u8(w, v ? 1 : 0);
}

void keeper_put_str(KeeperWriter *w, const char *s) {
        size_t n;

        if (!s) {
                keeper_put_u32(w, UINT32_MAX);
                return;
        }
        n = strlen(s);
        if (n >= UINT32_MAX) {
                if (w->error >= 0)
                        w->error = -E2BIG;
                return;
        }
        keeper_put_u32(w, (uint32_t) n);
        writer_put(w, s, n + 1);
}

void keeper_put_strv(KeeperWriter *w, char *const *v) {
        size_t n = 0;

        while (v && v[n])
                n++;
        if (n > KEEPER_STRV_MAX) {
                if (w->error >= 0)
                        w->error = -E2BIG;
                return;
        }
        keeper_put_u32(w, (uint32_t) n);
        for (size_t i = 0; i < n; i++)
                keeper_put_str(w, v[i]);
}

void keeper_put_key(KeeperWriter *w, const KeeperKey *k) {
        keeper_put_u64(w, k->job);
        keeper_put_u32(w, k->node);
        keeper_put_u32(w, k->attempt);
}

int keeper_writer_finish(KeeperWriter *w) {
        uint32_t body;

        if (w->error < 0)
                return w->error;
        if (w->len < KEEPER_HEADER_SIZE)
                return -EINVAL; /* a bare body has no header to finish */
        body = (uint32_t) (w->len - KEEPER_HEADER_SIZE);
        memcpy(w->buf + 8, &body, sizeof(body));
        return 0;
}

void keeper_writer_done(KeeperWriter *w) {
        free(w->buf);
        *w = (KeeperWriter){};
}

/* ---- reading ---------------------------------------------------------------------------------- */

static const void *reader_take(KeeperReader *r, size_t n) {
        const void *p;

        if (r->error < 0)
                return NULL;
        if (n > r->len - r->pos) {
                r->error = -EBADMSG;
                return NULL;
        }
        p = r->buf + r->pos;
        r->pos += n;
        return p;
}

static void reader_get(KeeperReader *r, void *ret, size_t n) {
        const void *p = reader_take(r, n);

        if (p)
                memcpy(ret, p, n);
        else
                memset(ret, 0, n);
}

void keeper_reader_init_body(KeeperReader *r, const void *buf, size_t len) {
        *r = (KeeperReader){ .buf = buf, .len = len };
}

int keeper_reader_init(KeeperReader *r, const void *buf, size_t len) {
        uint32_t magic, body;
        uint16_t version, type;

        keeper_reader_init_body(r, buf, len);
        reader_get(r, &magic, sizeof(magic));
        reader_get(r, &version, sizeof(version));
        reader_get(r, &type, sizeof(type));
        reader_get(r, &body, sizeof(body));
        if (r->error < 0 || magic != KEEPER_PROTO_MAGIC)
                return r->error = -EBADMSG;
        if (version != KEEPER_PROTO_VERSION)
                return r->error = -EPROTO;
        if (type == 0 || type >= _KEEPER_MSG_MAX || body != len - KEEPER_HEADER_SIZE)
                return r->error = -EBADMSG;
        return type;
}

uint8_t keeper_get_u8(KeeperReader *r) {
        uint8_t v;

        reader_get(r, &v, sizeof(v));
        return v;
}

uint32_t keeper_get_u32(KeeperReader *r) {
        uint32_t v;

        reader_get(r, &v, sizeof(v));
        return v;
}

uint64_t keeper_get_u64(KeeperReader *r) {
        uint64_t v;

        reader_get(r, &v, sizeof(v));
        return v;
}

int32_t keeper_get_i32(KeeperReader *r) {
        int32_t v;

        reader_get(r, &v, sizeof(v));
        return v;
}

bool keeper_get_bool(KeeperReader *r) {
        uint8_t v = keeper_get_u8(r);

        if (v > 1 && r->error >= 0)
                r->error = -EBADMSG;
        return v == 1;
}

const char *keeper_get_str(KeeperReader *r) {
        uint32_t n = keeper_get_u32(r);
        const char *s;

        if (r->error < 0 || n == UINT32_MAX)
                return NULL;
        s = reader_take(r, (size_t) n + 1);
        if (!s)
                return NULL;
        /* Exactly one NUL, at the end: a string that stops early would hide its tail from a check. */
        if (s[n] != '\0' || memchr(s, '\0', n)) {
                r->error = -EBADMSG;
                return NULL;
        }
        return s;
}

void keeper_get_key(KeeperReader *r, KeeperKey *ret) {
        ret->job = keeper_get_u64(r);
        ret->node = keeper_get_u32(r);
        ret->attempt = keeper_get_u32(r);
}

int keeper_get_strv(KeeperReader *r, char ***ret) {
        uint32_t n = keeper_get_u32(r);
        char **v;

        if (r->error < 0)
                return r->error;
        /* Each string takes at least 5 bytes: a count beyond what is left is a lie, not an allocation. */
        if (n > KEEPER_STRV_MAX || n > (r->len - r->pos) / 5)
                return r->error = -EBADMSG;
        v = calloc((size_t) n + 1, sizeof(char *));
        if (!v)
                return r->error = -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                v[i] = (char *) keeper_get_str(r);
                if (!v[i]) {
                        free(v);
                        if (r->error >= 0)
                                r->error = -EBADMSG; /* NULL inside a vector */
                        return r->error;
                }
        }
        *ret = v;
        return 0;
}

int keeper_reader_finish(const KeeperReader *r) {
        if (r->error < 0)
                return r->error;
        return r->pos == r->len ? 0 : -EBADMSG;
}

const char *keeper_msg_type_to_string(int type) {
        static const char *const names[_KEEPER_MSG_MAX] = {
                [KEEPER_MSG_HELLO] = "hello",     [KEEPER_MSG_WELCOME] = "welcome",
                [KEEPER_MSG_START] = "start",     [KEEPER_MSG_START_MEMFD] = "start-memfd",
                [KEEPER_MSG_STARTED] = "started", [KEEPER_MSG_FAILED] = "failed",
                [KEEPER_MSG_STOP] = "stop",       [KEEPER_MSG_KILL] = "kill",
                [KEEPER_MSG_OUTPUT] = "output",   [KEEPER_MSG_END] = "end",
                [KEEPER_MSG_ACK_END] = "ack-end", [KEEPER_MSG_RUNNING] = "running",
                [KEEPER_MSG_SYNCED] = "synced",   [KEEPER_MSG_FREE] = "free",
                [KEEPER_MSG_FREEZE] = "freeze",   [KEEPER_MSG_STAY] = "stay",
        };

        if (type <= 0 || type >= _KEEPER_MSG_MAX)
                return "unknown";
        return names[type];
}
