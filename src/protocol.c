/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * protocol.c — the varlink wire format shared by orchd and orchctl (SPEC §6)
 * and the JSON shapes of SPEC §5.
 *
 * Owns: parsing one framed message (the bytes before its NUL) into a
 * VarlinkMessage, encoding calls/replies/errors with their NUL terminator,
 * RFC 3339 timestamps, the embedded interface descriptions, and the job
 * status object. Invariants: a parsed call always has a method name of
 * varlink form and an object as parameters; encoded messages never contain a
 * NUL before the terminator (json-c escapes U+0000 as \u0000).
 * Deliberately not here: sockets, buffering and caps on the byte stream
 * (control.c, client.c) and any policy on who may see what (the manager).
 * Pure: no event loop, no logging.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json-util.h"
#include "macro.h"
#include "protocol.h"

/* Deeper than any call or reply we produce; the tokener stops a hostile, deeply nested message early. */
#define PROTOCOL_DEPTH_MAX 64

static const char varlink_service_description[] =
        "# The varlink service interface, implemented by every varlink service.\n"
        "interface org.varlink.service\n"
        "\n"
        "# Information about the service and the interfaces it implements.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# The description of an interface the service implements.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "# The requested interface was not found.\n"
        "error InterfaceNotFound (interface: string)\n"
        "\n"
        "# The requested method was not found.\n"
        "error MethodNotFound (method: string)\n"
        "\n"
        "# The interface defines the method, but the service does not implement it.\n"
        "error MethodNotImplemented (method: string)\n"
        "\n"
        "# One of the passed parameters is invalid.\n"
        "error InvalidParameter (parameter: string)\n";

/* Must stay byte-identical to src/io.orchd.Manager.varlink; test-protocol compares the two. */
static const char orchd_manager_description[] =
        "# The orchd control interface (SPEC §5, §6): job status, waiting and\n"
        "# cancelling. The caller is identified by SO_PEERCRED; a user sees and acts on\n"
        "# only their own jobs, root and members of AdminGroup= on every job.\n"
        "# Timestamps are RFC 3339 UTC with milliseconds (\"2026-11-26T09:30:00.123Z\").\n"
        "interface io.orchd.Manager\n"
        "\n"
        "# Who a job belongs to.\n"
        "type Owner (\n"
        "  uid: int,\n"
        "  # Login name, null when it cannot be resolved.\n"
        "  user: ?string\n"
        ")\n"
        "\n"
        "# One node of a job.\n"
        "type NodeStatus (\n"
        "  # pending, running, retry_wait, succeeded, failed, skipped or cancelled.\n"
        "  state: string,\n"
        "  # Attempts started so far, interrupted ones included.\n"
        "  attempts: int,\n"
        "  exit_code: ?int,\n"
        "  # Signal name without \"SIG\" (\"KILL\") when the last attempt was killed.\n"
        "  signal: ?string,\n"
        "  # exit:N, signal:NAME, timeout, spawn:ERRNO_NAME, cancelled, upstream,\n"
        "  # fail_fast, job_timeout or interrupted; null unless a non-success end.\n"
        "  reason: ?string,\n"
        "  # Start of the current or last attempt.\n"
        "  started_at: ?string,\n"
        "  finished_at: ?string,\n"
        "  # finished_at - started_at, null unless finished.\n"
        "  duration_ms: ?int\n"
        ")\n"
        "\n"
        "# One job: the object printed by \"orchctl status --json\". It carries either\n"
        "# nodes (Status, Wait; in job file order) or counts (List).\n"
        "type JobStatus (\n"
        "  # Decimal job id, as a string.\n"
        "  id: string,\n"
        "  name: string,\n"
        "  # queued, running, paused, succeeded, failed or cancelled.\n"
        "  state: string,\n"
        "  reason: ?string,\n"
        "  owner: Owner,\n"
        "  priority: int,\n"
        "  submitted_at: ?string,\n"
        "  started_at: ?string,\n"
        "  finished_at: ?string,\n"
        "  # Idempotency key of the job file, if any.\n"
        "  key: ?string,\n"
        "  # File name the job was dropped as, if known.\n"
        "  source: ?string,\n"
        "  nodes: ?[string]NodeStatus,\n"
        "  # Node state name -> number of nodes in it, every state present.\n"
        "  counts: ?[string]int\n"
        ")\n"
        "\n"
        "# Jobs the caller may see, oldest first, with counts instead of nodes.\n"
        "# Without all: every unfinished job plus the last 10 finished ones.\n"
        "# state limits the list to jobs in that state.\n"
        "method List(all: ?bool, state: ?string) -> (jobs: []JobStatus)\n"
        "\n"
        "# One job, with its nodes.\n"
        "method Status(id: string) -> (job: JobStatus)\n"
        "\n"
        "# Replies once the job has finished (succeeded, failed or cancelled), with its\n"
        "# nodes. Replies at once for a job that already finished.\n"
        "method Wait(id: string) -> (job: JobStatus)\n"
        "\n"
        "# Without nodes: cancel the whole job. With nodes: cancel only those nodes\n"
        "# (running ones are stopped with SIGTERM, then SIGKILL after kill_grace).\n"
        "method Cancel(id: string, nodes: ?[]string) -> ()\n"
        "\n"
        "# No job with this id exists.\n"
        "error NoSuchJob (id: string)\n"
        "\n"
        "# The job has no node with this id.\n"
        "error NoSuchNode (id: string, node: string)\n"
        "\n"
        "# The job belongs to another user; the attempt is logged with the caller's uid.\n"
        "error PermissionDenied (id: string)\n"
        "\n"
        "# The daemon failed while handling the call; errno names the cause (\"ENOMEM\").\n"
        "error InternalError (errno: string)\n"
        "\n"
        "# The message could not be handled (not JSON, too large, malformed call);\n"
        "# the daemon closes the connection after this reply.\n"
        "error ProtocolError (reason: string)\n";

