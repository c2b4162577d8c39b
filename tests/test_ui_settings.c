/*
 * test_ui_settings.c - settings.json and history.json: a round trip through
 * the files, and hostile files (truncated, wrong types, huge, not JSON)
 * that must leave the defaults in place and never crash.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "ui_settings.h"

static char dir[256];

static void write_file(const char *sub, const char *name, const char *text, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    if (system(cmd) != 0)
        CHECK(0, "mkdir %s", path);
    snprintf(path, sizeof path, "%s/%s/zimt/%s", dir, sub, name);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s/zimt'", dir, sub);
    if (system(cmd) != 0)
        CHECK(0, "mkdir");
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "open %s", path);
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
}

static void test_round_trip(void)
{
    zt_ui_settings s, r;
    char why[512] = "";
    CHECK(zt_ui_settings_load(&s, why, sizeof why) == 0, "no file is fine: %s", why);
    CHECK(!strcmp(s.theme, "dark") && s.params.width == 1024, "defaults");
    snprintf(s.theme, sizeof s.theme, "light");
    snprintf(s.graphics, sizeof s.graphics, "sixel");
    snprintf(s.output_dir, sizeof s.output_dir, "/tmp/out \"quoted\"");
    s.seed_locked = 1;
    s.params.seed = 9007199254740993ULL; /* past 2^53: must survive exactly */
    s.params.steps = 5;
    s.params.guidance = 2.5f;
    zt_gen_params_set_prompt(&s.params, "a fox, 狐狸\n\"line two\"", NULL);
    zt_gen_params_set_negative(&s.params, "blur", NULL);
    CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0, "save: %s", why);
    CHECK(zt_ui_settings_load(&r, why, sizeof why) == 0, "load: %s", why);
    CHECK(!strcmp(r.theme, "light") && !strcmp(r.graphics, "sixel") &&
              !strcmp(r.output_dir, s.output_dir) && r.seed_locked == 1,
          "top-level fields");
    CHECK(zt_gen_params_equal(&s.params, &r.params), "params equal (seed %llu)",
          (unsigned long long)r.params.seed);
    /* seeds near 2^53 stay JSON numbers, which must come back exact */
    const uint64_t near[] = {9007199254740991ULL, 8000000000000001ULL, 9007199254740992ULL,
                             123456789012345678ULL};
    for (int i = 0; i < 4; i++) {
        zt_ui_settings_free(&r);
        s.params.seed = near[i];
        CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0, "save: %s", why);
        CHECK(zt_ui_settings_load(&r, why, sizeof why) == 0, "load: %s", why);
        CHECK(r.params.seed == near[i], "seed %llu came back as %llu",
              (unsigned long long)near[i], (unsigned long long)r.params.seed);
    }
    zt_ui_settings_free(&s);
    zt_ui_settings_free(&r);
}

static void expect_defaults(const char *name, const char *json, size_t n, int want_rc)
{
    write_file("cfg", "settings.json", json, n);
    zt_ui_settings s;
    char why[512] = "";
    int rc = zt_ui_settings_load(&s, why, sizeof why);
    CHECK(rc == want_rc, "%s: rc %d (%s)", name, rc, why);
    if (want_rc)
        CHECK(why[0], "%s: a reason is given", name);
    CHECK(s.params.width == 1024 && s.params.height == 768 && s.params.steps > 0,
          "%s: default params kept", name);
    CHECK(s.theme[0] && strlen(s.theme) < sizeof s.theme, "%s: theme sane", name);
    zt_ui_settings_free(&s);
}

