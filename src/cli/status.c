/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/status.c — "orchctl status JOB": one job's header (state, reason, owner, times) and its nodes
 * as a table, or the daemon's job object as JSON.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "duration.h"
#include "json-util.h"
#include "jsonpretty.h"
#include "orchctl.h"
#include "state.h"

static void status_header_line(const char *label, const char *value, const char *color) {
        if (!value)
                return;
        printf("%12s: %s%s%s\n", label, color ?: "", escaped(value), color ? "\033[0m" : "");
}

/* "1.23s" of CPU, "512M" of memory: the kernel's figures of the last ended attempt (cgroup isolation);
 * "-" where the reply has none. */
static const char *acct_cell(json_object *node, const char *key, char *buf, size_t size) {
        int64_t v;

        if (!get_int(node, key, &v) || v < 0)
                return "-";
        if (streq(key, "cpu_usec"))
                snprintf(buf, size, "%.2fs", (double) v / 1e6);
        else if (v >= 1LL << 30)
                snprintf(buf, size, "%.1fG", (double) v / (double) (1LL << 30));
        else if (v >= 1LL << 20)
                snprintf(buf, size, "%.1fM", (double) v / (double) (1LL << 20));
        else
                snprintf(buf, size, "%" PRId64 "K", v >> 10);
        return buf;
}

/* Whether any node of the reply carries key (the CPU and MEMORY columns appear only then). */
static bool any_node_has(json_object *nodes, const char *key) {
        json_object_object_foreach(nodes, id, node) {
                (void) id;
                if (json_object_object_get_ex(node, key, NULL))
                        return true;
        }
        return false;
}

/* One node's CPU and MEMORY cells, when the table has those columns. */
static int status_acct_cells(Table *t, json_object *node, bool cpu, bool mem) {
        char buf[32];
        int r = 0;

        if (cpu)
                r = table_add(t, acct_cell(node, "cpu_usec", buf, sizeof(buf)), NULL);
        if (r >= 0 && mem)
                r = table_add(t, acct_cell(node, "memory_peak", buf, sizeof(buf)), NULL);
        return r;
}

static int status_nodes(json_object *nodes) {
        bool cpu = any_node_has(nodes, "cpu_usec"), mem = any_node_has(nodes, "memory_peak");
        Table t = { .n_columns = 6 + cpu + mem };
        int r = 0;

        for (const char *const *h =
                     (const char *const[]){ "NODE", "STATE", "ATTEMPTS", "EXIT", "DURATION", NULL };
             *h && r >= 0; h++)
                r = table_add(&t, *h, NULL);
        if (r >= 0 && cpu)
                r = table_add(&t, "CPU", NULL);
        if (r >= 0 && mem)
                r = table_add(&t, "MEMORY", NULL);
        if (r >= 0)
                r = table_add(&t, "REASON", NULL);
        json_object_object_foreach(nodes, id, node) {
                const char *state = get_string(node, "state"), *sig = get_string(node, "signal");
                char attempts[24] = "-", exit_code[24] = "-", duration[DURATION_STRING_MAX];
                int64_t i;

                if (r < 0)
                        break;
                if (get_int(node, "attempts", &i))
                        snprintf(attempts, sizeof(attempts), "%" PRId64, i);
                if (get_int(node, "exit_code", &i))
                        snprintf(exit_code, sizeof(exit_code), "%" PRId64, i);
                else if (sig)
                        snprintf(exit_code, sizeof(exit_code), "SIG%s", sig);
                /* A frozen node (pause --freeze) still runs as far as its state goes: say why it does not.
                 */
                if (json_object_object_get_ex(node, "frozen", NULL))
                        state = "frozen";
                if (table_add(&t, id, NULL) < 0 || table_add(&t, state, state_color(state)) < 0 ||
                    table_add(&t, attempts, NULL) < 0 || table_add(&t, exit_code, NULL) < 0 ||
                    table_add(&t, node_duration(node, duration, sizeof(duration)), NULL) < 0 ||
                    status_acct_cells(&t, node, cpu, mem) < 0)
                        r = -ENOMEM;
                else
                        r = table_add(&t, get_string(node, "reason") ?: "", NULL);
        }
        if (r >= 0)
                table_print(&t);
        table_done(&t);
        if (r >= 0) {
                json_object_object_foreach(nodes, lid, lnode) {
                        int64_t lost;

                        if (get_int(lnode, "log_dropped", &lost) && lost > 0)
                                printf("Node %s: %" PRId64
                                       " bytes of output of its last attempt were lost from "
                                       "its log (the spool's filesystem was full).\n",
                                       lid, lost);
                }
        }
        return r < 0 ? fail(EX_SOFTWARE, "out of memory") : EXIT_SUCCESS;
}

