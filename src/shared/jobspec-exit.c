/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Job files: the node fields about how an attempt's end is judged: "retry" (attempts, back-off, and which
 * failures are retried: on_exit, an allow-list, or unless_exit, a deny-list) and "abort_on_exit" (exit
 * codes that end the whole job). Each is one object, validated member by member.
 *
 * Invariants: a RetryPolicy has at most one exit-code list (on_exit_unless says which kind); an
 * AbortOnExit that is set has 1 to 256 codes within 0…255 and a state of failed or succeeded, unless an
 * error was recorded.
 *
 * Deliberately does not: apply defaults (jobspec-node.c) or decide a retry (backoff.c) or an abort (job.c).
 */

#include <string.h>

#include "jobspec-internal.h"
#include "json-util.h"

enum {
        R_ATTEMPTS,
        R_DELAY,
        R_FACTOR,
        R_MAX_DELAY,
        R_JITTER,
        R_ON_EXIT,
        R_ON_TIMEOUT,
        R_UNLESS_EXIT,
        R_ON_OOM,
        _R_MAX
};
static const char *const retry_fields[_R_MAX] = {
        [R_ATTEMPTS] = "attempts",     [R_DELAY] = "delay",
        [R_FACTOR] = "factor",         [R_MAX_DELAY] = "max_delay",
        [R_JITTER] = "jitter",         [R_ON_EXIT] = "on_exit",
        [R_ON_TIMEOUT] = "on_timeout", [R_UNLESS_EXIT] = "unless_exit",
        [R_ON_OOM] = "on_oom",
};

enum { A_CODES, A_STATE, _A_MAX };
static const char *const abort_fields[_A_MAX] = { [A_CODES] = "codes", [A_STATE] = "state" };

/* on_exit (an allow-list) or, unless, unless_exit (a deny-list: every other failure is retried). */
static void parse_on_exit(JobCtx *c, const JsonPath *path, json_object *v, RetryPolicy *p, bool unless) {
        size_t n;

        if (!jobspec_expect_type(c, path, v, json_type_array, "an array of exit codes (integers 1…255)"))
                return;
        n = json_object_array_length(v);
        /* An empty on_exit is meaningful: no exit code is retried, only timeouts (if on_timeout); an empty
         * unless_exit retries every failure, as the default does. */
        p->on_exit_any = false;
        p->on_exit_unless = unless;
        memset(p->on_exit, 0, sizeof p->on_exit);
        for (size_t i = 0; i < n; i++) {
                JsonPath ep = JSON_PATH_INDEX(path, i);
                int64_t code;

                if (jobspec_get_int(c, &ep, json_object_array_get_idx(v, i), 1, 255, &code))
                        retry_policy_add_exit(p, (int) code);
        }
}

void jobspec_parse_retry(JobCtx *c, const JsonPath *path, json_object *v, RetryPolicy *p) {
        bool on_exit = false, unless_exit = false;

        retry_policy_init(p);
        if (!jobspec_expect_type(c, path, v, json_type_object, "an object"))
                return;

        json_object_object_foreach(v, key, val) {
                JsonPath kp = JSON_PATH_KEY(path, key);
                int64_t i;

                switch (jobspec_field_lookup(retry_fields, _R_MAX, key)) {
                case R_ATTEMPTS:
                        if (jobspec_get_int(c, &kp, val, 1, 100, &i))
                                p->attempts = (unsigned) i;
                        break;
                case R_DELAY:
                        (void) jobspec_get_duration(c, &kp, val, false, &p->delay_usec);
                        break;
                case R_FACTOR:
                        (void) jobspec_get_number(c, &kp, val, 1, 10, &p->factor);
                        break;
                case R_MAX_DELAY:
                        (void) jobspec_get_duration(c, &kp, val, false, &p->max_delay_usec);
                        break;
                case R_JITTER:
                        (void) jobspec_get_number(c, &kp, val, 0, 1, &p->jitter);
                        break;
                case R_ON_EXIT:
                        parse_on_exit(c, &kp, val, p, false);
                        on_exit = true;
                        break;
                case R_UNLESS_EXIT:
                        parse_on_exit(c, &kp, val, p, true);
                        unless_exit = true;
                        break;
                case R_ON_TIMEOUT:
                        (void) jobspec_get_bool(c, &kp, val, &p->on_timeout);
                        break;
                case R_ON_OOM:
                        (void) jobspec_get_bool(c, &kp, val, &p->on_oom);
                        break;
                default:
                        jobspec_unknown_field(c, path, key, retry_fields, _R_MAX, false);
                }
        }
        if (on_exit && unless_exit)
                jobspec_add_error(c, path,
                                  "\"on_exit\" (retry only these exit codes) and \"unless_exit\" (retry all "
                                  "but these) exclude each other: keep one");
}

static void parse_abort_codes(JobCtx *c, const JsonPath *path, json_object *v, AbortOnExit *a) {
        size_t n;

        if (!jobspec_expect_type(c, path, v, json_type_array, "an array of exit codes (integers 0…255)"))
                return;
        n = json_object_array_length(v);
        if (n == 0 || n > 256) {
                jobspec_add_error(c, path, "expected 1 to 256 exit codes (integers 0…255), got %zu", n);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                JsonPath ep = JSON_PATH_INDEX(path, i);
                int64_t code;

                if (jobspec_get_int(c, &ep, json_object_array_get_idx(v, i), 0, 255, &code))
                        a->codes[code / 8] |= (uint8_t) (1u << (code % 8));
        }
}

/* "abort_on_exit": {"codes": [N, …], "state": "failed" | "succeeded"} (state defaults to failed). */
void jobspec_parse_abort_on_exit(JobCtx *c, const JsonPath *path, json_object *v, AbortOnExit *a) {
        bool codes = false;

        *a = (AbortOnExit){ .state = JOB_FAILED };
        if (!jobspec_expect_type(
                    c, path, v, json_type_object,
                    "an object {\"codes\": [exit codes], \"state\": \"failed\" or \"succeeded\"}"))
                return;
        json_object_object_foreach(v, key, val) {
                JsonPath kp = JSON_PATH_KEY(path, key);
                const char *s;

                switch (jobspec_field_lookup(abort_fields, _A_MAX, key)) {
                case A_CODES:
                        parse_abort_codes(c, &kp, val, a);
                        codes = true;
                        break;
                case A_STATE:
                        if (!jobspec_get_string(c, &kp, val, false, &s))
                                break;
                        if (streq(s, "failed") || streq(s, "succeeded"))
                                a->state = streq(s, "failed") ? JOB_FAILED : JOB_SUCCEEDED;
                        else
                                jobspec_add_error(c, &kp,
                                                  "expected \"failed\" or \"succeeded\", got \"%.64s\"", s);
                        break;
                default:
                        jobspec_unknown_field(c, path, key, abort_fields, _A_MAX, false);
                }
        }
        if (!codes)
                jobspec_add_error(c, path, "missing \"codes\": the exit codes (0…255) that end the job");
        a->set = true;
}