const char *protocol_interface_description(const char *interface) {
        if (!interface)
                return NULL;
        if (streq(interface, ORCH_INTERFACE))
                return orchd_manager_description;
        if (streq(interface, VARLINK_SERVICE_INTERFACE))
                return varlink_service_description;
        return NULL;
}

void varlink_message_done(VarlinkMessage *m) {
        if (!m)
                return;
        free(m->method);
        free(m->error);
        m->method = m->error = NULL;
        json_object_putp(&m->parameters);
        m->more = m->oneway = m->continues = false;
}

static int set_err(char **reterr_msg, const char *fmt, ...) _printf_(2, 3);
static int set_err(char **reterr_msg, const char *fmt, ...) {
        va_list ap;

        if (reterr_msg) {
                free(*reterr_msg);
                va_start(ap, fmt);
                if (vasprintf(reterr_msg, fmt, ap) < 0)
                        *reterr_msg = NULL;
                va_end(ap);
        }
        return -EBADMSG;
}

/* One complete JSON object, nothing but whitespace after it, valid UTF-8, within the depth limit. */
static int parse_object(const char *msg, size_t len, json_object **ret, char **reterr_msg) {
        _cleanup_json_ json_object *o = NULL;
        json_tokener *tok;
        enum json_tokener_error jerr;
        size_t end;

        if (len > (size_t) INT32_MAX)
                return set_err(reterr_msg, "message too large");
        if (memchr(msg, '\0', len))
                return set_err(reterr_msg, "message contains a NUL byte");

        tok = json_tokener_new_ex(PROTOCOL_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, msg, (int) len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (jerr == json_tokener_continue || (jerr == json_tokener_success && !o && len == 0))
                return set_err(reterr_msg, "truncated JSON");
        if (jerr != json_tokener_success)
                return set_err(reterr_msg, "invalid JSON at offset %zu: %s", end,
                               json_tokener_error_desc(jerr));
        for (size_t i = end; i < len; i++)
                if (!strchr(" \t\r\n", msg[i]))
                        return set_err(reterr_msg, "trailing data after the JSON object at offset %zu", i);
        if (!json_object_is_type(o, json_type_object))
                return set_err(reterr_msg, "message is not a JSON object");

        *ret = TAKE_PTR(o);
        return 0;
}

/* Varlink method names are INTERFACE.Method: reverse-domain interface, upper-case method. */
static bool method_name_is_valid(const char *s) {
        const char *dot = strrchr(s, '.');

        if (!dot || dot == s || dot[1] < 'A' || dot[1] > 'Z')
                return false;
        for (const char *p = dot + 1; *p; p++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", *p))
                        return false;
        for (const char *p = s; p < dot; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", *p))
                        return false;
        return s[0] != '.' && s[0] != '-' && dot[-1] != '.' && dot[-1] != '-' && !strstr(s, "..");
}

static int take_parameters(json_object *o, VarlinkMessage *m, char **reterr_msg) {
        json_object *p;

        /* null is accepted as "no parameters": some clients send it instead of omitting the key. */
        if (!json_object_object_get_ex(o, "parameters", &p) || !p) {
                m->parameters = json_object_new_object();
                return m->parameters ? 0 : -ENOMEM;
        }
        if (!json_object_is_type(p, json_type_object))
                return set_err(reterr_msg, "\"parameters\" is not an object");
        m->parameters = json_object_get(p);
        return 0;
}

static int get_bool(json_object *o, const char *key, bool *ret, char **reterr_msg) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v) {
                *ret = false;
                return 0;
        }
        if (!json_object_is_type(v, json_type_boolean))
                return set_err(reterr_msg, "\"%s\" is not a boolean", key);
        *ret = json_object_get_boolean(v);
        return 0;
}

int protocol_parse_call(const char *msg, size_t len, VarlinkMessage *ret, char **reterr_msg) {
        _cleanup_json_ json_object *o = NULL;
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        json_object *method;
        int r;

        r = parse_object(msg, len, &o, reterr_msg);
        if (r < 0)
                return r;

        /* Unknown keys are rejected rather than ignored: "upgrade" and any later extension would change
         * the meaning of the call, and silently doing something else is worse than saying no. */
        json_object_object_foreach(o, key, val) {
                (void) val;
                if (!streq(key, "method") && !streq(key, "parameters") && !streq(key, "more") &&
                    !streq(key, "oneway"))
                        return set_err(reterr_msg, "unknown key \"%s\" in call", key);
        }

        if (!json_object_object_get_ex(o, "method", &method))
                return set_err(reterr_msg, "call has no \"method\"");
        if (!json_object_is_type(method, json_type_string))
                return set_err(reterr_msg, "\"method\" is not a string");
        if (!method_name_is_valid(json_object_get_string(method)))
                return set_err(reterr_msg, "invalid method name \"%s\"", json_object_get_string(method));
        m.method = strdup(json_object_get_string(method));
        if (!m.method)
                return -ENOMEM;

        r = take_parameters(o, &m, reterr_msg);
        if (r < 0)
                return r;
        r = get_bool(o, "more", &m.more, reterr_msg);
        if (r < 0)
                return r;
        r = get_bool(o, "oneway", &m.oneway, reterr_msg);
        if (r < 0)
                return r;
        if (m.more && m.oneway)
                return set_err(reterr_msg, "a call cannot be both \"more\" and \"oneway\"");

        *ret = m;
        m = (VarlinkMessage){};
        return 0;
}

int protocol_parse_reply(const char *msg, size_t len, VarlinkMessage *ret, char **reterr_msg) {
        _cleanup_json_ json_object *o = NULL;
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        json_object *error;
        int r;

        /* Unknown keys in replies are ignored: a newer daemon may add some, and an old client reading
         * them loses nothing it understood. */
        r = parse_object(msg, len, &o, reterr_msg);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(o, "error", &error) && error) {
                if (!json_object_is_type(error, json_type_string) ||
                    !method_name_is_valid(json_object_get_string(error)))
                        return set_err(reterr_msg, "\"error\" is not a valid error name");
                m.error = strdup(json_object_get_string(error));
                if (!m.error)
                        return -ENOMEM;
        }
        r = take_parameters(o, &m, reterr_msg);
        if (r < 0)
                return r;
        r = get_bool(o, "continues", &m.continues, reterr_msg);
        if (r < 0)
                return r;
        if (m.error && m.continues)
                return set_err(reterr_msg, "an error reply cannot continue");

        *ret = m;
        m = (VarlinkMessage){};
        return 0;
}

