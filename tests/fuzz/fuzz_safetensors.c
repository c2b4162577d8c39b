/*
 * fuzz_safetensors.c - one safetensors file image through zt_st_parse.
 *
 * Property: whatever the parser accepts lies inside the buffer (every
 * tensor's first and last byte can be read), its shape times the dtype size
 * is its byte length, and names are NUL-terminated strings.
 */
#include "fuzz.h"
#include "safetensors.h"

static int fuzz_safetensors(const uint8_t *data, size_t size)
{
    zt_st_entry *e = NULL;
    int n = 0;
    zt_err err = {0};
    if (zt_st_parse(data, size, "fuzz.safetensors", &e, &n, &err) != ZT_OK) {
        if (!err.msg[0])
            fuzz_fail("error without a message (code %d)", err.code);
        return 0;
    }
    volatile uint8_t sink = 0;
    for (int i = 0; i < n; i++) {
        const zt_st_entry *x = &e[i];
        if (!x->name || strlen(x->name) > size)
            fuzz_fail("entry %d: bad name", i);
        if (zt_tensor_nbytes(&x->t) != x->nbytes)
            fuzz_fail("%s: shape says %zu bytes, entry %zu", x->name, zt_tensor_nbytes(&x->t),
                      x->nbytes);
        if (!x->nbytes)
            continue;
        const uint8_t *p = x->t.data;
        if (p < data || p + x->nbytes > data + size)
            fuzz_fail("%s: data outside the buffer", x->name);
        sink ^= p[0];
        sink ^= p[x->nbytes - 1];
    }
    (void)sink;
    zt_st_entries_free(e, n);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_safetensors)
