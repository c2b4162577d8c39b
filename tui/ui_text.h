/*
 * ui_text.h - UTF-8 text helpers for the workbench: stepping by character,
 * display width (CJK and emoji take two cells, combining marks none), word
 * boundaries, and making untrusted text safe to print.
 *
 * Widths come from utf8proc, not the C locale, so the layout is the same on
 * every machine and in tests. Pure functions; any thread may call.
 */
#ifndef ZT_UI_TEXT_H
#define ZT_UI_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Decode one code point at s[i] (len bytes in all). Invalid bytes decode as
 * U+FFFD one byte at a time. Returns the byte length (>= 1; 0 at the end). */
size_t zt_ui_utf8_decode(const char *s, size_t len, size_t i, uint32_t *cp);
/* Byte offset of the character after / before offset i. */
size_t zt_ui_utf8_next(const char *s, size_t len, size_t i);
size_t zt_ui_utf8_prev(const char *s, size_t i);
/* Byte offset of the grapheme cluster (what a reader sees as one
 * character: a base and its marks, an emoji ZWJ sequence, a flag) after /
 * before offset i. */
size_t zt_ui_grapheme_next(const char *s, size_t len, size_t i);
size_t zt_ui_grapheme_prev(const char *s, size_t len, size_t i);
/* Cells a code point takes: 0 (combining), 1 or 2, as curses counts them
 * in the current locale (wcwidth; utf8proc's table when the locale is not
 * multibyte). Control characters count as 2 because they are shown as ^X. */
int zt_ui_cp_width(uint32_t cp);
/* Cells of s[0..len). */
int zt_ui_str_width(const char *s, size_t len);
/* Offset past the longest run of whole grapheme clusters of s[i..len) that
 * takes at most maxw cells; *used (may be NULL) receives its cells. */
size_t zt_ui_fit_width(const char *s, size_t len, size_t i, int maxw, int *used);
/* 1 when cp belongs to a word (letters, digits, marks, '_'). */
int zt_ui_cp_is_word(uint32_t cp);

/* A copy of s (len bytes) that is safe to send to a terminal: C0/C1
 * controls and DEL become ^X / <XX>, invalid UTF-8 becomes U+FFFD; with
 * keep_newlines, '\n' stays. Heap; caller frees; NULL on out of memory. */
char *zt_ui_sanitize(const char *s, size_t len, int keep_newlines);
/* The same for the one character at s[i] (a byte when it is not UTF-8):
 * out receives its 1-4 bytes (*out_len of them); returns the bytes of s
 * it took. */
size_t zt_ui_sanitize_one(const char *s, size_t len, size_t i, int keep_newlines, char out[5],
                          size_t *out_len);
/* s (n bytes) with each bad UTF-8 sequence as one U+FFFD and nothing else
 * changed, for JSON, which holds UTF-8 text (cJSON escapes the controls).
 * Heap, NUL-terminated; caller frees; NULL on out of memory. */
char *zt_ui_utf8_lossy(const char *s, size_t n);

/* A message for a line of maxw cells: when it is wider, the middle of its
 * widest word (a path, most often) gives way to mark ("…", or "..." where
 * the terminal's encoding is not UTF-8), cut between grapheme clusters,
 * keeping at least 20 cells of it (a third of a narrow line), two thirds of them from its end (or a
 * path's whole last name when it leaves 4 for the start): "/ho…/a-cat.png". The
 * rest of the message stays whole, so the reason at its end ("...: No space
 * left on device") can still be read; what is then still too wide is for
 * the caller to cut. Heap; caller frees; NULL on out of memory. */
char *zt_ui_fit_message(const char *s, int maxw, const char *mark);

/* Append the UTF-8 encoding of cp to out (room for 4 bytes); returns bytes. */
int zt_ui_utf8_encode(uint32_t cp, char *out);

#endif
