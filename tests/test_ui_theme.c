/*
 * test_ui_theme.c - theme files are data from outside: bad JSON, wrong
 * types, unknown roles and attributes, hostile colour strings, and the
 * shipped themes themselves. NO_COLOR (mono) is checked through curses on
 * a terminal that writes to /dev/null.
 */
#include <curses.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ui_theme.h"

static void test_colors(void)
{
    CHECK(zt_ui_color_parse("default") == ZT_UI_COLOR_DEFAULT, "default");
    CHECK(zt_ui_color_parse("red") == 1, "red");
    CHECK(zt_ui_color_parse("bright-blue") == 12, "bright-blue");
    CHECK(zt_ui_color_parse("200") == 200, "number");
    CHECK(zt_ui_color_parse("#ff8000") == (0x1000000 | 0xff8000), "hex");
    static const char *const bad[] = {"256", "-1",     " 12",     "1e2",     "#ff80",
                                      "#-00001", "#+12345", "#12345g", "#1234567", "",
                                      "purple", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(zt_ui_color_parse(bad[i]) == -2, "'%s' is not a colour", bad[i]);
    CHECK(zt_ui_color_nearest(0xff0000, 8) == 1, "red among 8");
    CHECK(zt_ui_color_nearest(0x000000, 256) == 16, "256: skips the ANSI 16");
    /* a grey frame is black among 8 colours, and vanished on a black
     * background: as text or a line it takes the nearest other colour */
    CHECK(zt_ui_color_nearest(0x585858, 8) == 0, "grey is black among 8");
    CHECK(zt_ui_color_nearest_fg(0x585858, 8) == 7, "grey text is white among 8, not black");
    CHECK(zt_ui_color_nearest_fg(0x585858, 16) == 8, "grey text is bright black among 16");
    CHECK(zt_ui_color_nearest_fg(0x602020, 8) == 1, "a dark red is red among 8");
    CHECK(zt_ui_color_nearest_fg(0x101010, 8) == 0, "near-black text stays black");
    CHECK(zt_ui_color_nearest_fg(0x585858, 256) == zt_ui_color_nearest(0x585858, 256),
          "256 colours: the nearest");
    CHECK(zt_ui_color_rgb(231) == 0xffffff && zt_ui_color_rgb(232) == 0x080808, "cube, ramp");
}

static int parse_fails(const char *json, const char *why_part)
{
    zt_ui_theme t;
    char why[256] = "";
    int rc = zt_ui_theme_parse(&t, json, why, sizeof why);
    if (rc == 0) {
        CHECK(0, "accepted: %s", json);
        return 0;
    }
    CHECK(strstr(why, why_part), "'%s' lacks '%s'", why, why_part);
    /* A failed parse leaves the monochrome theme, never garbage. */
    CHECK(!strcmp(t.name, "mono") && t.role[ZT_UI_ROLE_TITLE].fg == ZT_UI_COLOR_DEFAULT,
          "falls back to mono");
    return 1;
}

static void test_bad_json(void)
{
    parse_fails("", "empty");
    /* where a file cut short breaks (it said "not a JSON object") */
    parse_fails("{\"name\": \"x\", \"roles\": {", "not valid JSON (it breaks at byte 23 of 24)");
    parse_fails("[1, 2]", "not a JSON object");
    parse_fails("{\"name\": \"x\"}", "'roles' must be an object");
    parse_fails("{\"roles\": [\"title\"]}", "'roles' must be an object");
    parse_fails("{\"roles\": {\"title\": \"red\"}}", "role 'title' must be an object");
    parse_fails("{\"roles\": {\"title\": {\"fg\": \"#zzzzzz\"}}}", "bad colour");
    parse_fails("{\"roles\": {\"title\": {\"bg\": 300}}}", "bad colour");
    parse_fails("{\"roles\": {\"title\": {\"fg\": true}}}", "bad colour");
    parse_fails("{\"roles\": {\"title\": {\"attrs\": \"bold\"}}}", "must be a list");
    parse_fails("{\"roles\": {\"title\": {\"attrs\": [\"blink\"]}}}", "unknown attribute");
    parse_fails("{\"roles\": {\"title\": {\"attrs\": [7]}}}", "unknown attribute");
}

static void test_roles(void)
{
    zt_ui_theme t;
    char why[256] = "";
    const char *json = "{\"name\": \"t\", \"roles\": {"
                       "\"title\": {\"fg\": \"black\", \"bg\": \"#5fafd7\", "
                       "\"attrs\": [\"bold\", \"underline\"]},"
                       "\"future_role\": {\"fg\": \"red\"},"
                       "\"error\": {}}}";
    CHECK(zt_ui_theme_parse(&t, json, why, sizeof why) == 0, "parse: %s", why);
    CHECK(!strcmp(t.name, "t"), "name");
    CHECK(t.role[ZT_UI_ROLE_TITLE].fg == 0 &&
              t.role[ZT_UI_ROLE_TITLE].bg == (0x1000000 | 0x5fafd7) &&
              t.role[ZT_UI_ROLE_TITLE].attrs == (ZT_UI_ATTR_BOLD | ZT_UI_ATTR_UNDERLINE),
          "title style");
    CHECK(t.role[ZT_UI_ROLE_ERROR].fg == ZT_UI_COLOR_DEFAULT && t.role[ZT_UI_ROLE_ERROR].attrs == 0,
          "an empty role is plain");
    /* Roles left out keep the monochrome look so nothing vanishes. */
    CHECK(t.role[ZT_UI_ROLE_SELECTION].attrs == ZT_UI_ATTR_REVERSE, "selection from mono");
    CHECK(zt_ui_role_find("progress_bg") == ZT_UI_ROLE_PROGRESS_BG, "role lookup");
    CHECK(zt_ui_role_find("nope") == -1, "unknown role");
}

static void test_shipped(void)
{
    char **names = NULL;
    int n = zt_ui_theme_list(&names);
    int dark = 0, light = 0, mono = 0;
    for (int i = 0; i < n; i++) {
        dark |= !strcmp(names[i], "dark");
        light |= !strcmp(names[i], "light");
        mono |= !strcmp(names[i], "mono");
        if (i)
            CHECK(strcmp(names[i - 1], names[i]) < 0, "sorted and unique");
        zt_ui_theme t;
        char why[256] = "";
        CHECK(zt_ui_theme_load(&t, names[i], why, sizeof why) == 0, "%s: %s", names[i], why);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    CHECK(dark && light && mono, "dark, light and mono found");
    zt_ui_theme t;
    char why[256] = "";
    CHECK(zt_ui_theme_load(&t, "../etc/passwd", why, sizeof why) == -1, "path in a name");
    CHECK(zt_ui_theme_load(&t, "missing-theme", why, sizeof why) == -1 &&
              strstr(why, "not found"),
          "missing theme: %s", why);
}

/* A theme file that cannot be read (here a FIFO, which must not be waited
 * on) is an error naming it; the theme is then mono. */
static void test_unreadable(void)
{
    char d[] = "/tmp/zt-theme-XXXXXX", path[64];
    CHECK(mkdtemp(d) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/pipe.json", d);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    setenv("ZIMT_THEME_DIR", d, 1);
    zt_ui_theme t;
    char why[256] = "";
    CHECK(zt_ui_theme_load(&t, "pipe", why, sizeof why) == -1 &&
              strstr(why, "not a regular file") && strstr(why, "pipe.json"),
          "FIFO theme: %s", why);
    unsetenv("ZIMT_THEME_DIR");
    unlink(path);
    rmdir(d);
}

static void test_no_color(void)
{
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    SCREEN *scr = out && in ? newterm("xterm-256color", out, in) : NULL;
    if (!scr) {
        printf("test_ui_theme: no xterm-256color terminfo; NO_COLOR check skipped\n");
        if (out)
            fclose(out);
        if (in)
            fclose(in);
        return;
    }
    start_color();
    use_default_colors();
    zt_ui_theme t;
    char why[256] = "";
    CHECK(zt_ui_theme_load(&t, "dark", why, sizeof why) == 0, "dark: %s", why);
    zt_ui_theme_apply(&t, 0);
    CHECK(zt_ui_attr(ZT_UI_ROLE_TITLE) & A_COLOR, "colours in the dark theme");
    zt_ui_theme_apply(&t, 1); /* what NO_COLOR asks for */
    for (int r = 0; r < ZT_UI_ROLE_COUNT; r++)
        CHECK(!(zt_ui_attr((zt_ui_role)r) & A_COLOR), "role %d has no colour", r);
    CHECK(zt_ui_attr(ZT_UI_ROLE_SELECTION) & A_REVERSE, "selection still visible");
    CHECK(zt_ui_attr(ZT_UI_ROLE_TITLE) & A_REVERSE, "title still stands out");
    endwin();
    delscreen(scr);
    fclose(out);
    fclose(in);
}

int main(void)
{
    RUN(test_colors);
    RUN(test_bad_json);
    RUN(test_roles);
    RUN(test_shipped);
    RUN(test_unreadable);
    RUN(test_no_color);
    return zt_test_summary("test_ui_theme");
}
