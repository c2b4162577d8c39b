/*
 * fuzz_settings.c - the workbench's settings.json and history.json
 * contents through zt_ui_settings_from_json and zt_ui_history_from_json
 * (the same text is given to both).
 *
 * Properties: every text field read from a file is valid UTF-8 and fits
 * its buffer; settings survive a round trip (to JSON and back gives the
 * same JSON); history holds at most ZT_UI_HISTORY_MAX entries, each
 * non-empty UTF-8, never two equal ones in a row.
 */
#include "fuzz.h"
#include "tokenizer.h"
#include "ui_settings.h"

static void check_text(const char *s, size_t cap, const char *what)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        fuzz_fail("%s is not terminated inside its buffer", what);
    if (!zt_utf8_validate(s, n, NULL))
        fuzz_fail("%s is not UTF-8", what);
}

static void fuzz_settings_once(const char *text)
{
    zt_ui_settings s, t;
    char why[256] = "";
    zt_ui_settings_defaults(&s);
    zt_ui_settings_defaults(&t);
    zt_ui_settings_from_json(&s, text, why, sizeof why);
    check_text(s.theme, sizeof s.theme, "theme");
    check_text(s.graphics, sizeof s.graphics, "graphics");
    check_text(s.output_dir, sizeof s.output_dir, "output_dir");
    check_text(why, sizeof why, "the reason given");
    char *a = zt_ui_settings_to_json(&s);
    if (a) {
        if (zt_ui_settings_from_json(&t, a, why, sizeof why) != 0)
            fuzz_fail("own settings JSON does not parse: %s\n%s", why, a);
        char *b = zt_ui_settings_to_json(&t);
        if (b && strcmp(a, b))
            fuzz_fail("settings round trip changed:\n%s\n---\n%s", a, b);
        free(b);
        free(a);
    }
    zt_ui_settings_free(&s);
    zt_ui_settings_free(&t);
}

static void fuzz_history_once(const char *text)
{
    zt_ui_history h = {0};
    char why[256] = "";
    zt_ui_history_from_json(&h, text, why, sizeof why);
    if (h.n < 0 || h.n > ZT_UI_HISTORY_MAX)
        fuzz_fail("history of %d entries", h.n);
    for (int i = 0; i < h.n; i++) {
        if (!h.items[i] || !*h.items[i])
            fuzz_fail("history entry %d is empty", i);
        if (!zt_utf8_validate(h.items[i], strlen(h.items[i]), NULL))
            fuzz_fail("history entry %d is not UTF-8", i);
        if (i && !strcmp(h.items[i], h.items[i - 1]))
            fuzz_fail("history entries %d and %d repeat", i - 1, i);
    }
    zt_ui_history_free(&h);
}

static int fuzz_settings(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    fuzz_settings_once(text);
    fuzz_history_once(text);
    free(text);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_settings)
