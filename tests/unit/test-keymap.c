/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for keymap.c: put/get/remove against a plain array that is searched linearly, over a long
 * random sequence that grows the table many times and deletes inside collision runs (the backward shift);
 * duplicate keys, NULL values, an empty map, and keys that differ in one field only.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "keymap.h"
#include "macro.h"

static void test_empty(void **state) {
        KeyMap m = KEYMAP_INIT;
        KeeperKey k = { 1, 2, 3 };

        assert_null(keymap_get(&m, &k));
        assert_null(keymap_remove(&m, &k));
        assert_int_equal(keymap_size(&m), 0);
        keymap_done(&m);
}

static void test_put_get_remove(void **state) {
        KeyMap m = KEYMAP_INIT;
        int a, b, c;
        KeeperKey ka = { 7, 0, 1 }, kb = { 7, 0, 2 }, kc = { 7, 1, 1 }, kd = { 8, 0, 1 };

        assert_int_equal(keymap_put(&m, &ka, &a), 0);
        assert_int_equal(keymap_put(&m, &kb, &b), 0);
        assert_int_equal(keymap_put(&m, &kc, &c), 0);
        assert_int_equal(keymap_put(&m, &ka, &b), -EEXIST);
        assert_int_equal(keymap_put(&m, &kd, NULL), -EINVAL);
        assert_int_equal(keymap_size(&m), 3);
        /* Keys that differ in one field only are different keys. */
        assert_ptr_equal(keymap_get(&m, &ka), &a);
        assert_ptr_equal(keymap_get(&m, &kb), &b);
        assert_ptr_equal(keymap_get(&m, &kc), &c);
        assert_null(keymap_get(&m, &kd));
        assert_ptr_equal(keymap_remove(&m, &kb), &b);
        assert_null(keymap_remove(&m, &kb));
        assert_null(keymap_get(&m, &kb));
        assert_ptr_equal(keymap_get(&m, &ka), &a);
        assert_int_equal(keymap_size(&m), 2);
        keymap_done(&m);
        assert_int_equal(keymap_size(&m), 0);
        assert_null(keymap_get(&m, &ka));
}

#define N_KEYS 3000U

/* A random walk of puts and removes over a key space small enough to hit the same keys again, checked
 * after every step against a linear array; the values are the addresses of the array's own slots. */
static void test_random_against_array(void **state) {
        static bool present[N_KEYS];
        static int values[N_KEYS];
        KeyMap m = KEYMAP_INIT;
        size_t n = 0;

        srand(12345);
        for (unsigned step = 0; step < 200000; step++) {
                unsigned i = (unsigned) rand() % N_KEYS;
                /* Dense keys, as real ones are: a few jobs, nodes 0…, attempts 1…3. */
                KeeperKey k = { .job = 1 + i / 300, .node = (i % 300) / 3, .attempt = 1 + i % 3 };
                bool grow = step < 100000 ? rand() % 4 != 0 : rand() % 4 == 0;

                if (grow) {
                        int r = keymap_put(&m, &k, &values[i]);

                        assert_int_equal(r, present[i] ? -EEXIST : 0);
                        if (!present[i])
                                n++;
                        present[i] = true;
                } else {
                        assert_ptr_equal(keymap_remove(&m, &k), present[i] ? &values[i] : NULL);
                        if (present[i])
                                n--;
                        present[i] = false;
                }
                assert_int_equal(keymap_size(&m), n);
                if (step % 997 == 0)
                        for (unsigned j = 0; j < N_KEYS; j++) {
                                KeeperKey kj = { .job = 1 + j / 300,
                                                 .node = (j % 300) / 3,
                                                 .attempt = 1 + j % 3 };

                                assert_ptr_equal(keymap_get(&m, &kj), present[j] ? &values[j] : NULL);
                        }
        }
        keymap_done(&m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_put_get_remove),
                cmocka_unit_test(test_random_against_array),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
