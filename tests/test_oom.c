/* test_oom.c - reading a model's JSON when memory runs out says so.
 *
 * This binary is linked with malloc, calloc, realloc and strdup wrapped
 * (Makefile: -Wl,--wrap=...), so the allocations zimt's own code makes (and
 * cJSON's, which go through zimt's hooks) can be failed one at a time. For
 * each reader, the k-th allocation fails for k = 1, 2, 3, ... (every one
 * for the small inputs, a spread of them for the real tokenizer): the
 * reader must then fail with ZT_ERR_NOMEM and a message saying memory ran
 * out, never call the file malformed (it used to report the tokenizer and a
 * safetensors header as invalid JSON under a tight `ulimit -v`). The
 * workbench's history save is swept the same way. */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "config.h"
#include "json.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "ui_settings.h"

#define TINY TEST_DATA "/tiny-zimage"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static atomic_long n_allocs; /* since the last arm() */
static long fail_at;         /* the allocation to fail (1-based), 0: none */

static int failing(void)
{
    long i = atomic_fetch_add(&n_allocs, 1) + 1;
    return fail_at && i == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return failing() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    return failing() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return failing() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return failing() ? NULL : __real_strdup(s);
}

static void arm(long k)
{
    atomic_store(&n_allocs, 0);
    fail_at = k;
}

/* A reader under test: 1 when the allocation armed was reached. */
typedef zt_status (*reader)(zt_err *err);

/* Fails allocation k of rd for k in 1.. (step grows by `grow` per cent, at
 * least 1) until rd runs whole; each failure must be ZT_ERR_NOMEM saying so. */
static void sweep(const char *name, reader rd, int grow)
{
    arm(0);
    zt_err err = {0};
    CHECK(rd(&err) == ZT_OK, "%s: %s", name, err.msg);
    long total = atomic_load(&n_allocs), tried = 0, bad = 0;
    CHECK(total > 0, "%s: no allocation seen", name);
    for (long k = 1; k <= total; k += 1 + k * grow / 100) {
        arm(k);
        err = (zt_err){0};
        zt_status st = rd(&err);
        arm(0);
        tried++;
        /* a reader may also cope (then it checks its result itself) */
        if (st != ZT_OK && (st != ZT_ERR_NOMEM || !strstr(err.msg, "memory"))) {
            if (bad++ < 5)
                CHECK(0, "%s: allocation %ld of %ld failed: status %d, '%s'", name, k, total,
                      (int)st, err.msg);
        }
    }
    CHECK(bad == 0, "%s: %ld of %ld failures misreported", name, bad, tried);
}

static zt_status read_config(zt_err *err)
{
    zt_model_config c;
    return zt_model_config_load(&c, TINY, err);
}

static zt_status read_vae_header(zt_err *err)
{
    zt_weights *w = NULL;
    zt_status st = zt_weights_open(&w, TINY "/vae", NULL, err);
    zt_weights_free(w);
    return st;
}

static zt_status read_te_index(zt_err *err)
{
    zt_weights *w = NULL;
    zt_status st = zt_weights_open(&w, TINY "/text_encoder", "model.", err);
    zt_weights_free(w);
    return st;
}

/* A tokenizer read whole must give the ids of one read with memory to
 * spare (test_tokenizer checks those against the reference). */
static int32_t want_ids[ZT_TOKENIZER_MAX_IDS];
static int n_want = -1;

static zt_status read_tokenizer(zt_err *err)
{
    zt_tokenizer *t = NULL;
    zt_status st = zt_tokenizer_new(&t, TINY "/tokenizer/tokenizer.json", err);
    if (st == ZT_OK) {
        long armed = fail_at;
        fail_at = 0; /* the check itself may allocate freely */
        static const char text[] = "a red fox in the snow, 35mm photo 狐狸";
        int32_t ids[ZT_TOKENIZER_MAX_IDS];
        int n = 0;
        zt_err e2 = {0};
        CHECK(zt_tokenizer_encode_chat(t, text, sizeof text - 1, ids, &n, &e2) == ZT_OK, "%s",
              e2.msg);
        if (n_want < 0) {
            memcpy(want_ids, ids, sizeof ids);
            n_want = n;
        }
        CHECK(n == n_want && !memcmp(ids, want_ids, (size_t)n * sizeof *ids),
              "tokenizer read with allocation %ld failed encodes differently", armed);
        fail_at = armed;
    }
    zt_tokenizer_free(t);
    return st;
}

