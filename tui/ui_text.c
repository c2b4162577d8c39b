/* ui_text.c - UTF-8 stepping, widths and sanitising (see ui_text.h). */
#include "ui_text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <wchar.h>

#include "tokenizer.h" /* zt_utf8_validate */

size_t zt_ui_utf8_decode(const char *s, size_t len, size_t i, uint32_t *cp)
{
    if (i >= len)
        return 0;
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                          (utf8proc_ssize_t)(len - i), &c);
    if (n <= 0 || c < 0) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = (uint32_t)c;
    return (size_t)n;
}

size_t zt_ui_utf8_next(const char *s, size_t len, size_t i)
{
    uint32_t cp;
    return i + zt_ui_utf8_decode(s, len, i, &cp);
}

size_t zt_ui_utf8_prev(const char *s, size_t i)
{
    if (i == 0)
        return 0;
    /* Back over at most three continuation bytes; a stray continuation byte
     * on its own is one (invalid) character, matching decode. */
    size_t j = i - 1;
    int k = 0;
    while (j > 0 && k < 3 && ((unsigned char)s[j] & 0xC0) == 0x80) {
        j--;
        k++;
    }
    uint32_t cp;
    if (j + zt_ui_utf8_decode(s, i, j, &cp) == i)
        return j;
    return i - 1;
}

size_t zt_ui_grapheme_next(const char *s, size_t len, size_t i)
{
    uint32_t c1 = 0, c2 = 0; /* set by each decode below i < len */
    size_t n = zt_ui_utf8_decode(s, len, i, &c1);
    utf8proc_int32_t state = 0; /* i is taken as a boundary */
    for (i += n; n && i < len; i += n) {
        n = zt_ui_utf8_decode(s, len, i, &c2);
        if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)c1, (utf8proc_int32_t)c2,
                                             &state))
            break;
        c1 = c2;
    }
    return i;
}

/* Boundaries are known only scanning forward from one: the line's start
 * ('\n' always ends a cluster), or on a long line a code point this many
 * bytes back; a cluster longer than that (dozens of stacked marks) may be
 * split there, still at a code point. */
#define GRAPHEME_SCAN 512

size_t zt_ui_grapheme_prev(const char *s, size_t len, size_t i)
{
    /* Two ASCII characters other than CR LF always have a boundary between
     * them: the common case needs no scan (word moves step back often). */
    if (i >= 2 && !((s[i - 2] | s[i - 1]) & 0x80) && s[i - 2] != '\r')
        return i - 1;
    size_t from = i;
    while (from > 0 && s[from - 1] != '\n' && i - from < GRAPHEME_SCAN)
        from--;
    while (from < i && ((unsigned char)s[from] & 0xC0) == 0x80)
        from++;
    if (from == i)
        return zt_ui_utf8_prev(s, i);
    size_t start = from;
    for (size_t p = from; p < i; p = zt_ui_grapheme_next(s, len, p))
        start = p;
    return start;
}

int zt_ui_cp_width(uint32_t cp)
{
    if (cp < 0x20 || cp == 0x7F)
        return 2; /* ^X */
    if (cp >= 0x80 && cp < 0xA0)
        return 4; /* <XX> */
    /* curses moves the cursor by the C library's wcwidth, one cell for a
     * code point it calls unprintable: the same measure here keeps the
     * layout where curses draws it (utf8proc's table differs for hundreds
     * of code points, spacing marks among them). Without a multibyte
     * locale, wcwidth knows nothing past ASCII, so utf8proc's widths. */
    int w = MB_CUR_MAX > 1 && cp <= (uint32_t)WCHAR_MAX
                ? wcwidth((wchar_t)cp)
                : utf8proc_charwidth((utf8proc_int32_t)cp);
    return w < 0 ? 1 : w > 2 ? 2 : w;
}

int zt_ui_str_width(const char *s, size_t len)
{
    int w = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        i += zt_ui_utf8_decode(s, len, i, &cp);
        w += zt_ui_cp_width(cp);
    }
    return w;
}

