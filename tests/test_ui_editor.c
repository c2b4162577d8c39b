/*
 * test_ui_editor.c - the prompt editor and the text helpers under it:
 * UTF-8 stepping, CJK double width, combining marks, emoji sequences and
 * flags, movement by character and word, undo, paste filtering (one-line
 * fields too), wrapping, and the sanitiser that keeps escape sequences
 * from files off the terminal.
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ui_editor.h"
#include "ui_text.h"

static zt_ui_editor ed(const char *s)
{
    zt_ui_editor e;
    zt_ui_editor_init(&e);
    zt_ui_editor_set(&e, s);
    zt_ui_editor_forget_undo(&e); /* start each case with a clean history */
    return e;
}

static void widths(const char *where)
{
    CHECK(zt_ui_str_width("abc", 3) == 3, "%s: ascii", where);
    CHECK(zt_ui_str_width("狐狸", strlen("狐狸")) == 4, "%s: CJK is two cells each", where);
    CHECK(zt_ui_str_width("e\xcc\x81", 3) == 1, "%s: combining acute takes no cell", where);
    CHECK(zt_ui_cp_width(0x1F98A) == 2, "%s: emoji fox is wide", where);
    CHECK(zt_ui_cp_width(0x1B) == 2, "%s: ESC is shown as ^[", where);
}

/* The same widths without a multibyte locale (utf8proc's table) and in
 * C.UTF-8 (the C library's, which curses moves the cursor by). There, a
 * spacing vowel sign takes its cell, as curses counts it: utf8proc's
 * table gives it none, and a prompt of them ran past its panel. */
static void test_width(void)
{
    widths("C locale");
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        printf("test_width: no C.UTF-8 locale, its cases skipped\n");
        return;
    }
    widths("C.UTF-8");
    CHECK(zt_ui_cp_width(0x93F) == 1, "U+093F DEVANAGARI VOWEL SIGN I: %d cells",
          zt_ui_cp_width(0x93F));
    CHECK(zt_ui_str_width("\xe0\xa4\x95\xe0\xa4\xbf", 6) == 2, "KA + I: %d cells",
          zt_ui_str_width("\xe0\xa4\x95\xe0\xa4\xbf", 6));
    CHECK(zt_ui_cp_width(0x378) == 1, "unassigned U+0378: %d cells (curses shows one)",
          zt_ui_cp_width(0x378));
    setlocale(LC_CTYPE, "C");
}

static void test_decode_invalid(void)
{
    uint32_t cp;
    const char bad[] = "\xff" "a";
    CHECK(zt_ui_utf8_decode(bad, 2, 0, &cp) == 1 && cp == 0xFFFD, "stray byte is U+FFFD");
    const char cut[] = "\xe7\x8b"; /* first two bytes of 狐 */
    CHECK(zt_ui_utf8_decode(cut, 2, 0, &cp) == 1 && cp == 0xFFFD, "truncated sequence");
    const char over[] = "\xc0\xaf"; /* overlong '/' */
    CHECK(zt_ui_utf8_decode(over, 2, 0, &cp) == 1 && cp == 0xFFFD, "overlong form");
    CHECK(zt_ui_utf8_next("狐", 3, 0) == 3, "next skips a whole character");
    CHECK(zt_ui_utf8_prev("a狐", 4) == 1, "prev lands on the lead byte");
}

static void test_sanitize(void)
{
    const char in[] = "x\033[2Jy\x9b" "1m\x7f\n!";
    char *s = zt_ui_sanitize(in, strlen(in), 0);
    if (!s) {
        CHECK(0, "out of memory");
        return;
    }
    CHECK(!strchr(s, 033), "no ESC left: %s", s);
    CHECK(strstr(s, "^[[2J"), "ESC shown as ^[: %s", s);
    CHECK(s && !strchr(s, '\n'), "newline made visible");
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        CHECK(*p >= 0x20 && *p != 0x7f, "control byte %02x", *p);
    free(s);
    s = zt_ui_sanitize("a\nb", 3, 1);
    CHECK(s && !strcmp(s, "a\nb"), "newline kept on request");
    free(s);
    s = zt_ui_sanitize("\xe2\x80", 2, 0);
    CHECK(s && !strcmp(s, "\xef\xbf\xbd\xef\xbf\xbd"), "cut UTF-8 becomes U+FFFD");
    free(s);
}

