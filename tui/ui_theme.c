/* ui_theme.c - theme files and colour pairs (see ui_theme.h). */
#define _XOPEN_SOURCE_EXTENDED 1
#include "ui_theme.h"

#include <cJSON.h>
#include <curses.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "discovery.h"
#include "json.h"

static const char *const role_keys[] = {
#define ZT_UI_ROLE_KEY(name, key) key,
    ZT_UI_ROLE_LIST(ZT_UI_ROLE_KEY)
#undef ZT_UI_ROLE_KEY
};

#define RGB_FLAG 0x1000000

int zt_ui_role_find(const char *key)
{
    for (int i = 0; i < ZT_UI_ROLE_COUNT; i++)
        if (!strcmp(role_keys[i], key))
            return i;
    return -1;
}

void zt_ui_theme_mono(zt_ui_theme *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "mono");
    for (int i = 0; i < ZT_UI_ROLE_COUNT; i++)
        t->role[i] = (zt_ui_style){ZT_UI_COLOR_DEFAULT, ZT_UI_COLOR_DEFAULT, 0};
    t->role[ZT_UI_ROLE_TITLE].attrs = ZT_UI_ATTR_REVERSE | ZT_UI_ATTR_BOLD;
    t->role[ZT_UI_ROLE_FOCUS].attrs = ZT_UI_ATTR_BOLD | ZT_UI_ATTR_UNDERLINE;
    t->role[ZT_UI_ROLE_LABEL].attrs = ZT_UI_ATTR_BOLD;
    t->role[ZT_UI_ROLE_SELECTION].attrs = ZT_UI_ATTR_REVERSE;
    t->role[ZT_UI_ROLE_PROGRESS].attrs = ZT_UI_ATTR_REVERSE;
    t->role[ZT_UI_ROLE_ERROR].attrs = ZT_UI_ATTR_BOLD | ZT_UI_ATTR_REVERSE;
    t->role[ZT_UI_ROLE_NOTICE].attrs = ZT_UI_ATTR_BOLD;
    t->role[ZT_UI_ROLE_DIM].attrs = ZT_UI_ATTR_DIM;
    t->role[ZT_UI_ROLE_KEY].attrs = ZT_UI_ATTR_BOLD;
    t->role[ZT_UI_ROLE_STATUSBAR].attrs = ZT_UI_ATTR_REVERSE;
    t->role[ZT_UI_ROLE_MEM_TEXT_ENCODER].attrs = ZT_UI_ATTR_REVERSE;
    t->role[ZT_UI_ROLE_MEM_DIT].attrs = ZT_UI_ATTR_REVERSE | ZT_UI_ATTR_BOLD;
    t->role[ZT_UI_ROLE_MEM_VAE].attrs = ZT_UI_ATTR_REVERSE | ZT_UI_ATTR_DIM;
    t->role[ZT_UI_ROLE_MEM_ACTIVATIONS].attrs = ZT_UI_ATTR_REVERSE | ZT_UI_ATTR_UNDERLINE;
}

unsigned zt_ui_color_rgb(int i)
{
    static const unsigned ansi[16] = {0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd,
                                      0x00cdcd, 0xe5e5e5, 0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00,
                                      0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff};
    if (i < 0)
        return 0;
    if (i < 16)
        return ansi[i];
    if (i < 232) {
        static const int lv[6] = {0, 95, 135, 175, 215, 255};
        int v = i - 16;
        return (unsigned)(lv[v / 36] << 16 | lv[v / 6 % 6] << 8 | lv[v % 6]);
    }
    int g = 8 + (i - 232) * 10;
    return (unsigned)(g << 16 | g << 8 | g);
}

