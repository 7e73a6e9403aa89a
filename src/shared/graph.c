/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Graphviz DOT for `orchctl graph JOB` and `orchctl graph FILE` (SPEC §5): one node per job node in file
 * order, one edge per `after` entry (dependency → dependent) styled by the dependent's trigger rule, node
 * colours by state when a run is known, and a legend cluster that explains both.
 *
 * Invariants: the output is a pure function of its inputs (no clock, no locale, no hash order), so it can
 * be diffed and tested byte for byte; every string we did not write ourselves (job name, node ids) goes
 * through dot_put_escaped(), which makes any byte sequence a valid DOT string: quotes and backslashes are
 * escaped, control bytes and invalid UTF-8 become visible "\xHH" text, so `dot` never rejects the graph
 * and a name cannot inject attributes or label escapes (\N, \G, \l).
 *
 * Deliberately not here: running `dot`, layout hints beyond rankdir, and any I/O except the in-memory
 * stream. Write errors on that stream are sticky; they are checked once, at the end.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "macro.h"
#include "utf8.h"

typedef struct StateStyle {
        const char *fillcolor;
        const char *fontcolor; /* NULL = the default, black */
        const char *style;     /* NULL = the default, "filled" */
} StateStyle;

static const StateStyle state_style_table[_NODE_STATE_MAX] = {
        [NODE_PENDING] = { "gray75", NULL, NULL },      [NODE_RUNNING] = { "lightskyblue", NULL, NULL },
        [NODE_RETRY_WAIT] = { "orange", NULL, NULL },   [NODE_SUCCEEDED] = { "palegreen", NULL, NULL },
        [NODE_FAILED] = { "tomato", NULL, NULL },       [NODE_SKIPPED] = { "gray93", NULL, "filled,dashed" },
        [NODE_CANCELLED] = { "gray40", "white", NULL },
};

/* Edge attributes by the dependent's trigger rule; NULL = the default solid black edge. */
static const char *const trigger_edge_table[_TRIGGER_RULE_MAX] = {
        [TRIGGER_SUCCESS] = NULL,
        [TRIGGER_FAILURE] = "color=red, style=dashed",
        [TRIGGER_ALWAYS] = "color=gray50, style=bold",
};

/* allow_failure nodes get their own shape, so they stand out whatever their state colour is. */
#define ALLOW_FAILURE_SHAPE "octagon"

/* Length of the valid UTF-8 sequence at s (1…4), or 0 if none starts there. Never reads past a NUL: a NUL
 * is not a continuation byte. */
static size_t utf8_sequence_len(const unsigned char *s) {
        return utf8_valid_len((const char *) s, strnlen((const char *) s, 4));
}

/* Write s as the inside of a DOT quoted string. In a label (escString) Graphviz also expands "\N", "\n",
 * "\l" and HTML entities, so there a backslash is doubled (the doubled form is harmless in an ID too) and
 * '&' becomes "&amp;"; a newline becomes "\n" (a line break in a label). */
static void dot_put_escaped(FILE *f, const char *s, bool label) {
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_sequence_len(p);

                if (n == 0 || *p < 0x20 || *p == 0x7f) {
                        if (*p == '\n')
                                fputs("\\n", f);
                        else
                                fprintf(f, "\\\\x%02x", *p);
                        p++;
                        continue;
                }
                if (*p == '"' || *p == '\\')
                        fputc('\\', f);
                if (*p == '&' && label)
                        fputs("&amp;", f);
                else
                        fwrite(p, 1, n, f);
                p += n;
        }
}

static void dot_put_quoted(FILE *f, const char *s, bool label) {
        fputc('"', f);
        dot_put_escaped(f, s, label);
        fputc('"', f);
}

/* ", 3 attempts, exit:3" and the like: what follows the state on a node's or the job's second line. */
static void graph_put_details(FILE *f, unsigned attempts, Reason reason) {
        char buf[REASON_STRING_MAX];
        const char *r;

        if (attempts > 1)
                fprintf(f, ", %u attempts", attempts);
        r = reason_to_string(reason, buf, sizeof(buf));
        if (r)
                fprintf(f, ", %s", r);
}

/* The fill, font and style attributes of a state, each with a leading ", ". */
static void graph_put_state_attrs(FILE *f, const StateStyle *st) {
        fprintf(f, ", fillcolor=%s", st->fillcolor);
        if (st->fontcolor)
                fprintf(f, ", fontcolor=%s", st->fontcolor);
        if (st->style)
                fprintf(f, ", style=\"%s\"", st->style);
}

static int graph_put_header(FILE *f, const JobSpec *spec, const JobRun *run) {
        fputs("digraph ", f);
        dot_put_quoted(f, spec->name, false);
        fputs(" {\n  graph [rankdir=LR, labelloc=t, fontname=\"sans-serif\", label=\"", f);
        dot_put_escaped(f, spec->name, true);
        if (run) {
                const char *s = job_state_to_string(run->state);

                if (!s)
                        return -EINVAL;
                fprintf(f, "\\njob %" PRIu64 ": %s", run->id, s);
                graph_put_details(f, 0, run->reason);
        }
        fputs("\"];\n"
              "  node [shape=box, style=filled, fillcolor=white, fontname=\"sans-serif\"];\n"
              "  edge [color=black];\n",
              f);
        return 0;
}