static void test_hostile_settings(void)
{
    const char trunc[] = "{\"theme\": \"light\", \"params\": {\"width\": 512, \"hei";
    expect_defaults("truncated", trunc, sizeof trunc - 1, -1);
    expect_defaults("empty", "", 0, -1);
    expect_defaults("binary", "\x89PNG\r\n\x1a\n\0\0", 10, -1);
    expect_defaults("array", "[1,2,3]", 7, -1);
    const char types[] = "{\"theme\": 5, \"graphics\": [], \"output_dir\": null, "
                         "\"seed_locked\": \"yes\", \"params\": {\"width\": \"wide\"}}";
    expect_defaults("wrong types", types, sizeof types - 1, -1);
    const char ptype[] = "{\"params\": 7}";
    expect_defaults("params not an object", ptype, sizeof ptype - 1, 0);
    /* the reason says what is wrong with the text: cut short is not "not a
     * JSON object" (as it was), and where it breaks is given */
    const char *texts[][2] = {
        {"{\"theme\": 5,", "not valid JSON (it breaks at byte 11 of 12)"},
        {"\xff\xfe garbage", "not valid JSON (it breaks at byte 0 of 10)"},
        {"[1]", "not a JSON object"},
    };
    for (int i = 0; i < 3; i++) {
        write_file("cfg", "settings.json", texts[i][0], strlen(texts[i][0]));
        zt_ui_settings s;
        char why[512] = "";
        CHECK(zt_ui_settings_load(&s, why, sizeof why) == -1 && strstr(why, texts[i][1]),
              "settings %d: '%s' (want '%s')", i, why, texts[i][1]);
        zt_ui_settings_free(&s);
        write_file("state", "history.json", texts[i][0], strlen(texts[i][0]));
        zt_ui_history h;
        CHECK(zt_ui_history_load(&h, why, sizeof why) == -1 && strstr(why, texts[i][1]),
              "history %d: '%s' (want '%s')", i, why, texts[i][1]);
        zt_ui_history_free(&h);
    }
    char hp[512];
    snprintf(hp, sizeof hp, "%s/state/zimt/history.json", dir);
    unlink(hp);
    /* values of the right type that a job would refuse */
    const char *refused[][2] = {
        {"steps 0", "{\"params\": {\"steps\": 0}}"},
        {"steps 5000", "{\"params\": {\"steps\": 5000}}"},
        {"width 100", "{\"params\": {\"width\": 100}}"},
        {"width 8208", "{\"params\": {\"width\": 8208}}"},
        {"guidance -5", "{\"params\": {\"guidance\": -5}}"},
        {"guidance 1e9", "{\"params\": {\"guidance\": 1e9}}"},
        {"rng", "{\"params\": {\"rng\": \"dice\"}}"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        expect_defaults(refused[i][0], refused[i][1], strlen(refused[i][1]), -1);

    /* a file that is not used is not used in part either */
    const char part[] = "{\"theme\": \"light\", \"output_dir\": \"/x\", \"seed_locked\": true, "
                        "\"graphics\": \"sixel\", \"params\": {\"steps\": 0}}";
    write_file("cfg", "settings.json", part, sizeof part - 1);
    zt_ui_settings ps;
    char pwhy[512] = "";
    CHECK(zt_ui_settings_load(&ps, pwhy, sizeof pwhy) == -1 && strstr(pwhy, "steps"),
          "steps 0 refused: %s", pwhy);
    CHECK(!strcmp(ps.theme, "dark") && !strcmp(ps.output_dir, ".") && !ps.seed_locked &&
              strcmp(ps.graphics, "sixel"),
          "fields of a refused file applied: theme %s, output_dir %s, locked %d, graphics %s",
          ps.theme, ps.output_dir, ps.seed_locked, ps.graphics);
    zt_ui_settings_free(&ps);

    /* A theme name longer than the field is not cut: the file is not used,
     * and kept aside before a save (ignored, it was lost at the next save). */
    char big[300];
    memset(big, 'x', sizeof big);
    int k = snprintf(big, sizeof big, "{\"theme\": \"");
    memset(big + k, 'y', 200);
    snprintf(big + k + 200, sizeof big - (size_t)k - 200, "\"}");
    write_file("cfg", "settings.json", big, strlen(big));
    zt_ui_settings s;
    char why[512] = "";
    CHECK(zt_ui_settings_load(&s, why, sizeof why) == -1 &&
              strstr(why, "'theme' is not UTF-8 text of at most 63 bytes") && s.file.bad_file,
          "long theme: %s", why);
    CHECK(!strcmp(s.theme, "dark"), "long theme not taken: %s", s.theme);
    zt_ui_settings_free(&s);

    /* Huge: 80 MB of spaces then an object. It is refused or read, but
     * quickly and without holding it all. */
    size_t n = 80u << 20;
    char *huge = malloc(n + 3);
    if (huge) {
        memset(huge, ' ', n);
        memcpy(huge + n, "{}", 3);
        write_file("cfg", "settings.json", huge, n + 2);
        free(huge);
        CHECK(zt_ui_settings_load(&s, why, sizeof why) == -1, "huge file refused");
        CHECK(s.params.width == 1024, "huge: defaults");
        zt_ui_settings_free(&s);
    }
}

static void test_history(void)
{
    zt_ui_history h = {0}, r = {0};
    char why[512] = "";
    CHECK(zt_ui_history_load(&h, why, sizeof why) == 0 && h.n == 0, "no history file");
    zt_ui_history_add(&h, "first");
    zt_ui_history_add(&h, "first"); /* repeated newest is kept once */
    zt_ui_history_add(&h, "");
    zt_ui_history_add(&h, "second \033[2J 狐");
    CHECK(h.n == 2, "n %d", h.n);
    for (int i = 0; i < ZT_UI_HISTORY_MAX + 20; i++) {
        char p[32];
        snprintf(p, sizeof p, "prompt %d", i);
        zt_ui_history_add(&h, p);
    }
    CHECK(h.n == ZT_UI_HISTORY_MAX, "bounded: %d", h.n);
    CHECK(!strcmp(h.items[h.n - 1], "prompt 219"), "newest last");
    CHECK(zt_ui_history_save(&h, why, sizeof why) == 0, "save: %s", why);
    CHECK(zt_ui_history_load(&r, why, sizeof why) == 0, "load: %s", why);
    CHECK(r.n == h.n, "round trip count %d", r.n);
    int same = r.n == h.n;
    for (int i = 0; same && i < r.n; i++)
        same = !strcmp(r.items[i], h.items[i]);
    CHECK(same, "round trip items");
    zt_ui_history_free(&h);
    zt_ui_history_free(&r);

    const char *bad[] = {"{\"prompts\": 5}", "{\"prompts\": [", "null", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("state", "history.json", bad[i], strlen(bad[i]));
        zt_ui_history x = {0};
        CHECK(zt_ui_history_load(&x, why, sizeof why) == -1 && x.n == 0, "'%s' refused",
              bad[i]);
        zt_ui_history_free(&x);
    }
    /* Entries that are not text are not recalled, and the file counts as
     * damaged: it is kept aside before a save writes the others without
     * them (they were dropped without a word and lost at the next save). */
    const char mixed[] = "{\"prompts\": [1, \"ok\", null, {\"a\": 1}, \"also ok\", true]}";
    write_file("state", "history.json", mixed, sizeof mixed - 1);
    zt_ui_history x = {0};
    CHECK(zt_ui_history_load(&x, why, sizeof why) == -1 && x.n == 2 &&
              strstr(why, "4 of its 6 prompts are not UTF-8 text") && x.file.bad_file,
          "only strings recalled, the file damaged: %d, %s", x.n, why);
    zt_ui_history_add(&x, "new");
    CHECK(zt_ui_history_save(&x, why, sizeof why) == 0, "save over a damaged file: %s", why);
    char hp2[512], *got = NULL;
    size_t glen = 0;
    zt_err err = {0};
    snprintf(hp2, sizeof hp2, "%s/state/zimt/history.json.bad", dir);
    CHECK(zt_read_file(hp2, 1 << 20, &got, &glen, &err) == ZT_OK && glen == sizeof mixed - 1 &&
              !memcmp(got, mixed, glen),
          "the damaged file kept whole as history.json.bad: %s", err.msg);
    free(got);
    zt_ui_history_free(&x);
    x = (zt_ui_history){0};
    CHECK(zt_ui_history_load(&x, why, sizeof why) == 0 && x.n == 3 &&
              !strcmp(x.items[2], "new"),
          "the saved file holds the good prompts and the new one: %d", x.n);
    zt_ui_history_free(&x);
    x = (zt_ui_history){0};
    remove(hp2);

    /* Raw bytes that are not UTF-8 (cJSON passes them through) are not
     * recalled either; settings text fields of them are ignored. */
    const char raw[] = "{\"prompts\": [\"\xff\xfe bad\", \"good\", \"\xed\xa0\x80\"]}";
    CHECK(zt_ui_history_from_json(&x, raw, why, sizeof why) == -1 && x.n == 1 &&
              !strcmp(x.items[0], "good") && strstr(why, "2 of its 3 prompts"),
          "non-UTF-8 entries not recalled: %d %s", x.n, why);
    zt_ui_history_free(&x);
    x = (zt_ui_history){0};
    /* cJSON ends a string at \u0000: the prompt would come back cut */
    CHECK(zt_ui_history_from_json(&x, "{\"prompts\": [\"a\", \"b\\u0000c\"]}", why,
                                  sizeof why) == -1 && strstr(why, "\\u0000"),
          "\\u0000 in a prompt: %s", why);
    zt_ui_history_free(&x);
    zt_ui_settings s;
    zt_ui_settings_defaults(&s);
    CHECK(zt_ui_settings_from_json(&s, "{\"theme\": \"\xc0\xaf\", \"output_dir\": \"\xff\"}",
                                   why, sizeof why) == -1 &&
              !strcmp(s.theme, "dark") && !strcmp(s.output_dir, ".") &&
              strstr(why, "'theme' is not UTF-8 text"),
          "non-UTF-8 settings text: not taken, the file not used: %s %s %s", s.theme,
          s.output_dir, why);
    zt_ui_settings_free(&s);
    zt_ui_settings_defaults(&s);
    /* a text field holding \u0000 (cJSON cut it there, and the cut path was
     * taken and saved) makes the file damaged too, named as a string's */
    CHECK(zt_ui_settings_from_json(&s, "{\"output_dir\": \"/a\\u0000/evil\"}", why,
                                   sizeof why) == -1 && !strcmp(why, "a string holds \\u0000") &&
              !strcmp(s.output_dir, "."),
          "\\u0000 in output_dir: %s, %s", why, s.output_dir);
    zt_ui_settings_free(&s);
    zt_ui_settings_defaults(&s);
    CHECK(zt_ui_settings_from_json(&s, "{\"steps\": 3, \"output_dir\": 5}", why, sizeof why) ==
                  -1 && strstr(why, "'output_dir'"),
          "an output_dir that is not text: %s", why);
    zt_ui_settings_free(&s);
}

static int file_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, text) != NULL;
}