/* The nearest of colours from..to-1 to 0xRRGGBB. */
static int nearest(unsigned rgb, int from, int to)
{
    int r = (int)(rgb >> 16 & 255), g = (int)(rgb >> 8 & 255), b = (int)(rgb & 255);
    int best = from;
    long bestd = -1;
    for (int i = from; i < to; i++) {
        unsigned c = zt_ui_color_rgb(i);
        long dr = r - (int)(c >> 16 & 255), dg = g - (int)(c >> 8 & 255), db = b - (int)(c & 255);
        long d = 2 * dr * dr + 4 * dg * dg + 3 * db * db;
        if (bestd < 0 || d < bestd) {
            bestd = d;
            best = i;
        }
    }
    return best;
}

int zt_ui_color_nearest(unsigned rgb, int ncolors)
{
    if (ncolors > 256)
        ncolors = 256;
    /* With 256 colours skip the 16 ANSI ones: terminals redefine them. */
    return nearest(rgb, ncolors >= 256 ? 16 : 0, ncolors);
}

int zt_ui_color_nearest_fg(unsigned rgb, int ncolors)
{
    int c = zt_ui_color_nearest(rgb, ncolors);
    int r = (int)(rgb >> 16 & 255), g = (int)(rgb >> 8 & 255), b = (int)(rgb & 255);
    int top = r > g ? (r > b ? r : b) : (g > b ? g : b);
    int low = r < g ? (r < b ? r : b) : (g < b ? g : b);
    if (c != 0 || ncolors > 16 || top <= 0x40)
        return c;
    /* a grey stays a grey (white, or bright black where there are 16),
     * not the nearest hue: #585858 came out red among xterm's 8 */
    if (top - low < 0x20)
        return ncolors > 8 && nearest(rgb, 7, 9) == 8 ? 8 : 7;
    return nearest(rgb, 1, ncolors);
}

int zt_ui_color_parse(const char *s)
{
    static const char *const names[8] = {"black", "red",     "green", "yellow",
                                         "blue",  "magenta", "cyan",  "white"};
    if (!strcasecmp(s, "default") || !strcasecmp(s, "none"))
        return ZT_UI_COLOR_DEFAULT;
    for (int i = 0; i < 8; i++) {
        if (!strcasecmp(s, names[i]))
            return i;
        if (!strncasecmp(s, "bright-", 7) && !strcasecmp(s + 7, names[i]))
            return i + 8;
    }
    if (!strcasecmp(s, "gray") || !strcasecmp(s, "grey"))
        return 8;
    if (s[0] == '#') {
        /* exactly six hex digits: strtoul alone would take "#-00001" */
        if (strlen(s) != 7 || strspn(s + 1, "0123456789abcdefABCDEF") != 6)
            return -2;
        return (int)(RGB_FLAG | strtoul(s + 1, NULL, 16));
    }
    if (strspn(s, "0123456789") != strlen(s) || strlen(s) > 3)
        return -2; /* digits only: no sign, spaces or exponent */
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v <= 255)
        return (int)v;
    return -2;
}

static int parse_color_item(const cJSON *it, int *out)
{
    if (!it)
        return 0;
    if (cJSON_IsNumber(it)) {
        if (it->valuedouble < 0 || it->valuedouble > 255)
            return -1;
        *out = (int)it->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(it))
        return -1;
    int c = zt_ui_color_parse(it->valuestring);
    if (c == -2)
        return -1;
    *out = c;
    return 0;
}

