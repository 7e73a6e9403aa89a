/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for keeper-proto.c: every field type round-trips; a header that is not ours, of another
 * version, of an unknown type or whose length disagrees with the datagram is refused; every truncation of a
 * valid message is refused; hostile bodies (unterminated or NUL-carrying strings, vector counts larger than
 * the message, NULL inside a vector, a bool of 2, trailing bytes) are refused without large allocations;
 * a writer never grows past its max.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keeper-proto.h"
#include "macro.h"

static const KeeperKey KEY = { .job = UINT64_C(0x0123456789abcdef), .node = 7, .attempt = 3 };

/* A message with one field of every kind. */
static void build_sample(KeeperWriter *w) {
        char *const strv[] = { (char *) "a", (char *) "", (char *) "ccc", NULL };

        keeper_writer_init(w, KEEPER_MSG_STARTED, KEEPER_MSG_MAX);
        keeper_put_key(w, &KEY);
        keeper_put_u8(w, 200);
        keeper_put_u32(w, UINT32_MAX - 1);
        keeper_put_u64(w, UINT64_MAX);
        keeper_put_i32(w, -ENOENT);
        keeper_put_bool(w, true);
        keeper_put_str(w, NULL);
        keeper_put_str(w, "");
        keeper_put_str(w, "héllo");
        keeper_put_strv(w, strv);
        keeper_put_strv(w, NULL);
        assert_int_equal(keeper_writer_finish(w), 0);
}

/* Decode build_sample()'s body: 0 and every value checked, or the reader's error. */
static int read_sample(KeeperReader *r, bool check) {
        _cleanup_free_ char **v = NULL, **empty = NULL;
        KeeperKey k;
        uint8_t u8;
        uint32_t u32;
        uint64_t u64;
        int32_t i32;
        bool b;
        const char *s1, *s2, *s3;

        keeper_get_key(r, &k);
        u8 = keeper_get_u8(r);
        u32 = keeper_get_u32(r);
        u64 = keeper_get_u64(r);
        i32 = keeper_get_i32(r);
        b = keeper_get_bool(r);
        s1 = keeper_get_str(r);
        s2 = keeper_get_str(r);
        s3 = keeper_get_str(r);
        if (keeper_get_strv(r, &v) < 0 || keeper_get_strv(r, &empty) < 0)
                return r->error;
        if (keeper_reader_finish(r) < 0)
                return keeper_reader_finish(r);
        if (!check)
                return 0;
        assert_true(k.job == KEY.job && k.node == KEY.node && k.attempt == KEY.attempt);
        assert_int_equal(u8, 200);
        assert_int_equal(u32, UINT32_MAX - 1);
        assert_true(u64 == UINT64_MAX);
        assert_int_equal(i32, -ENOENT);
        assert_true(b);
        assert_null(s1);
        assert_string_equal(s2, "");
        assert_string_equal(s3, "héllo");
        assert_string_equal(v[0], "a");
        assert_string_equal(v[1], "");
        assert_string_equal(v[2], "ccc");
        assert_null(v[3]);
        assert_null(empty[0]);
        return 0;
}

static void test_roundtrip(void **state) {
        KeeperWriter w;
        KeeperReader r;

        build_sample(&w);
        assert_int_equal(keeper_reader_init(&r, w.buf, w.len), KEEPER_MSG_STARTED);
        assert_int_equal(read_sample(&r, true), 0);
        keeper_writer_done(&w);
        keeper_writer_done(&w); /* idempotent */
}

static void test_bare_body(void **state) {
        KeeperWriter w;
        KeeperReader r;

        keeper_writer_init_body(&w, 64);
        keeper_put_u32(&w, 42);
        keeper_put_str(&w, "x");
        assert_int_equal(keeper_writer_finish(&w), -EINVAL); /* nothing to finish without a header */
        assert_int_equal(w.len, 4 + 4 + 2);
        keeper_reader_init_body(&r, w.buf, w.len);
        assert_int_equal(keeper_get_u32(&r), 42);
        assert_string_equal(keeper_get_str(&r), "x");
        assert_int_equal(keeper_reader_finish(&r), 0);
        keeper_writer_done(&w);
}

