/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Job files: the nodes. Validates each member of "nodes" and the "defaults" object as they stream past,
 * then, once the whole file is read, applies the defaults, resolves `after` names to indices and checks for
 * cycles.
 *
 * Inheritance: "defaults" supplies any node field except cmd/after that a node does not set. It works per
 * top-level field: a node's own "retry" (or "env") object replaces the default one as a whole rather
 * than being merged key by key, so reading one node's object tells everything about that field. The
 * exception is "resources": job level, defaults and node are merged limit by limit (nodes_resources()). An
 * inherited env or cwd is shared, not copied: the JobSpec owns the defaults' values (defaults_env,
 * defaults_cwd) and every node that inherits one points at it, so a job's memory is proportional to its
 * file, not to defaults × nodes.
 *
 * Invariants: after jobspec_finish_nodes() without errors every node has argv, every after index is in
 * range, with no duplicate and no self edge, and the graph is acyclic. `after` resolution errors and the
 * cycle are recorded after every per-node error, because they need every id first.
 *
 * Deliberately does not: validate job-level fields or drive the parse (jobspec.c), or log.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "duration.h"
#include "jobspec-internal.h"
#include "json-util.h"
#include "nodeid.h"

#define CYCLE_SHOW_MAX 16

static const char *const node_fields[_F_NODE_MAX] = {
        [F_CMD] = "cmd",
        [F_AFTER] = "after",
        [F_WHEN] = "when",
        [F_RETRY] = "retry",
        [F_TIMEOUT] = "timeout",
        [F_KILL_GRACE] = "kill_grace",
        [F_ENV] = "env",
        [F_CWD] = "cwd",
        [F_ALLOW_FAILURE] = "allow_failure",
        [F_ON_INTERRUPT] = "on_interrupt",
        [F_UMASK] = "umask",
        [F_OUTPUT] = "output",
        [F_ABORT_ON_EXIT] = "abort_on_exit",
        [F_RESOURCES] = "resources",
};

void jobspec_node_init(NodeSpec *n) {
        *n = (NodeSpec){ .when = TRIGGER_SUCCESS,
                         .kill_grace_usec = 10 * USEC_PER_SEC,
                         .on_interrupt = ON_INTERRUPT_RERUN,
                         .umask = -1 };
        retry_policy_init(&n->retry);
}

void jobspec_node_done(NodeSpec *n, char **shared_env, const char *shared_cwd, const Resources *shared_res) {
        free(n->id);
        strv_free(n->argv);
        free(n->after);
        if (n->env != shared_env)
                strv_free(n->env);
        if (n->cwd != shared_cwd)
                free(n->cwd);
        if (n->resources != shared_res)
                free(n->resources);
}

/* ---- fields ---- */

/* A string cmd runs through the shell: {"/bin/sh", "-c", cmd}. */
static void parse_cmd_string(JobCtx *c, const JsonPath *path, json_object *v, NodeSpec *n) {
        _cleanup_strv_free_ char **argv = NULL;
        const char *s;

        /* A shell script: multi-line is ordinary ("set -e\nmake\nmake check"), other controls are not. */
        if (!jobspec_get_string(c, path, v, true, &s) || !jobspec_check_no_control(c, path, s, true))
                return;
        argv = calloc(4, sizeof(char *));
        if (!argv || !(argv[0] = strdup("/bin/sh")) || !(argv[1] = strdup("-c")) || !(argv[2] = strdup(s))) {
                c->oom = true;
                return;
        }
        n->shell = true;
        n->argv = TAKE_PTR(argv);
}

static void parse_cmd(JobCtx *c, const JsonPath *path, json_object *v, NodeSpec *n) {
        static const char expected[] = "a command: a non-empty array of strings or a non-empty string";
        _cleanup_strv_free_ char **argv = NULL;
        const char *s;
        size_t len;
        bool ok = true;

        if (json_object_is_type(v, json_type_string)) {
                parse_cmd_string(c, path, v, n);
                return;
        }
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
                char buf[VALUE_DESC_BUF];
                jobspec_add_error(c, path, "expected %s, got %s", expected,
                                  json_object_is_type(v, json_type_array) ? "an empty array" :
                                                                            jobspec_describe(v, buf));
                return;
        }

        len = json_object_array_length(v);
        argv = calloc(len + 1, sizeof(char *));
        if (!argv) {
                c->oom = true;
                return;
        }
        for (size_t i = 0; i < len; i++) {
                JsonPath ep = JSON_PATH_INDEX(path, i);
                /* argv[0] names the program: empty can never be executed. Later arguments may be "". */
                /* The program (argv[0]) is printed and logged: no control characters at all. Later
                 * arguments may carry tab and newline (["sh", "-c", "a\nb"]), nothing else. */
                if (!jobspec_get_string(c, &ep, json_object_array_get_idx(v, i), i == 0, &s) ||
                    !jobspec_check_no_control(c, &ep, s, i > 0)) {
                        ok = false;
                        continue;
                }
                if (ok && !(argv[i] = strdup(s))) {
                        c->oom = true;
                        return;
                }
        }
        if (ok)
                n->argv = TAKE_PTR(argv);
}

