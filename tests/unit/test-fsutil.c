/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for fsutil.c. Fault injection uses link-time wrapping (see Makefile.am):
 *   -Wl,--wrap=fsync -Wl,--wrap=renameat -Wl,--wrap=write -Wl,--wrap=close -Wl,--wrap=fstatat
 * Each wrapper passes through to the real call unless the test armed a fault for it. Every test works in
 * its own mkdtemp directory.
 */

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "fsutil.h"
#include "macro.h"

/* ---- fault injection -------------------------------------------------------------------------------- */

typedef struct Faults {
        int fsync_file;        /* errno for the next fsync() of a non-directory, 0 = none */
        int fsync_dir;         /* errno for the next fsync() of a directory */
        int write;             /* errno for the next write() */
        int close;             /* errno for the next close() (the fd is really closed, as on Linux) */
        int renameat;          /* errno for the next renameat() */
        bool write_short;      /* write at most one byte per call */
        bool write_eintr_once; /* fail the next write() with EINTR */
        /* Called once after the next fstatat(), to swap the file between lstat and open. */
        void (*after_fstatat)(int dir_fd, const char *name);
} Faults;

static Faults faults;

int __real_fsync(int fd);
int __wrap_fsync(int fd);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __real_close(int fd);
int __wrap_close(int fd);
int __real_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __real_fstatat(int dirfd, const char *path, struct stat *st, int flags);
int __wrap_fstatat(int dirfd, const char *path, struct stat *st, int flags);

static int take_fault(int *slot) {
        int e = *slot;
        *slot = 0;
        return e;
}

int __wrap_fsync(int fd) {
        struct stat st;
        int e;

        if (fstat(fd, &st) < 0)
                return -1;
        e = take_fault(S_ISDIR(st.st_mode) ? &faults.fsync_dir : &faults.fsync_file);
        if (e != 0) {
                errno = e;
                return -1;
        }
        return __real_fsync(fd);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n) {
        int e = take_fault(&faults.write);

        if (e != 0) {
                errno = e;
                return -1;
        }
        if (faults.write_eintr_once) {
                faults.write_eintr_once = false;
                errno = EINTR;
                return -1;
        }
        return __real_write(fd, buf, faults.write_short ? MIN(n, (size_t) 1) : n);
}

int __wrap_close(int fd) {
        int e = take_fault(&faults.close);

        if (e != 0) {
                (void) __real_close(fd);
                errno = e;
                return -1;
        }
        return __real_close(fd);
}

int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
        int e = take_fault(&faults.renameat);

        if (e != 0) {
                errno = e;
                return -1;
        }
        return __real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

int __wrap_fstatat(int dirfd, const char *path, struct stat *st, int flags) {
        int r = __real_fstatat(dirfd, path, st, flags);
        void (*hook)(int, const char *) = faults.after_fstatat;

        if (hook) {
                faults.after_fstatat = NULL;
                hook(dirfd, path);
        }
        return r;
}

/* ---- helpers ---------------------------------------------------------------------------------------- */

typedef struct Fixture {
        char path[TEST_TMPDIR_MAX];
        int dir_fd;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->dir_fd = test_tmpdir(f->path, "test-fsutil");
        faults = (Faults){};
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        faults = (Faults){};
        (void) close(f->dir_fd);
        /* Independent of the code under test, so a broken rm_rf_at cannot hide leftovers. */
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->path);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void put_file(int dir_fd, const char *name, const char *content) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(__real_write(fd, content, strlen(content)), (ssize_t) strlen(content));
        assert_int_equal(__real_close(fd), 0);
}

static void put_sized_file(int dir_fd, const char *name, size_t size) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) size), 0);
        assert_int_equal(__real_close(fd), 0);
}

/* Content of dir_fd/name; the caller frees. */
static char *get_file(int dir_fd, const char *name) {
        char *buf = NULL;
        int r = read_file_at(dir_fd, name, 1 << 20, &buf, NULL);

        if (r < 0)
                fail_msg("reading %s: got %d, want 0", name, r);
        return buf;
}

/* Number of entries in dir_fd whose name starts with ".#". */
static unsigned count_temp_files(int dir_fd) {
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        unsigned n = 0;
        struct dirent *de;
        DIR *d;

        assert_true(fd >= 0);
        d = fdopendir(fd);
        assert_non_null(d);
        while ((de = readdir(d)))
                if (strneq(de->d_name, ".#", 2))
                        n++;
        (void) closedir(d);
        return n;
}

