/*
 * fuzz_encode.c - arbitrary text through the real Qwen3 tokenizer (the one
 * Z-Image-Turbo ships, from tests/data/tiny-zimage, or $ZT_FUZZ_TOKENIZER):
 * added-token matching, NFC, the pre-tokenizer regex, ByteLevel and BPE.
 *
 * Property: valid UTF-8 always encodes, invalid UTF-8 never does; every id
 * is in range; decoding the ids gives back the NFC-normalised text's bytes
 * when the text has no added tokens, and for plain ASCII exactly the input.
 */
#include "fuzz.h"
#include "tokenizer.h"

static zt_tokenizer *fuzz_real_tokenizer(void)
{
    static zt_tokenizer *tok;
    static int tried;
    if (!tried) {
        tried = 1;
        const char *path = getenv("ZT_FUZZ_TOKENIZER");
        zt_err err = {0};
        if (!path)
            path = "tests/data/tiny-zimage/tokenizer/tokenizer.json";
        if (zt_tokenizer_new(&tok, path, &err) != ZT_OK) {
            fprintf(stderr, "fuzz_encode: %s\n", err.msg);
            abort();
        }
    }
    return tok;
}

static int fuzz_encode(const uint8_t *data, size_t size)
{
    const zt_tokenizer *tok = fuzz_real_tokenizer();
    const char *text = (const char *)data;
    int32_t *ids = NULL;
    size_t n = 0;
    zt_err err = {0};
    zt_status st = zt_tokenizer_encode(tok, text, size, &ids, &n, &err);
    int valid = zt_utf8_validate(text, size, NULL);
    if (valid != (st == ZT_OK))
        fuzz_fail("UTF-8 valid %d but encode says %d (%s)", valid, st, err.msg);
    if (st == ZT_OK) {
        int32_t vocab = zt_tokenizer_vocab_size(tok);
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                fuzz_fail("id %d out of range", ids[i]);
        char *back = NULL;
        size_t blen = 0;
        if (zt_tokenizer_decode(tok, ids, n, 0, &back, &blen, &err) != ZT_OK)
            fuzz_fail("decode failed: %s", err.msg);
        int ascii = 1;
        for (size_t i = 0; i < size && ascii; i++)
            ascii = data[i] >= 0x20 && data[i] < 0x7f && data[i] != '<';
        if (ascii && (blen != size || memcmp(back, data, size)))
            fuzz_fail("ASCII text does not decode to itself");
        free(back);
    }
    free(ids);
    int32_t chat[ZT_TOKENIZER_MAX_IDS];
    int n_chat = 0;
    st = zt_tokenizer_encode_chat(tok, text, size, chat, &n_chat, &err);
    if (st == ZT_OK && (n_chat <= 0 || n_chat > ZT_TOKENIZER_MAX_IDS))
        fuzz_fail("chat encoding gave %d ids", n_chat);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_encode)
