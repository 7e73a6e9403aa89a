/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A vfork() into a cgroup: clone3(2) with CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP, the child running on
 * a stack of its own. The parent is suspended, as by vfork(), until the child execs or exits, so nothing of
 * the parent's memory is copied (a fork-like clone copies the page tables and makes every page
 * copy-on-write: 0.2-0.5 ms per start in a busy orchd-keeper). The child runs fn(arg) on its stack, never
 * on the parent's, so it cannot clobber a frame the parent returns into; fn must exec or _exit() (it
 * shares the parent's memory, TLS and errno included: async-signal-safe calls only) and may not return.
 *
 * A few instructions of assembly per architecture (x86-64 here) pass the child to fn; elsewhere, and
 * under AddressSanitizer, which cannot follow a change of stacks, clone_vfork_into_cgroup() says -ENOSYS
 * and the caller clones fork-like instead.
 */

#include <sys/types.h>

/* Start fn(arg) in a child created in the cgroup of cgroup_fd (a cgroup2 directory), its exit signal
 * SIGCHLD, with the caller suspended until it execs or exits. The caller blocks every signal around the
 * call. Returns the child's pid, or -errno (-ENOSYS: not on this architecture or build, or a kernel before
 * 5.7 without clone3()). */
pid_t clone_vfork_into_cgroup(int cgroup_fd, int (*fn)(void *arg), void *arg);
