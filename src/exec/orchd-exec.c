/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * orchd-exec — how a node starts as its owner (SPEC §8), as a tiny program of its own. The command line,
 * fds and messages are in exec-proto.h:
 *
 *   orchd-exec run UID USER UMASK PAM_CONFDIR          (node of another user; orchd is root)
 *   orchd-exec self UMASK                              (node of the daemon's own user with a job umask)
 *   orchd-exec check-account UID PAM_CONFDIR           (acceptance of a job: may UID run jobs now?)
 *
 * "run", in this order: set the umask; read the request (cwd, argv, environment) from fd 4 and close it;
 * lower the soft open-files limit to 1024; as root, resolve the account now (UID must still be USER, the
 * name recorded when the job was accepted: a uid reused by another account after userdel is refused, never
 * run as; the primary gid and the supplementary groups are the account's today, as initgroups() would set
 * them, so a group removed while a job runs is gone from its next node); check the account as cron and atd
 * do (a password field starting with '!' is locked, OpenSSH's rule; the shadow expiry date, pam_unix's rule;
 * then PAM service "orchd": pam_acct_mgmt for expiry and site policy, and pam_open_session so that
 * pam_limits applies limits.conf to this process); close every fd PAM left; drop to the owner (supplementary
 * groups, gid, uid, each read back, root must be gone for good); wait for the gate on fd 5 (exec-proto.h:
 * orchd opens it once the attempt is recorded, EOF means run nothing); then, as the owner only, chdir(cwd)
 * and search the request's PATH for argv[0] (execvp's rules, relative entries and names against cwd) and
 * execve() with the request's environment. So nothing of the job reaches root: the node's argv and
 * environment are never this process's own; what exists in a directory the owner cannot read stays unknown
 * to them (the same answer as in their shell). A failure is one ExecStatus on fd 3 naming the step, and this
 * process exits 127 without running anything; a started node has fd 3 closed at exec (close-on-exec). orchd
 * reads fd 3 when the process ends, so it never waits for PAM.
 *
 * Why empty: orchd spawns this program with an empty environment, so the dynamic loader finds no LD_PRELOAD,
 * LD_LIBRARY_PATH, LD_AUDIT or GLIBC_TUNABLES to act on while it is root (it is not setuid, so the loader's
 * secure mode would not filter them). It is not linked statically: PAM and NSS load modules with dlopen().
 *
 * Why a separate program: orchd is multi-threaded (its journal committer), and glibc's setuid() family
 * must then stop every thread to change them all (the "setxid" broadcast). That cannot work in the
 * vfork()-style child posix_spawn() creates, and a full fork() of a daemon holding 100,000 nodes of
 * state costs milliseconds. This program is single-threaded, so the plain calls are correct, and it is
 * small enough to audit line by line. It is not setuid and refuses to run if it is.
 *
 * Deliberately not done: pam_close_session (this process becomes the node, nothing is left to close it;
 * the shipped PAM file has only pam_limits in its session stack, which needs no close), pam_setcred and
 * authentication (the owner of the job file is the identity, SPEC §8), PR_SET_NO_NEW_PRIVS (nodes may run
 * sudo and other setuid programs, as cron jobs may).
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <shadow.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec-main.h"
#include "exec-proto.h"

#define GROUPS_MAX 65536
#define DEFAULT_PATH "/bin:/usr/bin" /* what execvp() searches when PATH is unset */
#define NOFILE_SOFT_DEFAULT 1024     /* systemd's soft RLIMIT_NOFILE for what it starts (select() limit) */

typedef struct Request {
        const char *cwd;
        char **argv;
        char **env;
} Request;

/* Report a failed step to orchd and exit without running anything. */
static _Noreturn void fail(ExecStep step, int code) {
        ExecStatus st = { .step = step, .code = code };
        ssize_t n = write(EXEC_STATUS_FD, &st, sizeof(st));

        (void) n; /* nothing more can be done if orchd stopped listening */
        _exit(127);
}

