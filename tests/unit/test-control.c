/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the control server (control*.c, SPEC §6): connections handed to it as one end of a socketpair
 * (control_adopt()), a real sd-event loop, and a method table of the test's own. Checked: NUL-framed
 * calls are dispatched to the table and answered in order (also when pipelined in one write); unknown
 * methods and interfaces, malformed and oversized messages get the right errors; the output budgets hold
 * back a peer's next calls while its replies are unsent (per connection, and per user across
 * connections) and let them run once the peer reads; a held reply survives nothing when its peer closes
 * (the disconnect callback fires, the reply is swallowed), and a peer that closes in the middle of a big
 * reply is dropped; replies given as the loop exits reach their peers at control_free() without waiting for
 * one that does not read, and a connection held until exit stays open past it.
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "macro.h"
#include "protocol.h"
#include "time-util.h"

#define BIG_REPLY_BYTES ((size_t) 4 * 1024 * 1024) /* far more than a socketpair buffers */

typedef struct Calls {
        unsigned echo, big, held_calls, disconnected;
        ControlCall *held; /* a call answered later (as Wait is) */
} Calls;

static Calls calls;
static sd_event *loop; /* the fixture's, for send_raw() to make progress with while the socket is full */

/* io.orchd.Manager.List here: answers {"echo": parameters}. */
static int method_echo(ControlCall *call, json_object *parameters, void *userdata) {
        json_object *p = json_object_new_object();

        calls.echo++;
        assert_non_null(p);
        json_object_object_add(p, "echo", json_object_get(parameters));
        return control_call_reply(call, p);
}

/* io.orchd.Manager.Status here: one reply of BIG_REPLY_BYTES. */
static int method_big(ControlCall *call, json_object *parameters, void *userdata) {
        _cleanup_free_ char *s = malloc(BIG_REPLY_BYTES + 1);
        json_object *p = json_object_new_object();

        calls.big++;
        assert_non_null(s);
        assert_non_null(p);
        memset(s, 'x', BIG_REPLY_BYTES);
        s[BIG_REPLY_BYTES] = '\0';
        json_object_object_add(p, "data", json_object_new_string(s));
        return control_call_reply(call, p);
}

static void on_disconnect(ControlCall *call, void *userdata) {
        calls.disconnected++;
}

/* io.orchd.Manager.Wait here: keeps the call, answered by the test. */
static int method_held(ControlCall *call, json_object *parameters, void *userdata) {
        calls.held_calls++;
        calls.held = control_call_ref(call);
        control_call_set_disconnect_callback(call, on_disconnect, NULL);
        return 0;
}

static const ControlMethod table[] = {
        { ORCH_METHOD_LIST, method_echo },
        { ORCH_METHOD_STATUS, method_big },
        { ORCH_METHOD_WAIT, method_held },
        {},
};

typedef struct Fixture {
        char dir[64];
        char path[96];
        sd_event *e;
        Control *c;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        calls = (Calls){};
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-control.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/orchd.sock", f->dir);
        assert_int_equal(sd_event_new(&f->e), 0);
        loop = f->e;
        /* The smallest budget there is: one user's connections together may have 64 KiB unsent. */
        assert_int_equal(setenv("ORCHD_CONTROL_OUTPUT_BUDGET", "65536", 1), 0);
        assert_int_equal(control_new(f->e, f->path, table, NULL, &f->c), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        calls.held = control_call_unref(calls.held);
        control_free(f->c);
        sd_event_unref(f->e);
        (void) unlink(f->path);
        (void) rmdir(f->dir);
        free(f);
        return 0;
}

/* Dispatch everything that is ready until the loop has nothing left to do: a state, not a time window. */
static void run_idle(sd_event *e) {
        for (unsigned i = 0; i < 100000; i++) {
                int r = sd_event_run(e, 0);

                assert_true(r >= 0);
                if (r == 0)
                        return;
        }
        fail_msg("the loop never went idle");
}

/* A new connection served by the control server; returns the client's end (non-blocking). */
static int connect_pair(Fixture *f) {
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        assert_int_equal(control_adopt(f->c, sv[1]), 0);
        return sv[0];
}

/* Send all of buf: while the socket is full, the server reads when the loop runs. */
static void send_raw(int fd, const char *buf, size_t n) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 120 * USEC_PER_SEC;

        while (n > 0) {
                ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);

                if (k < 0 && errno == EAGAIN) {
                        if (now_usec(CLOCK_MONOTONIC) > deadline)
                                fail_msg("the server never read what was sent");
                        assert_true(sd_event_run(loop, 100 * USEC_PER_MSEC) >= 0);
                        continue;
                }
                assert_true(k > 0);
                buf += k;
                n -= (size_t) k;
        }
}