/* The settings file's path and its .bad name, neither of them on disk. */
static void no_settings_file(char path[512], char bad[600])
{
    snprintf(path, 512, "%s/cfg/zimt/settings.json", dir);
    snprintf(bad, 600, "%s.bad", path);
    unlink(path);
    unlink(bad);
}

/* A save writes only what changed, and a file that could not be used is
 * kept as NAME.bad instead of being overwritten. */
static void test_files_kept(void)
{
    char path[512], bad[600];
    no_settings_file(path, bad);
    zt_ui_settings s;
    char why[512] = "";
    CHECK(zt_ui_settings_load(&s, why, sizeof why) == 0, "no file: %s", why);
    CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0 && access(path, F_OK) != 0,
          "unchanged defaults are not written");
    s.params.steps = 6;
    CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0 && file_has(path, "\"steps\""),
          "a change is written: %s", why);
    zt_ui_settings_free(&s);

    const char broken[] = "{\"theme\": \"light\",, \"mine\": 1}";
    write_file("cfg", "settings.json", broken, sizeof broken - 1);
    CHECK(zt_ui_settings_load(&s, why, sizeof why) == -1 && s.file.bad_file, "broken file noticed");
    CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0, "save over it: %s", why);
    CHECK(file_has(bad, "\"mine\": 1"), "the broken file is kept as settings.json.bad");
    CHECK(file_has(path, "\"theme\""), "new settings written");
    zt_ui_settings_free(&s);

    snprintf(path, sizeof path, "%s/state/zimt/history.json", dir);
    snprintf(bad, sizeof bad, "%s.bad", path);
    unlink(bad);
    const char hbroken[] = "{\"prompts\": [\"my old prompt\",]}";
    write_file("state", "history.json", hbroken, sizeof hbroken - 1);
    zt_ui_history h = {0};
    CHECK(zt_ui_history_load(&h, why, sizeof why) == -1 && h.file.bad_file, "broken history noticed");
    zt_ui_history_add(&h, "new prompt");
    CHECK(zt_ui_history_save(&h, why, sizeof why) == 0, "save history: %s", why);
    CHECK(file_has(bad, "my old prompt") && file_has(path, "new prompt"),
          "the broken history is kept as history.json.bad");
    zt_ui_history_free(&h);
}

