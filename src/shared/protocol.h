/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The control protocol shared by orchd and orchctl (SPEC §6): varlink wire
 * framing (one JSON object + NUL per message), call/reply encode/decode, and
 * the JSON shapes of SPEC §5 (job status objects). Pure: no event loop, no
 * logging. Method and error names mirror src/shared/io.orchd.Manager.varlink.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "jobspec.h"
#include "state.h"

#define ORCH_PROTOCOL_VERSION 1
#define ORCH_INTERFACE "io.orchd.Manager"

/* Caps on one message, enforced before buffering it whole. */
#define PROTOCOL_CALL_MAX (4U * 1024U * 1024U + 64U * 1024U) /* a submit carries a whole job file */
#define PROTOCOL_SMALL_CALL_MAX (256U * 1024U)               /* any other call (a long node list) */
#define PROTOCOL_REPLY_MAX (256U * 1024U * 1024U)            /* status of a 100,000-node job */

#define ORCH_METHOD_LIST "io.orchd.Manager.List"
#define ORCH_METHOD_STATUS "io.orchd.Manager.Status"
#define ORCH_METHOD_WAIT "io.orchd.Manager.Wait"
#define ORCH_METHOD_CANCEL "io.orchd.Manager.Cancel"
#define ORCH_METHOD_PAUSE "io.orchd.Manager.Pause"
#define ORCH_METHOD_SUBMIT "io.orchd.Manager.Submit"
#define ORCH_METHOD_STATS "io.orchd.Manager.Stats"
#define ORCH_METHOD_GRAPH "io.orchd.Manager.Graph"
#define ORCH_METHOD_RESUME "io.orchd.Manager.Resume"
#define ORCH_METHOD_RETRY "io.orchd.Manager.Retry"
#define ORCH_METHOD_LOGS "io.orchd.Manager.Logs"
#define ORCH_METHOD_WATCH "io.orchd.Manager.Watch"
#define ORCH_METHOD_REJECTED "io.orchd.Manager.Rejected"
#define ORCH_METHOD_REMOVE "io.orchd.Manager.Remove"
#define ORCH_METHOD_GC "io.orchd.Manager.Gc"
#define ORCH_METHOD_HISTORY "io.orchd.Manager.History"
#define ORCH_METHOD_STOP_NODES "io.orchd.Manager.StopNodes"

#define ORCH_ERROR_NO_SUCH_JOB "io.orchd.Manager.NoSuchJob"
#define ORCH_ERROR_NO_SUCH_NODE "io.orchd.Manager.NoSuchNode"
#define ORCH_ERROR_NO_SUCH_ATTEMPT "io.orchd.Manager.NoSuchAttempt"
#define ORCH_ERROR_PERMISSION_DENIED "io.orchd.Manager.PermissionDenied"
#define ORCH_ERROR_INVALID_JOB "io.orchd.Manager.InvalidJob"
#define ORCH_ERROR_INTERNAL "io.orchd.Manager.InternalError"
#define ORCH_ERROR_CANNOT_RETRY "io.orchd.Manager.CannotRetry"
#define ORCH_ERROR_CANNOT_FREEZE "io.orchd.Manager.CannotFreeze"
#define ORCH_ERROR_CANNOT_REMOVE "io.orchd.Manager.CannotRemove"
#define ORCH_ERROR_PROTOCOL "io.orchd.Manager.ProtocolError"
#define ORCH_ERROR_TOO_MANY_CONNECTIONS "io.orchd.Manager.TooManyConnections"
#define ORCH_ERROR_NO_SUCH_REJECTED_FILE "io.orchd.Manager.NoSuchRejectedFile"
#define ORCH_ERROR_REJECTED_FILE_TOO_LARGE "io.orchd.Manager.RejectedFileTooLarge"
#define ORCH_ERROR_LIMIT_EXCEEDED "io.orchd.Manager.LimitExceeded"
#define ORCH_ERROR_SPOOL_FULL "io.orchd.Manager.SpoolFull"
#define ORCH_ERROR_LOADING "io.orchd.Manager.Loading"