static void parse_when(JobCtx *c, const JsonPath *path, json_object *v, NodeSpec *n) {
        TriggerRule w;
        const char *s;

        if (!jobspec_get_string(c, path, v, false, &s))
                return;
        w = trigger_rule_from_string(s);
        if (w < 0)
                jobspec_add_error(c, path, "expected %s, got \"%.64s\"",
                                  "\"success\", \"failure\" or \"always\"", s);
        else
                n->when = w;
}

static void parse_on_interrupt(JobCtx *c, const JsonPath *path, json_object *v, NodeSpec *n) {
        OnInterrupt o;
        const char *s;

        if (!jobspec_get_string(c, path, v, false, &s))
                return;
        o = on_interrupt_from_string(s);
        if (o < 0)
                jobspec_add_error(c, path, "expected \"rerun\" or \"fail\", got \"%.64s\"", s);
        else
                n->on_interrupt = o;
}

static void parse_output(JobCtx *c, const JsonPath *path, json_object *v, NodeSpec *n) {
        const char *s;

        if (!jobspec_get_string(c, path, v, false, &s))
                return;
        if (streq(s, "merged") || streq(s, "separate"))
                n->output_separate = streq(s, "separate");
        else
                jobspec_add_error(
                        c, path,
                        "expected \"merged\" (stdout and stderr in one stream, in the order written) "
                        "or \"separate\", got \"%.64s\"",
                        s);
}

/* ---- `after`, first pass: names only ---- */

static int names_append(JobCtx *c, const void *data, size_t len) {
        if (c->names_len + len > c->names_alloc) {
                size_t na = MAX(MAX(c->names_alloc * 2, c->names_len + len), (size_t) 4096);
                char *n = realloc(c->names, na);
                if (!n) {
                        c->oom = true;
                        return -ENOMEM;
                }
                c->names = n;
                c->names_alloc = na;
        }
        memcpy(c->names + c->names_len, data, len);
        c->names_len += len;
        return 0;
}

/* Type-check `after` and stash its names; resolve_after() maps them to indices once every id is known. */
static void collect_after(JobCtx *c, const JsonPath *path, json_object *v, NodeTmp *t) {
        size_t len;

        if (!jobspec_expect_type(c, path, v, json_type_array, "an array of node ids"))
                return;
        len = json_object_array_length(v);
        if (len > c->limits->max_after) {
                jobspec_add_error(c, path, "too many dependencies: %zu, the limit is %zu", len,
                                  c->limits->max_after);
                return;
        }
        t->after_off = c->names_len;
        for (size_t i = 0; i < len; i++) {
                JsonPath ep = JSON_PATH_INDEX(path, i);
                uint32_t pos = (uint32_t) i;
                const char *s;

                if (!jobspec_get_string(c, &ep, json_object_array_get_idx(v, i), false, &s))
                        continue;
                if (names_append(c, &pos, sizeof pos) < 0 || names_append(c, s, strlen(s) + 1) < 0)
                        return;
                t->n_names++;
        }
}

/* ---- one node ---- */

/* Parse the fields of a node (or of "defaults" when t == NULL) into n; bit F of *set for each field
 * present, valid or not, so a broken field is not papered over by the default. */