static void test_header(void **state) {
        KeeperWriter w;
        KeeperReader r;
        uint8_t *b;
        uint16_t v16;
        uint32_t v32;

        keeper_writer_init(&w, KEEPER_MSG_KILL, KEEPER_MSG_MAX);
        keeper_put_key(&w, &KEY);
        assert_int_equal(keeper_writer_finish(&w), 0);
        b = malloc(w.len + 1);
        assert_non_null(b);

#define CHECK_MUTATED(off, value, expect)                                     \
        do {                                                                  \
                memcpy(b, w.buf, w.len);                                      \
                memcpy(b + (off), &(value), sizeof(value));                   \
                assert_int_equal(keeper_reader_init(&r, b, w.len), (expect)); \
        } while (0)

        v32 = KEEPER_PROTO_MAGIC ^ 1;
        CHECK_MUTATED(0, v32, -EBADMSG);
        v16 = KEEPER_PROTO_VERSION + 1;
        CHECK_MUTATED(4, v16, -EPROTO);
        v16 = 0;
        CHECK_MUTATED(6, v16, -EBADMSG);
        v16 = _KEEPER_MSG_MAX;
        CHECK_MUTATED(6, v16, -EBADMSG);
        v16 = UINT16_MAX;
        CHECK_MUTATED(6, v16, -EBADMSG);
        v32 = 15; /* the body is 16 bytes */
        CHECK_MUTATED(8, v32, -EBADMSG);
        v32 = 17;
        CHECK_MUTATED(8, v32, -EBADMSG);
        v32 = UINT32_MAX;
        CHECK_MUTATED(8, v32, -EBADMSG);
        v32 = 16;
        CHECK_MUTATED(8, v32, KEEPER_MSG_KILL);
#undef CHECK_MUTATED

        /* One byte more than the header says. */
        memcpy(b, w.buf, w.len);
        b[w.len] = 0;
        assert_int_equal(keeper_reader_init(&r, b, w.len + 1), -EBADMSG);
        assert_int_equal(keeper_reader_init(&r, b, 0), -EBADMSG);
        assert_int_equal(keeper_reader_init(&r, NULL, 0), -EBADMSG);
        free(b);
        keeper_writer_done(&w);
}

/* Every cut of a valid message: the header check refuses it (its length no longer matches), and a body
 * cut short at every point fails to decode. */
static void test_truncated(void **state) {
        KeeperWriter w;
        KeeperReader r;
        size_t body;

        build_sample(&w);
        for (size_t n = 0; n < w.len; n++)
                assert_true(keeper_reader_init(&r, w.buf, n) < 0);
        body = w.len - KEEPER_HEADER_SIZE;
        for (size_t n = 0; n < body; n++) {
                keeper_reader_init_body(&r, w.buf + KEEPER_HEADER_SIZE, n);
                assert_int_equal(read_sample(&r, false), -EBADMSG);
        }
        keeper_reader_init_body(&r, w.buf + KEEPER_HEADER_SIZE, body);
        assert_int_equal(read_sample(&r, true), 0);
        keeper_writer_done(&w);
}

/* Decode raw bytes as one string field. */
static const char *str_of(const void *bytes, size_t n, int *ret_error) {
        KeeperReader r;
        const char *s;

        keeper_reader_init_body(&r, bytes, n);
        s = keeper_get_str(&r);
        *ret_error = keeper_reader_finish(&r);
        return s;
}

static void test_hostile_strings(void **state) {
        /* length 3: "abc" without its NUL, with the NUL early, and whole. */
        static const uint8_t unterminated[] = { 3, 0, 0, 0, 'a', 'b', 'c', 'd' };
        static const uint8_t inner_nul[] = { 3, 0, 0, 0, 'a', 0, 'c', 0 };
        static const uint8_t good[] = { 3, 0, 0, 0, 'a', 'b', 'c', 0 };
        static const uint8_t huge[] = { 0xfe, 0xff, 0xff, 0xff, 'a', 0 };
        static const uint8_t null[] = { 0xff, 0xff, 0xff, 0xff };
        static const uint8_t trailing[] = { 3, 0, 0, 0, 'a', 'b', 'c', 0, 9 };
        int e;

        assert_null(str_of(unterminated, sizeof(unterminated), &e));
        assert_int_equal(e, -EBADMSG);
        assert_null(str_of(inner_nul, sizeof(inner_nul), &e));
        assert_int_equal(e, -EBADMSG);
        assert_null(str_of(huge, sizeof(huge), &e));
        assert_int_equal(e, -EBADMSG);
        assert_string_equal(str_of(good, sizeof(good), &e), "abc");
        assert_int_equal(e, 0);
        assert_null(str_of(null, sizeof(null), &e));
        assert_int_equal(e, 0);
        /* Trailing bytes after a good field; a length cut short. */
        assert_non_null(str_of(trailing, sizeof(trailing), &e));
        assert_int_equal(e, -EBADMSG);
        assert_null(str_of(null, 3, &e));
        assert_int_equal(e, -EBADMSG);
}

