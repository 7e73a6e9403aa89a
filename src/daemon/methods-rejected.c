/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods-rejected.c — io.orchd.Manager.Rejected: a user's own rejected job
 * files, their errors and their bytes (issue 8, point 6).
 *
 * rejected/ is root's alone (0700), so this call is the only way its content
 * reaches users. Intake keeps each owner's rejections in rejected/UID/ (also
 * 0700, root's); entries directly in rejected/ are from an orchd before that
 * and are still listed. Who owns an entry: the uid that intake recorded in
 * NAME.error.json (we wrote it, from the file as claimed; it is the only
 * record left when the entry was removed rather than kept); for an entry
 * without that record (a spool from before it) the owner of the kept file;
 * with neither, root. A user's call reads their own rejected/UID/ and the old
 * flat entries (passing over others' by the owner of NAME.error.json, an
 * index older orchds kept, with one fstatat each); it never opens another
 * user's directory. Another user's entry answers exactly as a missing one
 * does, so names of others' files are not revealed. Root and AdminGroup= see
 * every directory; a name may then match an entry of each of several owners,
 * and all are returned. Reads are bounded: error texts at 1 MiB, file bytes
 * at REJECTED_DATA_MAX.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "base64.h"
#include "fsutil.h"
#include "json-util.h"
#include "log.h"
#include "methods-internal.h"
#include "protocol.h"
#include "pwcache.h"
#include "spool.h"
#include "time-util.h"

#define ERROR_SUFFIX ".error"
#define ERROR_JSON_SUFFIX ".error.json"
#define ERROR_TEXT_MAX (1024U * 1024U)
#define REJECTED_DATA_MAX (16U * 1024U * 1024U)

/* An entry of rejected/ as the call reports it. */
typedef struct Rejected {
        char name[NAME_MAX + 1];
        char *original;    /* the name it was dropped as, when the kept copy has another (long names) */
        json_object *json; /* the entry as reported */
        uid_t uid;
        bool removed;
        struct timespec time;
} Rejected;

/* A name the caller may ask for: a job file name as intake keeps them ("x.json", "x.1.json"). */
static bool rejected_name_valid(const char *name) {
        size_t n = strlen(name);

        return n > 5 && n + strlen(ERROR_JSON_SUFFIX) <= NAME_MAX && name[0] != '.' && !strchr(name, '/') &&
                streq(name + n - 5, ".json");
}

