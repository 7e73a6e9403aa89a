/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clonevfork.c — clone3(2) CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP with the child on its own stack
 * (clonevfork.h).
 *
 * Owns: nothing past the call; the child's stack is a buffer in this function's frame, which lives until
 * the parent resumes, by then the child has exec'd or exited.
 */

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>

#include "clonevfork.h"

/* The child's stack: what child_run() of spawnrec.c needs, with room to spare (its frames are a few
 * hundred bytes, execve() none of user space). */
#define CHILD_STACK_SIZE (64U * 1024U)

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)

/* clone3(args, size); the child (on the stack args names) calls fn(arg) and exits with its return value;
 * the parent gets the pid or -errno. Only rax, rcx and r11 change across a syscall, so fn and arg ride in
 * r8 and r9 into the child, whose stack pointer the kernel set to stack + stack_size (16-byte aligned, as
 * the call's push then leaves it as the ABI wants at a function's entry). */
long orchd_clone3_run(struct clone_args *args, unsigned long size, int (*fn)(void *), void *arg);
__asm__(".pushsection .text\n"
        ".p2align 4\n"
        ".type orchd_clone3_run, @function\n"
        "orchd_clone3_run:\n"
        "        movq %rdx, %r8\n"
        "        movq %rcx, %r9\n"
        "        movl $435, %eax\n" /* __NR_clone3 */
        "        syscall\n"
        "        testq %rax, %rax\n"
        "        jz 1f\n"
        "        ret\n"
        "1:      xorl %ebp, %ebp\n" /* the child: no frame above fn's */
        "        movq %r9, %rdi\n"
        "        callq *%r8\n"
        "        movl %eax, %edi\n"
        "        movl $60, %eax\n" /* __NR_exit */
        "        syscall\n"
        "        hlt\n"
        ".size orchd_clone3_run, .-orchd_clone3_run\n"
        ".popsection\n");

pid_t __attribute__((noinline)) clone_vfork_into_cgroup(int cgroup_fd, int (*fn)(void *arg), void *arg) {
        _Alignas(16) uint8_t stack[CHILD_STACK_SIZE];
        struct clone_args a = {
                .flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP,
                .exit_signal = SIGCHLD,
                .stack = (uint64_t) (uintptr_t) stack,
                .stack_size = sizeof(stack),
                .cgroup = (uint64_t) cgroup_fd,
        };
        long r = orchd_clone3_run(&a, sizeof(a), fn, arg);

        return r == -E2BIG ? -ENOSYS : (pid_t) r;
}

#else

pid_t clone_vfork_into_cgroup(int cgroup_fd, int (*fn)(void *arg), void *arg) {
        (void) cgroup_fd, (void) fn, (void) arg;
        return -ENOSYS;
}

#endif
