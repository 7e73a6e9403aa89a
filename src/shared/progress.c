/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * progress.c — the text of orchctl watch: the progress bar and what a node
 * event line says.
 *
 * Owns nothing: each function formats into the caller's buffer and always
 * NUL-terminates it, truncating rather than overflowing. Widths count bytes,
 * which is exact for what they fit (node ids are ASCII by SPEC §3, states and
 * reasons are ASCII). Deliberately not here: the terminal (size, cursor
 * movement, colour) and the clock; cli/watch.c owns those.
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "macro.h"
#include "progress.h"

#define BAR_CELLS_MIN 10
#define BAR_CELLS_MAX 40

char *progress_fit(const char *s, size_t width, char *buf, size_t size) {
        size_t n = strlen(s), keep;

        if (size == 0)
                return buf;
        width = MIN(width, size - 1);
        if (n <= width) {
                memcpy(buf, s, n + 1);
                return buf;
        }
        keep = width >= 3 ? width - 3 : width;
        memcpy(buf, s, keep);
        strcpy(buf + keep, width >= 3 ? "..." : "");
        return buf;
}

char *progress_bar(const size_t counts[static _NODE_STATE_MAX], size_t width, char *buf, size_t size) {
        static const NodeState optional[] = { NODE_RETRY_WAIT, NODE_SKIPPED, NODE_CANCELLED };
        char text[PROGRESS_LINE_MAX], bar[BAR_CELLS_MAX + 1];
        size_t total = 0, done = 0, len, cells, fill;

        for (NodeState s = 0; s < _NODE_STATE_MAX; s++) {
                total += counts[s];
                if (node_state_is_final(s))
                        done += counts[s];
        }
        len = (size_t) snprintf(text, sizeof(text), "%zu/%zu  %zu succeeded  %zu failed  %zu running", done,
                                total, counts[NODE_SUCCEEDED], counts[NODE_FAILED], counts[NODE_RUNNING]);
        for (size_t k = 0; k < ELEMENTSOF(optional) && len < sizeof(text); k++)
                if (counts[optional[k]] > 0)
                        len += (size_t) snprintf(text + len, sizeof(text) - len, "  %zu %s",
                                                 counts[optional[k]], node_state_to_string(optional[k]));
        len = strlen(text);

        /* "[" cells "] " text: the bar gets what the text leaves, within its limits, or goes. */
        cells = width > len + 3 ? MIN(width - len - 3, (size_t) BAR_CELLS_MAX) : 0;
        if (cells < BAR_CELLS_MIN)
                return progress_fit(text, width, buf, size);
        fill = total > 0 ? done * cells / total : 0;
        memset(bar, '#', fill);
        memset(bar + fill, '.', cells - fill);
        bar[cells] = '\0';
        snprintf(buf, size, "[%s] %s", bar, text);
        return buf;
}

static const char *member_string(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
                json_object_get_string(v) :
                NULL;
}

/* The integer member key, or -1 when missing, null or not an integer. */
static int64_t member_int(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ?
                json_object_get_int64(v) :
                -1;
}

/* ", 1.2s" from duration_ms, or "" when the node has none. */
static const char *duration_suffix(json_object *node, char *buf, size_t size) {
        char d[DURATION_STRING_MAX];
        int64_t ms = member_int(node, "duration_ms");

        if (ms < 0)
                return "";
        snprintf(buf, size, ", %s", duration_format((uint64_t) ms * USEC_PER_MSEC, d, sizeof(d)));
        return buf;
}

char *progress_node_event(json_object *node, char *buf, size_t size) {
        const char *state = member_string(node, "state") ?: "?", *reason = member_string(node, "reason");
        int64_t attempts = member_int(node, "attempts"), exit_code = member_int(node, "exit_code");
        char dur[DURATION_STRING_MAX + 2], again[32] = "";

        if (attempts > 1)
                snprintf(again, sizeof(again), ", attempt %" PRId64, attempts);
        switch (node_state_from_string(state)) {
        case NODE_RUNNING:
                snprintf(buf, size, "running (attempt %" PRId64 ")", MAX(attempts, (int64_t) 1));
                break;
        case NODE_RETRY_WAIT:
                snprintf(buf, size, "retry_wait (attempt %" PRId64 ": %s)", attempts, reason ?: "failed");
                break;
        case NODE_SUCCEEDED:
                snprintf(buf, size, "succeeded (exit %" PRId64 "%s%s)", MAX(exit_code, (int64_t) 0),
                         duration_suffix(node, dur, sizeof(dur)), again);
                break;
        case NODE_FAILED:
                snprintf(buf, size, "failed (%s%s%s)", reason ?: "?",
                         duration_suffix(node, dur, sizeof(dur)), again);
                break;
        default:
                /* pending, skipped, cancelled: the reason only when it says more than the state. */
                if (reason && !streq(reason, state))
                        snprintf(buf, size, "%s (%s)", state, reason);
                else
                        snprintf(buf, size, "%s", state);
        }
        return buf;
}