#define CHECK_INT(what, got, want)                                           \
        do {                                                                 \
                long long _g = (got), _w = (want);                           \
                if (_g != _w)                                                \
                        fail_msg("%s: got %lld, want %lld", (what), _g, _w); \
        } while (0)

#define CHECK_STR(what, got, want)                                                                       \
        do {                                                                                             \
                const char *_g = (got), *_w = (want);                                                    \
                if (!(_g == _w || (_g && _w && streq(_g, _w))))                                          \
                        fail_msg("%s: got \"%s\", want \"%s\"", (what), _g ?: "(null)", _w ?: "(null)"); \
        } while (0)

/* ---- write_file_atomic_at ------------------------------------------------------------------------- */

static void test_atomic_write_ok(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *got = NULL;
        struct stat st;

        CHECK_INT("first write", write_file_atomic_at(f->dir_fd, "state.json", "old", 3), 0);
        CHECK_INT("replace", write_file_atomic_at(f->dir_fd, "state.json", "new content", 11), 0);
        got = get_file(f->dir_fd, "state.json");
        CHECK_STR("content", got, "new content");
        assert_int_equal(fstatat(f->dir_fd, "state.json", &st, AT_SYMLINK_NOFOLLOW), 0);
        CHECK_INT("mode", st.st_mode & 0777, 0640 & ~0022 & 0777);
        CHECK_INT("temp files", count_temp_files(f->dir_fd), 0);

        /* Empty content is a valid file too. */
        CHECK_INT("empty write", write_file_atomic_at(f->dir_fd, "empty", "", 0), 0);
        assert_int_equal(fstatat(f->dir_fd, "empty", &st, 0), 0);
        CHECK_INT("empty size", st.st_size, 0);
}

static void test_atomic_write_faults(void **state) {
        static const struct {
                const char *name;
                Faults faults;
                int want_r;
                const char *want_content; /* of "f" afterwards */
        } table[] = {
                { "EIO from fsync of the file", { .fsync_file = EIO }, -EIO, "old" },
                { "ENOSPC from write", { .write = ENOSPC }, -ENOSPC, "old" },
                { "EIO from close", { .close = EIO }, -EIO, "old" },
                { "EXDEV from renameat", { .renameat = EXDEV }, -EXDEV, "old" },
                /* After the rename nothing can be undone: the error is reported, the new data is there. */
                { "EIO from fsync of the directory", { .fsync_dir = EIO }, -EIO, "new" },
                { "no fault", {}, 0, "new" },
        };
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *got = NULL;
                int r;

                put_file(f->dir_fd, "f", "old");
                faults = table[i].faults;
                r = write_file_atomic_at(f->dir_fd, "f", "new", 3);
                faults = (Faults){};

                if (r != table[i].want_r)
                        fail_msg("%s: got r=%d, want %d", table[i].name, r, table[i].want_r);
                got = get_file(f->dir_fd, "f");
                if (!streq(got, table[i].want_content))
                        fail_msg("%s: got content \"%s\", want \"%s\"", table[i].name, got,
                                 table[i].want_content);
                if (count_temp_files(f->dir_fd) != 0)
                        fail_msg("%s: got %u temp files, want 0", table[i].name,
                                 count_temp_files(f->dir_fd));
        }
}

static void test_atomic_write_missing_dir_target(void **state) {
        Fixture *f = *state;

        /* A name in a missing subdirectory fails at open, and nothing is created. */
        CHECK_INT("missing dir", write_file_atomic_at(f->dir_fd, "nodir/x", "a", 1), -ENOENT);
        CHECK_INT("temp files", count_temp_files(f->dir_fd), 0);
}

typedef struct ThreadArg {
        int dir_fd;
        char byte;
        int failures;
} ThreadArg;

static void *writer_thread(void *p) {
        ThreadArg *a = p;
        char buf[64];

        memset(buf, a->byte, sizeof(buf));
        for (int i = 0; i < 100; i++)
                if (write_file_atomic_at(a->dir_fd, "shared", buf, sizeof(buf)) < 0)
                        a->failures++;
        return NULL;
}