/* A FIFO in a file's place is refused at once (waiting on it would hang
 * the workbench's start), and kept aside like a malformed file. */
static void test_fifo(void)
{
    char path[512], bad[600];
    no_settings_file(path, bad);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo %s", path);
    zt_ui_settings s;
    char why[512] = "";
    CHECK(zt_ui_settings_load(&s, why, sizeof why) == -1 && s.file.bad_file &&
              strstr(why, "not a regular file"),
          "FIFO settings: %s", why);
    s.params.steps = 5;
    CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0, "save: %s", why);
    struct stat sb;
    CHECK(stat(bad, &sb) == 0 && S_ISFIFO(sb.st_mode) && file_has(path, "\"steps\""),
          "the FIFO is kept as settings.json.bad, the settings written");
    zt_ui_settings_free(&s);

    snprintf(path, sizeof path, "%s/state/zimt/history.json", dir);
    unlink(path);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo %s", path);
    zt_ui_history h = {0};
    CHECK(zt_ui_history_load(&h, why, sizeof why) == -1 && h.file.bad_file &&
              strstr(why, "not a regular file"),
          "FIFO history: %s", why);
    zt_ui_history_free(&h);
    unlink(path);
}

/* A second broken file is kept as NAME.bad.1 beside the first one's
 * NAME.bad, which stays as it was; the name is known from the load on. */