int zt_ui_cp_is_word(uint32_t cp)
{
    if (cp == '_')
        return 1;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

int zt_ui_utf8_encode(uint32_t cp, char *out)
{
    return (int)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

size_t zt_ui_sanitize_one(const char *s, size_t len, size_t i, int keep_newlines, char out[5],
                          size_t *out_len)
{
    uint32_t cp = 0;
    size_t n = zt_ui_utf8_decode(s, len, i, &cp), o = 0;
    if (cp == '\n' && keep_newlines) {
        out[o++] = '\n';
    } else if (cp < 0x20 || cp == 0x7F) {
        out[o++] = '^';
        out[o++] = (char)(cp == 0x7F ? '?' : cp + 0x40);
    } else if (cp >= 0x80 && cp < 0xA0) {
        static const char hex[] = "0123456789ABCDEF";
        out[o++] = '<';
        out[o++] = hex[cp >> 4];
        out[o++] = hex[cp & 15];
        out[o++] = '>';
    } else if (cp == 0xFFFD && n == 1) {
        o = (size_t)zt_ui_utf8_encode(0xFFFD, out);
    } else {
        memcpy(out, s + i, n);
        o = n;
    }
    *out_len = o;
    return n;
}

char *zt_ui_sanitize(const char *s, size_t len, int keep_newlines)
{
    /* Worst case: every byte becomes U+FFFD (3 bytes) or <XX> (4 bytes). */
    char *out = malloc(len * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        size_t k;
        i += zt_ui_sanitize_one(s, len, i, keep_newlines, out + o, &k);
        o += k;
    }
    out[o] = 0;
    return out;
}

size_t zt_ui_fit_width(const char *s, size_t len, size_t i, int maxw, int *used)
{
    int w = 0;
    while (i < len) {
        size_t j = zt_ui_grapheme_next(s, len, i);
        int cw = zt_ui_str_width(s + i, j - i);
        if (j == i || w + cw > maxw)
            break;
        w += cw;
        i = j;
    }
    if (used)
        *used = w;
    return i;
}

/* s with the middle of its bytes [a, b) replaced by mark, the rest of s
 * kept: room cells for what stays of the span, up to tail_w of them for its
 * tail and the rest for its head, each grown by whole clusters while it
 * fits. Heap; NULL on out of memory. */
static char *elide_span(const char *s, size_t a, size_t b, int room, int tail_w, const char *mark)
{
    size_t len = strlen(s), ml = strlen(mark);
    char *out = malloc(len + ml + 1); /* what is kept + mark <= len + ml */
    if (!out)
        return NULL;
    int w = 0;
    size_t head = a, tail = b;
    while (tail > a) {
        size_t j = zt_ui_grapheme_prev(s, b, tail);
        int cw = zt_ui_str_width(s + j, tail - j);
        if (w + cw > tail_w)
            break;
        w += cw;
        tail = j;
    }
    head = zt_ui_fit_width(s, tail, a, room - w, NULL);
    memcpy(out, s, head);
    memcpy(out + head, mark, ml);
    memcpy(out + head + ml, s + tail, len - tail + 1);
    return out;
}

char *zt_ui_fit_message(const char *s, int maxw, const char *mark)
{
    size_t len = strlen(s), a = 0, b = 0;
    int width = zt_ui_str_width(s, len), mw = zt_ui_str_width(mark, strlen(mark)), tw = 0;
    if (width <= maxw)
        return strdup(s);
    /* the widest word (between spaces): a path, most often */
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && s[j] != ' ')
            j++;
        int w = zt_ui_str_width(s + i, j - i);
        if (w > tw) {
            tw = w;
            a = i;
            b = j;
        }
        i = j + 1;
    }
    /* what stays of the word: at least 20 cells, or a third of a narrow line */
    int least = maxw / 3 < 20 ? maxw / 3 : 20, room = tw - (width - maxw) - mw;
    if (least < 8)
        least = 8;
    if (room < least)
        room = least;
    if (room + mw >= tw)
        return strdup(s);
    /* two thirds from the end, or more to keep a path's last name whole */
    size_t slash = b;
    while (slash > a && s[slash - 1] != '/')
        slash--;
    int last = slash > a ? zt_ui_str_width(s + slash - 1, b - slash + 1) : 0, tail_w = room * 2 / 3;
    if (last > tail_w)
        tail_w = last < room - 4 ? last : room - 4;
    return elide_span(s, a, b, room, tail_w, mark);
}

char *zt_ui_utf8_lossy(const char *s, size_t n)
{
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0, bad;
    while (i < n) {
        if (zt_utf8_validate(s + i, n - i, &bad)) {
            memcpy(o, s + i, n - i);
            o += n - i;
            break;
        }
        memcpy(o, s + i, bad);
        o += bad;
        memcpy(o, "\xEF\xBF\xBD", 3);
        o += 3;
        unsigned char lead = (unsigned char)s[i + bad];
        i += bad + 1;
        /* One replacement for a cut-short sequence: its lead byte and the
         * continuation bytes that followed it. */
        for (int k = 0; lead >= 0xC0 && k < 3 && i < n && ((unsigned char)s[i] & 0xC0) == 0x80; k++)
            i++;
    }
    *o = 0;
    return out;
}
