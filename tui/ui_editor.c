/* ui_editor.c - multi-line UTF-8 editor buffer (see ui_editor.h). */
#include "ui_editor.h"

#include <stdlib.h>
#include <string.h>

#include "ui_text.h"

int zt_ui_editor_init(zt_ui_editor *e)
{
    memset(e, 0, sizeof *e);
    e->cap = 256;
    e->buf = calloc(e->cap, 1);
    e->goal_col = -1;
    return e->buf ? 0 : -1;
}

void zt_ui_editor_forget_undo(zt_ui_editor *e)
{
    for (int i = 0; i < e->nundo; i++)
        free(e->undo[i].text);
    e->nundo = 0;
}

void zt_ui_editor_free(zt_ui_editor *e)
{
    if (!e)
        return;
    zt_ui_editor_forget_undo(e);
    free(e->buf);
    memset(e, 0, sizeof *e);
}

static int reserve(zt_ui_editor *e, size_t need)
{
    if (need + 1 <= e->cap)
        return 0;
    size_t cap = e->cap * 2;
    while (cap < need + 1)
        cap *= 2;
    char *b = realloc(e->buf, cap);
    if (!b)
        return -1;
    e->buf = b;
    e->cap = cap;
    return 0;
}

/* Remember the state before a change. Typed characters in a row share one
 * snapshot so undo removes the run, not one letter. */
static void snapshot(zt_ui_editor *e, int typing)
{
    if (typing && e->typing)
        return;
    e->typing = typing;
    char *t = strdup(e->buf);
    if (!t)
        return;
    if (e->nundo == ZT_UI_UNDO_MAX) {
        free(e->undo[0].text);
        memmove(e->undo, e->undo + 1, (ZT_UI_UNDO_MAX - 1) * sizeof e->undo[0]);
        e->nundo--;
    }
    e->undo[e->nundo].text = t;
    e->undo[e->nundo].cur = e->cur;
    e->nundo++;
}

int zt_ui_editor_undo(zt_ui_editor *e)
{
    if (e->nundo == 0)
        return 0;
    zt_ui_snapshot s = e->undo[--e->nundo];
    size_t n = strlen(s.text);
    if (reserve(e, n) == 0) {
        memcpy(e->buf, s.text, n + 1);
        e->len = n;
        e->cur = s.cur <= n ? s.cur : n;
    }
    free(s.text);
    e->typing = 0;
    e->goal_col = -1;
    return 1;
}

/* Raw insert of already-clean bytes. */
static int put(zt_ui_editor *e, const char *s, size_t n)
{
    /* Callers hand over one whole character at a time: past the limit the
     * character is dropped whole, never cut into invalid UTF-8. */
    if (n == 0 || e->len + n > ZT_UI_EDITOR_MAX)
        return 0;
    if (reserve(e, e->len + n))
        return -1;
    memmove(e->buf + e->cur + n, e->buf + e->cur, e->len - e->cur + 1);
    memcpy(e->buf + e->cur, s, n);
    e->len += n;
    e->cur += n;
    return 0;
}

/* Text from outside (paste, history, PNG metadata) keeps printable
 * characters, '\n' and '\t' (as a space); CR and CRLF become '\n', or a
 * space when the text must stay on one line (one_line). */
static int insert_clean(zt_ui_editor *e, const char *s, size_t n, int one_line)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = zt_ui_utf8_decode(s, n, i, &cp);
        char tmp[4];
        int m;
        if (cp == '\r') {
            if (i + 1 < n && s[i + 1] == '\n')
                k++;
            cp = '\n';
        }
        if (cp == '\t' || (cp == '\n' && one_line))
            cp = ' ';
        if ((cp < 0x20 && cp != '\n') || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) ||
            (cp == 0xFFFD && k == 1)) {
            i += k;
            continue;
        }
        m = zt_ui_utf8_encode(cp, tmp);
        if (put(e, tmp, (size_t)m))
            return -1;
        i += k;
    }
    return 0;
}

int zt_ui_editor_set(zt_ui_editor *e, const char *s)
{
    snapshot(e, 0);
    e->len = 0;
    e->cur = 0;
    e->buf[0] = 0;
    e->goal_col = -1;
    return insert_clean(e, s ? s : "", s ? strlen(s) : 0, 0);
}

/* A paste: one undo step of its own. */
static int insert_pasted(zt_ui_editor *e, const char *s, size_t n, int one_line)
{
    snapshot(e, 0);
    e->goal_col = -1;
    return insert_clean(e, s, n, one_line);
}