static void test_aside_never_replaced(void)
{
    char path[512], bad[600], bad1[610];
    no_settings_file(path, bad);
    snprintf(bad1, sizeof bad1, "%s.1", bad);
    unlink(bad1);
    const char *texts[] = {"{\"first\": 1,,}", "{\"second\": 2,,}"};
    const char *names[] = {"settings.json.bad", "settings.json.bad.1"};
    for (int i = 0; i < 2; i++) {
        write_file("cfg", "settings.json", texts[i], strlen(texts[i]));
        zt_ui_settings s;
        char why[512] = "";
        CHECK(zt_ui_settings_load(&s, why, sizeof why) == -1, "broken file %d noticed", i);
        CHECK(!strcmp(s.file.aside, names[i]), "load %d names %s: '%s'", i, names[i],
              s.file.aside);
        s.params.steps = 3 + i;
        CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0, "save %d: %s", i, why);
        CHECK(!strcmp(s.file.aside, names[i]), "save %d kept it as %s: '%s'", i, names[i],
              s.file.aside);
        zt_ui_settings_free(&s);
    }
    CHECK(file_has(bad, "\"first\""), "the first broken file is still settings.json.bad");
    CHECK(file_has(bad1, "\"second\""), "the second is settings.json.bad.1");
    CHECK(file_has(path, "\"steps\""), "the new settings written");
    unlink(bad1);
}

/* Two workbenches sharing the files: each save keeps what the other
 * wrote since, taking only its own changes over it; a file broken by
 * someone else after the load is kept aside, not overwritten. */
