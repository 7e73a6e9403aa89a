/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keeper-io.c — sending and receiving keeper messages with their fds (keeper-io.h).
 *
 * Invariant: every fd that arrives is either handed to the caller or closed here, whatever the message
 * turns out to be (MSG_CTRUNC, a truncated datagram, an error after recvmsg()).
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journald.h"
#include "keeper-io.h"
#include "log.h"
#include "keeper-proto.h"
#include "macro.h"

int keeper_io_send(int sock, const void *buf, size_t len, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * KEEPER_FDS_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        assert(n_fds <= KEEPER_FDS_MAX);
        if (n_fds > 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return (size_t) n == len ? 0 : -EIO; /* SOCK_SEQPACKET: all or nothing */
}

/* Close every fd of an SCM_RIGHTS message; with fds, keep up to max of them there instead. */
static size_t take_fds(struct msghdr *mh, int *fds, size_t max) {
        size_t n = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                size_t k;
                int *p;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                p = (int *) (void *) CMSG_DATA(c);
                for (size_t i = 0; i < k; i++) {
                        int fd;

                        memcpy(&fd, p + i, sizeof(fd));
                        if (fds && n < max)
                                fds[n++] = fd;
                        else
                                safe_close(fd);
                }
        }
        return n;
}

ssize_t keeper_io_recv(int sock, void *buf, size_t cap, int *fds, size_t *ret_n_fds) {
        union {
                struct cmsghdr h;
                /* Room for more than we take, so that a peer sending too many is noticed and closed. */
                char buf[CMSG_SPACE(sizeof(int) * KEEPER_FDS_MAX * 2)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = cap };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control)
        };
        ssize_t n;
        size_t k;

        *ret_n_fds = 0;
        n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                (void) take_fds(&mh, NULL, 0);
                return -EMSGSIZE;
        }
        k = take_fds(&mh, fds, KEEPER_FDS_MAX + 1);
        if (k > KEEPER_FDS_MAX) {
                for (size_t i = 0; i < k; i++)
                        safe_close(fds[i]);
                return -EMSGSIZE;
        }
        *ret_n_fds = k;
        return n;
}

int keeper_io_spawn(const char *path, uid_t uid, const char *helper, int sock, int listen_fd,
                    pid_t *ret_pid) {
        static char *const empty_env[] = { NULL };
        char uid_s[16], level[16];
        char *argv[] = { (char *) path,
                         uid_s,
                         (char *) (helper ?: ""),
                         (char *) (journald_spool_id() ?: ""),
                         level,
                         (char *) (listen_fd >= 0 ? "stay" : "leave"),
                         NULL };
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t empty, all;
        int r;

        (void) snprintf(uid_s, sizeof(uid_s), "%u", (unsigned) uid);
        (void) snprintf(level, sizeof(level), "%d", log_get_max_level());
        (void) sigemptyset(&empty);
        (void) sigfillset(&all);
        r = -posix_spawnattr_init(&attr);
        if (r < 0)
                return r;
        r = -posix_spawn_file_actions_init(&fa);
        if (r >= 0) {
                r = -posix_spawnattr_setflags(
                        &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
                if (r >= 0)
                        r = -posix_spawnattr_setsigmask(&attr, &empty);
                if (r >= 0)
                        r = -posix_spawnattr_setsigdefault(&attr, &all);
                if (r >= 0)
                        r = -posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
                if (r >= 0)
                        r = -posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
                if (r >= 0)
                        r = -posix_spawn_file_actions_adddup2(&fa, sock, KEEPER_SOCKET_FD);
                if (r >= 0 && listen_fd >= 0)
                        r = -posix_spawn_file_actions_adddup2(&fa, listen_fd, KEEPER_LISTEN_FD);
                if (r >= 0)
                        r = -posix_spawn_file_actions_addclosefrom_np(&fa, KEEPER_LISTEN_FD + 1);
                /* Empty: the loader of a root process must find no LD_* (as for orchd-exec). */
                if (r >= 0)
                        r = -posix_spawn(ret_pid, path, &fa, &attr, argv, empty_env);
                (void) posix_spawn_file_actions_destroy(&fa);
        }
        (void) posix_spawnattr_destroy(&attr);
        return r;
}

int keeper_io_write_memfd(const void *buf, size_t len) {
        _cleanup_close_ int fd = -EBADF;
        size_t done = 0;

        fd = memfd_create("orchd-keeper-start", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        while (done < len) {
                ssize_t n = write(fd, (const char *) buf + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                done += (size_t) n;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int keeper_io_read_memfd(int fd, void **ret, size_t *ret_len) {
        const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t got = 0;
        int seals;

        /* Sealed: its size and bytes cannot change under the decoder. */
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0)
                return -errno;
        if ((seals & want) != want || fstat(fd, &st) < 0 || st.st_size <= 0 ||
            (uint64_t) st.st_size > KEEPER_MEMFD_MAX)
                return -EBADMSG;
        buf = malloc((size_t) st.st_size);
        if (!buf)
                return -ENOMEM;
        while (got < (size_t) st.st_size) {
                ssize_t n = pread(fd, buf + got, (size_t) st.st_size - got, (off_t) got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EBADMSG;
                got += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = got;
        return 0;
}