int zt_ui_theme_parse(zt_ui_theme *t, const char *json, char *why, int why_len)
{
    static const struct {
        const char *name;
        int bit;
    } attr_names[] = {{"bold", ZT_UI_ATTR_BOLD},           {"dim", ZT_UI_ATTR_DIM},
                      {"reverse", ZT_UI_ATTR_REVERSE},     {"underline", ZT_UI_ATTR_UNDERLINE},
                      {"italic", ZT_UI_ATTR_ITALIC},       {"standout", ZT_UI_ATTR_STANDOUT}};
    zt_ui_theme_mono(t);
    int rc = -1, nomem = 0;
    /* says where a file cut short breaks (it said "not a JSON object") */
    cJSON *root = zt_json_parse_object(json, why, (size_t)why_len, &nomem);
    if (!root)
        goto done;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(name))
        snprintf(t->name, sizeof t->name, "%s", name->valuestring);
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(root, "roles");
    if (!cJSON_IsObject(roles)) {
        snprintf(why, (size_t)why_len, "'roles' must be an object");
        goto done;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, roles)
    {
        int idx = zt_ui_role_find(r->string);
        if (idx < 0)
            continue; /* roles of newer versions */
        if (!cJSON_IsObject(r)) {
            snprintf(why, (size_t)why_len, "role '%s' must be an object", r->string);
            goto done;
        }
        zt_ui_style st = {ZT_UI_COLOR_DEFAULT, ZT_UI_COLOR_DEFAULT, 0};
        if (parse_color_item(cJSON_GetObjectItemCaseSensitive(r, "fg"), &st.fg) ||
            parse_color_item(cJSON_GetObjectItemCaseSensitive(r, "bg"), &st.bg)) {
            snprintf(why, (size_t)why_len, "role '%s': bad colour", r->string);
            goto done;
        }
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(r, "attrs"), *a;
        if (attrs && !cJSON_IsArray(attrs)) {
            snprintf(why, (size_t)why_len, "role '%s': 'attrs' must be a list", r->string);
            goto done;
        }
        cJSON_ArrayForEach(a, attrs)
        {
            size_t k;
            for (k = 0; k < sizeof attr_names / sizeof attr_names[0]; k++)
                if (cJSON_IsString(a) && !strcmp(a->valuestring, attr_names[k].name))
                    break;
            if (k == sizeof attr_names / sizeof attr_names[0]) {
                snprintf(why, (size_t)why_len, "role '%s': unknown attribute", r->string);
                goto done;
            }
            st.attrs |= attr_names[k].bit;
        }
        t->role[idx] = st;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc)
        zt_ui_theme_mono(t);
    return rc;
}

/* Search path, first match wins: $ZIMT_THEME_DIR, ./themes, the user's data
 * directory, beside the binary (a build tree run from elsewhere) and
 * ../share/zimt/themes from it (make install with any PREFIX), then the
 * usual install prefixes. */
#define THEME_DIRS 8
static int theme_dirs(char dirs[][1024], int max)
{
    int n = 0;
    const char *e = getenv("ZIMT_THEME_DIR");
    if (e && *e && n < max)
        snprintf(dirs[n++], 1024, "%s", e);
    if (n < max)
        snprintf(dirs[n++], 1024, "themes");
    const char *xd = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xd && *xd && n < max)
        snprintf(dirs[n++], 1024, "%s/zimt/themes", xd);
    else if (home && *home && n < max)
        snprintf(dirs[n++], 1024, "%s/.local/share/zimt/themes", home);
    char exe[900];
    if (!zt_exe_dir(exe, sizeof exe)) {
        if (n < max)
            snprintf(dirs[n++], 1024, "%s/themes", exe);
        if (n < max)
            snprintf(dirs[n++], 1024, "%s/../share/zimt/themes", exe);
    }
    if (n < max)
        snprintf(dirs[n++], 1024, "/usr/local/share/zimt/themes");
    if (n < max)
        snprintf(dirs[n++], 1024, "/usr/share/zimt/themes");
    return n;
}

