/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * utf8.c — make node output valid UTF-8 for JSON (orchctl logs).
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
                        break; /* a valid prefix cut by the end of the chunk: the next chunk may complete it */
                memcpy(out + o, replacement, sizeof(replacement));
                o += sizeof(replacement);
                i += 1 + (size_t) m;
        }
        *ret_out_len = o;
        return i;
}
