/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * UTF-8 (RFC 3629, Unicode Table 3-7): validating, decoding and encoding one character, and turning
 * arbitrary bytes (a node's output) into valid UTF-8 for a JSON string, chunk by chunk. Pure: no event
 * loop, no logging, no allocation.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1…4) of the well-formed sequence at buf[0…n), n ≥ 1; 0 if none starts there: a stray
 * continuation byte, an overlong form, a surrogate, a code point above U+10FFFF, or a cut-short sequence
 * (a NUL byte is not a continuation, so n may overstate a NUL-terminated string's tail). */
size_t utf8_valid_len(const char *buf, size_t n);

/* As utf8_valid_len(), and when the length is not 0 *ret_cp is the code point. */
size_t utf8_decode(const char *buf, size_t n, uint32_t *ret_cp);

/* Encode cp (≤ U+10FFFF; a surrogate is the caller's error) into out; the number of bytes (1…4). */
size_t utf8_encode(uint32_t cp, char out[static 4]);

/* n, or less so that buf[0…result) does not end inside a multi-byte character: buf[n] (which must be
 * readable: a terminating NUL will do) is not a continuation byte. For cutting a name short. */
size_t utf8_cut(const char *buf, size_t n);

/* Worst case of utf8_sanitize() output for n input bytes: every byte replaced by U+FFFD (3 bytes). */
#define UTF8_SANITIZE_MAX(n) ((n) *3)

/* Copy buf[0..n) to out, valid UTF-8 as is (NUL bytes included) and each invalid sequence replaced by one
 * U+FFFD per maximal subpart (Unicode §3.9 "U+FFFD Substitution of Maximal Subparts", what Python's
 * errors="replace" and WHATWG decoders do): an overlong form, a surrogate, a code point above U+10FFFF, a
 * stray continuation byte or a sequence cut short by another byte. An incomplete sequence at the very end
 * of buf that more input could still complete is left unconsumed, so the caller can retry it with the next
 * chunk, unless final is set (no more input will come): then it is replaced too. out must have room for
 * UTF8_SANITIZE_MAX(n) bytes. Returns the number of input bytes consumed (n, or n minus 1–3 held back);
 * *ret_out_len is the number of bytes written to out. */
size_t utf8_sanitize(const char *buf, size_t n, bool final, char *out, size_t *ret_out_len);
