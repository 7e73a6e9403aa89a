/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgroup.c — orchd's cgroup v2 subtree and the per-attempt cgroups in it (cgroup.h).
 *
 * Layout: the cgroup2 mount is /sys/fs/cgroup when that is cgroup2 (a unified host), else
 * /sys/fs/cgroup/unified (a hybrid host, whose v1 hierarchies belong to the machine and are never
 * touched). BASE is, as root, MOUNT/orchd-<first 16 hex of the spool id>, so two daemons of two spools
 * never share one; else orchd's own cgroup when systemd delegated it to us (Delegate=yes: the
 * "trusted.delegate" xattr). Inside BASE: daemon/ (orchd itself, when it lived in BASE or in the root
 * cgroup: the no-internal-process rule forbids controllers below a cgroup that holds processes) and
 * user-UID/job-ID/NODE.ATTEMPT per attempt (NODE as in its log file name, '/' as '%').
 *
 * Owns: the fd of BASE, the directories it made, orchd's own membership (it moves back at the end), and the
 * jobs whose directories it made (CgroupJob), so that starts and ends touch a job's and a user's directory
 * only at the job's first start and once it has no more to start (cgroups_job_release()): a chain of
 * 1,000 steps makes and removes its job's and user's directories once, not 1,000 times.
 * Invariants: nothing outside BASE is ever written but the one move of orchd itself; every directory made
 * is removed once its owner is done (an attempt's at its end; a job's and then its user's at the job's
 * release; daemon/ and BASE at exit); a cgroup is killed only below BASE, which is ours alone (its name
 * carries the spool id).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cgroup.h"
#include "cgroupfmt.h"
#include "fsutil.h"
#include "log.h"
#include "macro.h"

#define CGROUP_MOUNT "/sys/fs/cgroup"
#define CGROUP_MOUNT_HYBRID "/sys/fs/cgroup/unified"
#define CGROUP_DAEMON "daemon"
#define CGROUP_FILE_MAX 4096U
/* How long the end of a leftover (after cgroup.kill) is waited for before its directory is left. */
#define CGROUP_DRAIN_MSEC 2000

/* A job whose directory this orchd made and has not removed yet (it is not released), with the number of
 * its attempts' cgroups that exist: while it is there, the job's and its user's directories exist, so a
 * start makes neither (no mkdir that fails EEXIST) and an end removes neither (no rmdir that fails EBUSY);
 * the user's cpu.weight is written again only when it changed (a reload). */
typedef struct CgroupJob {
        uid_t uid;
        uint64_t job;
        unsigned attempts;
        uint32_t user_weight; /* the cpu.weight written to the user's cgroup, 0 = none */
} CgroupJob;

struct Cgroups {
        int base_fd;       /* BASE, O_DIRECTORY; -EBADF under pgroup */
        char *base;        /* its path */
        char *origin;      /* orchd's cgroup path below the mount before it moved into daemon/, or NULL */
        char *mount;       /* the cgroup2 mount */
        bool created_base; /* BASE is ours to remove at the end (not a delegated cgroup) */
        unsigned controllers;
        char **keep; /* attempt cgroups (paths below BASE) the sweep leaves: their attempts run on */
        size_t n_keep;
        CgroupJob *jobs; /* jobs with attempt cgroups (at most one per job with a running attempt) */
        size_t n_jobs;
};