/* Send one call: the JSON and its NUL. */
static void send_call(int fd, const char *json) {
        send_raw(fd, json, strlen(json) + 1);
}

typedef struct Reader {
        char *buf;
        size_t n, alloc;
        bool eof;
} Reader;

static void reader_done(Reader *r) {
        free(r->buf);
}

/* Read what the client's end has now (never blocks). */
static void reader_pull(Reader *r, int fd) {
        for (;;) {
                ssize_t k;

                if (r->alloc - r->n < 65536) {
                        r->alloc = MAX(r->alloc * 2, (size_t) 1 << 20);
                        r->buf = realloc(r->buf, r->alloc);
                        assert_non_null(r->buf);
                }
                k = recv(fd, r->buf + r->n, r->alloc - r->n, MSG_DONTWAIT);
                if (k == 0)
                        r->eof = true;
                if (k <= 0)
                        return;
                r->n += (size_t) k;
        }
}

/* How many complete (NUL-ended) messages were read. */
static size_t reader_count(const Reader *r) {
        size_t k = 0;

        for (size_t i = 0; i < r->n; i++)
                k += r->buf[i] == '\0';
        return k;
}

/* The i-th complete message, parsed. */
static json_object *reader_message(const Reader *r, size_t i) {
        size_t start = 0;

        for (size_t k = 0; k < i; k++)
                start += strlen(r->buf + start) + 1;
        return json_tokener_parse(r->buf + start);
}

/* Run the loop and read until n messages came (bounded: a hang is a failure). */
static void read_messages(Fixture *f, int fd, Reader *r, size_t n) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 120 * USEC_PER_SEC;

        while (reader_count(r) < n && !r->eof) {
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        fail_msg("timed out waiting for %zu messages, have %zu", n, reader_count(r));
                run_idle(f->e);
                reader_pull(r, fd);
                if (reader_count(r) < n && !r->eof)
                        assert_true(sd_event_run(f->e, 100 * USEC_PER_MSEC) >= 0);
        }
        assert_true(reader_count(r) >= n);
}

/* Run the loop and read until the server closed the connection (bounded). */
static void wait_eof(Fixture *f, int fd, Reader *r) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 120 * USEC_PER_SEC;

        for (;;) {
                run_idle(f->e);
                reader_pull(r, fd);
                if (r->eof)
                        return;
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        fail_msg("the server never closed the connection");
                assert_true(sd_event_run(f->e, 100 * USEC_PER_MSEC) >= 0);
        }
}

/* The string at key (a path of two members at most), or NULL. */
static const char *get_str(json_object *o, const char *k1, const char *k2) {
        json_object *v;

        if (!json_object_object_get_ex(o, k1, &v))
                return NULL;
        if (k2 && !json_object_object_get_ex(v, k2, &v))
                return NULL;
        return json_object_get_string(v);
}

/* parameters.echo.state of a reply of method_echo, or -1 (List declares "state": any other parameter
 * would be refused before the method, test_undeclared_parameter). */
static int64_t echo_n(json_object *o) {
        json_object *v;

        if (!json_object_object_get_ex(o, "parameters", &v) || !json_object_object_get_ex(v, "echo", &v) ||
            !json_object_object_get_ex(v, "state", &v))
                return -1;
        return json_object_get_int64(v);
}

static void test_framing_and_dispatch(void **state) {
        Fixture *f = *state;
        _cleanup_(reader_done) Reader r = {};
        _cleanup_close_ int fd = connect_pair(f);
        json_object *m;

        /* Two calls in one write, the second split from its NUL across writes: answered in order. */
        send_raw(fd,
                 "{\"method\":\"" ORCH_METHOD_LIST
                 "\",\"parameters\":{\"state\":1}}\0"
                 "{\"method\":\"" ORCH_METHOD_LIST "\",\"parameters\":{\"state\":2}}",
                 strlen("{\"method\":\"" ORCH_METHOD_LIST "\",\"parameters\":{\"state\":1}}") + 1 +
                         strlen("{\"method\":\"" ORCH_METHOD_LIST "\",\"parameters\":{\"state\":2}}"));
        run_idle(f->e);
        assert_int_equal(calls.echo, 1); /* the second is not complete yet */
        send_raw(fd, "", 1);
        read_messages(f, fd, &r, 2);
        assert_int_equal(calls.echo, 2);
        m = reader_message(&r, 0);
        assert_int_equal(echo_n(m), 1);
        json_object_put(m);
        m = reader_message(&r, 1);
        assert_int_equal(echo_n(m), 2);
        json_object_put(m);
        assert_int_equal(control_n_connections(f->c), 1);
}

