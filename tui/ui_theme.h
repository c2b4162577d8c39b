/*
 * ui_theme.h - colour roles and themes.
 *
 * Widgets name colours by role (ZT_UI_ROLE_*). A theme maps each role to a
 * foreground, a background and attributes; themes are JSON files:
 *
 *   {"name": "dark",
 *    "roles": {"title": {"fg": "black", "bg": "cyan", "attrs": ["bold"]}, ...}}
 *
 * Colours: "default", the eight ANSI names ("red"), their "bright-" forms,
 * a number 0..255, or "#rrggbb" (mapped to the nearest of the terminal's
 * colours). Attributes: bold, dim, reverse, underline, italic, standout.
 * Roles a file leaves out take the built-in monochrome values, so a theme
 * can never make text invisible by omission.
 *
 * Parsing and lookup are pure; zt_ui_theme_apply needs curses started.
 */
#ifndef ZT_UI_THEME_H
#define ZT_UI_THEME_H

#define ZT_UI_ROLE_LIST(X)                                                     \
    X(NORMAL, "normal")                                                        \
    X(TITLE, "title")                                                          \
    X(BORDER, "border")                                                        \
    X(FOCUS, "focus")                                                          \
    X(LABEL, "label")                                                          \
    X(VALUE, "value")                                                          \
    X(SELECTION, "selection")                                                  \
    X(PROGRESS, "progress")                                                    \
    X(PROGRESS_BG, "progress_bg")                                              \
    X(ERROR, "error")                                                          \
    X(NOTICE, "notice")                                                        \
    X(DIM, "dim")                                                              \
    X(KEY, "key")                                                              \
    X(STATUSBAR, "statusbar")                                                  \
    X(POPUP, "popup")                                                          \
    X(MEM_TEXT_ENCODER, "mem_text_encoder")                                    \
    X(MEM_DIT, "mem_dit")                                                      \
    X(MEM_VAE, "mem_vae")                                                      \
    X(MEM_ACTIVATIONS, "mem_activations")                                      \
    X(MEM_OTHER, "mem_other")

typedef enum zt_ui_role {
#define ZT_UI_ROLE_ENUM(name, key) ZT_UI_ROLE_##name,
    ZT_UI_ROLE_LIST(ZT_UI_ROLE_ENUM)
#undef ZT_UI_ROLE_ENUM
    ZT_UI_ROLE_COUNT
} zt_ui_role;

enum {
    ZT_UI_ATTR_BOLD = 1,
    ZT_UI_ATTR_DIM = 2,
    ZT_UI_ATTR_REVERSE = 4,
    ZT_UI_ATTR_UNDERLINE = 8,
    ZT_UI_ATTR_ITALIC = 16,
    ZT_UI_ATTR_STANDOUT = 32,
};

#define ZT_UI_COLOR_DEFAULT (-1)

typedef struct zt_ui_style {
    int fg, bg; /* -1 default, 0..255, or 0x1000000|rgb before mapping */
    int attrs;  /* ZT_UI_ATTR_* */
} zt_ui_style;

typedef struct zt_ui_theme {
    char name[64];
    zt_ui_style role[ZT_UI_ROLE_COUNT];
} zt_ui_theme;

/* The built-in monochrome theme (attributes only). */
void zt_ui_theme_mono(zt_ui_theme *t);
/* Parse theme JSON. 0 on success; else -1 with a message in why. */
int zt_ui_theme_parse(zt_ui_theme *t, const char *json, char *why, int why_len);
/* Load themes/<name>.json from the search path (see zt_ui_theme_dirs). */
int zt_ui_theme_load(zt_ui_theme *t, const char *name, char *why, int why_len);
/* Names of the themes found (sorted, unique, "mono" always present); returns
 * the count; names[i] are heap strings the caller frees. */
int zt_ui_theme_list(char ***names);
/* Colour name or "#rrggbb" to a colour value; -2 when not a colour. */
int zt_ui_color_parse(const char *s);
/* Nearest index among the first ncolors xterm colours to 0xRRGGBB. */
int zt_ui_color_nearest(unsigned rgb, int ncolors);
/* The same for a colour drawn over the terminal's own background (text,
 * frames): with 16 colours or fewer, one that is not near black (a grey
 * frame, #585858) never becomes black, which vanished on the usual black
 * background of 8-colour terminals. */
int zt_ui_color_nearest_fg(unsigned rgb, int ncolors);
/* The 0xRRGGBB of xterm colour index i (0..255). */
unsigned zt_ui_color_rgb(int i);

/* Curses: install the theme's colour pairs (mono when the terminal has no
 * colours or mono is set); then zt_ui_attr gives a role's attributes. */
void zt_ui_theme_apply(const zt_ui_theme *t, int mono);
int zt_ui_attr(zt_ui_role r);
/* Role name -> role; -1 if unknown. */
int zt_ui_role_find(const char *key);

#endif
