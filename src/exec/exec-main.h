/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * orchd-exec's logic as a function (src/exec/orchd-exec.c), for orchd-keeper, which runs it in a fork()ed
 * child instead of exec'ing the program: same command line (argv[0] is ignored), same fds (exec-proto.h).
 */

/* Never returns: the node is exec'd, or the process exits (127 on a failed step, as the program does). */
int exec_main(int argc, char *argv[]);