static int valid_name(const char *name)
{
    if (!*name || strlen(name) > 60)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

int zt_ui_theme_load(zt_ui_theme *t, const char *name, char *why, int why_len)
{
    char dirs[THEME_DIRS][1024];
    int n = theme_dirs(dirs, THEME_DIRS);
    if (!valid_name(name)) {
        snprintf(why, (size_t)why_len, "bad theme name");
        zt_ui_theme_mono(t);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%.1023s/%.60s.json", dirs[i], name);
        char *json = NULL;
        zt_err err = {0};
        /* a theme is small; a FIFO in its place is refused, not waited on */
        zt_status st = zt_read_file(path, 1u << 20, &json, NULL, &err);
        if (st == ZT_ERR_MISSING)
            continue;
        if (st != ZT_OK) {
            snprintf(why, (size_t)why_len, "%s", err.msg);
            zt_ui_theme_mono(t);
            return -1;
        }
        int rc = zt_ui_theme_parse(t, json, why, why_len);
        free(json);
        if (rc == 0)
            snprintf(t->name, sizeof t->name, "%s", name);
        return rc;
    }
    zt_ui_theme_mono(t);
    if (!strcmp(name, "mono"))
        return 0;
    snprintf(why, (size_t)why_len, "theme '%s' not found", name);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zt_ui_theme_list(char ***names)
{
    char dirs[THEME_DIRS][1024];
    int nd = theme_dirs(dirs, THEME_DIRS), n = 0, cap = 8;
    char **v = malloc((size_t)cap * sizeof *v);
    if (!v) {
        *names = NULL;
        return 0;
    }
    v[n++] = strdup("mono");
    for (int i = 0; i < nd; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
                continue;
            char nm[64];
            if (l - 5 >= sizeof nm)
                continue;
            memcpy(nm, de->d_name, l - 5);
            nm[l - 5] = 0;
            if (!valid_name(nm))
                continue;
            /* only a file a load can read is offered (not a dangling link
             * or a directory of that name) */
            char path[sizeof dirs[0] + sizeof de->d_name + 2];
            struct stat st;
            snprintf(path, sizeof path, "%.1023s/%.255s", dirs[i], de->d_name);
            if (stat(path, &st) || !S_ISREG(st.st_mode))
                continue;
            int dup = 0;
            for (int k = 0; k < n; k++)
                dup |= v[k] && !strcmp(v[k], nm);
            if (dup)
                continue;
            if (n == cap) {
                char **w = realloc(v, (size_t)cap * 2 * sizeof *v);
                if (!w)
                    break;
                v = w;
                cap *= 2;
            }
            v[n++] = strdup(nm);
        }
        closedir(d);
    }
    for (int k = 0; k < n; k++)
        if (!v[k])
            v[k] = strdup("mono");
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *names = v;
    return n;
}

/* ---- curses ----------------------------------------------------------- */

static int role_attr[ZT_UI_ROLE_COUNT];

/* fg: for text and lines (zt_ui_color_nearest_fg), else a background. */
static int map_color(int c, int fg)
{
    int (*near)(unsigned, int) = fg ? zt_ui_color_nearest_fg : zt_ui_color_nearest;
    if (c == ZT_UI_COLOR_DEFAULT)
        return -1;
    if (c & RGB_FLAG)
        return near((unsigned)c & 0xFFFFFF, COLORS);
    if (c >= COLORS)
        return near(zt_ui_color_rgb(c), COLORS);
    return c;
}

static int curses_attrs(int a)
{
    int r = 0;
    if (a & ZT_UI_ATTR_BOLD)
        r |= A_BOLD;
    if (a & ZT_UI_ATTR_DIM)
        r |= A_DIM;
    if (a & ZT_UI_ATTR_REVERSE)
        r |= A_REVERSE;
    if (a & ZT_UI_ATTR_UNDERLINE)
        r |= A_UNDERLINE;
    if (a & ZT_UI_ATTR_ITALIC)
        r |= A_ITALIC;
    if (a & ZT_UI_ATTR_STANDOUT)
        r |= A_STANDOUT;
    return r;
}

void zt_ui_theme_apply(const zt_ui_theme *t, int mono)
{
    zt_ui_theme m;
    if (mono || !has_colors()) {
        zt_ui_theme_mono(&m);
        t = &m;
        mono = 1;
    }
    for (int i = 0; i < ZT_UI_ROLE_COUNT; i++) {
        int a = curses_attrs(t->role[i].attrs);
        if (!mono) {
            /* Pairs 1..ROLE_COUNT belong to roles; previews allocate above. */
            init_pair((short)(i + 1), (short)map_color(t->role[i].fg, 1),
                      (short)map_color(t->role[i].bg, 0));
            a |= (int)COLOR_PAIR(i + 1);
        }
        role_attr[i] = a;
    }
}

int zt_ui_attr(zt_ui_role r)
{
    return role_attr[r];
}
