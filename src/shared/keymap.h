/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * keymap — attempts by KeeperKey (job id, node index, attempt number) in O(1): the index both ends of the
 * keeper wire look an attempt up in for every message (OUTPUT, END, STOP, KILL, FREE), so that the cost of
 * a message does not grow with the number of attempts running. Pure: an open-addressing table (linear
 * probing, deletion by backward shift, so no tombstones), kept at most half full.
 *
 * Owns: its table. Not the values: they are the caller's pointers, never dereferenced here.
 */

#include <stddef.h>

#include "keeper-proto.h"

typedef struct KeyMapSlot KeyMapSlot;

typedef struct KeyMap {
        KeyMapSlot *slots;
        size_t cap; /* 0 or a power of two */
        size_t n;
} KeyMap;

#define KEYMAP_INIT ((KeyMap){ 0 })

/* Add key → value (value not NULL). Returns 0, -EEXIST (the key is there: nothing changes) or -ENOMEM. */
int keymap_put(KeyMap *m, const KeeperKey *key, void *value);

/* The value of key, or NULL. */
void *keymap_get(const KeyMap *m, const KeeperKey *key);

/* Remove key. Returns its value, or NULL when it was not there. */
void *keymap_remove(KeyMap *m, const KeeperKey *key);

/* How many keys are in the map. */
size_t keymap_size(const KeyMap *m);

/* Free the table (the values are not touched); the map is empty and reusable afterwards. */
void keymap_done(KeyMap *m);
