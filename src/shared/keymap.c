/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keymap.c — attempts by KeeperKey (keymap.h).
 *
 * Invariants: cap is 0 or a power of two, n ≤ cap / 2; a slot is free when its value is NULL; every key
 * sits at its home slot or after it, with no free slot between the two (linear probing), which the
 * backward-shift deletion keeps true.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "keymap.h"

#define KEYMAP_MIN_CAP 16U

struct KeyMapSlot {
        KeeperKey key;
        void *value;
};

static bool key_same(const KeeperKey *a, const KeeperKey *b) {
        return a->job == b->job && a->node == b->node && a->attempt == b->attempt;
}

/* splitmix64's finalizer over the three fields: job ids and node indexes are small and dense, so their
 * low bits alone would crowd the first slots. */
static size_t key_hash(const KeeperKey *k) {
        uint64_t x = k->job * UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t) k->node << 32 | k->attempt);

        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return (size_t) (x ^ (x >> 31));
}

/* The slot holding key, or the free slot where it would go. Needs cap > 0 and a free slot. */
static size_t slot_of(const KeyMap *m, const KeeperKey *key) {
        size_t mask = m->cap - 1, i = key_hash(key) & mask;

        while (m->slots[i].value && !key_same(&m->slots[i].key, key))
                i = (i + 1) & mask;
        return i;
}

static int keymap_grow(KeyMap *m) {
        size_t cap = m->cap ? m->cap * 2 : KEYMAP_MIN_CAP;
        KeyMap bigger = { .cap = cap };

        if (cap < m->cap)
                return -ENOMEM;
        bigger.slots = calloc(cap, sizeof(KeyMapSlot));
        if (!bigger.slots)
                return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
                if (m->slots[i].value)
                        bigger.slots[slot_of(&bigger, &m->slots[i].key)] = m->slots[i];
        bigger.n = m->n;
        free(m->slots);
        *m = bigger;
        return 0;
}

int keymap_put(KeyMap *m, const KeeperKey *key, void *value) {
        size_t i;

        if (!value)
                return -EINVAL;
        if (m->cap && keymap_get(m, key))
                return -EEXIST;
        if ((m->n + 1) * 2 > m->cap) {
                int r = keymap_grow(m);

                if (r < 0)
                        return r;
        }
        i = slot_of(m, key);
        m->slots[i] = (KeyMapSlot){ .key = *key, .value = value };
        m->n++;
        return 0;
}

void *keymap_get(const KeyMap *m, const KeeperKey *key) {
        return m->cap ? m->slots[slot_of(m, key)].value : NULL;
}

void *keymap_remove(KeyMap *m, const KeeperKey *key) {
        size_t mask, hole, i;
        void *value;

        if (!m->cap)
                return NULL;
        mask = m->cap - 1;
        hole = slot_of(m, key);
        value = m->slots[hole].value;
        if (!value)
                return NULL;
        /* Backward shift: move up every later key of the run whose home is not between the hole and it, so a
         * lookup never stops at the hole before reaching it. */
        for (i = (hole + 1) & mask; m->slots[i].value; i = (i + 1) & mask) {
                size_t home = key_hash(&m->slots[i].key) & mask;

                if (((i - home) & mask) >= ((i - hole) & mask)) {
                        m->slots[hole] = m->slots[i];
                        hole = i;
                }
        }
        m->slots[hole] = (KeyMapSlot){ 0 };
        m->n--;
        return value;
}

size_t keymap_size(const KeyMap *m) {
        return m->n;
}

void keymap_done(KeyMap *m) {
        free(m->slots);
        *m = KEYMAP_INIT;
}