/* fit(s, w, mark) must equal want */
static void fitted(const char *s, int w, const char *mark, const char *want)
{
    char *got = zt_ui_fit_message(s, w, mark);
    CHECK(got && !strcmp(got, want), "'%s' in %d cells: '%s', want '%s'", s, w,
          got ? got : "(null)", want);
    free(got);
}

/* The status bar's long messages lose the middle of their path, so that
 * the reason at their end can be read (they were cut at the screen's edge). */
static void test_fit_message(void)
{
    const char *e = "\xe2\x80\xa6";
    fitted("short", 10, e, "short");
    fitted("exactly10!", 10, e, "exactly10!");
    /* 76 cells in 62: the path (38) keeps 21, 14 of them from its end */
    fitted("job 1 failed: /home/someone/pictures/zimt/a-cat.png: No space left on device", 62,
           "...", "job 1 failed: /home/s...imt/a-cat.png: No space left on device");
    fitted("job 1 failed: /home/someone/pictures/zimt/a-cat.png: No space left on device", 60, e,
           "job 1 failed: /home/s\xe2\x80\xa6imt/a-cat.png: No space left on device");
    /* the word keeps 20 cells at least (a third of a narrow line, 8 at
     * least), a path's last name whole when it can; the caller cuts what is
     * still too wide */
    fitted("w: /a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p.png: reason", 20, "...",
           "w: /a/b...png: reason");
    fitted("settings not used: /home/alice/.config/zimt/settings.json: not valid JSON "
           "(it breaks at byte 11 of 12)", 60, e,
           "settings not used: /home\xe2\x80\xa6/settings.json: not valid JSON "
           "(it breaks at byte 11 of 12)");
    /* no word to give up cells: as it is */
    fitted("aaaa bbbb cccc dddd eeee ffff gggg", 20, "...", "aaaa bbbb cccc dddd eeee ffff gggg");
    /* clusters stay whole: CJK (two cells) and a base with its mark */
    fitted("x 狐狸狐狸狐狸狐狸狐狸狐狸狐狸 y", 20, e, "x 狐狸\xe2\x80\xa6狸狐狸狐狸 y");
#define EA "e\xcc\x81" /* e and a combining acute: one cell */
#define EA5 EA EA EA EA EA
    fitted("x " EA5 EA5 EA5 EA5 EA5 EA5, 15, e, "x " EA EA EA EA "\xe2\x80\xa6" EA5 EA EA EA);
#undef EA5
#undef EA
}

static void test_move_by_char(void)
{
    zt_ui_editor e = ed("a狐e\xcc\x81z");
    zt_ui_editor_home(&e);
    CHECK(e.cur == 0, "home");
    zt_ui_editor_right(&e);
    CHECK(e.cur == 1, "past a");
    zt_ui_editor_right(&e);
    CHECK(e.cur == 4, "past the CJK character in one step");
    zt_ui_editor_right(&e);
    CHECK(e.cur == 7, "e and its combining mark move together (%zu)", e.cur);
    zt_ui_editor_left(&e);
    CHECK(e.cur == 4, "back over e + mark");
    zt_ui_editor_end(&e);
    zt_ui_editor_backspace(&e);
    zt_ui_editor_backspace(&e);
    CHECK(!strcmp(e.buf, "a狐"), "backspace removes e + mark whole: %s", e.buf);
    zt_ui_editor_left(&e);
    zt_ui_editor_delete(&e);
    CHECK(!strcmp(e.buf, "a"), "delete removes the CJK character: %s", e.buf);
    zt_ui_editor_free(&e);
}

/* An emoji ZWJ sequence and a flag are one character each: stepping and
 * deleting never leave half of one (a lone 👩 and a ZWJ) behind. */