/* Serialize o plus the NUL terminator into a malloc'd buffer. */
static char *serialize(json_object *o, size_t *ret_len) {
        const char *s;
        size_t len;
        char *buf;

        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                              &len);
        if (!s)
                return NULL;
        buf = malloc(len + 1);
        if (!buf)
                return NULL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len + 1;
        return buf;
}

/* Add parameters (borrowed; NULL = {}) under "parameters". Returns 0 or -ENOMEM. */
static int add_parameters(json_object *o, json_object *parameters) {
        json_object *p = parameters ? json_object_get(parameters) : json_object_new_object();

        if (!p)
                return -ENOMEM;
        if (json_object_object_add(o, "parameters", p) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        return 0;
}

static int add_true(json_object *o, const char *key) {
        return json_object_object_add(o, key, json_object_new_boolean(true)) < 0 ? -ENOMEM : 0;
}

char *protocol_format_call(const char *method, json_object *parameters, bool more, size_t *ret_len) {
        _cleanup_json_ json_object *o = json_object_new_object();

        if (!o || json_object_object_add(o, "method", json_object_new_string(method)) < 0)
                return NULL;
        if (add_parameters(o, parameters) < 0)
                return NULL;
        if (more && add_true(o, "more") < 0)
                return NULL;
        return serialize(o, ret_len);
}

char *protocol_format_reply(json_object *parameters, bool continues, size_t *ret_len) {
        _cleanup_json_ json_object *o = json_object_new_object();

        if (!o || add_parameters(o, parameters) < 0)
                return NULL;
        if (continues && add_true(o, "continues") < 0)
                return NULL;
        return serialize(o, ret_len);
}

char *protocol_format_error(const char *error, json_object *parameters, size_t *ret_len) {
        _cleanup_json_ json_object *o = json_object_new_object();

        if (!o || json_object_object_add(o, "error", json_object_new_string(error)) < 0)
                return NULL;
        if (add_parameters(o, parameters) < 0)
                return NULL;
        return serialize(o, ret_len);
}

char *protocol_method_interface(const char *method) {
        const char *dot = method ? strrchr(method, '.') : NULL;

        if (!dot)
                return NULL;
        return strndup(method, dot - method);
}

char *protocol_format_timestamp(uint64_t usec, char *buf, size_t size) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        size_t n;

        if (!gmtime_r(&sec, &tm) || (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
                snprintf(buf, size, "invalid");
                return buf;
        }
        snprintf(buf + n, size - n, ".%03uZ", (unsigned) (usec / USEC_PER_MSEC % 1000));
        return buf;
}

int protocol_parse_timestamp(const char *s, uint64_t *ret_usec) {
        struct tm tm = {};
        const char *p;
        uint64_t frac = 0, scale = USEC_PER_SEC;
        time_t t;

        if (!s)
                return -EINVAL;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                unsigned digits = 0;

                for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
                        if (digits >= 9)
                                return -EINVAL;
                        if (digits < 6) {
                                frac = frac * 10 + (uint64_t) (*p - '0');
                                scale /= 10;
                        }
                }
                if (digits == 0)
                        return -EINVAL;
        }
        if (!streq(p, "Z"))
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        *ret_usec = (uint64_t) t * USEC_PER_SEC + frac * scale;
        return 0;
}