static void test_atomic_write_threads(void **state) {
        Fixture *f = *state;
        ThreadArg a = { f->dir_fd, 'a', 0 }, b = { f->dir_fd, 'b', 0 };
        _cleanup_free_ char *got = NULL;
        pthread_t ta, tb;

        /* Two threads of one process replacing the same name must not collide on the temp name. */
        assert_int_equal(pthread_create(&ta, NULL, writer_thread, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, writer_thread, &b), 0);
        assert_int_equal(pthread_join(ta, NULL), 0);
        assert_int_equal(pthread_join(tb, NULL), 0);
        CHECK_INT("thread a failures", a.failures, 0);
        CHECK_INT("thread b failures", b.failures, 0);
        got = get_file(f->dir_fd, "shared");
        CHECK_INT("length", strlen(got), 64);
        for (size_t i = 1; i < 64; i++)
                if (got[i] != got[0])
                        fail_msg("torn content at byte %zu: got '%c', want '%c'", i, got[i], got[0]);
        CHECK_INT("temp files", count_temp_files(f->dir_fd), 0);
}

/* ---- loop_write / read_full_fd ---------------------------------------------------------------------- */

static void test_loop_write_short_and_eintr(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *got = NULL;
        char buf[1000];
        int fd;

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (char) ('a' + i % 26);
        fd = openat(f->dir_fd, "lw", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        faults.write_short = true;
        faults.write_eintr_once = true;
        CHECK_INT("loop_write", loop_write(fd, buf, sizeof(buf)), 0);
        faults.write_short = false;
        faults.write = ENOSPC;
        CHECK_INT("loop_write ENOSPC", loop_write(fd, "x", 1), -ENOSPC);
        assert_int_equal(__real_close(fd), 0);

        got = get_file(f->dir_fd, "lw");
        CHECK_INT("length", strlen(got), sizeof(buf));
        assert_memory_equal(got, buf, sizeof(buf));
}

static void test_read_full_fd_limits(void **state) {
        static const struct {
                size_t size, max;
                int want_r;
        } table[] = {
                { 0, 0, 0 },           { 0, 10, 0 },
                { 1, 0, -EFBIG },      { 5, 5, 0 },
                { 6, 5, -EFBIG },      { 4095, 4096, 0 },
                { 4096, 4096, 0 },     { 4097, 4096, -EFBIG },
                { 100000, 100000, 0 }, { 100001, 100000, -EFBIG },
                { 10, SIZE_MAX, 0 },
        };
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *buf = NULL;
                size_t size = SIZE_MAX;
                int fd, r;

                put_sized_file(f->dir_fd, "r", table[i].size);
                fd = openat(f->dir_fd, "r", O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                r = read_full_fd(fd, table[i].max, &buf, &size);
                assert_int_equal(__real_close(fd), 0);
                if (r != table[i].want_r)
                        fail_msg("size %zu max %zu: got r=%d, want %d", table[i].size, table[i].max, r,
                                 table[i].want_r);
                if (r < 0) {
                        if (buf)
                                fail_msg("size %zu: got a buffer on failure, want none", table[i].size);
                        continue;
                }
                if (size != table[i].size)
                        fail_msg("size %zu: got size %zu, want %zu", table[i].size, size, table[i].size);
                if (buf[size] != '\0')
                        fail_msg("size %zu: buffer not NUL-terminated", table[i].size);
        }
}

typedef struct PipeArg {
        int fd;
        size_t n;
} PipeArg;

static void *pipe_writer(void *p) {
        PipeArg *a = p;
        char chunk[4096];

        memset(chunk, 'p', sizeof(chunk));
        for (size_t done = 0; done < a->n;) {
                ssize_t k = __real_write(a->fd, chunk, MIN(sizeof(chunk), a->n - done));
                if (k <= 0)
                        break; /* reader gave up (EPIPE): that is what -EFBIG means */
                done += (size_t) k;
        }
        (void) __real_close(a->fd);
        return NULL;
}

static void test_read_full_fd_pipe(void **state) {
        static const struct {
                size_t n, max;
                int want_r;
        } table[] = {
                { 200000, 300000, 0 },
                { 200000, 200000, 0 },
                { 200000, 199999, -EFBIG },
                { 0, 10, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *buf = NULL;
                size_t size = 0;
                pthread_t t;
                int p[2], r;

                /* A pipe has no size to preallocate from: this exercises the growth path. */
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                PipeArg a = { p[1], table[i].n };
                assert_int_equal(pthread_create(&t, NULL, pipe_writer, &a), 0);
                r = read_full_fd(p[0], table[i].max, &buf, &size);
                assert_int_equal(__real_close(p[0]), 0);
                assert_int_equal(pthread_join(t, NULL), 0);
                if (r != table[i].want_r)
                        fail_msg("pipe %zu max %zu: got r=%d, want %d", table[i].n, table[i].max, r,
                                 table[i].want_r);
                if (r >= 0 && size != table[i].n)
                        fail_msg("pipe %zu: got size %zu, want %zu", table[i].n, size, table[i].n);
        }
}

static void test_read_file_at_refuses_symlink(void **state) {
        Fixture *f = *state;
        char *buf = NULL;

        put_file(f->dir_fd, "target", "x");
        assert_int_equal(symlinkat("target", f->dir_fd, "link"), 0);
        CHECK_INT("symlink", read_file_at(f->dir_fd, "link", 100, &buf, NULL), -ELOOP);
        CHECK_INT("missing", read_file_at(f->dir_fd, "missing", 100, &buf, NULL), -ENOENT);
        assert_null(buf);
}

/* ---- open_foreign_file ------------------------------------------------------------------------------ */

typedef enum Kind {
        KIND_REGULAR,
        KIND_MISSING,
        KIND_SYMLINK,
        KIND_DANGLING_SYMLINK,
        KIND_DIRECTORY,
        KIND_FIFO,
        KIND_SOCKET,
        KIND_HARDLINK,
        KIND_GROUP_WRITABLE,
        KIND_WORLD_WRITABLE,
        KIND_CHAR_DEVICE,
        KIND_BLOCK_DEVICE,
} Kind;

/* Create "x" of the given kind (content of regular files: size bytes). Returns false to skip the row. */
static bool make_entry(Fixture *f, Kind kind, size_t size) {
        switch (kind) {
        case KIND_REGULAR:
        case KIND_HARDLINK:
                put_sized_file(f->dir_fd, "x", size);
                if (kind == KIND_HARDLINK)
                        assert_int_equal(linkat(f->dir_fd, "x", f->dir_fd, "x2", 0), 0);
                return true;
        case KIND_GROUP_WRITABLE:
        case KIND_WORLD_WRITABLE:
                put_sized_file(f->dir_fd, "x", size);
                assert_int_equal(fchmodat(f->dir_fd, "x", kind == KIND_GROUP_WRITABLE ? 0664 : 0646, 0), 0);
                return true;
        case KIND_MISSING:
                return true;
        case KIND_SYMLINK:
                put_sized_file(f->dir_fd, "target", size);
                assert_int_equal(symlinkat("target", f->dir_fd, "x"), 0);
                return true;
        case KIND_DANGLING_SYMLINK:
                assert_int_equal(symlinkat("nowhere", f->dir_fd, "x"), 0);
                return true;
        case KIND_DIRECTORY:
                assert_int_equal(mkdirat(f->dir_fd, "x", 0755), 0);
                return true;
        case KIND_FIFO:
                assert_int_equal(mkfifoat(f->dir_fd, "x", 0644), 0);
                return true;
        case KIND_SOCKET: {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

                assert_true(s >= 0);
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/x", f->path);
                assert_int_equal(bind(s, (struct sockaddr *) &sa, sizeof(sa)), 0);
                assert_int_equal(__real_close(s), 0);
                return true;
        }
        case KIND_CHAR_DEVICE:
        case KIND_BLOCK_DEVICE:
                if (mknodat(f->dir_fd, "x", (kind == KIND_CHAR_DEVICE ? S_IFCHR : S_IFBLK) | 0600,
                            kind == KIND_CHAR_DEVICE ? makedev(1, 3) : makedev(7, 0)) < 0) {
                        print_message("skipping %s row: mknod: %s\n",
                                      kind == KIND_CHAR_DEVICE ? "character device" : "block device",
                                      strerror(errno));
                        return false;
                }
                return true;
        }
        return false;
}

static void test_open_foreign_file(void **state) {
        static const struct {
                const char *name;
                Kind kind;
                size_t size;
                uint64_t max;
                int want_r;
                const char *want_reason;
        } table[] = {
                { "regular", KIND_REGULAR, 10, 100, 0, NULL },
                { "regular at limit", KIND_REGULAR, 10, 10, 0, NULL },
                { "empty", KIND_REGULAR, 0, 10, 0, NULL },
                { "oversize", KIND_REGULAR, 5242880, 4194304, -EPERM,
                  "is 5242880 bytes, over the 4194304 byte limit" },
                { "missing", KIND_MISSING, 0, 10, -ENOENT, NULL },
                { "symlink", KIND_SYMLINK, 1, 10, -EPERM, "is a symbolic link" },
                { "dangling symlink", KIND_DANGLING_SYMLINK, 0, 10, -EPERM, "is a symbolic link" },
                { "directory", KIND_DIRECTORY, 0, 1 << 20, -EPERM, "is a directory" },
                { "fifo", KIND_FIFO, 0, 10, -EPERM, "is a FIFO" },
                { "socket", KIND_SOCKET, 0, 10, -EPERM, "is a socket" },
                { "hard link", KIND_HARDLINK, 1, 10, -EPERM,
                  "has 2 hard links: whoever can reach the file by another link could change what runs as "
                  "you; "
                  "drop a copy with a single link (cp, not ln), or use orchctl submit" },
                { "group-writable", KIND_GROUP_WRITABLE, 1, 10, -EPERM,
                  "is group-writable (mode 0664): another user who can write it could make it run as you; "
                  "chmod go-w it before renaming it into new/ (or write it with umask 022), or use orchctl "
                  "submit" },
                { "world-writable", KIND_WORLD_WRITABLE, 1, 10, -EPERM,
                  "is world-writable (mode 0646): another user who can write it could make it run as you; "
                  "chmod go-w it before renaming it into new/ (or write it with umask 022), or use orchctl "
                  "submit" },
                { "character device", KIND_CHAR_DEVICE, 0, 10, -EPERM, "is a character device" },
                { "block device", KIND_BLOCK_DEVICE, 0, 10, -EPERM, "is a block device" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *reason = NULL;
                Fixture *f;
                struct stat st;
                int fd = -EBADF, r;

                assert_int_equal(setup((void **) &f), 0);
                if (!make_entry(f, table[i].kind, table[i].size)) {
                        assert_int_equal(teardown((void **) &f), 0);
                        continue;
                }
                r = open_foreign_file(f->dir_fd, "x", table[i].max, &fd, &st, &reason);
                if (r != table[i].want_r)
                        fail_msg("%s: got r=%d, want %d", table[i].name, r, table[i].want_r);
                if (!(reason == table[i].want_reason ||
                      (reason && table[i].want_reason && streq(reason, table[i].want_reason))))
                        fail_msg("%s: got reason \"%s\", want \"%s\"", table[i].name, strna(reason),
                                 strna(table[i].want_reason));
                if (r >= 0) {
                        int flags = fcntl(fd, F_GETFL);

                        if (flags < 0 || (flags & O_NONBLOCK) || (flags & O_ACCMODE) != O_RDONLY)
                                fail_msg("%s: got fd flags %#x, want O_RDONLY without O_NONBLOCK",
                                         table[i].name, (unsigned) flags);
                        if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
                                fail_msg("%s: got fd without FD_CLOEXEC", table[i].name);
                        if ((size_t) st.st_size != table[i].size)
                                fail_msg("%s: got st_size %jd, want %zu", table[i].name,
                                         (intmax_t) st.st_size, table[i].size);
                        assert_int_equal(__real_close(fd), 0);
                } else if (fd != -EBADF)
                        fail_msg("%s: got fd %d on failure, want untouched", table[i].name, fd);
                assert_int_equal(teardown((void **) &f), 0);
        }
}

static void swap_in_other_file(int dir_fd, const char *name) {
        put_file(dir_fd, "other", "evil");
        assert_int_equal(__real_renameat(dir_fd, "other", dir_fd, name), 0);
}

static void swap_in_symlink(int dir_fd, const char *name) {
        assert_int_equal(unlinkat(dir_fd, name, 0), 0);
        assert_int_equal(symlinkat("/etc/passwd", dir_fd, name), 0);
}

static void make_group_writable(int dir_fd, const char *name) {
        assert_int_equal(fchmodat(dir_fd, name, 0660, 0), 0);
}

/* The mode is judged again on the open fd: a chmod g+w between the lstat and the open is caught. */
static void test_open_foreign_file_chmod_race(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *reason = NULL;
        int fd = -EBADF, r;

        put_file(f->dir_fd, "x", "good");
        assert_int_equal(fchmodat(f->dir_fd, "x", 0600, 0), 0);
        faults.after_fstatat = make_group_writable;
        r = open_foreign_file(f->dir_fd, "x", 100, &fd, NULL, &reason);
        if (faults.after_fstatat)
                fail_msg("the hook did not run (is -Wl,--wrap=fstatat missing?)");
        CHECK_INT("chmod g+w after lstat", r, -EPERM);
        assert_non_null(reason);
        if (!strstr(reason, "is group-writable (mode 0660)"))
                fail_msg("got reason \"%s\", want it to say \"is group-writable (mode 0660)\"", reason);
        CHECK_INT("fd", fd, -EBADF);
}

static void test_open_foreign_file_swapped(void **state) {
        static const struct {
                const char *name;
                void (*hook)(int dir_fd, const char *name);
        } table[] = {
                { "replaced by another file", swap_in_other_file },
                { "replaced by a symlink", swap_in_symlink },
        };
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *reason = NULL;
                int fd = -EBADF, r;

                (void) unlinkat(f->dir_fd, "x", 0);
                put_file(f->dir_fd, "x", "good");
                faults.after_fstatat = table[i].hook;
                r = open_foreign_file(f->dir_fd, "x", 100, &fd, NULL, &reason);
                if (faults.after_fstatat)
                        fail_msg("%s: the hook did not run (is -Wl,--wrap=fstatat missing?)", table[i].name);
                CHECK_INT(table[i].name, r, -EPERM);
                CHECK_STR(table[i].name, reason, "changed while being opened");
                CHECK_INT("fd", fd, -EBADF);
        }
}

/* ---- rename_noreplace, open_dir_at, rm_rf_at -------------------------------------------------------- */

static void test_rename_noreplace(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *a = NULL, *b = NULL;

        put_file(f->dir_fd, "a", "A");
        put_file(f->dir_fd, "b", "B");
        CHECK_INT("onto existing", rename_noreplace(f->dir_fd, "a", f->dir_fd, "b"), -EEXIST);
        a = get_file(f->dir_fd, "a");
        b = get_file(f->dir_fd, "b");
        CHECK_STR("a intact", a, "A");
        CHECK_STR("b intact", b, "B");
        CHECK_INT("onto free name", rename_noreplace(f->dir_fd, "a", f->dir_fd, "c"), 0);
        CHECK_INT("source gone", faccessat(f->dir_fd, "a", F_OK, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0,
                  ENOENT);
        CHECK_INT("missing source", rename_noreplace(f->dir_fd, "a", f->dir_fd, "d"), -ENOENT);
}

static void test_open_dir_at(void **state) {
        Fixture *f = *state;
        struct stat st;
        int fd, r;

        fd = open_dir_at(f->dir_fd, "d", 0750);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        CHECK_INT("mode", st.st_mode & 0777, 0750 & ~0022);
        assert_int_equal(__real_close(fd), 0);

        fd = open_dir_at(f->dir_fd, "d", 0750); /* existing is fine */
        assert_true(fd >= 0);
        assert_int_equal(__real_close(fd), 0);

        assert_int_equal(symlinkat("d", f->dir_fd, "link"), 0);
        r = open_dir_at(f->dir_fd, "link", 0750);
        if (r != -ELOOP && r != -ENOTDIR)
                fail_msg("symlink to dir: got %d, want -ELOOP or -ENOTDIR", r);

        put_file(f->dir_fd, "file", "x");
        CHECK_INT("regular file", open_dir_at(f->dir_fd, "file", 0750), -ENOTDIR);
        CHECK_INT("missing parent", open_dir_at(f->dir_fd, "no/such", 0750), -ENOENT);
}

static void test_dir_check_safe(void **state) {
        Fixture *f = *state;
        DirPolicy check = { .mode = 0755 }, set = { .mode = 01733, .enforce = true, .group = (gid_t) -1 };
        char *why = NULL;
        struct stat st;
        int fd = open_dir_at(f->dir_fd, "d", 0755);

        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, 0755), 0);
        CHECK_INT("ours, 0755", dir_check_safe(fd, geteuid(), &check, &why), 0);
        assert_null(why);

        assert_int_equal(fchmod(fd, 0775), 0);
        CHECK_INT("group writable", dir_check_safe(fd, geteuid(), &check, &why), -EPERM);
        assert_string_equal(why, "is writable by group or others (mode 0775)");
        why = mfree(why);
        assert_int_equal(fchmod(fd, 01777), 0);
        CHECK_INT("world writable, even sticky", dir_check_safe(fd, geteuid(), &check, &why), -EPERM);
        why = mfree(why);

        CHECK_INT("someone else's", dir_check_safe(fd, geteuid() + 1, &check, &why), -EPERM);
        assert_non_null(strstr(why, "not by orchd's uid"));
        why = mfree(why);

        /* enforce: the mode is set, sticky bit included. */
        CHECK_INT("enforced", dir_check_safe(fd, geteuid(), &set, &why), 0);
        assert_int_equal(fstat(fd, &st), 0);
        CHECK_INT("mode set", st.st_mode & 07777, 01733);
        assert_int_equal(__real_close(fd), 0);
}

static void make_chain(int dir_fd, const char *top, unsigned depth) {
        int fd = open_dir_at(dir_fd, top, 0755);

        assert_true(fd >= 0);
        for (unsigned i = 0; i < depth; i++) {
                int sub = open_dir_at(fd, "d", 0755);
                assert_true(sub >= 0);
                assert_int_equal(__real_close(fd), 0);
                fd = sub;
        }
        put_file(fd, "leaf", "x");
        assert_int_equal(__real_close(fd), 0);
}

/* A budget of entries ends the removal of a tree that is too big (or still being filled): -E2BIG, the
 * directory is still there; with enough budget it all goes. Nested entries count too. */
static void test_rm_rf_bounded_at(void **state) {
        Fixture *f = *state;
        char name[16];
        int t, sub;

        t = open_dir_at(f->dir_fd, "big", 0755);
        assert_true(t >= 0);
        for (int i = 0; i < 10; i++) {
                snprintf(name, sizeof(name), "f%d", i);
                put_file(t, name, "x");
        }
        sub = open_dir_at(t, "sub", 0755);
        assert_true(sub >= 0);
        for (int i = 0; i < 10; i++) {
                snprintf(name, sizeof(name), "g%d", i);
                put_file(sub, name, "y");
        }
        assert_int_equal(__real_close(sub), 0);
        assert_int_equal(__real_close(t), 0);

        CHECK_INT("budget 5", rm_rf_bounded_at(f->dir_fd, "big", 5), -E2BIG);
        CHECK_INT("still there", faccessat(f->dir_fd, "big", F_OK, AT_SYMLINK_NOFOLLOW), 0);
        CHECK_INT("budget 15 (21 entries left at most)", rm_rf_bounded_at(f->dir_fd, "big", 15), -E2BIG);
        CHECK_INT("enough budget", rm_rf_bounded_at(f->dir_fd, "big", 100), 0);
        CHECK_INT("gone", faccessat(f->dir_fd, "big", F_OK, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0, ENOENT);
        put_file(f->dir_fd, "plain", "x");
        CHECK_INT("a file costs nothing", rm_rf_bounded_at(f->dir_fd, "plain", 0), 0);
}

static void test_rm_rf_at(void **state) {
        Fixture *f = *state;
        int t, sub;

        /* outside/keep must survive: the tree holds a symlink to outside. */
        assert_int_equal(mkdirat(f->dir_fd, "outside", 0755), 0);
        put_file(f->dir_fd, "outside/keep", "keep");

        t = open_dir_at(f->dir_fd, "tree", 0755);
        assert_true(t >= 0);
        put_file(t, "file", "x");
        assert_int_equal(mkfifoat(t, "fifo", 0644), 0);
        assert_int_equal(symlinkat("../outside", t, "link-to-outside"), 0);
        sub = open_dir_at(t, "sub", 0755);
        assert_true(sub >= 0);
        put_file(sub, "inner", "y");
        int empty = open_dir_at(sub, "empty", 0755);
        assert_true(empty >= 0);
        assert_int_equal(__real_close(empty), 0);
        assert_int_equal(__real_close(sub), 0);
        assert_int_equal(__real_close(t), 0);

        CHECK_INT("rm tree", rm_rf_at(f->dir_fd, "tree"), 0);
        CHECK_INT("tree gone", faccessat(f->dir_fd, "tree", F_OK, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0,
                  ENOENT);
        CHECK_INT("outside kept", faccessat(f->dir_fd, "outside/keep", F_OK, 0), 0);

        /* A symlink to a directory is removed as a link, its target untouched. */
        assert_int_equal(symlinkat("outside", f->dir_fd, "dirlink"), 0);
        CHECK_INT("rm dir symlink", rm_rf_at(f->dir_fd, "dirlink"), 0);
        CHECK_INT("outside kept", faccessat(f->dir_fd, "outside/keep", F_OK, 0), 0);

        put_file(f->dir_fd, "plain", "x");
        CHECK_INT("rm plain file", rm_rf_at(f->dir_fd, "plain"), 0);
        CHECK_INT("rm missing", rm_rf_at(f->dir_fd, "plain"), -ENOENT);

        make_chain(f->dir_fd, "deep-ok", 60);
        CHECK_INT("rm 60 levels", rm_rf_at(f->dir_fd, "deep-ok"), 0);
        make_chain(f->dir_fd, "too-deep", 100);
        CHECK_INT("rm 100 levels", rm_rf_at(f->dir_fd, "too-deep"), -ELOOP);
}

/* probe_write_at: writes and removes its file; a fault of any step is reported and leaves nothing behind. */
static void test_probe_write(void **state) {
        static const struct {
                const char *name;
                Faults faults;
                int want_r;
        } table[] = {
                { "no fault", {}, 0 },
                { "ENOSPC from write", { .write = ENOSPC }, -ENOSPC },
                { "EDQUOT from write", { .write = EDQUOT }, -EDQUOT },
                { "ENOSPC from fsync", { .fsync_file = ENOSPC }, -ENOSPC },
                { "EIO from close", { .close = EIO }, -EIO },
        };
        Fixture *f = *state;
        struct stat st;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                int r;

                faults = table[i].faults;
                r = probe_write_at(f->dir_fd, ".#probe", 65536);
                faults = (Faults){};
                if (r != table[i].want_r)
                        fail_msg("%s: got r=%d, want %d", table[i].name, r, table[i].want_r);
                if (fstatat(f->dir_fd, ".#probe", &st, AT_SYMLINK_NOFOLLOW) == 0)
                        fail_msg("%s: got the probe file left behind, want it removed", table[i].name);
        }
}

static void test_fsync_dir(void **state) {
        Fixture *f = *state;

        CHECK_INT("fsync_dir", fsync_dir(f->dir_fd), 0);
        faults.fsync_dir = EIO;
        CHECK_INT("fsync_dir EIO", fsync_dir(f->dir_fd), -EIO);
        CHECK_INT("fsync_dir bad fd", fsync_dir(-1), -EBADF);
}

/* opendir_fd: each stream reads the directory from the start, and closing it leaves dir_fd open. */
static void test_opendir_fd(void **state) {
        Fixture *f = *state;
        DIR *d;

        put_file(f->dir_fd, "a", "x");
        for (int round = 0; round < 2; round++) {
                size_t seen = 0;

                CHECK_INT("opendir_fd", opendir_fd(f->dir_fd, &d), 0);
                for (struct dirent *de; (de = readdir(d));)
                        seen += strcmp(de->d_name, "a") == 0;
                assert_int_equal(seen, 1);
                assert_int_equal(closedir(d), 0);
        }
        assert_true(fcntl(f->dir_fd, F_GETFD) >= 0);
        CHECK_INT("opendir_fd on a bad fd", opendir_fd(-1, &d), -EBADF);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_atomic_write_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_atomic_write_faults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_atomic_write_missing_dir_target, setup, teardown),
                cmocka_unit_test_setup_teardown(test_atomic_write_threads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_loop_write_short_and_eintr, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_full_fd_limits, setup, teardown),
                cmocka_unit_test(test_read_full_fd_pipe),
                cmocka_unit_test_setup_teardown(test_read_file_at_refuses_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_opendir_fd, setup, teardown),
                cmocka_unit_test(test_open_foreign_file),
                cmocka_unit_test_setup_teardown(test_open_foreign_file_swapped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_foreign_file_chmod_race, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rename_noreplace, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_dir_at, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_write, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dir_check_safe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rm_rf_at, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rm_rf_bounded_at, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fsync_dir, setup, teardown),
        };

        /* Deterministic modes for the mode checks; a reader that stops early must not kill the writer. */
        (void) umask(022);
        (void) signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