static void test_grapheme_clusters(void)
{
    const char *coder = "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb"; /* 👩‍💻 */
    char text[64];
    snprintf(text, sizeof text, "A%sB", coder);
    zt_ui_editor e = ed(text);
    zt_ui_editor_left(&e);
    zt_ui_editor_backspace(&e);
    CHECK(!strcmp(e.buf, "AB"), "backspace removes the ZWJ sequence whole: '%s'", e.buf);
    zt_ui_editor_set(&e, text);
    zt_ui_editor_home(&e);
    zt_ui_editor_right(&e);
    zt_ui_editor_right(&e);
    CHECK(e.cur == 1 + strlen(coder), "right steps over the sequence (%zu)", e.cur);
    zt_ui_editor_left(&e);
    CHECK(e.cur == 1, "left steps back over it (%zu)", e.cur);
    zt_ui_editor_delete(&e);
    CHECK(!strcmp(e.buf, "AB"), "delete removes it whole: '%s'", e.buf);

    /* two flags: regional indicators pair up */
    zt_ui_editor_set(&e, "\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa\xf0\x9f\x87\xab\xf0\x9f\x87\xb7");
    zt_ui_editor_backspace(&e);
    CHECK(!strcmp(e.buf, "\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa"), "one flag removed, one kept");

    /* far into a long line the sequence is still one character */
    char big[2200];
    memset(big, 'x', 2000);
    snprintf(big + 2000, sizeof big - 2000, "%sB", coder);
    zt_ui_editor_set(&e, big);
    zt_ui_editor_left(&e);
    zt_ui_editor_backspace(&e);
    CHECK(e.len == 2001 && e.buf[2000] == 'B', "long line: removed whole (%zu)", e.len);
    zt_ui_editor_free(&e);
}

static void test_move_by_word(void)
{
    zt_ui_editor e = ed("red fox, 狐狸  snow");
    zt_ui_editor_home(&e);
    zt_ui_editor_word_right(&e);
    CHECK(e.cur == 3, "end of 'red' (%zu)", e.cur);
    zt_ui_editor_word_right(&e);
    CHECK(e.cur == 7, "end of 'fox' (%zu)", e.cur);
    zt_ui_editor_word_right(&e);
    CHECK(e.cur == 9 + 6, "end of the CJK word (%zu)", e.cur);
    zt_ui_editor_end(&e);
    zt_ui_editor_word_left(&e);
    CHECK(!strcmp(e.buf + e.cur, "snow"), "start of 'snow'");
    zt_ui_editor_end(&e);
    zt_ui_editor_delete_word_back(&e);
    CHECK(!strcmp(e.buf, "red fox, 狐狸  "), "Ctrl-W: %s", e.buf);
    zt_ui_editor_delete_word_back(&e);
    CHECK(!strcmp(e.buf, "red fox, "), "Ctrl-W over spaces: %s", e.buf);
    zt_ui_editor_free(&e);
}

static void test_undo(void)
{
    zt_ui_editor e = ed("");
    const char *typed = "red fox";
    for (const char *p = typed; *p; p++)
        zt_ui_editor_insert_cp(&e, (uint32_t)(unsigned char)*p);
    CHECK(!strcmp(e.buf, "red fox"), "typed");
    CHECK(zt_ui_editor_undo(&e) && !strcmp(e.buf, "red "), "undo a word run: %s", e.buf);
    CHECK(zt_ui_editor_undo(&e) && !strcmp(e.buf, "red"), "undo the space: %s", e.buf);
    CHECK(zt_ui_editor_undo(&e) && !strcmp(e.buf, ""), "undo the first word: %s", e.buf);
    CHECK(!zt_ui_editor_undo(&e), "nothing left to undo");

    zt_ui_editor_set(&e, "keep this");
    zt_ui_editor_kill_to_bol(&e);
    CHECK(!strcmp(e.buf, ""), "Ctrl-U");
    zt_ui_editor_undo(&e);
    CHECK(!strcmp(e.buf, "keep this") && e.cur == 9, "undo restores text and cursor");
    for (int i = 0; i < ZT_UI_UNDO_MAX + 10; i++)
        zt_ui_editor_insert(&e, "!", 1);
    int n = 0;
    while (zt_ui_editor_undo(&e))
        n++;
    CHECK(n == ZT_UI_UNDO_MAX, "undo depth is bounded (%d)", n);
    zt_ui_editor_free(&e);
}