static void parse_node_fields(JobCtx *c, const JsonPath *path, json_object *v, NodeSpec *n, NodeTmp *t,
                              unsigned *set) {
        bool is_defaults = !t;

        json_object_object_foreach(v, key, val) {
                JsonPath kp = JSON_PATH_KEY(path, key);
                int f = jobspec_field_lookup(node_fields, _F_NODE_MAX, key);
                bool b;

                if (f < 0 || (is_defaults && (f == F_CMD || f == F_AFTER))) {
                        jobspec_unknown_field(c, path, key, node_fields, _F_NODE_MAX, is_defaults);
                        continue;
                }
                *set |= 1U << f;
                switch (f) {
                case F_CMD:
                        parse_cmd(c, &kp, val, n);
                        break;
                case F_AFTER:
                        collect_after(c, &kp, val, t);
                        break;
                case F_WHEN:
                        parse_when(c, &kp, val, n);
                        break;
                case F_RETRY:
                        jobspec_parse_retry(c, &kp, val, &n->retry);
                        break;
                case F_TIMEOUT:
                        (void) jobspec_get_duration(c, &kp, val, true, &n->timeout_usec);
                        break;
                case F_KILL_GRACE:
                        (void) jobspec_get_duration(c, &kp, val, false, &n->kill_grace_usec);
                        break;
                case F_ENV:
                        (void) jobspec_get_env(c, &kp, val, &n->env);
                        break;
                case F_CWD:
                        (void) jobspec_get_cwd(c, &kp, val, &n->cwd);
                        break;
                case F_ALLOW_FAILURE:
                        if (jobspec_get_bool(c, &kp, val, &b))
                                n->allow_failure = b;
                        break;
                case F_ON_INTERRUPT:
                        parse_on_interrupt(c, &kp, val, n);
                        break;
                case F_UMASK:
                        (void) jobspec_get_umask(c, &kp, val, &n->umask);
                        break;
                case F_OUTPUT:
                        parse_output(c, &kp, val, n);
                        break;
                case F_ABORT_ON_EXIT:
                        jobspec_parse_abort_on_exit(c, &kp, val, &n->abort_on_exit);
                        break;
                case F_RESOURCES:
                        /* Only the nodes that set it pay for it; the others share JobSpec.resources. */
                        if (!n->resources && !(n->resources = malloc(sizeof(Resources)))) {
                                c->oom = true;
                                break;
                        }
                        jobspec_parse_resources(c, &kp, val, n->resources);
                        break;
                }
        }
}

void jobspec_parse_defaults(JobCtx *c, const JsonPath *path, json_object *v) {
        if (jobspec_expect_type(c, path, v, json_type_object, "an object"))
                parse_node_fields(c, path, v, &c->tmpl, NULL, &c->tmpl_set);
}

/* Append a node with SPEC defaults and this id; its NodeTmp is zeroed. Returns NULL on OOM. */
static NodeSpec *node_append(JobCtx *c, const char *id) {
        JobSpec *j = c->spec;
        NodeSpec *n;

        if (j->n_nodes == c->nodes_alloc) {
                size_t na = MAX(c->nodes_alloc * 2, (size_t) 16);
                NodeSpec *nn = reallocarray(j->nodes, na, sizeof(NodeSpec));
                if (!nn)
                        return NULL;
                j->nodes = nn;
                NodeTmp *nt = reallocarray(c->tmp, na, sizeof(NodeTmp));
                if (!nt)
                        return NULL;
                c->tmp = nt;
                c->nodes_alloc = na;
        }
        n = &j->nodes[j->n_nodes];
        jobspec_node_init(n);
        c->tmp[j->n_nodes] = (NodeTmp){};
        n->id = strdup(id);
        if (!n->id)
                return NULL;
        j->n_nodes++;
        return n;
}

/* One member of "nodes", as soon as it is parsed: the json-c object is freed right after, so a
 * 100,000-node file never exists as a json-c tree. */
int jobspec_on_node(JobCtx *c, const JsonPath *m, json_object *v) {
        JsonPath cp = JSON_PATH_KEY(m, "cmd");
        unsigned set = 0;
        NodeSpec *n;
        NodeTmp *t;

        if (++c->n_seen > c->limits->max_nodes)
                return 1; /* reported once the count is known */
        n = node_append(c, m->key);
        if (!n)
                return -ENOMEM;
        t = &c->tmp[c->spec->n_nodes - 1];

        if (!nodeid_valid(m->key))
                jobspec_add_error(c, m,
                                  "invalid node id: must match ^[A-Za-z0-9][A-Za-z0-9_./-]{0,239}$ with no "
                                  "empty, \".\" or \"..\" component between '/'");
        if (!jobspec_expect_type(c, m, v, json_type_object, "a node object"))
                return 1;
        parse_node_fields(c, m, v, n, t, &set);
        t->set = (uint16_t) set;
        /* cmd is never inherited, so a missing one can be reported right away. */
        if (!(set & (1U << F_CMD)))
                jobspec_add_error(c, &cp, "missing required field");
        return 1;
}