static bool is_cgroup2(const char *path) {
        struct statfs sfs;

        return statfs(path, &sfs) >= 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Write a short string to a cgroup file below dir_fd. Returns 0 or -errno. */
static int cg_write(int dir_fd, const char *file, const char *value) {
        _cleanup_close_ int fd = openat(dir_fd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
                return -errno;
        return write(fd, value, strlen(value)) < 0 ? -errno : 0;
}

static int cg_read(int dir_fd, const char *file, char **ret) {
        return read_file_at(dir_fd, file, CGROUP_FILE_MAX, ret, NULL);
}

/* Wait, bounded, until the cgroup at dir_fd/name holds no process; kill: first kill it all (cgroup.kill). */
static void cg_drain(int dir_fd, const char *name, bool kill) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

        if (fd >= 0 && kill)
                (void) cg_write(fd, "cgroup.kill", "1");
        for (int waited = 0; fd >= 0 && waited < CGROUP_DRAIN_MSEC; waited += 10) {
                _cleanup_free_ char *text = NULL;
                uint64_t populated = 1;
                if (cg_read(fd, "cgroup.events", &text) < 0 ||
                    cgroupfmt_keyed(text, "populated", &populated) < 0 || populated == 0)
                        return;
                (void) poll(NULL, 0, 10); /* bounded: SIGKILLed processes end within a few ms */
        }
}

/* Whether the sweep leaves BASE/rel: an attempt recovery found running in its keeper (cgroups_keep()), or
 * a directory above one. */
static bool cg_kept(const Cgroups *c, const char *rel, bool *ret_exact) {
        size_t n = strlen(rel);

        for (size_t i = 0; i < c->n_keep; i++)
                if (strncmp(c->keep[i], rel, n) == 0 && (c->keep[i][n] == '\0' || c->keep[i][n] == '/')) {
                        *ret_exact = c->keep[i][n] == '\0';
                        return true;
                }
        return false;
}

/* Remove every directory below dir_fd/name depth-first, killing what still lives there. rel is name's path
 * below BASE (a buffer of PATH_MAX it may append to): what cgroups_keep() named, and the directories above
 * it, are left alone. Only called on BASE's user-UID trees, which are ours. */
static void cg_remove_tree(Cgroups *c, int dir_fd, const char *name, char *rel, int depth) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(rel);
        bool kept, exact = false;
        DIR *d;

        kept = cg_kept(c, rel, &exact);
        if (exact)
                return;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return;
        if (depth < 8 && opendir_fd(fd, &d) >= 0) {
                struct dirent *de;

                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
                            snprintf(rel + len, PATH_MAX - len, "/%s", de->d_name) <
                                    (int) (PATH_MAX - len)) {
                                cg_remove_tree(c, fd, de->d_name, rel, depth + 1);
                                rel[len] = '\0';
                        }
                closedir(d);
        }
        if (kept)
                return; /* holds a running attempt's cgroup */
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno == EBUSY) {
                cg_drain(dir_fd, name, true);
                (void) unlinkat(dir_fd, name, AT_REMOVEDIR);
        }
}

/* Kill and remove the user-* trees below BASE: attempts a previous daemon of this spool left behind
 * (killed at its crash, or still running if nothing killed them) but those recovery adopted, or, at the
 * end, our own. */
static void cg_remove_users(Cgroups *c) {
        char rel[PATH_MAX];
        DIR *d;

        if (opendir_fd(c->base_fd, &d) < 0)
                return;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_type == DT_DIR && strncmp(de->d_name, "user-", 5) == 0 &&
                    strlen(de->d_name) < sizeof(rel)) {
                        log_debug("Removing cgroup %s/%s and what is left below it.", c->base, de->d_name);
                        strcpy(rel, de->d_name);
                        cg_remove_tree(c, c->base_fd, de->d_name, rel, 0);
                }
        closedir(d);
}

/* Our cgroup2 path ("/" for the root cgroup) from /proc/self/cgroup. */
static int cg_self_path(char **ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_file_at(AT_FDCWD, "/proc/self/cgroup", 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        return cgroupfmt_self_path(text, ret);
}

/* Whether systemd delegated the cgroup at path to us (Delegate=yes marks it with this xattr). */
static bool cg_delegated(const char *path) {
        char v[2];

        return getxattr(path, "trusted.delegate", v, sizeof(v)) == 1 && v[0] == '1';
}

/* Move the calling process into dir_fd/name (created if need be). Returns 0 or -errno. */
static int cg_move_self(int dir_fd, const char *name) {
        _cleanup_close_ int fd = -EBADF;

        if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        return cg_write(fd, "cgroup.procs", "0");
}

/* Enable the controllers of mask in the subtree of dir_fd/name (best effort: what works is enabled).
 * Returns the mask that is enabled. */
static unsigned cg_enable(int dir_fd, const char *name, unsigned mask) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        char line[CGROUPFMT_NAMES_MAX];

        if (mask == 0)
                return 0; /* nothing to enable (a hybrid host): not even the open */
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0;
        (void) cg_write(fd, "cgroup.subtree_control", cgroupfmt_enable_line(mask, line));
        if (cg_read(fd, "cgroup.subtree_control", &text) < 0)
                return 0;
        return resources_controllers_parse(text) & mask;
}

