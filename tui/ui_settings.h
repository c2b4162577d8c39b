/*
 * ui_settings.h - what the workbench remembers between runs.
 *
 *   $XDG_CONFIG_HOME/zimt/settings.json   (default ~/.config/zimt)
 *       {"theme": "dark", "graphics": "auto", "output_dir": ".",
 *        "seed_locked": false, "params": {<zt_gen_params JSON>}}
 *   $XDG_STATE_HOME/zimt/history.json     (default ~/.local/state/zimt)
 *       {"prompts": ["oldest", ..., "newest"]}
 *
 * Files are written whole to a temporary name and renamed into place, so a
 * crash never leaves half a file. A save that would write what the file
 * already holds writes nothing. Two workbenches may share the files: a
 * save reads the file again first (under a lock on its directory) and
 * keeps what another one wrote there since, taking only this one's own
 * changes over it (the settings field by field, the history's new
 * prompts appended). Unreadable or malformed files are ignored
 * (defaults are used) and reported through why; the first save after that
 * renames the file to NAME.bad before writing, so nothing in it is lost
 * (NAME.bad.1, NAME.bad.2, ... when that is taken: a copy kept aside is
 * never replaced; file.aside names it).
 * One thread.
 */
#ifndef ZT_UI_SETTINGS_H
#define ZT_UI_SETTINGS_H

#include "image.h"

#define ZT_UI_HISTORY_MAX 200

/* Settings and history files larger than this are not read (kept aside). */
#define ZT_UI_FILE_MAX (64u << 20)

/* What the front end knows of a JSON file it keeps (settings, history). */
typedef struct zt_ui_file {
    char *mine;   /* heap: the object's JSON when last read from or written to
                   * the file; a save measures its own changes against it */
    int bad_file; /* the file could not be used: keep it aside on save */
    char aside[64]; /* bad_file: the name it is kept as (NAME.bad, NAME.bad.1, ...) */
} zt_ui_file;

typedef struct zt_ui_settings {
    char theme[64];
    char graphics[16];    /* auto, sixel, blocks, none */
    char output_dir[4096];
    int seed_locked;
    zt_gen_params params; /* owned: the last settings used */
    zt_ui_file file;
} zt_ui_settings;

typedef struct zt_ui_history {
    char **items; /* oldest first; heap */
    int n;
    int fresh; /* the newest entries added since the file was read or written */
    zt_ui_file file;
} zt_ui_history;

/* Built-in defaults (s is overwritten; free with zt_ui_settings_free). */
void zt_ui_settings_defaults(zt_ui_settings *s);
/* Defaults, then the file when readable. 0 on success or no file; -1 with
 * why when the file was malformed (defaults are kept). */
int zt_ui_settings_load(zt_ui_settings *s, char *why, int why_len);
/* 0; 1 when saved over a file found damaged at this save (kept aside,
 * why names the copy); -1 with why. */
int zt_ui_settings_save(zt_ui_settings *s, char *why, int why_len);
void zt_ui_settings_free(zt_ui_settings *s);
/* Settings to JSON (heap) and back: exposed for tests. */
char *zt_ui_settings_to_json(const zt_ui_settings *s);
int zt_ui_settings_from_json(zt_ui_settings *s, const char *json, char *why, int why_len);

int zt_ui_history_load(zt_ui_history *h, char *why, int why_len);
int zt_ui_history_save(zt_ui_history *h, char *why, int why_len); /* as settings_save */
/* History from JSON (appended to h; entries that are not UTF-8 text are
 * skipped): exposed for tests. 0, or with why -1 for a malformed file and
 * -2 when memory ran out (as for zt_ui_settings_from_json). */
int zt_ui_history_from_json(zt_ui_history *h, const char *json, char *why, int why_len);
/* Append a prompt (an equal newest entry is not repeated; oldest dropped
 * past ZT_UI_HISTORY_MAX). */
void zt_ui_history_add(zt_ui_history *h, const char *prompt);
void zt_ui_history_free(zt_ui_history *h);

/* The config and state directories (created on save). */
void zt_ui_config_dir(char *out, int len);
void zt_ui_state_dir(char *out, int len);
/* mkdir -p: 0 when dir is a directory afterwards, else -1 with errno
 * (ENOTDIR for a file of that name). */
int zt_ui_make_dirs(const char *dir);

#endif