static void test_shared_files(void)
{
    char path[512], bad[600];
    no_settings_file(path, bad);
    zt_ui_settings a, b, r;
    char why[512] = "";
    CHECK(zt_ui_settings_load(&a, why, sizeof why) == 0 &&
              zt_ui_settings_load(&b, why, sizeof why) == 0,
          "both start: %s", why);
    snprintf(a.theme, sizeof a.theme, "light");
    CHECK(zt_ui_settings_save(&a, why, sizeof why) == 0, "a saves: %s", why);
    b.params.steps = 4;
    CHECK(zt_ui_settings_save(&b, why, sizeof why) == 0, "b saves: %s", why);
    CHECK(zt_ui_settings_load(&r, why, sizeof why) == 0, "load: %s", why);
    CHECK(!strcmp(r.theme, "light") && r.params.steps == 4,
          "a's theme and b's steps both kept: theme %s, steps %d", r.theme, r.params.steps);
    zt_ui_settings_free(&r);
    /* the same field changed in both: the later save wins; a field b
     * never changed is not put back to what b read at its start */
    snprintf(b.theme, sizeof b.theme, "mono");
    a.params.steps = 7;
    CHECK(zt_ui_settings_save(&a, why, sizeof why) == 0 &&
              zt_ui_settings_save(&b, why, sizeof why) == 0,
          "both save again: %s", why);
    CHECK(zt_ui_settings_load(&r, why, sizeof why) == 0, "load: %s", why);
    CHECK(!strcmp(r.theme, "mono") && r.params.steps == 7, "theme %s (mono), steps %d (7)",
          r.theme, r.params.steps);
    zt_ui_settings_free(&r);
    zt_ui_settings_free(&b);
    /* broken after a's load: kept aside at a's next save */
    const char broken[] = "{\"theme\": \"someone's\",,}";
    write_file("cfg", "settings.json", broken, sizeof broken - 1);
    a.params.steps = 2;
    /* 1: saved, and why names the copy (the file was good at the load) */
    CHECK(zt_ui_settings_save(&a, why, sizeof why) == 1 && strstr(why, "was damaged") &&
              strstr(why, "kept as settings.json.bad"),
          "save over a broken file: %s", why);
    CHECK(file_has(bad, "someone's") && file_has(path, "\"steps\":2"),
          "the broken file kept as settings.json.bad, a's settings written");
    zt_ui_settings_free(&a);
    unlink(bad);

    char hpath[512];
    snprintf(hpath, sizeof hpath, "%s/state/zimt/history.json", dir);
    unlink(hpath);
    zt_ui_history ha, hb, hr;
    CHECK(zt_ui_history_load(&ha, why, sizeof why) == 0 &&
              zt_ui_history_load(&hb, why, sizeof why) == 0,
          "both histories start: %s", why);
    zt_ui_history_add(&ha, "from a");
    CHECK(zt_ui_history_save(&ha, why, sizeof why) == 0, "a saves: %s", why);
    zt_ui_history_add(&hb, "from b");
    zt_ui_history_add(&hb, "from b, again");
    CHECK(zt_ui_history_save(&hb, why, sizeof why) == 0, "b saves: %s", why);
    zt_ui_history_add(&ha, "a's second");
    CHECK(zt_ui_history_save(&ha, why, sizeof why) == 0, "a saves again: %s", why);
    CHECK(zt_ui_history_load(&hr, why, sizeof why) == 0 && hr.n == 4, "4 prompts kept: %d",
          hr.n);
    const char *want[] = {"from a", "from b", "from b, again", "a's second"};
    for (int i = 0; i < 4 && i < hr.n; i++)
        CHECK(!strcmp(hr.items[i], want[i]), "prompt %d: '%s' (want '%s')", i, hr.items[i],
              want[i]);
    CHECK(ha.n == 4 && hb.n == 3, "each recalls the other's prompts it has seen: a %d, b %d",
          ha.n, hb.n);
    /* a prompt run again after another's is the newest in the file again */
    zt_ui_history_add(&ha, "a's second");
    CHECK(zt_ui_history_save(&hb, why, sizeof why) == 0, "b saves: %s", why);
    zt_ui_history_add(&hb, "from b, third");
    CHECK(zt_ui_history_save(&hb, why, sizeof why) == 0, "b saves: %s", why);
    zt_ui_history_add(&ha, "a's second");
    CHECK(zt_ui_history_save(&ha, why, sizeof why) == 0, "a saves: %s", why);
    zt_ui_history_free(&hr);
    CHECK(zt_ui_history_load(&hr, why, sizeof why) == 0 && hr.n == 6 &&
              !strcmp(hr.items[5], "a's second") && !strcmp(hr.items[4], "from b, third"),
          "run again: %d prompts, newest '%s'", hr.n, hr.n ? hr.items[hr.n - 1] : "");
    zt_ui_history_free(&hr);
    zt_ui_history_free(&ha);
    zt_ui_history_free(&hb);

    /* both started on broken files: the first save keeps the broken file
     * aside; the second merges the good file now there (it kept that one
     * aside too, undoing the first's change) */
    char bad1[620], hbad[520], hbad1[530];
    snprintf(bad1, sizeof bad1, "%s.1", bad);
    snprintf(hbad, sizeof hbad, "%s.bad", hpath);
    snprintf(hbad1, sizeof hbad1, "%s.bad.1", hpath);
    unlink(bad1);
    unlink(hbad);
    unlink(hbad1);
    write_file("cfg", "settings.json", broken, sizeof broken - 1);
    const char hbroken[] = "{\"prompts\": [1,";
    write_file("state", "history.json", hbroken, sizeof hbroken - 1);
    CHECK(zt_ui_settings_load(&a, why, sizeof why) == -1 &&
              zt_ui_settings_load(&b, why, sizeof why) == -1,
          "both see the broken settings");
    CHECK(zt_ui_history_load(&ha, why, sizeof why) == -1 &&
              zt_ui_history_load(&hb, why, sizeof why) == -1,
          "both see the broken history");
    snprintf(a.output_dir, sizeof a.output_dir, "/a/out");
    CHECK(zt_ui_settings_save(&a, why, sizeof why) == 0, "a saves: %s", why);
    snprintf(b.theme, sizeof b.theme, "mono");
    CHECK(zt_ui_settings_save(&b, why, sizeof why) == 0, "b saves: %s", why);
    CHECK(zt_ui_settings_load(&r, why, sizeof why) == 0 && !strcmp(r.output_dir, "/a/out") &&
              !strcmp(r.theme, "mono"),
          "both kept: output_dir %s, theme %s", r.output_dir, r.theme);
    CHECK(file_has(bad, "someone's") && access(bad1, F_OK) != 0,
          "only the broken file kept aside, not a's good one");
    zt_ui_settings_free(&r);
    zt_ui_history_add(&ha, "cat");
    CHECK(zt_ui_history_save(&ha, why, sizeof why) == 0, "a saves history: %s", why);
    zt_ui_history_add(&hb, "dog");
    CHECK(zt_ui_history_save(&hb, why, sizeof why) == 0, "b saves history: %s", why);
    CHECK(zt_ui_history_load(&hr, why, sizeof why) == 0 && hr.n == 2 &&
              !strcmp(hr.items[0], "cat") && !strcmp(hr.items[1], "dog") &&
              access(hbad1, F_OK) != 0,
          "history: both prompts kept (%d), a's file not set aside", hr.n);
    zt_ui_history_free(&hr);
    zt_ui_history_free(&ha);
    zt_ui_history_free(&hb);
    zt_ui_settings_free(&a);
    zt_ui_settings_free(&b);
    unlink(bad);
    unlink(hbad);
}