/* Decide BASE. Returns 0 with c->base set, or a negative errno with *why saying why not (pgroup). */
static int cg_pick_base(Cgroups *c, const char *spool_id, const char **why) {
        _cleanup_free_ char *self = NULL, *own = NULL;
        int r;

        if (is_cgroup2(CGROUP_MOUNT))
                c->mount = strdup(CGROUP_MOUNT);
        else if (is_cgroup2(CGROUP_MOUNT_HYBRID))
                c->mount = strdup(CGROUP_MOUNT_HYBRID);
        else {
                *why = "no cgroup2 file system is mounted at " CGROUP_MOUNT " or " CGROUP_MOUNT_HYBRID;
                return -ENOENT;
        }
        if (!c->mount)
                return -ENOMEM;
        r = cg_self_path(&self);
        if (r < 0) {
                *why = "/proc/self/cgroup names no cgroup2 path";
                return r;
        }
        if (asprintf(&own, "%s%s", c->mount, streq(self, "/") ? "" : self) < 0)
                return -ENOMEM;
        /* As root, never the unit's own delegated cgroup: systemd puts a restarted service's new main
         * process into that cgroup, which the kernel refuses (EBUSY, no processes beside enabled
         * controllers) while nodes that outlived the last orchd (KillNodes=no) still run below it, so the
         * restart fails (219/CGROUP; seen with systemd 252 in a Debian 12 VM). A subtree beside the units
         * keeps the unit's cgroup free of controllers. */
        if (geteuid() != 0 && !streq(self, "/") && cg_delegated(own)) {
                c->base = TAKE_PTR(own);
                c->origin = TAKE_PTR(self); /* orchd lives in BASE itself: it moves into daemon/ */
                return 0;
        }
        if (geteuid() != 0) {
                *why = "orchd is not root and its cgroup was not delegated to it (Delegate=yes)";
                return -EPERM;
        }
        if (!spool_id || strlen(spool_id) < 16) {
                *why = "the spool has no spool-id to name orchd's cgroup after";
                return -ENOENT;
        }
        if (asprintf(&c->base, "%s/orchd-%.16s", c->mount, spool_id) < 0)
                return -ENOMEM;
        c->created_base = true;
        /* In the root cgroup (no service manager placed us) orchd moves below BASE too; in some other
         * unit's cgroup it stays where its service manager put it, and only its nodes move out. */
        if (streq(self, "/"))
                c->origin = TAKE_PTR(self);
        return 0;
}

/* Open (creating it if need be) BASE, move orchd into daemon/ if it belongs there and enable the
 * controllers. Returns 0 or -errno with *why. */
static int cg_setup_base(Cgroups *c, const char **why) {
        _cleanup_free_ char *text = NULL;
        int r;

        if (c->created_base && mkdir(c->base, 0755) < 0 && errno != EEXIST) {
                *why = "orchd's cgroup could not be created";
                return -errno;
        }
        c->base_fd = open(c->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->base_fd < 0) {
                *why = "orchd's cgroup could not be opened";
                return -errno;
        }
        if (c->origin) {
                r = cg_move_self(c->base_fd, CGROUP_DAEMON);
                if (r < 0) {
                        *why = "orchd could not move itself into its cgroup's daemon/";
                        return r;
                }
        }
        /* A cgroup.kill-less kernel (before 5.14) could not empty an attempt's cgroup in one step. */
        if (faccessat(c->base_fd, "cgroup.kill", F_OK, 0) < 0) {
                *why = "the kernel's cgroup2 has no cgroup.kill (Linux 5.14 or later is needed)";
                return -EOPNOTSUPP;
        }
        if (cg_read(c->base_fd, "cgroup.controllers", &text) >= 0)
                c->controllers = cg_enable(c->base_fd, ".", resources_controllers_parse(text));
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Cgroups *, cgroups_free);

