/*
 * cmd_tokenize.c - zimt tokenize: print the token ids of a prompt.
 *
 *   zimt tokenize [--model DIR] [--chat] [--json] TEXT...
 *   zimt tokenize [--model DIR] [--chat] [--json] -        (text from stdin)
 *   zimt tokenize [--model DIR] --bench
 *
 * Several TEXT arguments are joined with single spaces. Ids go to stdout on
 * one line; --json prints {"ids": [...], "tokens": [...]} where each token
 * is that id decoded alone (a token holding part of a character shows
 * U+FFFD for the missing part). --bench times loading and encoding.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "config.h"
#include "discovery.h"
#include "tokenizer.h"
#include "ui_text.h"

static void usage(FILE *f)
{
    fputs("usage: zimt tokenize [--model DIR] [--chat] [--json] TEXT...|-\n"
          "       zimt tokenize [--model DIR] --bench\n",
          f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A prompt of the kind people write, about 512 tokens long. */
static const char bench_text[] =
    "Young Chinese woman in red Hanfu, intricate embroidery. Impeccable makeup, red floral "
    "forehead pattern. Elaborate high bun, golden phoenix headdress, red flowers, beads. "
    "Holds round folding fan with lady, trees, bird. Neon lightning-bolt lamp (\xe2\x9a\xa1\xef"
    "\xb8\x8f), bright yellow glow, above extended left palm. Soft-lit outdoor night background, "
    "silhouetted tiered pagoda (\xe8\xa5\xbf\xe5\xae\x89\xe5\xa4\xa7\xe9\x9b\x81\xe5\xa1\x94), "
    "blurred colorful distant lights. ";

static int bench(const char *path)
{
    zt_err err = {0};
    enum { LOADS = 7, ENCODES = 2000 };
    double t_load[LOADS];
    zt_tokenizer *tok = NULL;
    for (int i = 0; i < LOADS; i++) {
        zt_tokenizer_free(tok);
        double t0 = zt_now_ms();
        if (zt_tokenizer_new(&tok, path, &err))
            return zt_cli_error(&err);
        t_load[i] = zt_now_ms() - t0;
    }
    qsort(t_load, LOADS, sizeof t_load[0], cmp_double);

    /* Repeat the sample prompt until it is about 512 tokens. */
    size_t unit = sizeof bench_text - 1, len = 0;
    char *text = malloc(unit * 8 + 1);
    int32_t *ids = NULL;
    size_t n = 0;
    if (!text) {
        zt_tokenizer_free(tok);
        return zt_cli_fail("out of memory");
    }
    while (n < 512 && len + unit <= unit * 8) {
        memcpy(text + len, bench_text, unit);
        len += unit;
        free(ids);
        if (zt_tokenizer_encode(tok, text, len, &ids, &n, &err)) {
            free(text);
            zt_tokenizer_free(tok);
            return zt_cli_error(&err);
        }
    }
    free(ids);
    double t_enc[9];
    for (int r = 0; r < 9; r++) {
        double t0 = zt_now_ms();
        for (int i = 0; i < ENCODES / 9; i++) {
            zt_tokenizer_encode(tok, text, len, &ids, &n, &err);
            free(ids);
        }
        t_enc[r] = (zt_now_ms() - t0) / (ENCODES / 9);
    }
    qsort(t_enc, 9, sizeof t_enc[0], cmp_double);
    int32_t chat[ZT_TOKENIZER_MAX_IDS];
    int n_chat;
    double t0 = zt_now_ms();
    for (int i = 0; i < ENCODES; i++)
        zt_tokenizer_encode_chat(tok, text, len, chat, &n_chat, &err);
    double t_chat = (zt_now_ms() - t0) / ENCODES;
    printf("load %s: median %.1f ms (min %.1f, max %.1f, %d runs)\n", path, t_load[LOADS / 2],
           t_load[0], t_load[LOADS - 1], LOADS);
    printf("encode %zu bytes -> %zu tokens: median %.3f ms (min %.3f)\n", len, n, t_enc[4],
           t_enc[0]);
    printf("encode_chat (cut to %d): %.3f ms\n", n_chat, t_chat);
    free(text);
    zt_tokenizer_free(tok);
    return 0;
}