static void test_parse(void)
{
    static const char ok[] = "{\"a\": [1, 2, {\"b\": \"c\"}], \"d\": \"eeee\"}";
    int nomem = -1;
    const char *end = NULL;
    arm(0);
    cJSON *j = zt_json_parse(ok, sizeof ok - 1, &end, &nomem);
    long total = atomic_load(&n_allocs);
    CHECK(j && nomem == 0 && total > 0, "parse: %p, nomem %d, %ld allocations", (void *)j,
          nomem, total);
    cJSON_Delete(j);
    for (long k = 1; k <= total; k++) {
        arm(k);
        j = zt_json_parse(ok, sizeof ok - 1, &end, &nomem);
        arm(0);
        CHECK(!j && nomem == 1, "allocation %ld of %ld failed: %p, nomem %d", k, total,
              (void *)j, nomem);
        cJSON_Delete(j);
    }
    /* bad text with memory to spare: not out of memory, and where it broke */
    static const char bad[] = "{\"a\": [1, }";
    j = zt_json_parse(bad, sizeof bad - 1, &end, &nomem);
    CHECK(!j && nomem == 0 && end == bad + 10, "bad text: nomem %d, end at %td", nomem,
          end ? end - bad : -1);
}

/* The prompt history saved over a file another workbench wrote after
 * this one's load: the save succeeds with every prompt, or fails saying
 * memory ran out with the file as it was; never a file with prompts
 * missing, never one kept aside as broken. */
static char state[64];

static void put_history(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

static zt_status save_history(zt_err *err)
{
    long armed = fail_at;
    fail_at = 0; /* the setup and the checks allocate freely */
    char path[128], bad[160], why[512] = "", name[32];
    snprintf(path, sizeof path, "%s/zimt/history.json", state);
    snprintf(bad, sizeof bad, "%s.bad", path);
    put_history(path, "{\"prompts\": [\"p0\"]}\n");
    zt_ui_history h, r;
    CHECK(zt_ui_history_load(&h, why, sizeof why) == 0 && h.n == 1, "load: %s", why);
    put_history(path, "{\"prompts\": [\"p0\", \"other\"]}\n");
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "mine %d", i);
        zt_ui_history_add(&h, name);
    }
    fail_at = armed;
    int rc = zt_ui_history_save(&h, why, sizeof why);
    fail_at = 0;
    CHECK(zt_ui_history_load(&r, why, sizeof why) == 0, "load again: %s", why);
    if (rc == 0)
        CHECK(r.n == 22 && !strcmp(r.items[1], "other") && !strcmp(r.items[21], "mine 19"),
              "saved with allocation %ld failed: %d prompts", armed, r.n);
    else
        CHECK(r.n == 2 && strstr(why, "out of memory"),
              "not saved with allocation %ld failed: %d prompts on file, '%s'", armed, r.n, why);
    CHECK(access(bad, F_OK) != 0, "allocation %ld failed: the file was kept aside", armed);
    unlink(bad);
    zt_ui_history_free(&h);
    zt_ui_history_free(&r);
    fail_at = armed;
    return rc == 0 ? ZT_OK : zt_fail(err, ZT_ERR_NOMEM, "%s", why);
}

static void test_readers(void)
{
    sweep("config", read_config, 0);
    sweep("vae header", read_vae_header, 0);
    sweep("text encoder index", read_te_index, 0);
    sweep("tokenizer", read_tokenizer, 10); /* about 50 of its ~600 */
    snprintf(state, sizeof state, "/tmp/zt-oom-XXXXXX");
    CHECK(mkdtemp(state) != NULL, "mkdtemp");
    char zdir[80];
    snprintf(zdir, sizeof zdir, "%s/zimt", state);
    CHECK(mkdir(zdir, 0700) == 0, "mkdir %s", zdir);
    setenv("XDG_STATE_HOME", state, 1);
    sweep("history save", save_history, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state);
    CHECK(system(cmd) == 0, "%s", cmd);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_readers);
    return zt_test_summary("test_oom");
}