/* ---- after the whole file ---- */

/* Fill every field the node did not set from the defaults template (which holds SPEC defaults where
 * "defaults" itself was silent). env and cwd are not copied: the node points at the JobSpec's one shared
 * value, so memory follows the size of the file, not defaults × nodes (a 1 MiB defaults.env on 100,000
 * nodes would otherwise be 100 GiB). */
static void node_inherit(const JobSpec *j, NodeSpec *n, unsigned set, const NodeSpec *d) {
        if (!(set & (1U << F_WHEN)))
                n->when = d->when;
        if (!(set & (1U << F_RETRY)))
                n->retry = d->retry;
        if (!(set & (1U << F_TIMEOUT)))
                n->timeout_usec = d->timeout_usec;
        if (!(set & (1U << F_KILL_GRACE)))
                n->kill_grace_usec = d->kill_grace_usec;
        if (!(set & (1U << F_ALLOW_FAILURE)))
                n->allow_failure = d->allow_failure;
        if (!(set & (1U << F_ON_INTERRUPT)))
                n->on_interrupt = d->on_interrupt;
        if (!(set & (1U << F_ENV)))
                n->env = j->defaults_env;
        if (!(set & (1U << F_CWD)))
                n->cwd = j->defaults_cwd;
        if (!(set & (1U << F_UMASK)))
                n->umask = d->umask;
        if (!(set & (1U << F_OUTPUT)))
                n->output_separate = d->output_separate;
        if (!(set & (1U << F_ABORT_ON_EXIT)))
                n->abort_on_exit = d->abort_on_exit;
}

/* The effective limits: the job level, overlaid field by field with "defaults.resources", then with the
 * node's own. Unlike retry or env, whose default applies as a whole object, a node's "resources" does not
 * drop the limits it does not name: a limit never disappears by accident ("max" lifts one explicitly).
 * Nodes without their own share one value; an effective value without any limit is NULL. */
static int nodes_resources(JobCtx *c) {
        JobSpec *j = c->spec;
        Resources shared = c->job_resources;

        if (c->tmpl.resources)
                resources_merge(&shared, c->tmpl.resources);
        if (!resources_is_empty(&shared) && !(j->resources = memdup(&shared, sizeof shared)))
                return -ENOMEM;
        for (size_t i = 0; i < j->n_nodes; i++) {
                NodeSpec *n = &j->nodes[i];
                Resources own;

                if (!n->resources) {
                        n->resources = j->resources;
                        continue;
                }
                own = shared;
                resources_merge(&own, n->resources);
                *n->resources = own;
                if (resources_is_empty(&own))
                        n->resources = mfree(n->resources);
        }
        return 0;
}

/* seen_by[k] == self + 1 means node k was already listed by this node, at position seen_pos[k]: an O(1)
 * duplicate check without clearing anything between nodes. */
static void resolve_after(JobCtx *c, const JsonPath *np, uint32_t self, uint32_t *seen_by,
                          uint32_t *seen_pos) {
        NodeSpec *n = &c->spec->nodes[self];
        const NodeTmp *t = &c->tmp[self];
        JsonPath kp = JSON_PATH_KEY(np, n->id), ap = JSON_PATH_KEY(&kp, "after");
        const char *p;

        /* Before any arithmetic on c->names: it is NULL when no node has "after" (NULL + 0 is undefined). */
        if (t->n_names == 0)
                return;
        p = c->names + t->after_off;
        n->after = malloc(t->n_names * sizeof(uint32_t));
        if (!n->after) {
                c->oom = true;
                return;
        }
        for (uint32_t i = 0; i < t->n_names; i++) {
                uint32_t pos;
                const char *s = p + sizeof pos;
                ssize_t k;

                memcpy(&pos, p, sizeof pos);
                p = s + strlen(s) + 1;
                JsonPath ep = JSON_PATH_INDEX(&ap, pos);
                k = jobspec_find_node(c->spec, s);
                if (k < 0)
                        jobspec_add_error(c, &ep, "unknown node \"%.64s\"", s);
                else if ((uint32_t) k == self)
                        jobspec_add_error(c, &ep, "a node cannot depend on itself");
                else if (seen_by[k] == self + 1)
                        jobspec_add_error(c, &ep, "duplicate dependency \"%s\" (also at after[%u])", s,
                                          seen_pos[k]);
                else {
                        seen_by[k] = self + 1;
                        seen_pos[k] = pos;
                        n->after[n->n_after++] = (uint32_t) k;
                }
        }
}

