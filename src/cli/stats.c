/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/stats.c — "orchctl stats [--prometheus]": the daemon's counters as text, JSON or the Prometheus
 * text exposition format.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "json-util.h"
#include "orchctl.h"

static int64_t stat_int(json_object *o, const char *a, const char *b) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, a, &v))
                return 0;
        if (b && !json_object_object_get_ex(v, b, &v))
                return 0;
        return json_object_get_int64(v);
}

/* "3 queued, 1 running, …" over every key of a counts object, in the daemon's order. */
static void print_counts(json_object *counts, const char *suffix) {
        bool first = true;

        json_object_object_foreach(counts, k, v) {
                printf("%s%" PRId64 " %s", first ? "" : ", ", json_object_get_int64(v), k);
                first = false;
        }
        printf("%s\n", suffix);
}

/* "Isolation: cgroup below /sys/fs/cgroup/orchd-… (controllers: cpu memory)" or "Isolation: pgroup". */
static void print_isolation(json_object *r) {
        json_object *iso = reply_member(r, "isolation", json_type_string),
                    *base = reply_member(r, "cgroup", json_type_string),
                    *ctl = reply_member(r, "controllers", json_type_string);

        printf("Isolation: %s", iso ? json_object_get_string(iso) : "unknown");
        if (base)
                printf(" below %s", json_object_get_string(base));
        if (ctl)
                printf(" (controllers: %s)",
                       *json_object_get_string(ctl) ? json_object_get_string(ctl) : "none");
        printf("\n");
        if (reply_member(r, "accounting", json_type_object))
                printf("   Usage: %" PRId64 " attempts ended, %.2f s CPU, %" PRId64 " bytes read, %" PRId64
                       " bytes written\n",
                       stat_int(r, "accounting", "attempts"),
                       (double) stat_int(r, "accounting", "cpu_usec") / 1e6,
                       stat_int(r, "accounting", "io_read_bytes"),
                       stat_int(r, "accounting", "io_write_bytes"));
}

static void stats_print(json_object *r) {
        int64_t up = stat_int(r, "uptime_ms", NULL) / 1000, commits = stat_int(r, "journal", "commits");
        json_object *jobs = reply_member(r, "jobs", json_type_object),
                    *nodes = reply_member(r, "nodes", json_type_object);
        json_object *ro = reply_member(r, "read_only", json_type_string);

        /* First, so that nobody misses why nothing runs. */
        if (ro)
                printf("READ-ONLY: %s\n", json_object_get_string(ro));
        if (stat_int(r, "loading", NULL) > 0)
                printf("LOADING: %" PRId64
                       " jobs found at start are not loaded yet (not counted below); "
                       "no job is taken until they are (unfinished ones are, and run)\n",
                       stat_int(r, "loading", NULL));
        printf("  Uptime: %" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64 "\n", up / 86400,
               up / 3600 % 24, up / 60 % 60, up % 60);
        printf("    Jobs: ");
        if (jobs)
                print_counts(jobs, "");
        printf("   Nodes: ");
        if (nodes)
                print_counts(nodes, " (of unfinished jobs)");
        printf(" Spawned: %" PRId64 " processes\n", stat_int(r, "spawned", NULL));
        printf("  Intake: %" PRId64 " accepted, %" PRId64 " rejected\n", stat_int(r, "intake", "accepted"),
               stat_int(r, "intake", "rejected"));
        print_isolation(r);
        printf(" Journal: %" PRId64 " commits, %" PRId64 " files, %.2f ms per commit\n", commits,
               stat_int(r, "journal", "files"),
               commits > 0 ? (double) stat_int(r, "journal", "write_us") / 1000.0 / (double) commits : 0.0);
}

