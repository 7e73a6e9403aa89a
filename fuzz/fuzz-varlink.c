/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-varlink.c — libFuzzer target for the varlink message parser (protocol.c): any bytes, as one message
 * a client sent (orchd: protocol_parse_call(), and the early look at a large call's method) or the daemon
 * replied (orchctl: protocol_parse_reply()), plus the timestamp parser the replies' times go through.
 *
 * Invariants checked (besides the sanitizers'): a parsed call has a method whose interface part can be
 * taken, and parameters; a parsed reply has parameters.
 */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        const char *msg = (const char *) data;
        VarlinkMessage m = {};
        uint64_t usec;
        char *err = NULL;

        (void) protocol_call_starts_with_method(msg, size, ORCH_METHOD_SUBMIT);

        if (protocol_parse_call(msg, size, &m, &err) >= 0) {
                assert(m.method && m.parameters && !(m.more && m.oneway));
                free(protocol_method_interface(m.method));
        }
        varlink_message_done(&m);
        err = mfree(err);

        if (protocol_parse_reply(msg, size, &m, &err) >= 0)
                assert(m.parameters);
        varlink_message_done(&m);
        err = mfree(err);

        text = strndup(msg, size);
        if (text && protocol_parse_timestamp(text, &usec) >= 0) {
                char buf[TIMESTAMP_STRING_MAX];

                (void) protocol_format_timestamp(usec, buf, sizeof(buf));
        }
        return 0;
}