/* Fill e for rejected/NAME from its records. Returns 0, or -ENOENT if there is no such rejection. */
static int rejected_load(int dir_fd, const char *name, Rejected *e) {
        _cleanup_free_ char *buf = NULL;
        char path[NAME_MAX + 32];
        json_object *v;
        struct stat st;
        bool have_uid = false;

        *e = (Rejected){ .uid = 0 };
        snprintf(e->name, sizeof(e->name), "%s", name);
        snprintf(path, sizeof(path), "%s" ERROR_SUFFIX, name);
        if (fstatat(dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return -ENOENT;
        e->time = st.st_mtim;

        snprintf(path, sizeof(path), "%s" ERROR_JSON_SUFFIX, name);
        if (read_file_at(dir_fd, path, ERROR_TEXT_MAX, &buf, NULL) >= 0) {
                _cleanup_json_ json_object *j = json_tokener_parse(buf);

                if (j && json_object_object_get_ex(j, "uid", &v) && json_object_is_type(v, json_type_int) &&
                    json_object_get_int64(v) >= 0 && json_object_get_int64(v) < UINT32_MAX) {
                        e->uid = (uid_t) json_object_get_int64(v);
                        have_uid = true;
                }
                if (j && json_object_object_get_ex(j, "removed", &v))
                        e->removed = json_object_get_boolean(v);
                if (j && json_object_object_get_ex(j, "file", &v) &&
                    json_object_is_type(v, json_type_string) && !streq(json_object_get_string(v), name))
                        e->original = strdup(json_object_get_string(v));
        }
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                e->removed = true; /* nothing kept, whatever the record says */
        else if (!have_uid)
                e->uid = st.st_uid;
        return 0;
}

/* The text of rejected/NAME.error, all of it or its first line. Returns a malloc'd string or NULL. */
static char *rejected_error_text(int dir_fd, const char *name, bool first_line) {
        char path[NAME_MAX + 32], *buf = NULL;

        snprintf(path, sizeof(path), "%s" ERROR_SUFFIX, name);
        if (read_file_at(dir_fd, path, ERROR_TEXT_MAX, &buf, NULL) < 0)
                return strdup("(the error text cannot be read)");
        if (first_line)
                buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

/* The bytes of the kept file, base64, in *ret. Returns 0; -EFBIG with *ret_size; -errno. */
static int rejected_data(int dir_fd, const char *name, char **ret, uint64_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n;
        int r;

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -ENOENT; /* a symlink, FIFO or directory left by an older orchd: no bytes to give */
        *ret_size = (uint64_t) st.st_size;
        if ((uint64_t) st.st_size > REJECTED_DATA_MAX)
                return -EFBIG;
        r = read_full_fd(fd, REJECTED_DATA_MAX, &buf, &n);
        if (r < 0)
                return r;
        *ret_size = n;
        *ret = base64_encode(buf, n);
        return *ret ? 0 : -ENOMEM;
}

static json_object *rejected_to_json(int dir_fd, const Rejected *e, bool full) {
        _cleanup_json_ json_object *o = json_object_new_object();
        _cleanup_free_ char *error = rejected_error_text(dir_fd, e->name, !full);
        const struct passwd *pw = pwcache_getpwuid(e->uid);
        char ts[TIMESTAMP_STRING_MAX];

        if (!o || !error || json_object_object_add(o, "name", json_object_new_string(e->name)) < 0 ||
            json_object_object_add(o, "uid", json_object_new_int64(e->uid)) < 0 ||
            json_object_object_add(o, "user", pw ? json_object_new_string(pw->pw_name) : NULL) < 0 ||
            json_object_object_add(o, "time",
                                   json_object_new_string(protocol_format_timestamp(
                                           timespec_to_usec(&e->time), ts, sizeof(ts)))) < 0 ||
            json_object_object_add(o, "error", json_object_new_string(error)) < 0 ||
            json_object_object_add(o, "removed", json_object_new_boolean(e->removed)) < 0 ||
            (e->original && json_object_object_add(o, "original", json_object_new_string(e->original)) < 0))
                return NULL;
        return TAKE_PTR(o);
}

static int rejected_cmp(const void *a, const void *b) {
        const Rejected *x = a, *y = b;

        if (x->time.tv_sec != y->time.tv_sec)
                return x->time.tv_sec < y->time.tv_sec ? -1 : 1;
        if (x->time.tv_nsec != y->time.tv_nsec)
                return x->time.tv_nsec < y->time.tv_nsec ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* Whether the entry with error record `record` may belong to uid, judged by the record's owner (the index
 * intake keeps): uid's own, or root's (root's own entries and those of an orchd from before the index). */
static bool maybe_visible(int dir_fd, const char *record, uid_t uid) {
        struct stat st;

        if (uid == (uid_t) -1)
                return true;
        if (fstatat(dir_fd, record, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return st.st_uid == uid || st.st_uid == geteuid();
}

/* The rejections found so far, across directories. */
typedef struct RejectedList {
        Rejected *items;
        size_t n, cap;
} RejectedList;

static void rejected_list_done(RejectedList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].original);
                json_object_put(l->items[i].json);
        }
        free(l->items);
}

/* Room for one more entry in l. Returns 0 or -ENOMEM. */
static int rejected_list_grow(RejectedList *l) {
        Rejected *m;

        if (l->n < l->cap)
                return 0;
        m = reallocarray(l->items, MAX(l->cap * 2, (size_t) 16), sizeof(Rejected));
        if (!m)
                return -ENOMEM;
        l->items = m;
        l->cap = MAX(l->cap * 2, (size_t) 16);
        return 0;
}

/* Add dir_fd's entry NAME (full: with the whole error) to l if filter_uid ((uid_t) -1: anyone) owns it.
 * Returns 1 if added, 0 if it is not there or not filter_uid's, -ENOMEM. */
static int rejected_add(RejectedList *l, int dir_fd, const char *name, uid_t filter_uid, bool full) {
        Rejected e;

        if (rejected_load(dir_fd, name, &e) < 0)
                return 0;
        if (filter_uid != (uid_t) -1 && e.uid != filter_uid) {
                free(e.original);
                return 0;
        }
        e.json = rejected_to_json(dir_fd, &e, full);
        if (!e.json || rejected_list_grow(l) < 0) {
                free(e.original);
                json_object_put(e.json);
                return -ENOMEM;
        }
        l->items[l->n++] = e;
        return 1;
}

/* Every rejection in dir_fd that filter_uid may see ((uid_t) -1: all), added to l. */
static int rejected_scan(int dir_fd, uid_t filter_uid, RejectedList *l) {
        size_t sl = strlen(ERROR_JSON_SUFFIX);
        struct dirent *de;
        DIR *d;
        int r = opendir_fd(dir_fd, &d);

        if (r < 0)
                return r;
        while (r >= 0 && (de = readdir(d))) {
                size_t len = strlen(de->d_name);
                char name[NAME_MAX + 1];

                /* One entry per NAME.error.json: the record exists for kept and removed files alike. */
                if (len <= sl || !streq(de->d_name + len - sl, ERROR_JSON_SUFFIX))
                        continue;
                snprintf(name, sizeof(name), "%.*s", (int) (len - sl), de->d_name);
                if (rejected_name_valid(name) && maybe_visible(dir_fd, de->d_name, filter_uid))
                        r = rejected_add(l, dir_fd, name, filter_uid, false);
        }
        closedir(d);
        return r < 0 ? r : 0;
}

/* rejected/DNAME/ (DNAME a uid), if there is one: an fd, -ENOENT, or -errno. */
static int open_owner_dir(int rejected_fd, const char *dname) {
        int fd = openat(rejected_fd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

/* The entry NAME (full) or every entry of dir_fd, as filter_uid may see them, added to l. */
static int rejected_from(int dir_fd, const char *name, uid_t filter_uid, RejectedList *l) {
        int r = name ? rejected_add(l, dir_fd, name, filter_uid, true) :
                       rejected_scan(dir_fd, filter_uid, l);

        return r < 0 ? r : 0;
}

/* From each directory viewer may see: the flat one of older orchds, then rejected/UID/ of viewer (of
 * everyone for (uid_t) -1). With name only that entry, else every entry. */
static int rejected_collect(int rejected_fd, uid_t viewer, const char *name, RejectedList *l) {
        _cleanup_close_ int fd = -EBADF;
        char dname[16];
        struct dirent *de;
        DIR *d;
        int r;

        r = rejected_from(rejected_fd, name, viewer, l);
        if (r < 0)
                return r;
        if (viewer != (uid_t) -1) {
                snprintf(dname, sizeof(dname), "%u", (unsigned) viewer);
                fd = open_owner_dir(rejected_fd, dname);
                if (fd == -ENOENT)
                        return 0;
                return fd < 0 ? fd : rejected_from(fd, name, viewer, l);
        }
        r = opendir_fd(rejected_fd, &d);
        if (r < 0)
                return r;
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_close_ int sub = -EBADF;

                if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
                    strspn(de->d_name, "0123456789") != strlen(de->d_name))
                        continue;
                sub = open_owner_dir(rejected_fd, de->d_name);
                if (sub >= 0)
                        r = rejected_from(sub, name, viewer, l);
        }
        closedir(d);
        return r;
}

static int reply_files(ControlCall *call, json_object *files) {
        json_object *p = json_object_new_object();

        if (!p || json_object_object_add(p, "files", files) < 0) {
                json_object_put(p);
                json_object_put(files);
                return -ENOMEM;
        }
        return control_call_reply(call, p);
}

static int reply_no_such(ControlCall *call, const char *name) {
        json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "name", json_object_new_string(name));
        return control_call_error(call, ORCH_ERROR_NO_SUCH_REJECTED_FILE, p);
}

static int reply_too_large(ControlCall *call, const char *name, uint64_t size) {
        json_object *p = json_object_new_object();

        if (p) {
                json_object_object_add(p, "name", json_object_new_string(name));
                json_object_object_add(p, "size", json_object_new_int64((int64_t) size));
                json_object_object_add(p, "limit", json_object_new_int64(REJECTED_DATA_MAX));
        }
        return control_call_error(call, ORCH_ERROR_REJECTED_FILE_TOO_LARGE, p);
}

/* Add the bytes of e's kept file to e->json: from rejected/UID/, else from the flat directory of older
 * orchds. Returns 0 (also when there are no bytes to give), -EFBIG with *ret_size, -errno. */
static int add_data(int rejected_fd, const Rejected *e, uint64_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        char dname[16];
        int r;

        snprintf(dname, sizeof(dname), "%u", (unsigned) e->uid);
        fd = open_owner_dir(rejected_fd, dname);
        r = fd >= 0 ? rejected_data(fd, e->name, &data, ret_size) : -ENOENT;
        if (r == -ENOENT || r == -ELOOP)
                r = rejected_data(rejected_fd, e->name, &data, ret_size);
        if (r == -ENOENT || r == -ELOOP)
                return 0; /* a symlink, FIFO or directory left by an older orchd: no bytes to give */
        if (r < 0)
                return r;
        if (json_object_object_add(e->json, "size", json_object_new_int64((int64_t) *ret_size)) < 0 ||
            json_object_object_add(e->json, "data", json_object_new_string(data)) < 0)
                return -ENOMEM;
        return 0;
}

/* One file by name (for root and AdminGroup=: that of each owner who has one), with the whole error and,
 * with file, its bytes. */
static int rejected_one(ControlCall *call, int rejected_fd, const char *name, uid_t viewer, bool file) {
        _cleanup_(rejected_list_done) RejectedList l = {};
        _cleanup_json_ json_object *files = NULL;
        int r;

        if (!rejected_name_valid(name))
                return reply_no_such(call, name);
        r = rejected_collect(rejected_fd, viewer, name, &l);
        if (r < 0)
                return r;
        if (l.n == 0)
                return reply_no_such(call, name);
        if (l.n > 1)
                qsort(l.items, l.n, sizeof(Rejected), rejected_cmp);
        files = json_object_new_array();
        if (!files)
                return -ENOMEM;
        for (size_t i = 0; i < l.n; i++) {
                uint64_t size = 0;

                r = file && !l.items[i].removed ? add_data(rejected_fd, &l.items[i], &size) : 0;
                if (r == -EFBIG)
                        return reply_too_large(call, name, size);
                if (r < 0)
                        return r;
                if (json_object_array_add(files, l.items[i].json) < 0)
                        return -ENOMEM;
                l.items[i].json = NULL;
        }
        return reply_files(call, TAKE_PTR(files));
}

int method_rejected(ControlCall *call, json_object *params, void *userdata) {
        _cleanup_(rejected_list_done) RejectedList l = {};
        _cleanup_json_ json_object *files = NULL;
        Methods *ms = userdata;
        Manager *m = ms->manager;
        int dir_fd = spool_rejected_fd(m->spool);
        uid_t caller = control_call_uid(call), viewer = caller;
        json_object *name = NULL, *file = NULL;
        int r;

        if (params && json_object_object_get_ex(params, "name", &name) &&
            !json_object_is_type(name, json_type_string))
                return methods_reply_invalid_parameter(call, "name");
        if (params && json_object_object_get_ex(params, "file", &file) &&
            !json_object_is_type(file, json_type_boolean))
                return methods_reply_invalid_parameter(call, "file");
        /* Root, the daemon's own user and AdminGroup= see everyone's, as they do for jobs. */
        if (caller == 0 || caller == geteuid() ||
            (m->conf.admin_group && control_call_in_group(call, access_admin_gid(&m->conf))))
                viewer = (uid_t) -1;

        if (name)
                return rejected_one(call, dir_fd, json_object_get_string(name), viewer,
                                    json_object_get_boolean(file));
        r = rejected_collect(dir_fd, viewer, NULL, &l);
        if (r < 0)
                return r;
        if (l.n > 1)
                qsort(l.items, l.n, sizeof(Rejected), rejected_cmp);
        files = json_object_new_array_ext((int) MIN(l.n, (size_t) INT_MAX));
        if (!files)
                return -ENOMEM;
        for (size_t i = 0; i < l.n; i++) {
                if (json_object_array_add(files, l.items[i].json) < 0)
                        return -ENOMEM;
                l.items[i].json = NULL;
        }
        return reply_files(call, TAKE_PTR(files));
}