/* The accounting totals of ended attempts (cgroup isolation only). */
static void stats_prometheus_accounting(json_object *r) {
        if (!reply_member(r, "accounting", json_type_object))
                return;
        printf("# HELP orchd_node_attempts_accounted_total Attempts ended with the kernel's accounting.\n"
               "# TYPE orchd_node_attempts_accounted_total counter\n"
               "orchd_node_attempts_accounted_total %" PRId64 "\n",
               stat_int(r, "accounting", "attempts"));
        printf("# HELP orchd_node_cpu_seconds_total CPU time of ended attempts (cgroup cpu.stat).\n"
               "# TYPE orchd_node_cpu_seconds_total counter\norchd_node_cpu_seconds_total %.6f\n",
               (double) stat_int(r, "accounting", "cpu_usec") / 1e6);
        printf("# HELP orchd_node_io_bytes_total Bytes ended attempts read and wrote (cgroup io.stat).\n"
               "# TYPE orchd_node_io_bytes_total counter\n"
               "orchd_node_io_bytes_total{direction=\"read\"} %" PRId64
               "\n"
               "orchd_node_io_bytes_total{direction=\"write\"} %" PRId64 "\n",
               stat_int(r, "accounting", "io_read_bytes"), stat_int(r, "accounting", "io_write_bytes"));
}

/* The Prometheus text exposition format, for node_exporter's textfile collector. */
static void stats_prometheus(json_object *r) {
        json_object *jobs = reply_member(r, "jobs", json_type_object),
                    *nodes = reply_member(r, "nodes", json_type_object);

        printf("# HELP orchd_jobs Jobs the daemon knows, by state.\n# TYPE orchd_jobs gauge\n");
        if (jobs) {
                json_object_object_foreach(jobs, k, v)
                        printf("orchd_jobs{state=\"%s\"} %" PRId64 "\n", k, json_object_get_int64(v));
        }
        printf("# HELP orchd_nodes Nodes of unfinished jobs, by state.\n# TYPE orchd_nodes gauge\n");
        if (nodes) {
                json_object_object_foreach(nodes, k, v)
                        printf("orchd_nodes{state=\"%s\"} %" PRId64 "\n", k, json_object_get_int64(v));
        }
        printf("# HELP orchd_loading_jobs Jobs found at start not loaded yet (not in orchd_jobs).\n"
               "# TYPE orchd_loading_jobs gauge\norchd_loading_jobs %" PRId64 "\n",
               stat_int(r, "loading", NULL));
        printf("# HELP orchd_spawned_total Node processes started.\n# TYPE orchd_spawned_total counter\n"
               "orchd_spawned_total %" PRId64 "\n",
               stat_int(r, "spawned", NULL));
        printf("# HELP orchd_uptime_seconds Time since the daemon started.\n# TYPE orchd_uptime_seconds "
               "gauge\n"
               "orchd_uptime_seconds %.3f\n",
               (double) stat_int(r, "uptime_ms", NULL) / 1000.0);
        printf("# HELP orchd_intake_total Job files taken, by result.\n# TYPE orchd_intake_total counter\n"
               "orchd_intake_total{result=\"accepted\"} %" PRId64
               "\norchd_intake_total{result=\"rejected\"} %" PRId64 "\n",
               stat_int(r, "intake", "accepted"), stat_int(r, "intake", "rejected"));
        printf("# HELP orchd_journal_commits_total Durable group commits.\n# TYPE "
               "orchd_journal_commits_total counter\n"
               "orchd_journal_commits_total %" PRId64 "\n",
               stat_int(r, "journal", "commits"));
        printf("# HELP orchd_journal_files_total Journal files written.\n# TYPE orchd_journal_files_total "
               "counter\n"
               "orchd_journal_files_total %" PRId64 "\n",
               stat_int(r, "journal", "files"));
        printf("# HELP orchd_journal_write_seconds_total Time spent making commits durable.\n"
               "# TYPE orchd_journal_write_seconds_total counter\n"
               "orchd_journal_write_seconds_total %.6f\n",
               (double) stat_int(r, "journal", "write_us") / 1e6);
        printf("# HELP orchd_cgroup_isolation 1 when each node runs in a cgroup of its own, 0 for process "
               "groups.\n# TYPE orchd_cgroup_isolation gauge\norchd_cgroup_isolation %d\n",
               reply_member(r, "cgroup", json_type_string) ? 1 : 0);
        stats_prometheus_accounting(r);
        printf("# HELP orchd_read_only 1 while orchd cannot write its state (no room, or no fds): nothing "
               "starts.\n"
               "# TYPE orchd_read_only gauge\norchd_read_only %d\n",
               reply_member(r, "read_only", json_type_string) ? 1 : 0);
}

int verb_stats(char **args, size_t n_args) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        r = call_once(ORCH_METHOD_STATS, NULL, NULL, &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        if (arg_prometheus)
                stats_prometheus(reply);
        else
                stats_print(reply);
        return 0;
}
