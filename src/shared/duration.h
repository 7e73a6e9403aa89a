/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Durations of SPEC §3: seconds as a number, or number+unit groups ("1m30s", "250ms"). Pure. */

#include <stddef.h>
#include <stdint.h>

/* Parse "250ms", "1m30s", "2h", "1.5s", "30" (seconds). Returns 0, -EINVAL (syntax) or -ERANGE. */
int duration_parse(const char *s, uint64_t *ret_usec);

/* Seconds (a JSON number, ≥ 0, finite) to µs. Returns 0, -EINVAL or -ERANGE. */
int duration_from_seconds(double sec, uint64_t *ret_usec);

/* Format compactly ("1m30s", "250ms", "0"). Returns buf. */
char *duration_format(uint64_t usec, char *buf, size_t size);
#define DURATION_STRING_MAX 64
