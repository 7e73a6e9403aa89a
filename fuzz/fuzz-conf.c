/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-conf.c — libFuzzer target for the orchd.conf parser (conf.c): any bytes as the file's text through
 * conf_parse(), then conf_merge() of the result over the built-in form the daemon starts from, as
 * daemon_conf_load() does.
 *
 * Invariants checked (besides the sanitizers'): an error comes with its message and a success without
 * one; whatever was set survives the merge.
 */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(conf_done) DaemonConf c = {}, merged = {};
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        int r;

        /* The daemon reads the file into a NUL-terminated buffer: an embedded NUL ends the text there. */
        text = strndup((const char *) data, size);
        if (!text)
                return 0;
        r = conf_parse(text, "fuzz.conf", &c, &warnings, &error);
        if (r == -ENOMEM)
                return 0;
        if (r < 0) {
                assert(r == -EINVAL && error);
                return 0;
        }
        assert(!error);
        if (conf_merge(&merged, &c) >= 0)
                assert(merged.set == c.set);
        return 0;
}