static int status_print(json_object *job) {
        json_object *owner = reply_member(job, "owner", json_type_object), *nodes;
        const char *state = get_string(job, "state"), *user = owner ? get_string(owner, "user") : NULL;
        char buf[64], who[160], prio[24], progress[48];
        int64_t uid = -1, priority = 0;
        size_t counts[_NODE_STATE_MAX] = {}, n_nodes = 0;

        if (owner)
                (void) get_int(owner, "uid", &uid);
        snprintf(who, sizeof(who), "%s (uid %" PRId64 ")", user ?: "?", uid);
        (void) get_int(job, "priority", &priority);
        snprintf(prio, sizeof(prio), "%" PRId64, priority);

        nodes = reply_member(job, "nodes", json_type_object);
        if (!nodes)
                return fail(EX_SOFTWARE, "invalid reply from orchd: job without \"nodes\"");
        json_object_object_foreach(nodes, id, node) {
                NodeState s = node_state_from_string(get_string(node, "state"));

                (void) id;
                if (s >= 0)
                        counts[s]++;
                n_nodes++;
        }
        snprintf(progress, sizeof(progress), "%zu total, %zu running, %zu succeeded, %zu failed", n_nodes,
                 counts[NODE_RUNNING], counts[NODE_SUCCEEDED], counts[NODE_FAILED]);

        printf("%s%s %s%s\n", arg_color ? "\033[1m" : "", strna(escaped(get_string(job, "id"))),
               strna(escaped(get_string(job, "name"))), arg_color ? "\033[0m" : "");
        status_header_line("State", state, state_color(state));
        status_header_line("Reason", get_string(job, "reason"), NULL);
        status_header_line("Owner", who, NULL);
        status_header_line("Priority", prio, NULL);
        status_header_line("Key", get_string(job, "key"), NULL);
        status_header_line("Source", get_string(job, "source"), NULL);
        status_header_line("Submitted",
                           format_local_time(get_string(job, "submitted_at"), true, buf, sizeof(buf)), NULL);
        status_header_line("Started",
                           format_local_time(get_string(job, "started_at"), true, buf, sizeof(buf)), NULL);
        status_header_line("Finished",
                           format_local_time(get_string(job, "finished_at"), true, buf, sizeof(buf)), NULL);
        status_header_line("Nodes", progress, NULL);
        putchar('\n');
        return status_nodes(nodes);
}

/* --json: orchd's reply re-indented as it came, when it is {"parameters":{"job":…}}: a json-c tree of a
 * 100,000-node job took seconds to build, only to be printed again. Returns -EAGAIN for any other reply,
 * which the caller takes the common way. */
static int status_json_text(Client *c) {
        static const char head[] = "{\"parameters\":{\"job\":";
        _cleanup_free_ char *out = NULL;
        const char *msg;
        size_t len, out_len, used;

        if (client_read_text(c, USEC_INFINITY, &msg, &len) < 0 || len < strlen(head) ||
            !strneq(msg, head, strlen(head)) ||
            json_pretty(msg + strlen(head), len - strlen(head), &out, &out_len, &used) < 0 ||
            len - strlen(head) - used != 2 || !strneq(msg + len - 2, "}}", 2))
                return -EAGAIN;
        if (fwrite(out, 1, out_len, stdout) != out_len || putchar('\n') == EOF)
                return fail(EX_IOERR, "cannot write the status: %m");
        return EXIT_SUCCESS;
}

int verb_status(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]), *reply = NULL;
        json_object *job;
        int r;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        if (arg_json) {
                Client *c = NULL;

                r = connect_daemon(&c);
                if (r != 0)
                        return r;
                r = client_send(c, ORCH_METHOD_STATUS, p, false) < 0 ? -EAGAIN : status_json_text(c);
                client_free(c);
                if (r != -EAGAIN)
                        return r;
        }
        r = call_once(ORCH_METHOD_STATUS, p, args[0], &reply);
        if (r != 0)
                return r;
        job = reply_member(reply, "job", json_type_object);
        if (!job)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"job\" object");
        return arg_json ? print_json(job) : status_print(job);
}