/* --- SPEC §5 status objects --- */

/* Add v (stolen; NULL stores JSON null) under key. Values are built and checked before they are added so an
 * allocation failure is reported instead of silently becoming a null. */
static int add(json_object *o, const char *key, json_object *v) {
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_string_or_null(json_object *o, const char *key, const char *s) {
        json_object *v = NULL;

        if (s) {
                v = json_object_new_string(s);
                if (!v)
                        return -ENOMEM;
        }
        return add(o, key, v);
}

static int add_int(json_object *o, const char *key, int64_t i) {
        json_object *v = json_object_new_int64(i);

        return v ? add(o, key, v) : -ENOMEM;
}

static int add_timestamp(json_object *o, const char *key, uint64_t usec) {
        char buf[TIMESTAMP_STRING_MAX];

        return add_string_or_null(o, key, usec > 0 ? protocol_format_timestamp(usec, buf, sizeof(buf)) : NULL);
}

static int add_reason(json_object *o, Reason reason) {
        char buf[REASON_STRING_MAX];

        return add_string_or_null(o, "reason", reason_to_string(reason, buf, sizeof(buf)));
}

static json_object *node_to_json(const NodeRun *n) {
        _cleanup_json_ json_object *o = json_object_new_object();
        char sigbuf[16];
        const char *sig = NULL;
        bool finished = node_state_is_final(n->state) && n->started_at > 0 && n->finished_at >= n->started_at;

        if (!o)
                return NULL;
        if (n->signal > 0) {
                sig = sigabbrev_np(n->signal);
                if (!sig) { /* real-time signals have no abbreviation */
                        snprintf(sigbuf, sizeof(sigbuf), "%d", (int) n->signal);
                        sig = sigbuf;
                }
        }
        if (add_string_or_null(o, "state", node_state_to_string(n->state)) < 0 ||
            add_int(o, "attempts", n->attempt) < 0 ||
            (n->exit_code >= 0 ? add_int(o, "exit_code", n->exit_code) : add(o, "exit_code", NULL)) < 0 ||
            add_string_or_null(o, "signal", sig) < 0 || add_reason(o, n->reason) < 0 ||
            add_timestamp(o, "started_at", n->started_at) < 0 ||
            add_timestamp(o, "finished_at", n->finished_at) < 0)
                return NULL;
        if ((finished ? add_int(o, "duration_ms", (int64_t) ((n->finished_at - n->started_at) / USEC_PER_MSEC)) :
                        add(o, "duration_ms", NULL)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static int add_nodes(json_object *o, const JobSpec *spec, const JobRun *run) {
        json_object *nodes = json_object_new_object();
        size_t n = MIN(spec->n_nodes, run->n_nodes);

        if (!nodes || add(o, "nodes", nodes) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = node_to_json(&run->nodes[i]);

                if (!v || add(nodes, spec->nodes[i].id, v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int add_counts(json_object *o, const JobRun *run) {
        size_t counts[_NODE_STATE_MAX] = {};
        json_object *c = json_object_new_object();

        if (!c || add(o, "counts", c) < 0)
                return -ENOMEM;
        job_run_count(run, counts);
        for (NodeState s = 0; s < _NODE_STATE_MAX; s++)
                if (add_int(c, node_state_to_string(s), (int64_t) counts[s]) < 0)
                        return -ENOMEM;
        return 0;
}

json_object *protocol_job_to_json(const JobSpec *spec, const JobRun *run, bool with_nodes) {
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *owner;
        char id[24];

        if (!o || !spec || !run)
                return NULL;
        snprintf(id, sizeof(id), "%" PRIu64, run->id);

        if (add_string_or_null(o, "id", id) < 0 || add_string_or_null(o, "name", spec->name) < 0 ||
            add_string_or_null(o, "state", job_state_to_string(run->state)) < 0 ||
            add_reason(o, run->reason) < 0)
                return NULL;
        owner = json_object_new_object();
        if (!owner || add(o, "owner", owner) < 0 || add_int(owner, "uid", run->uid) < 0 ||
            add_string_or_null(owner, "user", run->user) < 0 || add_int(o, "priority", spec->priority) < 0 ||
            add_timestamp(o, "submitted_at", run->submitted_at) < 0 ||
            add_timestamp(o, "started_at", run->started_at) < 0 ||
            add_timestamp(o, "finished_at", run->finished_at) < 0 ||
            add_string_or_null(o, "key", spec->key) < 0 || add_string_or_null(o, "source", run->source) < 0)
                return NULL;
        if ((with_nodes ? add_nodes(o, spec, run) : add_counts(o, run)) < 0)
                return NULL;
        return TAKE_PTR(o);
}
