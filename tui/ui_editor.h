/*
 * ui_editor.h - a multi-line UTF-8 text buffer with a cursor, undo and
 * soft-wrapped layout: the prompt and negative-prompt editors.
 *
 * The cursor is a byte offset that always sits on a character boundary.
 * Movement is by character (a grapheme cluster: combining marks travel with
 * their base, an emoji ZWJ sequence or a flag is one), by word, by line and
 * by visual row of a given width. Every change
 * can be undone; runs of typed characters undo as one step.
 *
 * No curses here: the widget is pure so tests can drive it. One thread.
 */
#ifndef ZT_UI_EDITOR_H
#define ZT_UI_EDITOR_H

#include <stddef.h>
#include <stdint.h>

#define ZT_UI_UNDO_MAX 64
#define ZT_UI_EDITOR_MAX (64 * 1024) /* bytes; longer input is cut */

typedef struct zt_ui_snapshot {
    char *text;
    size_t cur;
} zt_ui_snapshot;

typedef struct zt_ui_editor {
    char *buf; /* NUL-terminated */
    size_t len, cap, cur;
    zt_ui_snapshot undo[ZT_UI_UNDO_MAX];
    int nundo;
    int typing; /* last change was a typed character: coalesce */
    int goal_col; /* column kept across vertical moves; -1 none */
    int top;      /* the first row shown where the text is taller than its
                     box (draw_editor's; moved only to keep the cursor in view) */
} zt_ui_editor;

/* One visual row of the layout: bytes [start, end) of buf. */
typedef struct zt_ui_row {
    size_t start, end;
} zt_ui_row;

int zt_ui_editor_init(zt_ui_editor *e); /* 0 on success */
void zt_ui_editor_free(zt_ui_editor *e);
/* Replace the whole text (invalid UTF-8 and controls other than '\n' and
 * '\t' are dropped); cursor at the end; undoable. */
int zt_ui_editor_set(zt_ui_editor *e, const char *s);
/* Insert text at the cursor (paste or typing; same filtering as _set). */
int zt_ui_editor_insert(zt_ui_editor *e, const char *s, size_t n);
/* The same for a one-line field (a path, a size): line breaks at either end
 * are dropped and those inside become spaces. */
int zt_ui_editor_insert_line(zt_ui_editor *e, const char *s, size_t n);
int zt_ui_editor_insert_cp(zt_ui_editor *e, uint32_t cp);
void zt_ui_editor_backspace(zt_ui_editor *e);
void zt_ui_editor_delete(zt_ui_editor *e);
void zt_ui_editor_delete_word_back(zt_ui_editor *e);
void zt_ui_editor_kill_to_eol(zt_ui_editor *e);
void zt_ui_editor_kill_to_bol(zt_ui_editor *e);
int zt_ui_editor_undo(zt_ui_editor *e); /* 0 when nothing to undo */
/* Drop the undo history (a loaded text starts a new one). */
void zt_ui_editor_forget_undo(zt_ui_editor *e);

void zt_ui_editor_left(zt_ui_editor *e);
void zt_ui_editor_right(zt_ui_editor *e);
void zt_ui_editor_word_left(zt_ui_editor *e);
void zt_ui_editor_word_right(zt_ui_editor *e);
void zt_ui_editor_home(zt_ui_editor *e); /* start of the logical line */
void zt_ui_editor_end(zt_ui_editor *e);
/* Up/down one visual row at this width; 0 when already on the first/last. */
int zt_ui_editor_up(zt_ui_editor *e, int width);
int zt_ui_editor_down(zt_ui_editor *e, int width);

/* Layout at width cells: fills up to max rows, returns the row count (may
 * exceed max; only max are written). Rows break at '\n' and where the next
 * character would pass the width; an empty buffer is one row. */
int zt_ui_editor_layout(const zt_ui_editor *e, int width, zt_ui_row *rows, int max);
/* Visual row and column (cells) of the cursor at this width. */
void zt_ui_editor_cursor_pos(const zt_ui_editor *e, int width, int *row, int *col);

#endif