static void test_errors(void **state) {
        Fixture *f = *state;
        _cleanup_(reader_done) Reader r = {}, r2 = {};
        _cleanup_close_ int fd = connect_pair(f);
        _cleanup_close_ int fd2 = -EBADF;
        _cleanup_free_ char *huge = NULL;
        json_object *m;

        send_call(fd, "{\"method\":\"io.orchd.Manager.Nope\"}");
        send_call(fd, "{\"method\":\"com.example.Other.Call\"}");
        read_messages(f, fd, &r, 2);
        m = reader_message(&r, 0);
        assert_string_equal(get_str(m, "error", NULL), VARLINK_ERROR_METHOD_NOT_FOUND);
        assert_string_equal(get_str(m, "parameters", "method"), "io.orchd.Manager.Nope");
        json_object_put(m);
        m = reader_message(&r, 1);
        assert_string_equal(get_str(m, "error", NULL), VARLINK_ERROR_INTERFACE_NOT_FOUND);
        json_object_put(m);

        /* A parameter the IDL does not declare for the method, and an upgrade: refused before the method
         * runs, with InvalidParameter naming them; the connection goes on. */
        send_call(fd, "{\"method\":\"" ORCH_METHOD_LIST "\",\"parameters\":{\"state\":1,\"n\":1}}");
        send_call(fd, "{\"method\":\"" ORCH_METHOD_LIST "\",\"upgrade\":true}");
        read_messages(f, fd, &r, 4);
        for (size_t k = 2; k < 4; k++) {
                m = reader_message(&r, k);
                assert_string_equal(get_str(m, "error", NULL), VARLINK_ERROR_INVALID_PARAMETER);
                assert_string_equal(get_str(m, "parameters", "parameter"), k == 2 ? "n" : "upgrade");
                json_object_put(m);
        }
        assert_int_equal(calls.echo, 0);

        /* A message over PROTOCOL_SMALL_CALL_MAX for a method that is not "large": a protocol error
         * naming the problem, then the connection is closed. */
        fd2 = connect_pair(f);
        huge = malloc(PROTOCOL_SMALL_CALL_MAX + 2);
        assert_non_null(huge);
        memset(huge, ' ', PROTOCOL_SMALL_CALL_MAX + 1);
        huge[PROTOCOL_SMALL_CALL_MAX + 1] = '\0';
        send_raw(fd2, huge, PROTOCOL_SMALL_CALL_MAX + 1); /* no NUL: more than a call may be */
        read_messages(f, fd2, &r2, 1);
        m = reader_message(&r2, 0);
        assert_string_equal(get_str(m, "error", NULL), ORCH_ERROR_PROTOCOL);
        assert_string_equal(get_str(m, "parameters", "reason"), "message too large");
        json_object_put(m);
        wait_eof(f, fd2, &r2); /* closed after the error */
        assert_int_equal(reader_count(&r2), 1);
        assert_int_equal(control_n_connections(f->c), 1);
}

/* Per connection: while its big reply is unsent, the connection's next call is not even processed. */
static void test_output_pause(void **state) {
        Fixture *f = *state;
        _cleanup_(reader_done) Reader r = {};
        _cleanup_close_ int fd = connect_pair(f);
        json_object *m;

        send_call(fd, "{\"method\":\"" ORCH_METHOD_STATUS "\"}");
        send_call(fd, "{\"method\":\"" ORCH_METHOD_LIST "\",\"parameters\":{}}");
        run_idle(f->e);
        assert_int_equal(calls.big, 1);
        assert_int_equal(calls.echo, 0); /* held back: the peer has not taken the big reply */
        read_messages(f, fd, &r, 2);     /* reading it lets the next call run */
        assert_int_equal(calls.echo, 1);
        m = reader_message(&r, 0);
        assert_int_equal(strlen(get_str(m, "parameters", "data")), BIG_REPLY_BYTES);
        json_object_put(m);
}

