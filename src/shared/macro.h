/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small helpers in the style of systemd's macro.h: scoped cleanup, ownership
 * transfer and fd hygiene. Public libsystemd exports none of these (except
 * sd_event_unrefp and friends), so we carry our own minimal set.
 */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _warn_unused_result_ __attribute__((warn_unused_result))

/* assert() that still evaluates its expression under NDEBUG. */
#define assert_se(expr)                                                     \
        do {                                                                \
                if (_unlikely_(!(expr)))                                    \
                        __assert_fail(#expr, __FILE__, __LINE__, __func__); \
        } while (0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

/* Hand a pointer/fd over to a new owner: returns the value and clears the source. */
#define TAKE_PTR(p)                            \
        ({                                     \
                __typeof__(p) _take_tmp = (p); \
                (p) = NULL;                    \
                _take_tmp;                     \
        })
#define TAKE_FD(fd)                  \
        ({                           \
                int _take_fd = (fd); \
                (fd) = -EBADF;       \
                _take_fd;            \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p) {   \
                if (*p)                         \
                        *p = func(*p);          \
        }

/* Close fd if valid; preserves errno so it is safe on error paths. Returns -EBADF. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

/* free() that returns NULL, for "p = mfree(p);". */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* malloc'd copy of n bytes, or NULL (also for n == 0). */
static inline void *memdup(const void *p, size_t n) {
        void *q = n > 0 ? malloc(n) : NULL;

        return q ? memcpy(q, p, n) : NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Free a NULL-terminated array of strings and the array itself. Returns NULL. */
static inline char **strv_free(char **l) {
        if (l)
                for (char **i = l; *i; i++)
                        free(*i);
        free(l);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define isempty(s) (!(s) || (s)[0] == '\0')
#define strna(s) ((s) ?: "n/a")

/* qsort() comparators for arrays of unsigned integers, ascending. */
static inline int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

static inline int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}
