/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * state-dump SPOOL — read every job directory of a spool with orchd's own readers (jobspec_parse() of
 * job.json, journal_load() of state.json and the journal files, as recovery does) and print one JSON
 * object per line, without a daemon and without touching anything:
 *
 *   {"dir":"12","ok":true,"name":…,"source":…,"state":…,"reason":…,"nodes":{ID:{"state","reason","attempt",
 *     "interrupted","pid"},…}}
 *   {"dir":"12","ok":false,"error":"state.json: nodes.a.attempt: …"}     a file that does not parse
 *   {"dir":".#13","staging":true,"name":…}                                  a job being accepted
 *   {"dir":".intake","files":[…]}                                           files claimed, not yet decided
 *
 * For the soak and fault tests (tests/soak/), which must watch the spool and never call the daemon.
 * Exit status: 0 when every job directory parsed, 1 when one did not, 2 when the spool cannot be read.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "jobspec.h"
#include "json-util.h"
#include "journal.h"
#include "macro.h"
#include "state.h"

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *reason_json(Reason r) {
        char buf[REASON_STRING_MAX];

        return str_or_null(reason_to_string(r, buf, sizeof(buf)));
}

static json_object *nodes_json(const JobSpec *spec, const JobRun *run) {
        json_object *nodes = json_object_new_object();

        for (size_t i = 0; i < spec->n_nodes; i++) {
                const NodeRun *n = &run->nodes[i];
                json_object *o = json_object_new_object();

                json_object_object_add(o, "state", str_or_null(node_state_to_string(n->state)));
                json_object_object_add(o, "reason", reason_json(n->reason));
                json_object_object_add(o, "attempt", json_object_new_int(n->attempt));
                json_object_object_add(o, "interrupted", json_object_new_int(n->interrupted));
                json_object_object_add(o, "pid", json_object_new_int(n->pid));
                json_object_object_add(nodes, spec->nodes[i].id, o);
        }
        return nodes;
}

/* Parse job.json of dfd. Returns 0 with *ret, or -errno/-EINVAL with *ret_why (static or malloc'd text). */
static int load_spec(int dfd, JobSpec **ret, char **ret_why) {
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_free_ char *buf = NULL;
        JobLimits limits;
        size_t size;
        int r;

        jobspec_limits_init(&limits);
        r = read_file_at(dfd, "job.json", limits.max_file_size, &buf, &size);
        if (r < 0) {
                *ret_why = strdup("job.json unreadable");
                return r;
        }
        r = jobspec_parse(buf, size, &limits, "job", ret, &errors);
        if (r < 0)
                *ret_why = errors ? jobspec_errors_format(errors, "job.json") : strdup("job.json invalid");
        return r;
}

/* One line for jobs/NAME. Returns 0 if it parsed, 1 if not. */
static int dump_job(int jobs_fd, const char *name) {
        _cleanup_json_ json_object *o = json_object_new_object();
        _cleanup_(jobspec_freep) JobSpec *spec = NULL;
        _cleanup_(job_run_freep) JobRun *run = NULL;
        _cleanup_free_ char *why = NULL;
        _cleanup_close_ int dfd = -EBADF;
        bool staging = name[0] == '.';
        int r;

        json_object_object_add(o, "dir", json_object_new_string(name));
        dfd = openat(jobs_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0) {
                r = -errno;
                why = strdup(strerror(-r));
        } else
                r = load_spec(dfd, &spec, &why);
        if (staging) {
                /* Being built: may be incomplete at any point, so nothing about it is an error. */
                json_object_object_add(o, "staging", json_object_new_boolean(true));
                json_object_object_add(o, "name", spec ? json_object_new_string(spec->name) : NULL);
        } else if (r >= 0 && (r = journal_load(dfd, spec, &run, NULL, &why)) >= 0) {
                json_object_object_add(o, "ok", json_object_new_boolean(true));
                json_object_object_add(o, "name", json_object_new_string(spec->name));
                json_object_object_add(o, "source", str_or_null(run->source));
                json_object_object_add(o, "state", str_or_null(job_state_to_string(run->state)));
                json_object_object_add(o, "reason", reason_json(run->reason));
                json_object_object_add(o, "nodes", nodes_json(spec, run));
        } else {
                json_object_object_add(o, "ok", json_object_new_boolean(false));
                json_object_object_add(o, "error", json_object_new_string(why ?: strerror(-r)));
        }
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        return !staging && r < 0;
}

static int dump_intake(int jobs_fd) {
        _cleanup_json_ json_object *o = json_object_new_object(), *files = json_object_new_array();
        int fd = openat(jobs_fd, ".intake", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return 0;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return 0;
        }
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        json_object_array_add(files, json_object_new_string(de->d_name));
        closedir(d);
        json_object_object_add(o, "dir", json_object_new_string(".intake"));
        json_object_object_add(o, "files", TAKE_PTR(files));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_close_ int jobs_fd = -EBADF;
        _cleanup_free_ char *path = NULL;
        struct dirent *de;
        int bad = 0;
        DIR *d;

        if (argc != 2) {
                fprintf(stderr, "usage: state-dump SPOOL\n");
                return 2;
        }
        if (asprintf(&path, "%s/jobs", argv[1]) < 0)
                return 2;
        jobs_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (jobs_fd < 0) {
                fprintf(stderr, "state-dump: %s: %s\n", path, strerror(errno));
                return 2;
        }
        d = fdopendir(dup(jobs_fd));
        if (!d)
                return 2;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, ".unfinished"))
                        continue; /* .unfinished: markers, no job (unfinished.h) */
                if (streq(de->d_name, ".intake"))
                        bad |= dump_intake(jobs_fd);
                else
                        bad |= dump_job(jobs_fd, de->d_name);
        }
        closedir(d);
        return bad ? 1 : 0;
}