/* A workbench whose own last JSON cannot be read back (as under a locale
 * that wrote "3,5") merges as if every field were its own change: the save
 * said "out of memory" and wrote nothing. */
static void test_mine_unreadable(void)
{
    char path[512], bad[600], why[512] = "";
    no_settings_file(path, bad);
    write_file("cfg", "settings.json", "{\"theme\": \"mono\"}", 17);
    zt_ui_settings s;
    CHECK(zt_ui_settings_load(&s, why, sizeof why) == 0, "load: %s", why);
    free(s.file.mine);
    s.file.mine = strdup("{\"params\": {\"guidance\": 3,5}}");
    s.params.steps = 5;
    CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0, "save: %s", why);
    CHECK(file_has(path, "\"steps\":5") && file_has(path, "\"theme\":\t\"mono\""),
          "written whole");
    zt_ui_settings_free(&s);
}

/* A save writes a temporary name of its own: a link at the name it used to
 * take (settings.json.tmpPID) was followed, writing the file it points to,
 * and then renamed into settings.json's place. */
static void test_save_own_temp(void)
{
    char path[512], bad[600], link_at[600], target[600], why[512] = "";
    no_settings_file(path, bad);
    snprintf(link_at, sizeof link_at, "%s.tmp%ld", path, (long)getpid());
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    FILE *f = fopen(target, "wb");
    CHECK(f && fputs("keep", f) >= 0 && fclose(f) == 0, "write %s", target);
    unlink(link_at);
    CHECK(symlink(target, link_at) == 0, "link %s", link_at);
    zt_ui_settings s;
    zt_ui_settings_defaults(&s);
    s.params.steps = 6;
    CHECK(zt_ui_settings_save(&s, why, sizeof why) == 0, "save: %s", why);
    struct stat st;
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644,
          "settings.json a file of its own, 0644: %o", (unsigned)st.st_mode);
    CHECK(file_has(target, "keep") && !file_has(target, "steps"), "the link's file untouched");
    CHECK(file_has(path, "\"steps\":6"), "the settings written");
    unlink(link_at);
    zt_ui_settings_free(&s);
}