static int graph_put_node(FILE *f, const NodeSpec *n, const NodeRun *nr) {
        const StateStyle *st = NULL;

        fputs("  ", f);
        dot_put_quoted(f, n->id, false);
        fputs(" [label=\"", f);
        dot_put_escaped(f, n->id, true);
        if (nr) {
                const char *s = node_state_to_string(nr->state);

                if (!s)
                        return -EINVAL;
                st = &state_style_table[nr->state];
                fprintf(f, "\\n%s", s);
                graph_put_details(f, nr->attempt, nr->reason);
        }
        fputc('"', f);
        if (st)
                graph_put_state_attrs(f, st);
        if (n->allow_failure)
                fputs(", shape=" ALLOW_FAILURE_SHAPE, f);
        fputs("];\n", f);
        return 0;
}

static const char *trigger_edge_attrs(TriggerRule t) {
        return t >= 0 && t < _TRIGGER_RULE_MAX ? trigger_edge_table[t] : NULL;
}

static void graph_put_edges(FILE *f, const JobSpec *spec) {
        for (size_t i = 0; i < spec->n_nodes; i++) {
                const NodeSpec *n = &spec->nodes[i];
                const char *attrs = trigger_edge_attrs(n->when);

                for (uint32_t k = 0; k < n->n_after; k++) {
                        assert(n->after[k] < spec->n_nodes);
                        fputs("  ", f);
                        dot_put_quoted(f, spec->nodes[n->after[k]].id, false);
                        fputs(" -> ", f);
                        dot_put_quoted(f, n->id, false);
                        if (attrs)
                                fprintf(f, " [%s]", attrs);
                        fputs(";\n", f);
                }
        }
}

/* One swatch per state, then allow_failure's shape. An invisible chain lays them out in one row instead of
 * a tall column. */
static void graph_put_legend_states(FILE *f) {
        for (NodeState s = 0; s < _NODE_STATE_MAX; s++) {
                fprintf(f, "    \"#legend-%s\" [label=\"%s\"", node_state_to_string(s),
                        node_state_to_string(s));
                graph_put_state_attrs(f, &state_style_table[s]);
                fputs("];\n", f);
        }
        fputs("    \"#legend-allow_failure\" [label=\"allow_failure\", shape=" ALLOW_FAILURE_SHAPE
              "];\n    ",
              f);
        for (NodeState s = 0; s < _NODE_STATE_MAX; s++)
                fprintf(f, "\"#legend-%s\" -> ", node_state_to_string(s));
        fputs("\"#legend-allow_failure\" [style=invis];\n", f);
}

/* The legend's node ids start with '#', which no node id can (SPEC §3), so they never collide. State
 * colours are only listed when there is a run to colour the nodes by. */
static void graph_put_legend(FILE *f, bool with_states) {
        fputs("  subgraph \"cluster_legend\" {\n"
              "    label=\"legend\"; style=dashed; color=gray60; fontsize=10;\n"
              "    node [fontsize=10];\n",
              f);
        if (with_states)
                graph_put_legend_states(f);
        else
                fputs("    \"#legend-allow_failure\" [label=\"allow_failure\", shape=" ALLOW_FAILURE_SHAPE
                      "];\n",
                      f);
        for (TriggerRule t = 0; t < _TRIGGER_RULE_MAX; t++) {
                const char *w = trigger_rule_to_string(t);

                fprintf(f, "    \"#legend-after-%s\" [label=\"\", shape=point, width=0.08];\n", w);
                fprintf(f, "    \"#legend-when-%s\" [label=\"when: %s\", shape=plaintext];\n", w, w);
                fprintf(f, "    \"#legend-after-%s\" -> \"#legend-when-%s\"", w, w);
                if (trigger_edge_attrs(t))
                        fprintf(f, " [%s]", trigger_edge_attrs(t));
                fputs(";\n", f);
        }
        fputs("  }\n", f);
}

static int graph_write(FILE *f, const JobSpec *spec, const JobRun *run) {
        int r;

        r = graph_put_header(f, spec, run);
        if (r < 0)
                return r;
        for (size_t i = 0; i < spec->n_nodes; i++) {
                r = graph_put_node(f, &spec->nodes[i], run ? &run->nodes[i] : NULL);
                if (r < 0)
                        return r;
        }
        graph_put_edges(f, spec);
        graph_put_legend(f, run != NULL);
        fputs("}\n", f);
        return 0;
}

int graph_dot(const JobSpec *spec, const JobRun *run, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        assert(spec);
        assert(spec->name);
        assert(ret);

        if (run && run->n_nodes != spec->n_nodes)
                return -EINVAL;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        r = graph_write(f, spec, run);
        /* A memory stream only fails for lack of memory; the error flag is sticky across all the writes. */
        if (ferror(f) && r >= 0)
                r = -ENOMEM;
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;

        *ret = TAKE_PTR(buf);
        return 0;
}