static void test_paste(void)
{
    zt_ui_editor e = ed("");
    const char paste[] = "line one\r\nline\ttwo\033[31m red\x07\xff\nend";
    zt_ui_editor_insert(&e, paste, sizeof paste - 1);
    CHECK(!strcmp(e.buf, "line one\nline two[31m red\nend"), "paste filtered: '%s'", e.buf);
    CHECK(zt_ui_editor_undo(&e) && e.len == 0, "a paste undoes as one step");

    /* At the size limit a wide character is dropped whole, never cut. */
    char *big = malloc(ZT_UI_EDITOR_MAX);
    memset(big, 'a', ZT_UI_EDITOR_MAX - 1);
    big[ZT_UI_EDITOR_MAX - 1] = 0;
    zt_ui_editor_set(&e, big);
    zt_ui_editor_insert(&e, "狐", 3);
    CHECK(e.len == ZT_UI_EDITOR_MAX - 1, "CJK past the limit dropped (%zu)", e.len);
    zt_ui_editor_insert(&e, "b狐", 4);
    CHECK(e.len == ZT_UI_EDITOR_MAX && e.buf[e.len - 1] == 'b', "one byte still fits");
    char *s = zt_ui_sanitize(e.buf, e.len, 0);
    CHECK(s && !strstr(s, "\xef\xbf\xbd"), "buffer stays valid UTF-8");
    free(s);
    free(big);
    zt_ui_editor_free(&e);
}

static void test_paste_one_line(void)
{
    /* a one-line field: a copied line's end is dropped, inner breaks are spaces */
    zt_ui_editor e = ed("");
    const char path[] = "\r\n/tmp/out dir\r\n\n";
    zt_ui_editor_insert_line(&e, path, sizeof path - 1);
    CHECK(!strcmp(e.buf, "/tmp/out dir"), "ends dropped: '%s'", e.buf);
    zt_ui_editor_set(&e, "");
    const char lines[] = "a\nb\r\nc\rd\te\033\n";
    zt_ui_editor_insert_line(&e, lines, sizeof lines - 1);
    CHECK(!strcmp(e.buf, "a b c d e"), "inner breaks are spaces: '%s'", e.buf);
    CHECK(zt_ui_editor_undo(&e) && e.len == 0, "undoes as one step");
    zt_ui_editor_insert_line(&e, "\n\r\n", 3);
    CHECK(e.len == 0, "only breaks: nothing");
    zt_ui_editor_free(&e);
}

static void test_layout(void)
{
    /* width 6 leaves 5 cells of text per row (one for the cursor) */
    zt_ui_editor e = ed("ab狐狸cd\nx");
    zt_ui_row rows[8];
    int n = zt_ui_editor_layout(&e, 6, rows, 8);
    CHECK(n == 3, "rows %d", n);
    CHECK(rows[0].start == 0 && rows[0].end == 5, "a CJK character that would pass the "
                                                  "width moves down (%zu)", rows[0].end);
    CHECK(rows[1].start == 5 && rows[1].end == 10, "row 2 (%zu..%zu)", rows[1].start,
          rows[1].end);
    int r, c;
    zt_ui_editor_cursor_pos(&e, 6, &r, &c);
    CHECK(r == 2 && c == 1, "cursor after x: %d,%d", r, c);
    CHECK(zt_ui_editor_up(&e, 6) && e.cur == 5 + 0, "up keeps column 1 -> start of 狸 (%zu)",
          e.cur);
    zt_ui_editor_end(&e);
    CHECK(zt_ui_editor_down(&e, 6), "down");
    CHECK(!zt_ui_editor_down(&e, 6), "no row below the last");
    zt_ui_editor_free(&e);

    zt_ui_editor empty = ed("");
    CHECK(zt_ui_editor_layout(&empty, 10, rows, 8) == 1, "empty text is one row");
    zt_ui_editor_free(&empty);
}

static void test_set_filters(void)
{
    zt_ui_editor e = ed("from a file \033]52;c;ZXZpbA==\007 end");
    CHECK(!strchr(e.buf, 033) && !strchr(e.buf, 7), "set drops controls: %s", e.buf);
    zt_ui_editor_free(&e);
}

int main(void)
{
    RUN(test_width);
    RUN(test_decode_invalid);
    RUN(test_sanitize);
    RUN(test_fit_message);
    RUN(test_move_by_char);
    RUN(test_grapheme_clusters);
    RUN(test_move_by_word);
    RUN(test_undo);
    RUN(test_paste);
    RUN(test_paste_one_line);
    RUN(test_layout);
    RUN(test_set_filters);
    return zt_test_summary("test_ui_editor");
}