#define VARLINK_SERVICE_INTERFACE "org.varlink.service"
#define VARLINK_METHOD_GET_INFO "org.varlink.service.GetInfo"
#define VARLINK_METHOD_GET_INTERFACE_DESCRIPTION "org.varlink.service.GetInterfaceDescription"
#define VARLINK_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"
#define VARLINK_ERROR_EXPECTED_MORE "org.varlink.service.ExpectedMore"

typedef struct VarlinkMessage {
        char *method;            /* calls only */
        char *error;             /* replies only; NULL for success */
        json_object *parameters; /* owned; an empty object when absent */
        bool more, oneway;       /* calls */
        const char *invalid;     /* calls: the call flag at fault ("more", "oneway", "upgrade"), or NULL */
        bool continues;          /* replies */
} VarlinkMessage;

/* Release the members (not the struct). */
void varlink_message_done(VarlinkMessage *m);

/* Parse one message (without its NUL) as a call. Returns 0, or -EBADMSG with *reterr_msg for anything that
 * is not {"method": string, "parameters"?: object, "more"?: bool, "oneway"?: bool, "upgrade"?: bool}.
 * Both more and oneway is -EBADMSG too. A call whose flags are wrong otherwise (not booleans, or upgrade,
 * which orchd does not offer) parses, with ret->invalid naming the flag: the caller answers
 * InvalidParameter and goes on. */
int protocol_parse_call(const char *msg, size_t len, VarlinkMessage *ret, char **reterr_msg);

/* Whether the first bytes of a call (len of them, no NUL needed) open it with "method": method as its first
 * member, JSON whitespace allowed: how the server knows a call may be large before it has all of it. */
bool protocol_call_starts_with_method(const char *buf, size_t len, const char *method);

/* Parse one message as a reply: {"parameters"?: object, "continues"?: bool, "error"?: string}. */
int protocol_parse_reply(const char *msg, size_t len, VarlinkMessage *ret, char **reterr_msg);

/* Encode; every returned buffer is malloc'd and ends with the NUL terminator, included in *ret_len.
 * parameters is borrowed and may be NULL. Return NULL on OOM. */
char *protocol_format_call(const char *method, json_object *parameters, bool more, size_t *ret_len);
char *protocol_format_reply(json_object *parameters, bool continues, size_t *ret_len);
char *protocol_format_error(const char *error, json_object *parameters, size_t *ret_len);

/* Parameters whose JSON text is encoded already (an object's text, len bytes, taken over, also on failure):
 * an object that json-c serializes to exactly that text and protocol_format_reply() copies as it is, without
 * a tree (statusenc.h: the Status of a big job). It has no members to look at. NULL on OOM. */
json_object *protocol_raw_object(char *text, size_t len);

/* Format an RFC 3339 UTC timestamp with milliseconds ("2026-11-26T09:30:00.123Z") from realtime µs.
 * Returns buf. */
char *protocol_format_timestamp(uint64_t usec, char *buf, size_t size);
#define TIMESTAMP_STRING_MAX 32

/* Parse the form above (also without milliseconds, or with up to 9 fraction digits; "Z" only).
 * Returns 0, or -EINVAL. */
int protocol_parse_timestamp(const char *s, uint64_t *ret_usec);

/* The varlink interface description text of "io.orchd.Manager" (identical to
 * src/shared/io.orchd.Manager.varlink) or "org.varlink.service". Returns NULL for any other interface. */
const char *protocol_interface_description(const char *interface);

/* The first member of parameters that the input of method in its interface description (one of the two
 * above) does not declare; NULL when every member is declared, or when the method is in neither
 * description. The IDL is the one list of parameters: a method cannot accept one it does not declare. */
const char *protocol_unknown_parameter(const char *method, json_object *parameters);

/* The interface part of a method name ("io.orchd.Manager" of "io.orchd.Manager.List") into a malloc'd
 * string. Returns NULL on OOM or when name has no '.'. */
char *protocol_method_interface(const char *method);

/* The status object of SPEC §5 for one job. With nodes: a "nodes" object (id → node object, in file order);
 * without: a "counts" object (node state → number, every state present). Returns an owned object or NULL. */
json_object *protocol_job_to_json(const JobSpec *spec, const JobRun *run, bool with_nodes);

/* The node object of SPEC §5 (state, attempts, exit_code, …) for one node. Returns an owned object or
 * NULL. */
json_object *protocol_node_to_json(const NodeRun *n);