int cgroups_new(const char *spool_id, bool use_cgroups, Cgroups **ret) {
        _cleanup_(cgroups_freep) Cgroups *c = NULL;
        const char *why = "orchd.conf sets isolation = pgroup";
        char names[CGROUPFMT_NAMES_MAX];
        int r = -ECANCELED;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->base_fd = -EBADF;
        if (use_cgroups) {
                r = cg_pick_base(c, spool_id, &why);
                if (r >= 0)
                        r = cg_setup_base(c, &why);
                if (r == -ENOMEM)
                        return r;
        }
        if (r < 0) {
                c->base_fd = safe_close(c->base_fd);
                if (c->created_base && c->base)
                        (void) rmdir(c->base);
                c->created_base = false;
                c->origin = mfree(c->origin);
                log_info(
                        "Isolation: process groups (pgroup), because %s. A node that leaves its process "
                        "group (setsid) escapes kill and accounting; resources limits are refused.",
                        why);
        } else
                log_info("Isolation: cgroup v2 below %s, controllers: %s.", c->base,
                         c->controllers ? cgroupfmt_controller_names(c->controllers, names) : "none");
        *ret = TAKE_PTR(c);
        return 0;
}

int cgroups_keep(Cgroups *c, uid_t uid, uint64_t job, const char *log_name) {
        char path[PATH_MAX], **k;
        int r;

        if (!cgroups_enabled(c))
                return 0;
        r = cgroupfmt_attempt_path(path, sizeof(path), uid, job, log_name);
        if (r < 0)
                return r;
        k = reallocarray(c->keep, c->n_keep + 1, sizeof(char *));
        if (!k)
                return -ENOMEM;
        c->keep = k;
        c->keep[c->n_keep] = strdup(path);
        if (!c->keep[c->n_keep])
                return -ENOMEM;
        c->n_keep++;
        return 0;
}

static void cg_keep_done(Cgroups *c) {
        for (size_t i = 0; i < c->n_keep; i++)
                free(c->keep[i]);
        c->keep = mfree(c->keep);
        c->n_keep = 0;
}

void cgroups_sweep(Cgroups *c) {
        if (cgroups_enabled(c))
                cg_remove_users(c);
        if (c)
                cg_keep_done(c);
}

bool cgroups_enabled(const Cgroups *c) {
        return c && c->base_fd >= 0;
}

const char *cgroups_isolation(const Cgroups *c) {
        return cgroups_enabled(c) ? "cgroup" : "pgroup";
}

unsigned cgroups_controllers(const Cgroups *c) {
        return cgroups_enabled(c) ? c->controllers : 0;
}

const char *cgroups_base(const Cgroups *c) {
        return cgroups_enabled(c) ? c->base : NULL;
}

/* mkdir dir_fd/path, tolerating its existence, with BASE's controllers enabled in its subtree. */
static int cg_mkdir_level(Cgroups *c, const char *path) {
        if (mkdirat(c->base_fd, path, 0755) < 0) {
                if (errno != EEXIST)
                        return -errno;
                return 0;
        }
        (void) cg_enable(c->base_fd, path, c->controllers);
        return 0;
}

int cgroups_write(int fd, const char *file, const char *value) {
        return cg_write(fd, file, value);
}

/* The user's cpu.weight, written at a start unless the user's cgroup has it (written == weight), so that a
 * reload's new UserCPUWeight= applies from the next start on (only where the cpu controller is). */