static void format_cycle(JobCtx *c, const JsonPath *path, const uint32_t *cycle, size_t len) {
        _cleanup_free_ char *s = NULL;
        size_t sz = 0;
        FILE *f;

        f = open_memstream(&s, &sz);
        if (!f) {
                c->oom = true;
                return;
        }
        /* A cycle through 100,000 nodes would make an unreadable message: show its head and its end. */
        for (size_t i = 0; i < len; i++) {
                if (len > CYCLE_SHOW_MAX + 1 && i == CYCLE_SHOW_MAX) {
                        fprintf(f, " -> … (%zu more)", len - CYCLE_SHOW_MAX - 1);
                        i = len - 1;
                }
                fprintf(f, "%s%s", i ? " -> " : "", c->spec->nodes[cycle[i]].id);
        }
        if (fclose(f) != 0) {
                c->oom = true;
                return;
        }
        jobspec_add_error(c, path, "cycle: %s", s);
}

static int check_cycles(JobCtx *c, const JsonPath *path) {
        _cleanup_free_ uint32_t *cycle = NULL;
        JobSpec *j = c->spec;
        size_t len = 0;
        Dag *d = NULL;
        int r;

        r = dag_new(j->n_nodes, &d);
        if (r < 0)
                return r;
        for (size_t i = 0; i < j->n_nodes && r >= 0; i++)
                for (uint32_t k = 0; k < j->nodes[i].n_after && r >= 0; k++)
                        r = dag_add_edge(d, j->nodes[i].after[k], (uint32_t) i);
        if (r >= 0)
                r = dag_seal(d, &cycle, &len);
        dag_free(d);
        if (r == -ELOOP) {
                format_cycle(c, path, cycle, len);
                return 0;
        }
        return r;
}

/* After the whole file: defaults, the id index, dependencies, cycles. */
int jobspec_finish_nodes(JobCtx *c, const JsonPath *np) {
        _cleanup_free_ uint32_t *seen_by = NULL, *seen_pos = NULL;
        JobSpec *j = c->spec;
        NodeSpec *shrunk;
        int r;

        if (c->n_seen == 0) {
                jobspec_add_error(c, np, "must contain at least one node");
                return 0;
        }
        if (c->n_seen > c->limits->max_nodes) {
                jobspec_add_error(c, np, "too many nodes: %zu, the limit is %zu", c->n_seen,
                                  c->limits->max_nodes);
                return 0;
        }

        /* Growth by doubling may have left up to half the array unused; a JobSpec lives as long as its
         * job. */
        shrunk = reallocarray(j->nodes, j->n_nodes, sizeof(NodeSpec));
        if (shrunk)
                j->nodes = shrunk;
        r = jobspec_build_index(j);
        if (r < 0)
                return r;
        seen_by = calloc(j->n_nodes, sizeof(uint32_t));
        seen_pos = malloc(j->n_nodes * sizeof(uint32_t));
        if (!seen_by || !seen_pos)
                return -ENOMEM;
        /* The JobSpec takes over the template's env and cwd: from here on it is their one owner, and the
         * nodes that inherit them borrow them (jobspec_free() frees each once). */
        j->defaults_env = TAKE_PTR(c->tmpl.env);
        j->defaults_cwd = TAKE_PTR(c->tmpl.cwd);
        for (size_t i = 0; i < j->n_nodes; i++)
                node_inherit(j, &j->nodes[i], c->tmp[i].set, &c->tmpl);
        r = nodes_resources(c);
        if (r < 0)
                return r;

        for (size_t i = 0; i < j->n_nodes && !c->oom; i++)
                resolve_after(c, np, (uint32_t) i, seen_by, seen_pos);
        /* Invalid `after` entries were not recorded as edges, so the cycle check is sound even when other
         * errors were found, and reporting a cycle now saves the user a round trip. */
        return c->oom ? -ENOMEM : check_cycles(c, np);
}