/* Per user: one connection's unsent reply holds back the same user's calls on another connection. */
static void test_user_budget(void **state) {
        Fixture *f = *state;
        _cleanup_(reader_done) Reader r1 = {}, r2 = {};
        _cleanup_close_ int fd1 = connect_pair(f);
        _cleanup_close_ int fd2 = connect_pair(f);

        send_call(fd1, "{\"method\":\"" ORCH_METHOD_STATUS "\"}");
        run_idle(f->e);
        assert_int_equal(calls.big, 1);
        send_call(fd2, "{\"method\":\"" ORCH_METHOD_LIST "\",\"parameters\":{}}");
        run_idle(f->e);
        assert_int_equal(calls.echo, 0); /* over the user's budget */
        read_messages(f, fd1, &r1, 1);   /* the first peer reads: the budget has room again */
        read_messages(f, fd2, &r2, 1);
        assert_int_equal(calls.echo, 1);
}

/* A held call whose peer goes away: the disconnect callback fires once and a late reply is swallowed. */
static void test_peer_closes(void **state) {
        Fixture *f = *state;
        _cleanup_(reader_done) Reader r = {};
        int fd = connect_pair(f);

        send_call(fd, "{\"method\":\"" ORCH_METHOD_WAIT "\"}");
        run_idle(f->e);
        assert_int_equal(calls.held_calls, 1);
        assert_true(control_call_is_alive(calls.held));
        safe_close(fd);
        run_idle(f->e);
        assert_int_equal(calls.disconnected, 1);
        assert_false(control_call_is_alive(calls.held));
        assert_int_equal(control_call_reply(calls.held, NULL), 0);
        assert_int_equal(control_n_connections(f->c), 0);

        /* A peer that closes in the middle of a big reply is dropped, nothing else happens. */
        fd = connect_pair(f);
        send_call(fd, "{\"method\":\"" ORCH_METHOD_STATUS "\"}");
        run_idle(f->e);
        reader_pull(&r, fd);
        assert_true(r.n > 0 && reader_count(&r) == 0); /* part of the reply */
        safe_close(fd);
        run_idle(f->e);
        assert_int_equal(control_n_connections(f->c), 0);
}

/* Replies given as the loop exits (StopNodes): control_free() hands them to the sockets without waiting for
 * a peer that does not read, and a connection held until exit stays open past it. */
static void test_reply_at_exit(void **state) {
        Fixture *f = *state;
        _cleanup_(reader_done) Reader r1 = {}, r2 = {}, r3 = {};
        _cleanup_close_ int fd1 = connect_pair(f);
        _cleanup_close_ int fd2 = connect_pair(f);
        _cleanup_close_ int fd3 = connect_pair(f);
        ControlCall *held, *plain;
        json_object *m;

        send_call(fd1, "{\"method\":\"" ORCH_METHOD_WAIT "\"}");
        run_idle(f->e);
        held = TAKE_PTR(calls.held);
        send_call(fd3, "{\"method\":\"" ORCH_METHOD_WAIT "\"}");
        run_idle(f->e);
        plain = TAKE_PTR(calls.held);
        send_call(fd2, "{\"method\":\"" ORCH_METHOD_STATUS "\"}"); /* a big reply fd2 never reads */
        run_idle(f->e);
        assert_int_equal(calls.held_calls, 2);
        assert_int_equal(calls.big, 1);

        /* The loop does not run again: only control_free() can send these. */
        assert_int_equal(control_call_hold_until_exit(held), 0);
        assert_int_equal(control_call_reply(held, NULL), 0);
        assert_int_equal(control_call_reply(plain, NULL), 0);
        f->c = control_free(f->c); /* returns although fd2 holds megabytes unread */
        control_call_unref(held);
        control_call_unref(plain);

        reader_pull(&r1, fd1);
        assert_int_equal(reader_count(&r1), 1);
        m = reader_message(&r1, 0);
        assert_null(get_str(m, "error", NULL));
        json_object_put(m);
        assert_false(r1.eof); /* held: open until the process exits */
        reader_pull(&r3, fd3);
        assert_int_equal(reader_count(&r3), 1);
        assert_true(r3.eof); /* not held: closed right after its reply */
        reader_pull(&r2, fd2);
        assert_true(r2.eof);
        assert_true(r2.n > 0 && r2.n < BIG_REPLY_BYTES); /* what the socket took, then the end */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_framing_and_dispatch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_output_pause, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_budget, setup, teardown),
                cmocka_unit_test_setup_teardown(test_peer_closes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reply_at_exit, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