/* The config "directory" is a file: said so (it read "settings.json:
 * Not a directory (kept as settings.json.bad)", and nothing was kept),
 * and the file is left as it is. */
static void test_dir_is_file(void)
{
    char cfg[300], f[320], why[512] = "";
    snprintf(cfg, sizeof cfg, "%s/cfgfile", dir);
    snprintf(f, sizeof f, "%s/zimt", cfg);
    CHECK(mkdir(cfg, 0700) == 0, "mkdir %s", cfg);
    FILE *fp = fopen(f, "w");
    CHECK(fp && fputs("mine\n", fp) >= 0 && fclose(fp) == 0, "write %s", f);
    char *old = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
    setenv("XDG_CONFIG_HOME", cfg, 1);
    zt_ui_settings s;
    CHECK(zt_ui_settings_load(&s, why, sizeof why) == -1 && strstr(why, "is not a directory") &&
              !s.file.bad_file,
          "load: '%s', kept aside %d", why, s.file.bad_file);
    s.params.steps = 3;
    CHECK(zt_ui_settings_save(&s, why, sizeof why) == -1 && strstr(why, "Not a directory"),
          "save: '%s'", why);
    CHECK(file_has(f, "mine"), "the file in the directory's place is untouched");
    zt_ui_settings_free(&s);
    if (old)
        setenv("XDG_CONFIG_HOME", old, 1);
    free(old);
    unlink(f);
    rmdir(cfg);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/zt-ui-settings-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char cfg[300], state[300];
    snprintf(cfg, sizeof cfg, "%s/cfg", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    setenv("XDG_STATE_HOME", state, 1);
    RUN(test_round_trip);
    RUN(test_hostile_settings);
    RUN(test_history);
    RUN(test_files_kept);
    RUN(test_fifo);
    RUN(test_aside_never_replaced);
    RUN(test_shared_files);
    RUN(test_mine_unreadable);
    RUN(test_save_own_temp);
    RUN(test_dir_is_file);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return zt_test_summary("test_ui_settings");
}