static void test_hostile_vectors(void **state) {
        /* A count of 2^20 with nothing after it: refused before any allocation of that size. */
        static const uint8_t lying[] = { 0x00, 0x00, 0x10, 0x00 };
        static const uint8_t too_many[] = { 0xff, 0xff, 0xff, 0xff };
        /* Two entries, the second NULL. */
        static const uint8_t with_null[] = { 2, 0, 0, 0, 1, 0, 0, 0, 'x', 0, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t bools[] = { 0, 1, 2 };
        char **v = NULL;
        KeeperReader r;

        keeper_reader_init_body(&r, lying, sizeof(lying));
        assert_int_equal(keeper_get_strv(&r, &v), -EBADMSG);
        keeper_reader_init_body(&r, too_many, sizeof(too_many));
        assert_int_equal(keeper_get_strv(&r, &v), -EBADMSG);
        keeper_reader_init_body(&r, with_null, sizeof(with_null));
        assert_int_equal(keeper_get_strv(&r, &v), -EBADMSG);
        assert_null(v);
        /* After a failure every read gives zero and the error stays. */
        assert_int_equal(keeper_get_u64(&r), 0);
        assert_null(keeper_get_str(&r));
        assert_int_equal(keeper_reader_finish(&r), -EBADMSG);

        keeper_reader_init_body(&r, bools, sizeof(bools));
        assert_false(keeper_get_bool(&r));
        assert_true(keeper_get_bool(&r));
        assert_int_equal(r.error, 0);
        (void) keeper_get_bool(&r);
        assert_int_equal(keeper_reader_finish(&r), -EBADMSG);

        /* Trailing bytes. */
        keeper_reader_init_body(&r, bools, sizeof(bools));
        (void) keeper_get_u8(&r);
        assert_int_equal(keeper_reader_finish(&r), -EBADMSG);
}

static void test_writer_max(void **state) {
        char big[100];
        KeeperWriter w;

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        keeper_writer_init(&w, KEEPER_MSG_OUTPUT, KEEPER_HEADER_SIZE + 64);
        keeper_put_str(&w, big);
        keeper_put_u8(&w, 1); /* after the failure: nothing */
        assert_int_equal(keeper_writer_finish(&w), -E2BIG);
        assert_true(w.len <= KEEPER_HEADER_SIZE + 64);
        keeper_writer_done(&w);

        /* Exactly at the max is fine. */
        keeper_writer_init(&w, KEEPER_MSG_OUTPUT, KEEPER_HEADER_SIZE + 16);
        keeper_put_key(&w, &KEY);
        assert_int_equal(keeper_writer_finish(&w), 0);
        assert_int_equal(w.len, KEEPER_HEADER_SIZE + 16);
        keeper_writer_done(&w);
}

static void test_type_names(void **state) {
        assert_string_equal(keeper_msg_type_to_string(KEEPER_MSG_HELLO), "hello");
        assert_string_equal(keeper_msg_type_to_string(KEEPER_MSG_ACK_END), "ack-end");
        assert_string_equal(keeper_msg_type_to_string(0), "unknown");
        assert_string_equal(keeper_msg_type_to_string(_KEEPER_MSG_MAX), "unknown");
        for (int t = 1; t < _KEEPER_MSG_MAX; t++)
                assert_string_not_equal(keeper_msg_type_to_string(t), "unknown");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_bare_body),
                cmocka_unit_test(test_header),          cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_hostile_strings), cmocka_unit_test(test_hostile_vectors),
                cmocka_unit_test(test_writer_max),      cmocka_unit_test(test_type_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
