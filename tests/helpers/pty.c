/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * pty [-w COLS,ROWS] CMD [ARG...] — run CMD on a new pseudo-terminal and copy everything it writes there to
 * our stdout; exit with CMD's status (128+N if signal N ended it).
 *
 * The tests use it to check what orchctl prints to a terminal (escaping, the live display). script(1)
 * does the same job but stops reading shortly after its child exits, so under load the last output can
 * be lost; this reads until the terminal's last writer has closed it (EIO on the master), so nothing is.
 * CMD's stdin is the terminal too; nothing is ever written to it.
 */

#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int copy_all(int from) {
        char buf[4096];

        for (;;) {
                ssize_t n = read(from, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EIO) /* every fd on the terminal side is closed */
                        return 0;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(STDOUT_FILENO, buf + off, (size_t) (n - off));

                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return -errno;
                        off += w;
                }
        }
}

int main(int argc, char **argv) {
        struct winsize ws = { .ws_col = 80, .ws_row = 24 };
        int master, status, r, i = 1;
        pid_t pid;

        if (argc > 2 && strcmp(argv[1], "-w") == 0) {
                unsigned cols, rows;

                if (sscanf(argv[2], "%u,%u", &cols, &rows) != 2 || cols == 0 || rows == 0) {
                        fprintf(stderr, "pty: -w wants COLS,ROWS, got '%s'\n", argv[2]);
                        return 64;
                }
                ws.ws_col = (unsigned short) cols;
                ws.ws_row = (unsigned short) rows;
                i = 3;
        }
        if (i >= argc) {
                fprintf(stderr, "usage: pty [-w COLS,ROWS] CMD [ARG...]\n");
                return 64;
        }
        pid = forkpty(&master, NULL, NULL, &ws);
        if (pid < 0) {
                perror("pty: forkpty");
                return 71;
        }
        if (pid == 0) {
                execvp(argv[i], argv + i);
                fprintf(stderr, "pty: cannot run %s: %s\n", argv[i], strerror(errno));
                _exit(127);
        }
        r = copy_all(master);
        if (r < 0)
                fprintf(stderr, "pty: copying the output: %s\n", strerror(-r));
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        perror("pty: waitpid");
                        return 71;
                }
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return r < 0 ? 71 : WEXITSTATUS(status);
}
