/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One field of a structured journal entry: the type log.c builds entries of and journald.c sends, kept
 * apart so that neither of the two includes the other (journald.c logs through log.h; log.c reaches
 * journald only through the sink journald_setup() installs).
 */

#include <stddef.h>

/* The most fields an entry has. */
#define JOURNALD_FIELDS_MAX 24

/* One field of an entry. The value may hold any bytes (NUL, '\n', invalid UTF-8): it is sent in the
 * protocol's binary form. */
typedef struct JournalField {
        const char *name;
        const void *value;
        size_t len;
} JournalField;

/* "NAME" = "s", for fields of C strings. */
static inline JournalField journal_field(const char *name, const char *s) {
        return (JournalField){ .name = name, .value = s, .len = __builtin_strlen(s) };
}
