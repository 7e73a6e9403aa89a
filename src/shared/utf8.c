/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * utf8.c — the project's one UTF-8 module: validate a sequence, decode it, encode a code point, and make
 * node output valid UTF-8 for JSON (orchctl logs). The JSON lexer, escape.c and graph.c all judge bytes
 * here, so what is valid UTF-8 is decided in one place.
 *
 * Owns nothing. The rules are those of Unicode Table 3-7 (well-formed byte
 * sequences): the second byte of E0, ED, F0 and F4 sequences has a narrower
 * range, which is what rules out overlong forms, UTF-16 surrogates and code
 * points above U+10FFFF without decoding anything. Replacement follows the
 * "maximal subpart" practice, so the result matches what other decoders
 * (Python, browsers) show for the same bytes. Deliberately not done:
 * normalization, or any change to valid input (NUL and control characters
 * are valid UTF-8 and pass through; JSON escaping is the encoder's job).
 */

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"

static const char replacement[3] = { (char) 0xEF, (char) 0xBF, (char) 0xBD }; /* U+FFFD */

/* For a lead byte: how many continuation bytes follow and the allowed range of the first of them.
 * Returns false for a byte that cannot start a multibyte sequence (80..C1, F5..FF). */
static bool lead_info(uint8_t b, unsigned *ret_need, uint8_t *ret_lo, uint8_t *ret_hi) {
        *ret_lo = 0x80;
        *ret_hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF)
                *ret_need = 1;
        else if (b >= 0xE0 && b <= 0xEF) {
                *ret_need = 2;
                if (b == 0xE0)
                        *ret_lo = 0xA0; /* below: overlong */
                else if (b == 0xED)
                        *ret_hi = 0x9F; /* above: surrogates D800..DFFF */
        } else if (b >= 0xF0 && b <= 0xF4) {
                *ret_need = 3;
                if (b == 0xF0)
                        *ret_lo = 0x90; /* below: overlong */
                else if (b == 0xF4)
                        *ret_hi = 0x8F; /* above: beyond U+10FFFF */
        } else
                return false;
        return true;
}

/* How many continuation bytes after the lead at s[0] are well-formed (at most need), given avail bytes. */
static unsigned count_continuations(const uint8_t *s, size_t avail, unsigned need, uint8_t lo, uint8_t hi) {
        unsigned m = 0;

        while (m < need && 1 + (size_t) m < avail) {
                uint8_t c = s[1 + m];

                if (m == 0 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF))
                        break;
                m++;
        }
        return m;
}

size_t utf8_valid_len(const char *buf, size_t n) {
        const uint8_t *s = (const uint8_t *) buf;
        unsigned need;
        uint8_t lo, hi;

        assert(n > 0);
        if (s[0] < 0x80)
                return 1;
        /* The JSON lexer's hot path for non-ASCII text: checked directly, not by counting continuations. */
        if (!lead_info(s[0], &need, &lo, &hi) || n <= need || s[1] < lo || s[1] > hi)
                return 0;
        for (unsigned i = 2; i <= need; i++)
                if (s[i] < 0x80 || s[i] > 0xBF)
                        return 0;
        return 1 + (size_t) need;
}

size_t utf8_decode(const char *buf, size_t n, uint32_t *ret_cp) {
        static const uint8_t lead_mask[] = { 0x7F, 0x1F, 0x0F, 0x07 };
        const uint8_t *s = (const uint8_t *) buf;
        size_t len = utf8_valid_len(buf, n);
        uint32_t cp;

        if (len == 0)
                return 0;
        cp = s[0] & lead_mask[len - 1];
        for (size_t i = 1; i < len; i++)
                cp = (cp << 6) | (s[i] & 0x3F);
        *ret_cp = cp;
        return len;
}

size_t utf8_encode(uint32_t cp, char out[static 4]) {
        assert(cp <= 0x10FFFF);
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xC0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xE0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char) (0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char) (0xF0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char) (0x80 | (cp & 0x3F));
        return 4;
}

size_t utf8_sanitize(const char *buf, size_t n, bool final, char *out, size_t *ret_out_len) {
        const uint8_t *s = (const uint8_t *) buf;
        size_t i = 0, o = 0;

        while (i < n) {
                unsigned need, m;
                uint8_t lo, hi;

                if (s[i] < 0x80) {
                        out[o++] = (char) s[i++];
                        continue;
                }
                if (!lead_info(s[i], &need, &lo, &hi)) {
                        memcpy(out + o, replacement, sizeof(replacement));
                        o += sizeof(replacement);
                        i++;
                        continue;
                }
                m = count_continuations(s + i, n - i, need, lo, hi);
                if (m == need) {
                        memcpy(out + o, s + i, 1 + (size_t) need);
                        o += 1 + (size_t) need;
                        i += 1 + (size_t) need;
                        continue;
                }
                if (i + 1 + m == n && !final)
                        break; /* a valid prefix cut by the end of the chunk: the next chunk may complete it
                                */
                memcpy(out + o, replacement, sizeof(replacement));
                o += sizeof(replacement);
                i += 1 + (size_t) m;
        }
        *ret_out_len = o;
        return i;
}

size_t utf8_cut(const char *buf, size_t n) {
        while (n > 0 && ((unsigned char) buf[n] & 0xC0) == 0x80)
                n--;
        return n;
}