int zt_ui_editor_insert(zt_ui_editor *e, const char *s, size_t n)
{
    return insert_pasted(e, s, n, 0);
}

int zt_ui_editor_insert_line(zt_ui_editor *e, const char *s, size_t n)
{
    /* A path copied with its line's end must not keep that end: line
     * breaks around the text are dropped, those inside become spaces. */
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    while (n && (s[0] == '\n' || s[0] == '\r')) {
        s++;
        n--;
    }
    return insert_pasted(e, s, n, 1);
}

int zt_ui_editor_insert_cp(zt_ui_editor *e, uint32_t cp)
{
    char tmp[4];
    int m = zt_ui_utf8_encode(cp, tmp);
    /* A word boundary ends a typing run, so undo goes back word by word. */
    snapshot(e, zt_ui_cp_is_word(cp));
    e->goal_col = -1;
    return insert_clean(e, tmp, (size_t)m, 0);
}

/* Character boundaries are grapheme cluster boundaries, so a base and its
 * marks, an emoji ZWJ sequence or a flag move and delete together; a
 * cluster that starts with a zero-width code point (a stray mark, a format
 * character) goes with the one before it, as it shows no cell of its own. */
static int zero_width_at(const zt_ui_editor *e, size_t i)
{
    uint32_t cp;
    zt_ui_utf8_decode(e->buf, e->len, i, &cp);
    return zt_ui_cp_width(cp) == 0;
}

static size_t next_char(const zt_ui_editor *e, size_t i)
{
    i = zt_ui_grapheme_next(e->buf, e->len, i);
    while (i < e->len && zero_width_at(e, i))
        i = zt_ui_grapheme_next(e->buf, e->len, i);
    return i;
}

static size_t prev_char(const zt_ui_editor *e, size_t i)
{
    i = zt_ui_grapheme_prev(e->buf, e->len, i);
    while (i > 0 && zero_width_at(e, i))
        i = zt_ui_grapheme_prev(e->buf, e->len, i);
    return i;
}

static void erase_range(zt_ui_editor *e, size_t a, size_t b)
{
    if (a >= b)
        return;
    memmove(e->buf + a, e->buf + b, e->len - b + 1);
    e->len -= b - a;
    e->cur = a;
    e->goal_col = -1;
}

void zt_ui_editor_backspace(zt_ui_editor *e)
{
    if (e->cur == 0)
        return;
    snapshot(e, 0);
    erase_range(e, prev_char(e, e->cur), e->cur);
}

void zt_ui_editor_delete(zt_ui_editor *e)
{
    if (e->cur >= e->len)
        return;
    snapshot(e, 0);
    erase_range(e, e->cur, next_char(e, e->cur));
}

static int word_at(const zt_ui_editor *e, size_t i)
{
    uint32_t cp;
    zt_ui_utf8_decode(e->buf, e->len, i, &cp);
    return zt_ui_cp_is_word(cp);
}

static size_t word_start_before(const zt_ui_editor *e, size_t i)
{
    size_t p; /* prev_char scans, so once per step */
    while (i > 0 && !word_at(e, p = prev_char(e, i)))
        i = p;
    while (i > 0 && word_at(e, p = prev_char(e, i)))
        i = p;
    return i;
}

static size_t word_end_after(const zt_ui_editor *e, size_t i)
{
    while (i < e->len && !word_at(e, i))
        i = next_char(e, i);
    while (i < e->len && word_at(e, i))
        i = next_char(e, i);
    return i;
}

void zt_ui_editor_delete_word_back(zt_ui_editor *e)
{
    size_t a = word_start_before(e, e->cur);
    if (a == e->cur)
        return;
    snapshot(e, 0);
    erase_range(e, a, e->cur);
}

static size_t bol(const zt_ui_editor *e, size_t i)
{
    while (i > 0 && e->buf[i - 1] != '\n')
        i--;
    return i;
}

static size_t eol(const zt_ui_editor *e, size_t i)
{
    while (i < e->len && e->buf[i] != '\n')
        i++;
    return i;
}

void zt_ui_editor_kill_to_eol(zt_ui_editor *e)
{
    size_t b = eol(e, e->cur);
    if (b == e->cur && b < e->len)
        b++; /* at the end of a line: join with the next */
    if (b == e->cur)
        return;
    snapshot(e, 0);
    erase_range(e, e->cur, b);
}

void zt_ui_editor_kill_to_bol(zt_ui_editor *e)
{
    size_t a = bol(e, e->cur);
    if (a == e->cur)
        return;
    snapshot(e, 0);
    erase_range(e, a, e->cur);
}