static bool parse_id(const char *s, unsigned long max, unsigned long *ret) {
        char *end;

        if (!s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        *ret = strtoul(s, &end, 10);
        return errno == 0 && *end == '\0' && *ret <= max;
}

static mode_t parse_umask(const char *s) {
        char *end;
        unsigned long v;

        if (!s || *s < '0' || *s > '7')
                fail(EXEC_STEP_SETUP, EINVAL);
        v = strtoul(s, &end, 8);
        if (*end != '\0' || v > 0777)
                fail(EXEC_STEP_SETUP, EINVAL);
        return (mode_t) v;
}

/* The next NUL-terminated string of the request at *p, or fail. */
static char *next_string(char **p, const char *end) {
        char *s = *p, *nul = s < end ? memchr(s, '\0', (size_t) (end - s)) : NULL;

        if (!nul)
                fail(EXEC_STEP_SETUP, EINVAL);
        *p = nul + 1;
        return s;
}

static size_t next_count(char **p, const char *end) {
        unsigned long n;

        /* Every string takes at least its NUL: more than the bytes left cannot be true. */
        if (!parse_id(next_string(p, end), (unsigned long) (end - *p), &n))
                fail(EXEC_STEP_SETUP, EINVAL);
        return n;
}

static char **next_strings(char **p, const char *end, size_t n) {
        char **l = calloc(n + 1, sizeof(char *));

        if (!l)
                fail(EXEC_STEP_SETUP, ENOMEM);
        for (size_t i = 0; i < n; i++)
                l[i] = next_string(p, end);
        return l;
}

/* Read the whole request from its fd (a memfd orchd filled), then close it. */
static void read_request(Request *req) {
        struct stat st;
        char *buf, *p, *end;
        size_t got = 0, n_argv, n_env;

        if (fstat(EXEC_REQUEST_FD, &st) < 0)
                fail(EXEC_STEP_SETUP, errno);
        if (st.st_size <= 0 || (uint64_t) st.st_size > EXEC_REQUEST_MAX)
                fail(EXEC_STEP_SETUP, E2BIG);
        buf = malloc((size_t) st.st_size);
        if (!buf)
                fail(EXEC_STEP_SETUP, ENOMEM);
        while (got < (size_t) st.st_size) {
                ssize_t n = pread(EXEC_REQUEST_FD, buf + got, (size_t) st.st_size - got, (off_t) got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        fail(EXEC_STEP_SETUP, n < 0 ? errno : EIO);
                got += (size_t) n;
        }
        (void) close(EXEC_REQUEST_FD);

        p = buf;
        end = buf + got;
        req->cwd = next_string(&p, end);
        n_argv = next_count(&p, end);
        n_env = next_count(&p, end);
        req->argv = next_strings(&p, end, n_argv);
        req->env = next_strings(&p, end, n_env);
        if (p != end || !req->argv[0] || req->cwd[0] != '/')
                fail(EXEC_STEP_SETUP, EINVAL);
}

/* PAM may ask nothing of us: there is nobody to answer. Messages are dropped. */
static int pam_conv_none(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
        for (int i = 0; i < n; i++)
                if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
                        return PAM_CONV_ERR;
        *resp = NULL;
        return PAM_SUCCESS;
}

/* Without its own service file PAM falls back to "other", which on Debian opens full login sessions
 * (pam_systemd would move every node into a logind session): refuse instead. */
static bool pam_service_exists(const char *confdir) {
        char path[PATH_MAX];

        if (*confdir) {
                if (snprintf(path, sizeof(path), "%s/%s", confdir, EXEC_PAM_SERVICE) >= (int) sizeof(path))
                        return false;
                return access(path, F_OK) == 0;
        }
        return access("/etc/pam.d/" EXEC_PAM_SERVICE, F_OK) == 0 ||
                access("/usr/lib/pam.d/" EXEC_PAM_SERVICE, F_OK) == 0;
}

static ExecAccount account_from_pam(int pr) {
        switch (pr) {
        case PAM_SUCCESS:
                return EXEC_ACCOUNT_OK;
        case PAM_ACCT_EXPIRED:
                return EXEC_ACCOUNT_EXPIRED;
        case PAM_NEW_AUTHTOK_REQD:
        case PAM_AUTHTOK_EXPIRED:
                return EXEC_ACCOUNT_PASSWORD_EXPIRED;
        case PAM_USER_UNKNOWN:
                return EXEC_ACCOUNT_UNKNOWN;
        case PAM_PERM_DENIED:
        case PAM_AUTH_ERR:
                return EXEC_ACCOUNT_DENIED;
        default:
                return EXEC_ACCOUNT_ERROR;
        }
}

/* Who a node runs as, resolved as root at its start (NSS here, never in the daemon). */
typedef struct Account {
        gid_t gid;
        gid_t groups[GROUPS_MAX];
        size_t n_groups;
} Account;

/* As root: may uid run jobs now? name, when not NULL, is who uid must still be (the owner when the job was
 * accepted). With acc, also resolve the ids to drop to, and apply the session stack (pam_limits) to this
 * process, whose limits the node inherits. */
static ExecAccount check_account(uid_t uid, const char *name, const char *confdir, Account *acc) {
        static const struct pam_conv conv = { .conv = pam_conv_none };
        const struct passwd *pw;
        const struct spwd *sp;
        pam_handle_t *pamh = NULL;
        char user[LOGIN_NAME_MAX + 1];
        bool pw_locked;
        int pr;

        pw = getpwuid(uid);
        if (!pw || !pw->pw_name || strlen(pw->pw_name) >= sizeof(user) ||
            (name && strcmp(pw->pw_name, name) != 0))
                return EXEC_ACCOUNT_UNKNOWN;
        /* Copied: the group lookup, getspnam() and PAM's modules may reuse the buffers of pw. */
        strcpy(user, pw->pw_name);
        pw_locked = pw->pw_passwd && pw->pw_passwd[0] == '!';
        if (acc) {
                int n = GROUPS_MAX;

                acc->gid = pw->pw_gid;
                if (getgrouplist(user, acc->gid, acc->groups, &n) < 0)
                        return EXEC_ACCOUNT_ERROR; /* more than GROUPS_MAX: the kernel takes 65536 */
                acc->n_groups = (size_t) n;
        }
        sp = getspnam(user);
        /* "*" is a valid no-password account, not locked */
        if (sp ? sp->sp_pwdp && sp->sp_pwdp[0] == '!' : pw_locked)
                return EXEC_ACCOUNT_LOCKED;
        /* pam_unix's rule, checked here too because a stack like Debian's common-account reports every
         * refusal as pam_deny's, which would hide the reason. */
        if (sp && sp->sp_expire != -1 && time(NULL) / (24 * 60 * 60) >= sp->sp_expire)
                return EXEC_ACCOUNT_EXPIRED;

        if (!pam_service_exists(confdir))
                return EXEC_ACCOUNT_ERROR;
        pr = pam_start_confdir(EXEC_PAM_SERVICE, user, &conv, *confdir ? confdir : NULL, &pamh);
        if (pr != PAM_SUCCESS)
                return EXEC_ACCOUNT_ERROR;
        pr = pam_acct_mgmt(pamh, PAM_SILENT);
        if (pr == PAM_SUCCESS && acc && pam_open_session(pamh, PAM_SILENT) != PAM_SUCCESS) {
                (void) pam_end(pamh, PAM_SESSION_ERR);
                return EXEC_ACCOUNT_SESSION;
        }
        /* PAM_DATA_SILENT: the session stays open in this process, which becomes the node. */
        (void) pam_end(pamh, pr | (acc ? PAM_DATA_SILENT : 0));
        return account_from_pam(pr);
}

static int cmp_gid(const void *a, const void *b) {
        gid_t x = *(const gid_t *) a, y = *(const gid_t *) b;

        return x < y ? -1 : x > y;
}

/* groups is sorted (the kernel keeps them sorted, so getgroups() returns them that way). */
static void drop_privileges(uid_t uid, gid_t gid, gid_t *groups, size_t n_groups) {
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        static gid_t check[GROUPS_MAX];
        int n;

        if (setgroups(n_groups, groups) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                fail(EXEC_STEP_DROP, errno);
        qsort(groups, n_groups, sizeof(gid_t), cmp_gid);

        /* Trust nothing: read every id back. */
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                fail(EXEC_STEP_DROP, errno);
        if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
                fail(EXEC_STEP_DROP, EPERM);
        n = getgroups(GROUPS_MAX, check);
        if (n > 0)
                qsort(check, (size_t) n, sizeof(gid_t), cmp_gid);
        if (n < 0 || (size_t) n != n_groups || (n > 0 && memcmp(check, groups, n * sizeof(gid_t)) != 0))
                fail(EXEC_STEP_DROP, EPERM);
        /* And root must be gone for good. */
        if (uid != 0 && (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0))
                fail(EXEC_STEP_DROP, EPERM);
}

/* The environment's PATH, as getenv() would find it there. */
static const char *env_path(char **env) {
        for (; *env; env++)
                if (strncmp(*env, "PATH=", 5) == 0)
                        return *env + 5;
        return DEFAULT_PATH;
}

/* execvp()'s search with the node's PATH instead of ours: the cwd is already the node's, so relative names
 * and relative entries (an empty one is ".") resolve there. A candidate that exists but cannot be run
 * (EACCES, a directory) makes the final error EACCES; ENOEXEC and other errors end the search, as
 * posix_spawn() of the found path would. Returns only on failure, with errno set. */
static void exec_search(char **argv, char **env) {
        const char *name = argv[0], *p, *end;
        bool seen_eacces = false;
        size_t name_len = strlen(name);

        if (name_len == 0) {
                errno = ENOENT;
                return;
        }
        if (strchr(name, '/')) {
                execve(name, argv, env);
                return;
        }
        for (p = env_path(env);; p = end + 1) {
                char buf[PATH_MAX];
                size_t n;

                end = strchrnul(p, ':');
                n = (size_t) (end - p);
                if (n == 0)
                        p = ".", n = 1;
                if (n + 1 + name_len < sizeof(buf)) {
                        memcpy(buf, p, n);
                        buf[n] = '/';
                        memcpy(buf + n + 1, name, name_len + 1);
                        execve(buf, argv, env);
                        switch (errno) {
                        case EACCES:
                                seen_eacces = true;
                                break;
                        case ENOENT:
                        case ESTALE:
                        case ENOTDIR:
                        case ENODEV:
                        case ETIMEDOUT:
                        case ELOOP:
                        case ENAMETOOLONG:
                                break;
                        default:
                                return;
                        }
                }
                if (*end == '\0')
                        break;
        }
        errno = seen_eacces ? EACCES : ENOENT;
}

/* Hold here until orchd has recorded this attempt where its next start finds it (one byte on the gate). EOF:
 * orchd died or gave up on the attempt, so nothing may run. No gate fd: started ungated (tests). */
static void wait_gate(void) {
        ssize_t n;
        char b;

        if (fcntl(EXEC_GATE_FD, F_GETFD) < 0)
                return;
        do
                n = read(EXEC_GATE_FD, &b, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(127);
        (void) close(EXEC_GATE_FD);
}

static _Noreturn void start_node(const Request *req) {
        wait_gate();
        if (chdir(req->cwd) < 0)
                fail(EXEC_STEP_CWD, errno);
        exec_search(req->argv, req->env);
        fail(EXEC_STEP_EXEC, errno);
}

/* run UID USER UMASK PAM_CONFDIR */
static _Noreturn void run(char **args) {
        static Account acc;
        unsigned long uid;
        struct rlimit rl;
        ExecAccount a;
        Request req;

        if (!parse_id(args[0], (uid_t) -2, &uid) || args[1][0] == '\0')
                fail(EXEC_STEP_SETUP, EINVAL);
        umask(parse_umask(args[2]));
        read_request(&req);

        /* orchd's own soft limit on open files may be the unit's LimitNOFILE=: give the node systemd's
         * default, so limits.conf (pam_limits, next) starts from what a login gets. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > NOFILE_SOFT_DEFAULT) {
                rl.rlim_cur = NOFILE_SOFT_DEFAULT;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        a = check_account((uid_t) uid, args[1], args[3], &acc);
        if (a != EXEC_ACCOUNT_OK)
                fail(EXEC_STEP_ACCOUNT, a);
        /* What a PAM module opened and left inheritable must not reach the node (fd 3 is close-on-exec; the
         * gate, fd 5, is closed after it opened). */
        (void) close_range(EXEC_REQUEST_FD, EXEC_REQUEST_FD, 0);
        (void) close_range(EXEC_GATE_FD + 1, ~0U, 0);

        drop_privileges((uid_t) uid, acc.gid, acc.groups, acc.n_groups);
        start_node(&req);
}

/* Join the attempt's cgroup (EXEC_CGROUP_FD, when orchd gave one) before anything else: PAM's session
 * modules, the drop and the node all run inside it, and a kill of the cgroup reaches this process too. */
static void join_cgroup(void) {
        if (fcntl(EXEC_CGROUP_FD, F_GETFD) < 0)
                return;
        if (write(EXEC_CGROUP_FD, "0", 1) != 1)
                fail(EXEC_STEP_SETUP, errno);
        (void) close(EXEC_CGROUP_FD);
}

int exec_main(int argc, char *argv[]) {
        unsigned long uid;

        if (fcntl(EXEC_STATUS_FD, F_SETFD, FD_CLOEXEC) < 0)
                _exit(127); /* not started by orchd: no status fd to report on */
        join_cgroup();
        /* A setuid copy of this program would let anyone become anyone. */
        if (getuid() != geteuid() || getgid() != getegid())
                fail(EXEC_STEP_SETUP, EPERM);

        if (argc == 6 && strcmp(argv[1], "run") == 0)
                run(argv + 2);
        if (argc == 3 && strcmp(argv[1], "self") == 0) {
                Request req;

                umask(parse_umask(argv[2]));
                read_request(&req);
                start_node(&req);
        }
        if (argc == 4 && strcmp(argv[1], "check-account") == 0) {
                ExecStatus st = { .step = EXEC_STEP_ACCOUNT };

                if (!parse_id(argv[2], (uid_t) -2, &uid))
                        fail(EXEC_STEP_SETUP, EINVAL);
                st.code = check_account((uid_t) uid, NULL, argv[3], NULL);
                if (write(EXEC_STATUS_FD, &st, sizeof(st)) != sizeof(st))
                        _exit(1);
                _exit(st.code == EXEC_ACCOUNT_OK ? 0 : 1);
        }
        fail(EXEC_STEP_SETUP, EINVAL);
}

/* orchd-keeper links this file too (ORCHD_EXEC_NO_MAIN) and calls exec_main() in a fork()ed child, so
 * another user's node costs no second exec (supervise.h, task_set_helper_main()). */
#ifndef ORCHD_EXEC_NO_MAIN
int main(int argc, char *argv[]) {
        return exec_main(argc, argv);
}
#endif