int zt_cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL;
    int chat = 0, json = 0, do_bench = 0, i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int m = zt_cli_model_arg("tokenize", argc, argv, &i, &model);
        if (m < 0) { /* said why */
            usage(stderr);
            return 2;
        }
        if (m)
            continue;
        if (!strcmp(a, "--chat")) {
            chat = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--bench")) {
            do_bench = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (a[0] == '-' && a[1]) {
            zt_cli_fail("tokenize: unknown option '%s'", a);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    /* bad usage is said as such before the model is looked for. The
     * benchmark reads a text of its own: options or text beside it would be
     * dropped without a word. */
    if (do_bench && (i < argc || json || chat)) {
        zt_cli_fail("tokenize: --bench takes no TEXT, --json or --chat");
        usage(stderr);
        return 2;
    }
    if (!do_bench && i >= argc) {
        usage(stderr);
        return 2;
    }
    /* "-" reads stdin only alone: "- extra" was tokenized as that text */
    if (!do_bench && !strcmp(argv[i], "-") && i < argc - 1) {
        zt_cli_fail("tokenize: '-' reads the text from stdin and takes nothing after it");
        usage(stderr);
        return 2;
    }
    char path[4096], found[ZT_PATH_MAX];
    zt_err derr = {0};
    /* none named: every Z-Image-Turbo has the same tokenizer, so the
     * bundled one first, then the model gen would use */
    if (model) {
        if (zt_model_dir_check(model, &derr) != ZT_OK)
            return zt_cli_error(&derr);
    } else if (!(model = zt_cli_bundled_model(found, sizeof found))) {
        if (zt_cli_model(NULL, found, sizeof found, 1, NULL, &derr) != ZT_OK)
            return zt_cli_error(&derr);
        model = found;
    }
    if (snprintf(path, sizeof path, "%s/tokenizer/tokenizer.json", model) >= (int)sizeof path)
        return zt_cli_fail("tokenize: model path too long");
    if (do_bench)
        return bench(path);

    char *text;
    size_t len = 0;
    if (i == argc - 1 && !strcmp(argv[i], "-")) {
        zt_err rerr = {0};
        if (zt_read_stream(stdin, "stdin", 64u << 20, &text, &len, &rerr) != ZT_OK)
            return zt_cli_error(&rerr);
    } else {
        for (int k = i; k < argc; k++)
            len += strlen(argv[k]) + 1;
        text = malloc(len);
        if (!text)
            return zt_cli_fail("tokenize: out of memory");
        len = 0;
        for (int k = i; k < argc; k++) {
            if (k > i)
                text[len++] = ' ';
            memcpy(text + len, argv[k], strlen(argv[k]));
            len += strlen(argv[k]);
        }
    }

    zt_err err = {0};
    zt_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 1;
    size_t bad;
    if (!zt_utf8_validate(text, len, &bad)) {
        rc = zt_cli_fail("tokenize: input is not valid UTF-8 at byte offset %zu (byte 0x%02X)",
                         bad, (unsigned char)text[bad]);
        goto done;
    }
    if (zt_tokenizer_new(&tok, path, &err)) {
        rc = zt_cli_error(&err);
        goto done;
    }
    if (chat) {
        ids = malloc(ZT_TOKENIZER_MAX_IDS * sizeof *ids);
        int nc = 0;
        if (!ids) {
            rc = zt_cli_fail("tokenize: out of memory");
            goto done;
        }
        if (zt_tokenizer_encode_chat(tok, text, len, ids, &nc, &err)) {
            rc = zt_cli_error(&err);
            goto done;
        }
        if (zt_tokenizer_chat_cut(tok, text, len, nc)) /* as gen warns */
            fprintf(stderr, "zimt: warning: the prompt was truncated to %d tokens\n",
                    ZT_TOKENIZER_MAX_IDS);
        n = (size_t)nc;
    } else if (zt_tokenizer_encode(tok, text, len, &ids, &n, &err)) {
        rc = zt_cli_error(&err);
        goto done;
    }

    if (!json) {
        for (size_t k = 0; k < n; k++)
            printf(k ? " %d" : "%d", (int)ids[k]);
        putchar('\n');
        rc = 0;
        goto done;
    }
    /* the arrays made inside root: nothing to free apart on a failure */
    cJSON *root = cJSON_CreateObject();
    cJSON *jids = root ? cJSON_AddArrayToObject(root, "ids") : NULL;
    cJSON *jtoks = jids ? cJSON_AddArrayToObject(root, "tokens") : NULL;
    int ok = jtoks != NULL;
    for (size_t k = 0; ok && k < n; k++) {
        char *piece, *shown;
        size_t pl;
        if (zt_tokenizer_decode(tok, &ids[k], 1, 0, &piece, &pl, &err)) {
            cJSON_Delete(root);
            rc = zt_cli_error(&err);
            goto done;
        }
        shown = zt_ui_utf8_lossy(piece, pl);
        free(piece);
        ok = shown && cJSON_AddItemToArray(jids, cJSON_CreateNumber(ids[k])) &&
             cJSON_AddItemToArray(jtoks, cJSON_CreateString(shown));
        free(shown);
    }
    char *out = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!out) {
        rc = zt_cli_fail("tokenize: out of memory");
        goto done;
    }
    puts(out);
    free(out);
    rc = 0;
done:
    free(ids);
    free(text);
    zt_tokenizer_free(tok);
    return rc;
}
