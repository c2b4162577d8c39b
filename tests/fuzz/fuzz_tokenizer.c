/*
 * fuzz_tokenizer.c - tokenizer.json loading, then encoding with what was
 * loaded.
 *
 * Input layout: a tokenizer.json text, a NUL byte, then text to encode
 * (without a NUL the whole input is the JSON and a fixed text is encoded).
 * The seeds are small tokenizers cut from the real Qwen3 one, so the
 * fuzzer starts from files the loader accepts.
 *
 * Property: ids come back in range and decode again; encoding invalid
 * UTF-8 fails with ZT_ERR_UTF8.
 */
#include "fuzz.h"
#include "tokenizer.h"

static void check_encode(const zt_tokenizer *tok, const char *text, size_t len)
{
    int32_t *ids = NULL;
    size_t n = 0;
    zt_err err = {0};
    zt_status st = zt_tokenizer_encode(tok, text, len, &ids, &n, &err);
    int valid = zt_utf8_validate(text, len, NULL);
    if (st == ZT_OK && !valid)
        fuzz_fail("invalid UTF-8 was encoded");
    if (st == ZT_ERR_UTF8 && valid)
        fuzz_fail("valid UTF-8 refused: %s", err.msg);
    if (st == ZT_OK) {
        int32_t vocab = zt_tokenizer_vocab_size(tok);
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                fuzz_fail("id %d out of range (vocab %d)", ids[i], vocab);
        char *back = NULL;
        size_t blen = 0;
        if (zt_tokenizer_decode(tok, ids, n, 0, &back, &blen, &err) != ZT_OK)
            fuzz_fail("ids from encode do not decode: %s", err.msg);
        free(back);
    }
    free(ids);
    int32_t chat[ZT_TOKENIZER_MAX_IDS];
    int n_chat = 0;
    if (zt_tokenizer_encode_chat(tok, text, len, chat, &n_chat, &err) == ZT_OK &&
        (n_chat < 0 || n_chat > ZT_TOKENIZER_MAX_IDS))
        fuzz_fail("chat encoding gave %d ids", n_chat);
}

static int fuzz_tokenizer(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t jlen = nul ? (size_t)(nul - data) : size;
    const char *text = nul ? (const char *)nul + 1 : "a cat, 42 \xc3\xa9t\xc3\xa9s!";
    size_t tlen = nul ? size - jlen - 1 : strlen(text);
    zt_tokenizer *tok = NULL;
    zt_err err = {0};
    if (zt_tokenizer_new_from_json(&tok, (const char *)data, jlen, "fuzz.json", &err) != ZT_OK) {
        if (tok)
            fuzz_fail("failed load left a tokenizer");
        return 0;
    }
    check_encode(tok, text, tlen);
    /* Every id the vocabulary knows maps back to its string and id. */
    int32_t vocab = zt_tokenizer_vocab_size(tok);
    for (int32_t id = 0; id < vocab && id < 4096; id++) {
        size_t sl = 0;
        const char *s = zt_tokenizer_token_str(tok, id, &sl);
        if (s && zt_tokenizer_token_id(tok, s, sl) < 0)
            fuzz_fail("token %d has a string that maps to no id", id);
    }
    zt_tokenizer_free(tok);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_tokenizer)