static void cg_user_weight(Cgroups *c, const char *user_dir, uint32_t weight, uint32_t written) {
        _cleanup_close_ int fd = -EBADF;
        char v[16];

        if (!(c->controllers & RESOURCES_CPU) || weight == 0 || weight == written)
                return;
        fd = openat(c->base_fd, user_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        snprintf(v, sizeof(v), "%u", (unsigned) weight);
        if (fd >= 0 && cg_write(fd, "cpu.weight", v) < 0)
                log_warning_errno(errno, "Cannot set cpu.weight %s of cgroup %s/%s: %m", v, c->base,
                                  user_dir);
}

/* The entry of (uid, job) in c->jobs, NULL if none; *ret_user: an entry of uid's, NULL if none. A linear
 * search: there is one entry per job that started a node and has not ended (or is waiting for a retry). */
static CgroupJob *cg_job_find(Cgroups *c, uid_t uid, uint64_t job, CgroupJob **ret_user) {
        CgroupJob *found = NULL;

        *ret_user = NULL;
        for (size_t i = 0; i < c->n_jobs; i++)
                if (c->jobs[i].uid == uid) {
                        *ret_user = &c->jobs[i];
                        if (c->jobs[i].job == job)
                                found = &c->jobs[i];
                }
        return found;
}

/* Count one more attempt cgroup of (uid, job) in c->jobs (j: its entry, if it has one); the user's cgroup
 * has cpu.weight weight now. Returns 0 or -ENOMEM. */
static int cg_job_add(Cgroups *c, CgroupJob *j, uid_t uid, uint64_t job, uint32_t weight) {
        CgroupJob *a;

        for (size_t i = 0; i < c->n_jobs; i++)
                if (c->jobs[i].uid == uid)
                        c->jobs[i].user_weight = weight;
        if (j) {
                j->attempts++;
                return 0;
        }
        a = reallocarray(c->jobs, c->n_jobs + 1, sizeof(CgroupJob));
        if (!a)
                return -ENOMEM;
        c->jobs = a;
        c->jobs[c->n_jobs++] = (CgroupJob){ .uid = uid, .job = job, .attempts = 1, .user_weight = weight };
        return 0;
}

/* mkdir the levels of the attempt's path above it that are not known to exist (cut at each '/' in turn),
 * and set the user's cpu.weight. */
static int cg_mkdir_parents(Cgroups *c, char *path, const CgroupJob *j, const CgroupJob *user,
                            uint32_t weight) {
        char *slash = strchr(path, '/');
        int r;

        *slash = '\0';
        r = user ? 0 : cg_mkdir_level(c, path); /* user-UID */
        if (r >= 0)
                cg_user_weight(c, path, weight, user ? user->user_weight : 0);
        *slash = '/';
        if (r < 0 || j)
                return r;
        slash = strchr(slash + 1, '/');
        *slash = '\0';
        r = cg_mkdir_level(c, path); /* user-UID/job-ID */
        *slash = '/';
        return r;
}

int cgroups_attempt_open(Cgroups *c, uid_t uid, uint64_t job, const char *log_name, uint32_t user_weight) {
        char path[PATH_MAX], rel[PATH_MAX];
        CgroupJob *j, *user;
        int r, fd;

        if (!cgroups_enabled(c))
                return -EOPNOTSUPP;
        r = cgroupfmt_attempt_path(path, sizeof(path), uid, job, log_name);
        if (r < 0)
                return r;
        j = cg_job_find(c, uid, job, &user);
        r = cg_mkdir_parents(c, path, j, user, user_weight);
        if (r < 0)
                return r;
        if (mkdirat(c->base_fd, path, 0755) < 0) {
                if (errno != EEXIST)
                        return -errno;
                /* A leftover of this very attempt (a crash): it is ours, empty it and start afresh. */
                strcpy(rel, path);
                cg_remove_tree(c, c->base_fd, path, rel, 0);
                if (mkdirat(c->base_fd, path, 0755) < 0)
                        return -errno;
        }
        fd = openat(c->base_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = fd < 0 ? -errno : cg_job_add(c, j, uid, job, user_weight);
        if (r < 0) {
                safe_close(fd);
                (void) unlinkat(c->base_fd, path, AT_REMOVEDIR);
                return r;
        }
        return fd;
}

/* Remove the job's directory above the attempt at path, and the user's unless user_busy (another job of
 * the user has its directory). Either may fail ENOTEMPTY/EBUSY: others still run there. */
static void cg_remove_parents(Cgroups *c, char *path, bool user_busy) {
        char *slash;

        for (int level = 0; level < (user_busy ? 1 : 2); level++) {
                slash = strrchr(path, '/');
                *slash = '\0';
                if (unlinkat(c->base_fd, path, AT_REMOVEDIR) < 0)
                        return;
        }
}

void cgroups_attempt_remove(Cgroups *c, uid_t uid, uint64_t job, const char *log_name, bool kill) {
        char path[PATH_MAX];
        CgroupJob *j, *user;

        if (!cgroups_enabled(c) || cgroupfmt_attempt_path(path, sizeof(path), uid, job, log_name) < 0)
                return;
        /* A job of ours keeps its directories until cgroups_job_release(). (An attempt adopted at recovery
         * is not counted: without an entry of its job, its job's and user's directories go with it if
         * empty, and the rmdirs below may fail EBUSY.) */
        j = cg_job_find(c, uid, job, &user);
        if (j && j->attempts > 0)
                j->attempts--;
        if (kill)
                cg_drain(c->base_fd, path, true);
        if (unlinkat(c->base_fd, path, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                log_debug_errno(errno, "Cannot remove cgroup %s/%s yet: %m", c->base, path);
                return;
        }
        if (!j)
                cg_remove_parents(c, path, user != NULL);
}

void cgroups_job_release(Cgroups *c, uid_t uid, uint64_t job) {
        char path[PATH_MAX];
        CgroupJob *j, *user;

        if (!cgroups_enabled(c) || !(j = cg_job_find(c, uid, job, &user)) || j->attempts > 0 ||
            cgroupfmt_attempt_path(path, sizeof(path), uid, job, "x.log") < 0)
                return; /* not ours, or an attempt's cgroup is still there: its end removes them */
        *j = c->jobs[--c->n_jobs];
        (void) cg_job_find(c, uid, job, &user);
        cg_remove_parents(c, path, user != NULL); /* the directories above the placeholder attempt "x" */
}

/* Free c; kill: kill and remove what is below BASE first. Else leave all of it, BASE and daemon/ with it
 * unless they are empty: an empty attempt cgroup may be a START its keeper has yet to read, and the next
 * orchd's sweep removes what is left over. */
static Cgroups *cg_free(Cgroups *c, bool kill) {
        _cleanup_free_ char *origin = NULL;

        if (!c)
                return NULL;
        if (c->base_fd >= 0) {
                if (kill)
                        cg_remove_users(c);
                /* Back to where orchd came from, so that daemon/ and BASE can go (EBUSY while a keeper
                 * lives in daemon/ or an attempt runs: they stay for the next orchd). */
                if (c->origin && asprintf(&origin, "%s%s", c->mount, c->origin) >= 0) {
                        _cleanup_close_ int fd = open(origin, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                        /* A keeper's child may outlive it by moments (a sanitizer's symbolizer). */
                        if (fd >= 0 && cg_write(fd, "cgroup.procs", "0") >= 0) {
                                cg_drain(c->base_fd, CGROUP_DAEMON, false);
                                (void) unlinkat(c->base_fd, CGROUP_DAEMON, AT_REMOVEDIR);
                        }
                }
                if (c->created_base)
                        (void) rmdir(c->base);
        }
        cg_keep_done(c);
        free(c->jobs);
        safe_close(c->base_fd);
        free(c->base);
        free(c->origin);
        free(c->mount);
        return mfree(c);
}

Cgroups *cgroups_free(Cgroups *c) {
        return cg_free(c, true);
}

Cgroups *cgroups_leave(Cgroups *c) {
        return cg_free(c, false);
}