static void moved(zt_ui_editor *e)
{
    e->typing = 0;
    e->goal_col = -1;
}

void zt_ui_editor_left(zt_ui_editor *e)
{
    e->cur = prev_char(e, e->cur);
    moved(e);
}

void zt_ui_editor_right(zt_ui_editor *e)
{
    if (e->cur < e->len)
        e->cur = next_char(e, e->cur);
    moved(e);
}

void zt_ui_editor_word_left(zt_ui_editor *e)
{
    e->cur = word_start_before(e, e->cur);
    moved(e);
}

void zt_ui_editor_word_right(zt_ui_editor *e)
{
    e->cur = word_end_after(e, e->cur);
    moved(e);
}

void zt_ui_editor_home(zt_ui_editor *e)
{
    e->cur = bol(e, e->cur);
    moved(e);
}

void zt_ui_editor_end(zt_ui_editor *e)
{
    e->cur = eol(e, e->cur);
    moved(e);
}

int zt_ui_editor_layout(const zt_ui_editor *e, int width, zt_ui_row *rows, int max)
{
    if (width < 2)
        width = 2;
    int n = 0;
    size_t i = 0, start = 0;
    int col = 0;
    for (;;) {
        if (i >= e->len || e->buf[i] == '\n') {
            if (n < max)
                rows[n] = (zt_ui_row){start, i};
            n++;
            if (i >= e->len)
                break;
            i++;
            start = i;
            col = 0;
            continue;
        }
        size_t j = next_char(e, i);
        int w = zt_ui_str_width(e->buf + i, j - i);
        /* Keep one cell free at the end of a full row for the cursor. */
        if (col + w > width - 1 && col > 0) {
            if (n < max)
                rows[n] = (zt_ui_row){start, i};
            n++;
            start = i;
            col = 0;
        }
        col += w;
        i = j;
    }
    return n;
}

/* The row holding offset cur: a break position belongs to the next row,
 * except at the end of a hard line. */
static int row_of(const zt_ui_row *rows, int n, size_t cur)
{
    for (int r = 0; r < n; r++) {
        if (cur < rows[r].end)
            return r;
        if (cur == rows[r].end && (r + 1 == n || rows[r + 1].start != cur))
            return r;
    }
    return n - 1;
}

static zt_ui_row *layout_all(const zt_ui_editor *e, int width, int *n)
{
    int cnt = zt_ui_editor_layout(e, width, NULL, 0);
    zt_ui_row *rows = malloc((size_t)cnt * sizeof *rows);
    if (!rows)
        return NULL;
    zt_ui_editor_layout(e, width, rows, cnt);
    *n = cnt;
    return rows;
}

void zt_ui_editor_cursor_pos(const zt_ui_editor *e, int width, int *row, int *col)
{
    int n;
    zt_ui_row *rows = layout_all(e, width, &n);
    *row = 0;
    *col = 0;
    if (!rows)
        return;
    int r = row_of(rows, n, e->cur);
    *row = r;
    *col = zt_ui_str_width(e->buf + rows[r].start, e->cur - rows[r].start);
    free(rows);
}

/* Offset in row r nearest to column col without passing it. */
static size_t offset_at_col(const zt_ui_editor *e, const zt_ui_row *row, int col)
{
    size_t i = row->start;
    int c = 0;
    while (i < row->end) {
        size_t j = next_char(e, i);
        int w = zt_ui_str_width(e->buf + i, j - i);
        if (c + w > col)
            break;
        c += w;
        i = j;
    }
    return i;
}

static int vmove(zt_ui_editor *e, int width, int dir)
{
    int n;
    zt_ui_row *rows = layout_all(e, width, &n);
    if (!rows)
        return 0;
    int r = row_of(rows, n, e->cur);
    int col = zt_ui_str_width(e->buf + rows[r].start, e->cur - rows[r].start);
    int ok = 0;
    if (r + dir >= 0 && r + dir < n) {
        if (e->goal_col < 0)
            e->goal_col = col;
        int goal = e->goal_col;
        e->cur = offset_at_col(e, &rows[r + dir], goal);
        e->goal_col = goal;
        ok = 1;
    }
    e->typing = 0;
    free(rows);
    return ok;
}

int zt_ui_editor_up(zt_ui_editor *e, int width)
{
    return vmove(e, width, -1);
}

int zt_ui_editor_down(zt_ui_editor *e, int width)
{
    return vmove(e, width, 1);
}
