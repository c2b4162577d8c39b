/*
 * config.c - model configuration files parsed with cJSON (see config.h).
 *
 * Each parser fills its struct from one JSON object. Required keys must be
 * present with the right JSON type; optional keys fall back to the reference
 * implementation's defaults (JSON null counts as absent for those). After
 * parsing, the sizes are cross-checked so that the model code can rely on
 * them (positive, heads divide widths, RoPE axes add up, ...).
 */
#include "config.h"
#include "json.h"
#include "tokenizer.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Config files are a few KB; the cap only stops runaway reads. */
#define CONFIG_MAX_BYTES (16u << 20)

zt_status zt_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                       zt_err *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    /* O_NONBLOCK: opening a FIFO put in the file's place must not wait for
     * a writer for ever; it is refused below as not a regular file */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return zt_fail(err, errno == ENOENT ? ZT_ERR_MISSING : ZT_ERR_IO,
                       "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    FILE *f = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || !(f = fdopen(fd, "rb"))) {
        close(fd);
        return zt_fail(err, ZT_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        fclose(f);
        return zt_fail(err, ZT_ERR_TOO_BIG, "%s: %lld bytes exceeds the limit of %zu", path,
                       (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory for %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return zt_fail(err, ZT_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return ZT_OK;
}

zt_status zt_read_stream(FILE *f, const char *name, size_t max_bytes, char **out, size_t *len,
                         zt_err *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    /* the buffer grows to max_bytes + 1: a stream that fills it is too long */
    size_t cap = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) {
                free(buf);
                return zt_fail(err, ZT_ERR_TOO_BIG, "%s: more than the limit of %zu bytes",
                               name, max_bytes);
            }
            size_t want = cap ? cap * 2 : 65536;
            if (want > max_bytes + 1)
                want = max_bytes + 1;
            char *b = realloc(buf, want + 1);
            if (!b) {
                free(buf);
                return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", name);
            }
            buf = b;
            cap = want;
        }
        errno = 0;
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno; /* fread's, from the read that failed */
        free(buf);
        return zt_fail(err, ZT_ERR_IO, "%s: %s", name, e ? strerror(e) : "read error");
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return ZT_OK;
}

/* ---- typed key access ----------------------------------------------------- */

/* Looks up key; returns NULL when absent (or null and !required). */
static const cJSON *item(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return j && !cJSON_IsNull(j) ? j : NULL;
}

static zt_status missing(const char *what, const char *key, zt_err *err)
{
    return zt_fail(err, ZT_ERR_MISSING, "%s: required key '%s' is missing", what, key);
}

/* A number. required: absent is an error; else *out keeps its default. */
static zt_status get_num(const cJSON *o, const char *key, int required, double *out,
                         const char *what, zt_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || (!required && cJSON_IsNull(j)))
        return required ? missing(what, key, err) : ZT_OK;
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: key '%s' must be a number", what, key);
    *out = j->valuedouble;
    return ZT_OK;
}

static zt_status get_int(const cJSON *o, const char *key, int required, int *out,
                         const char *what, zt_err *err)
{
    double d = *out;
    zt_status st = get_num(o, key, required, &d, what, err);
    if (st)
        return st;
    if (d != floor(d))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: key '%s' must be an integer (got %g)", what,
                       key, d);
    if (d < INT_MIN || d > INT_MAX)
        return zt_fail(err, ZT_ERR_INVALID, "%s: key '%s' = %g is out of range for an integer",
                       what, key, d);
    *out = (int)d;
    return ZT_OK;
}

static zt_status get_float(const cJSON *o, const char *key, int required, float *out,
                           const char *what, zt_err *err)
{
    double d = *out;
    zt_status st = get_num(o, key, required, &d, what, err);
    if (st)
        return st;
    /* past FLT_MAX it would be inf, below FLT_MIN lose its precision (or
     * become 0): either way not the value the file gives */
    float f = (float)d;
    if (!isfinite(f) || (d != 0 && fabs(d) < FLT_MIN))
        return zt_fail(err, ZT_ERR_INVALID, "%s: key '%s' = %g is out of range for a float",
                       what, key, d);
    *out = f;
    return ZT_OK;
}

static zt_status get_bool(const cJSON *o, const char *key, int required, int *out,
                          const char *what, zt_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || (!required && cJSON_IsNull(j)))
        return required ? missing(what, key, err) : ZT_OK;
    if (!cJSON_IsBool(j))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: key '%s' must be true or false", what, key);
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return ZT_OK;
}

/* A key whose other values would change what the model computes, where
 * the engine computes only the published model's: absent (or null), or
 * the one value it implements, given as JSON text ("\"silu\"", "false",
 * "1000", "null"). Anything else is refused rather than read and then
 * ignored, which would give another model's images without a word. */
static zt_status only_of(const cJSON *o, const char *key, const char *const *wants,
                         const char *what, zt_err *err)
{
    const cJSON *j = item(o, key);
    if (!j)
        return ZT_OK;
    const char *want = wants[0];
    for (int i = 0; wants[i]; i++) { /* the others are the same computation spelled otherwise */
        cJSON *w = cJSON_Parse(wants[i]);
        int same = w && cJSON_Compare(j, w, 1);
        cJSON_Delete(w);
        if (same)
            return ZT_OK;
        if (!w)
            return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", what);
    }
    char *got = cJSON_PrintUnformatted(j);
    zt_status st = zt_fail(err, ZT_ERR_UNSUPPORTED,
                           "%s: key '%s' is %.60s; only %s is supported (that of Z-Image-Turbo)",
                           what, key, got ? got : "another value", want);
    cJSON_free(got);
    return st;
}

static zt_status only(const cJSON *o, const char *key, const char *want, const char *what,
                      zt_err *err)
{
    const char *const wants[] = {want, NULL};
    return only_of(o, key, wants, what, err);
}

/* An array of min_n..max_n integers; *n receives the count. */
static zt_status get_int_array(const cJSON *o, const char *key, int min_n, int max_n,
                               int *vals, int *n, const char *what, zt_err *err)
{
    const cJSON *j = item(o, key);
    if (!j)
        return missing(what, key, err);
    if (!cJSON_IsArray(j))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: key '%s' must be an array of integers", what,
                       key);
    int cnt = cJSON_GetArraySize(j);
    if (cnt < min_n || cnt > max_n) {
        if (min_n == max_n)
            return zt_fail(err, ZT_ERR_FORMAT, "%s: key '%s' must have %d entries, not %d",
                           what, key, min_n, cnt);
        return zt_fail(err, ZT_ERR_FORMAT, "%s: key '%s' must have %d to %d entries, not %d",
                       what, key, min_n, max_n, cnt);
    }
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        double d = it->valuedouble;
        if (!cJSON_IsNumber(it) || d != floor(d) || d < INT_MIN || d > INT_MAX)
            return zt_fail(err, ZT_ERR_FORMAT, "%s: key '%s'[%d] must be an integer", what,
                           key, k);
        vals[k++] = (int)d;
    }
    *n = k;
    return ZT_OK;
}

static zt_status parse_root(cJSON **root, const char *json, const char *what, zt_err *err)
{
    int nomem;
    *root = zt_json_parse(json, strlen(json), NULL, &nomem);
    if (!*root && nomem)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory reading it", what);
    if (!*root)
        return zt_fail(err, ZT_ERR_FORMAT, "%s: not valid JSON", what);
    if (!cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return zt_fail(err, ZT_ERR_FORMAT, "%s: not a JSON object", what);
    }
    return ZT_OK;
}

/* Upper bounds far above any published model, so that a damaged config
 * cannot ask for billions of layers or sizes whose products overflow. */
#define DIM_MAX (1 << 20)  /* widths, vocabularies, channels */
#define COUNT_MAX 1024     /* layers, heads, blocks */

static zt_status positive_max(int v, int max, const char *what, const char *key, zt_err *err)
{
    return v > 0 && v <= max ? ZT_OK
                             : zt_fail(err, ZT_ERR_INVALID,
                                       "%s: key '%s' must be positive and at most %d (got %d)",
                                       what, key, max, v);
}

static zt_status positive(int v, const char *what, const char *key, zt_err *err)
{
    return positive_max(v, DIM_MAX, what, key, err);
}

static zt_status count(int v, const char *what, const char *key, zt_err *err)
{
    return positive_max(v, COUNT_MAX, what, key, err);
}

#define TRY(x)           \
    do {                 \
        st = (x);        \
        if (st)          \
            goto done;   \
    } while (0)

/* ---- text encoder --------------------------------------------------------- */

/* RoPE turns position p into angles p * theta^(-2i/d): a theta below 1
 * makes those frequencies grow past 1 (at 1e-300, past any float, and
 * every image comes out NaN), so such a config is refused before a job. */
static zt_status rope_theta_check(double theta, const char *what, zt_err *err)
{
    if (!(theta >= 1) || !isfinite(theta))
        return zt_fail(err, ZT_ERR_INVALID, "%s: rope_theta must be at least 1 (it is %g)", what,
                       theta);
    return ZT_OK;
}

zt_status zt_te_config_parse(zt_te_config *c, const char *json, const char *what, zt_err *err)
{
    memset(c, 0, sizeof *c);
    cJSON *r;
    zt_status st = parse_root(&r, json, what, err);
    if (st)
        return st;
    double theta = 0;
    TRY(get_int(r, "hidden_size", 1, &c->hidden, what, err));
    TRY(get_int(r, "intermediate_size", 1, &c->intermediate, what, err));
    TRY(get_int(r, "num_hidden_layers", 1, &c->n_layers, what, err));
    TRY(get_int(r, "num_attention_heads", 1, &c->n_heads, what, err));
    TRY(get_int(r, "num_key_value_heads", 1, &c->n_kv_heads, what, err));
    TRY(get_int(r, "vocab_size", 1, &c->vocab, what, err));
    TRY(get_float(r, "rms_norm_eps", 1, &c->rms_eps, what, err));
    TRY(get_num(r, "rope_theta", 1, &theta, what, err));
    c->rope_theta = theta;
    /* transformers reads "swish" as SiLU, and a "default" rope type as no
     * scaling, as newer versions save it */
    static const char *const act[] = {"\"silu\"", "\"swish\"", NULL};
    static const char *const rope[] = {"null", "{\"rope_type\": \"default\"}",
                                       "{\"type\": \"default\"}", NULL};
    TRY(only_of(r, "hidden_act", act, what, err));
    TRY(only(r, "model_type", "\"qwen3\"", what, err));
    TRY(only(r, "attention_bias", "false", what, err));
    TRY(only_of(r, "rope_scaling", rope, what, err));
    TRY(only(r, "use_sliding_window", "false", what, err));
    TRY(positive(c->hidden, what, "hidden_size", err));
    TRY(positive(c->intermediate, what, "intermediate_size", err));
    TRY(count(c->n_layers, what, "num_hidden_layers", err));
    TRY(count(c->n_heads, what, "num_attention_heads", err));
    TRY(count(c->n_kv_heads, what, "num_key_value_heads", err));
    TRY(positive(c->vocab, what, "vocab_size", err));
    c->head_dim = c->hidden / c->n_heads;
    if (!item(r, "head_dim") && c->hidden % c->n_heads) {
        st = zt_fail(err, ZT_ERR_INVALID,
                     "%s: hidden_size %d not divisible by num_attention_heads %d (and no "
                     "head_dim)",
                     what, c->hidden, c->n_heads);
        goto done;
    }
    TRY(get_int(r, "head_dim", 0, &c->head_dim, what, err));
    TRY(positive(c->head_dim, what, "head_dim", err));
    if (c->head_dim % 2) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: head_dim %d must be even for RoPE", what,
                     c->head_dim);
        goto done;
    }
    if (c->n_heads % c->n_kv_heads) {
        st = zt_fail(err, ZT_ERR_INVALID,
                     "%s: num_attention_heads %d not divisible by num_key_value_heads %d", what,
                     c->n_heads, c->n_kv_heads);
        goto done;
    }
    if (!(c->rms_eps > 0)) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: rms_norm_eps must be positive", what);
        goto done;
    }
    if ((st = rope_theta_check(c->rope_theta, what, err)))
        goto done;
done:
    cJSON_Delete(r);
    return st;
}

/* ---- DiT ------------------------------------------------------------------ */

zt_status zt_dit_config_parse(zt_dit_config *c, const char *json, const char *what, zt_err *err)
{
    memset(c, 0, sizeof *c);
    cJSON *r;
    zt_status st = parse_root(&r, json, what, err);
    if (st)
        return st;
    double theta = 0;
    int tmp[8], n = 0;
    TRY(only(r, "_class_name", "\"ZImageTransformer2DModel\"", what, err));
    TRY(get_int(r, "dim", 1, &c->dim, what, err));
    TRY(get_int(r, "n_layers", 1, &c->n_layers, what, err));
    TRY(get_int(r, "n_refiner_layers", 1, &c->n_refiner_layers, what, err));
    TRY(get_int(r, "n_heads", 1, &c->n_heads, what, err));
    TRY(get_int(r, "n_kv_heads", 1, &c->n_kv_heads, what, err));
    TRY(get_float(r, "norm_eps", 1, &c->norm_eps, what, err));
    TRY(get_bool(r, "qk_norm", 1, &c->qk_norm, what, err));
    TRY(get_int(r, "cap_feat_dim", 1, &c->cap_feat_dim, what, err));
    TRY(get_num(r, "rope_theta", 1, &theta, what, err));
    TRY(get_float(r, "t_scale", 1, &c->t_scale, what, err));
    c->rope_theta = theta;
    TRY(get_int_array(r, "axes_dims", 3, 3, c->axes_dims, &n, what, err));
    TRY(get_int_array(r, "axes_lens", 3, 3, c->axes_lens, &n, what, err));
    TRY(get_int(r, "in_channels", 1, &c->in_channels, what, err));
    TRY(get_int_array(r, "all_patch_size", 1, 8, tmp, &n, what, err));
    c->patch = tmp[0];
    TRY(get_int_array(r, "all_f_patch_size", 1, 8, tmp, &n, what, err));
    c->f_patch = tmp[0];

    TRY(positive(c->dim, what, "dim", err));
    TRY(count(c->n_layers, what, "n_layers", err));
    TRY(count(c->n_heads, what, "n_heads", err));
    TRY(count(c->n_kv_heads, what, "n_kv_heads", err));
    TRY(positive(c->cap_feat_dim, what, "cap_feat_dim", err));
    TRY(positive(c->in_channels, what, "in_channels", err));
    TRY(positive(c->patch, what, "all_patch_size[0]", err));
    TRY(positive(c->f_patch, what, "all_f_patch_size[0]", err));
    if (c->n_refiner_layers < 0 || c->n_refiner_layers > COUNT_MAX) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: key 'n_refiner_layers' must be between 0 and %d",
                     what, COUNT_MAX);
        goto done;
    }
    /* The patch vector is a layer's width: f_patch * patch * patch *
     * in_channels, each at most DIM_MAX, so it is bounded as it is formed. */
    const int pf[4] = {c->f_patch, c->patch, c->patch, c->in_channels};
    uint64_t pv = 1;
    for (int i = 0; i < 4; i++)
        pv = pv * (uint64_t)pf[i] > DIM_MAX ? (uint64_t)DIM_MAX + 1 : pv * (uint64_t)pf[i];
    if (pv > DIM_MAX) {
        st = zt_fail(err, ZT_ERR_INVALID,
                     "%s: the patch vector (all_f_patch_size %d x all_patch_size %d squared x "
                     "in_channels %d) is over %d values",
                     what, c->f_patch, c->patch, c->in_channels, DIM_MAX);
        goto done;
    }
    if (c->dim % c->n_heads) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: dim %d not divisible by n_heads %d", what,
                     c->dim, c->n_heads);
        goto done;
    }
    if (c->n_heads % c->n_kv_heads) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: n_heads %d not divisible by n_kv_heads %d",
                     what, c->n_heads, c->n_kv_heads);
        goto done;
    }
    int sum = 0;
    for (int i = 0; i < 3; i++) {
        if (c->axes_dims[i] <= 0 || c->axes_dims[i] % 2 || c->axes_dims[i] > DIM_MAX) {
            st = zt_fail(err, ZT_ERR_INVALID,
                         "%s: key 'axes_dims'[%d] = %d must be positive, even and at most %d",
                         what, i, c->axes_dims[i], DIM_MAX);
            goto done;
        }
        if (c->axes_lens[i] <= 0 || c->axes_lens[i] > DIM_MAX) {
            st = zt_fail(err, ZT_ERR_INVALID, "%s: key 'axes_lens'[%d] must be between 1 and %d",
                         what, i, DIM_MAX);
            goto done;
        }
        sum += c->axes_dims[i];
    }
    /* A caption of the tokenizer's most tokens, padded as the DiT pads it,
     * takes axis-0 positions 1 .. Lp and the image the next (dit.c's job
     * check): a table too short for that would fail every long prompt (and,
     * short enough, every job) after the model has loaded. */
    const int cap_max = (ZT_TOKENIZER_MAX_IDS + ZT_DIT_SEQ_MULTI - 1) / ZT_DIT_SEQ_MULTI *
                        ZT_DIT_SEQ_MULTI;
    if (c->axes_lens[0] < cap_max + 2) {
        st = zt_fail(err, ZT_ERR_INVALID,
                     "%s: key 'axes_lens'[0] = %d must be at least %d (the positions of a "
                     "%d-token caption and the image after it)",
                     what, c->axes_lens[0], cap_max + 2, ZT_TOKENIZER_MAX_IDS);
        goto done;
    }
    if (sum != c->dim / c->n_heads) {
        st = zt_fail(err, ZT_ERR_INVALID,
                     "%s: sum of axes_dims %d != head dim %d (dim %d / n_heads %d)", what, sum,
                     c->dim / c->n_heads, c->dim, c->n_heads);
        goto done;
    }
    if (!(c->norm_eps > 0) || !(c->t_scale > 0)) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: norm_eps and t_scale must be positive", what);
        goto done;
    }
    if ((st = rope_theta_check(c->rope_theta, what, err)))
        goto done;
done:
    cJSON_Delete(r);
    return st;
}

int zt_dit_ffn_hidden(const zt_dit_config *c)
{
    /* The reference computes int(dim / 3 * 8) in floating point. */
    return (int)((double)c->dim / 3.0 * 8.0);
}

int zt_dit_adaln_dim(const zt_dit_config *c)
{
    return c->dim < 256 ? c->dim : 256;
}

/* ---- VAE ------------------------------------------------------------------ */

zt_status zt_vae_config_parse(zt_vae_config *c, const char *json, const char *what, zt_err *err)
{
    memset(c, 0, sizeof *c);
    c->out_channels = 3;
    c->use_post_quant_conv = 1;
    c->mid_attention = 1;
    cJSON *r;
    zt_status st = parse_root(&r, json, what, err);
    if (st)
        return st;
    TRY(only(r, "_class_name", "\"AutoencoderKL\"", what, err));
    TRY(get_int_array(r, "block_out_channels", 1, 8, c->block_out, &c->n_blocks, what, err));
    TRY(get_int(r, "layers_per_block", 1, &c->layers_per_block, what, err));
    TRY(get_int(r, "latent_channels", 1, &c->latent_channels, what, err));
    TRY(get_int(r, "out_channels", 0, &c->out_channels, what, err));
    TRY(get_int(r, "norm_num_groups", 1, &c->norm_groups, what, err));
    TRY(get_float(r, "scaling_factor", 1, &c->scaling_factor, what, err));
    TRY(get_float(r, "shift_factor", 0, &c->shift_factor, what, err));
    TRY(get_bool(r, "use_post_quant_conv", 0, &c->use_post_quant_conv, what, err));
    TRY(get_bool(r, "mid_block_add_attention", 0, &c->mid_attention, what, err));

    TRY(count(c->layers_per_block, what, "layers_per_block", err));
    TRY(positive(c->latent_channels, what, "latent_channels", err));
    if (c->out_channels != 3) {
        /* the decoder's output is handed back as 8-bit RGB */
        st = zt_fail(err, ZT_ERR_INVALID, "%s: key 'out_channels' must be 3 for RGB (got %d)",
                     what, c->out_channels);
        goto done;
    }
    TRY(count(c->norm_groups, what, "norm_num_groups", err));
    for (int i = 0; i < c->n_blocks; i++) {
        if (c->block_out[i] <= 0 || c->block_out[i] > DIM_MAX ||
            c->block_out[i] % c->norm_groups) {
            st = zt_fail(err, ZT_ERR_INVALID,
                         "%s: key 'block_out_channels'[%d] = %d must be a positive multiple "
                         "of norm_num_groups %d",
                         what, i, c->block_out[i], c->norm_groups);
            goto done;
        }
    }
    if (c->scaling_factor == 0) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: key 'scaling_factor' must not be zero", what);
        goto done;
    }
done:
    cJSON_Delete(r);
    return st;
}

/* ---- scheduler ------------------------------------------------------------ */

zt_status zt_sched_config_parse(zt_sched_config *c, const char *json, const char *what,
                                zt_err *err)
{
    c->shift = 1.0f;
    c->num_train_timesteps = 1000;
    c->use_dynamic_shifting = 0;
    cJSON *r;
    zt_status st = parse_root(&r, json, what, err);
    if (st)
        return st;
    TRY(get_float(r, "shift", 0, &c->shift, what, err));
    TRY(get_int(r, "num_train_timesteps", 0, &c->num_train_timesteps, what, err));
    TRY(get_bool(r, "use_dynamic_shifting", 0, &c->use_dynamic_shifting, what, err));
    TRY(positive(c->num_train_timesteps, what, "num_train_timesteps", err));
    /* the schedule (scheduler.c) is the static shift over 1000 train steps */
    /* another scheduler's config read as this one's gave other images */
    TRY(only(r, "_class_name", "\"FlowMatchEulerDiscreteScheduler\"", what, err));
    TRY(only(r, "num_train_timesteps", "1000", what, err));
    TRY(only(r, "use_dynamic_shifting", "false", what, err));
    if (!(c->shift > 0)) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: key 'shift' must be positive", what);
        goto done;
    }
done:
    cJSON_Delete(r);
    return st;
}

/* ---- files ---------------------------------------------------------------- */

typedef zt_status (*parse_fn)(void *c, const char *json, const char *what, zt_err *err);

static zt_status load(void *c, parse_fn fn, const char *path, zt_err *err)
{
    char *text;
    zt_status st = zt_read_file(path, CONFIG_MAX_BYTES, &text, NULL, err);
    if (st)
        return st;
    st = fn(c, text, path, err);
    free(text);
    return st;
}

/* Thin adapters so one loader serves all four types without casting
 * function pointers (calling through a mismatched type is undefined). */
static zt_status te_fn(void *c, const char *j, const char *w, zt_err *e)
{
    return zt_te_config_parse(c, j, w, e);
}
static zt_status dit_fn(void *c, const char *j, const char *w, zt_err *e)
{
    return zt_dit_config_parse(c, j, w, e);
}
static zt_status vae_fn(void *c, const char *j, const char *w, zt_err *e)
{
    return zt_vae_config_parse(c, j, w, e);
}
static zt_status sched_fn(void *c, const char *j, const char *w, zt_err *e)
{
    return zt_sched_config_parse(c, j, w, e);
}

zt_status zt_te_config_load(zt_te_config *c, const char *path, zt_err *err)
{
    return load(c, te_fn, path, err);
}

zt_status zt_dit_config_load(zt_dit_config *c, const char *path, zt_err *err)
{
    return load(c, dit_fn, path, err);
}

zt_status zt_vae_config_load(zt_vae_config *c, const char *path, zt_err *err)
{
    return load(c, vae_fn, path, err);
}

zt_status zt_sched_config_load(zt_sched_config *c, const char *path, zt_err *err)
{
    return load(c, sched_fn, path, err);
}

zt_status zt_model_index_parse(const char *json, const char *what, zt_err *err)
{
    static const char *const need[] = {"transformer", "vae", "text_encoder", "tokenizer",
                                       "scheduler"};
    cJSON *r;
    zt_status st = parse_root(&r, json, what, err);
    if (st)
        return st;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!item(r, need[i])) {
            st = zt_fail(err, ZT_ERR_MISSING, "%s: component '%s' is not listed", what,
                         need[i]);
            break;
        }
    }
    cJSON_Delete(r);
    return st;
}

zt_status zt_model_config_load(zt_model_config *c, const char *dir, zt_err *err)
{
    memset(c, 0, sizeof *c);
    if (strlen(dir) + 64 >= sizeof c->dir)
        return zt_fail(err, ZT_ERR_INVALID, "%.200s...: model directory path too long", dir);
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    char path[ZT_PATH_MAX + 64];
    char *text;
    snprintf(path, sizeof path, "%s/model_index.json", dir);
    zt_status st = zt_read_file(path, CONFIG_MAX_BYTES, &text, NULL, err);
    if (st)
        return st;
    st = zt_model_index_parse(text, path, err);
    free(text);
    if (st)
        return st;
    snprintf(path, sizeof path, "%s/text_encoder/config.json", dir);
    if ((st = zt_te_config_load(&c->te, path, err)))
        return st;
    snprintf(path, sizeof path, "%s/transformer/config.json", dir);
    if ((st = zt_dit_config_load(&c->dit, path, err)))
        return st;
    snprintf(path, sizeof path, "%s/vae/config.json", dir);
    if ((st = zt_vae_config_load(&c->vae, path, err)))
        return st;
    snprintf(path, sizeof path, "%s/scheduler/scheduler_config.json", dir);
    if ((st = zt_sched_config_load(&c->sched, path, err)))
        return st;
    return zt_model_config_check(c, err);
}

zt_status zt_model_config_check(const zt_model_config *c, zt_err *err)
{
    const char *dir = c->dir[0] ? c->dir : "model";
    if (c->te.hidden != c->dit.cap_feat_dim)
        return zt_fail(err, ZT_ERR_INVALID,
                       "%s: the text encoder's hidden_size %d is not the transformer's "
                       "cap_feat_dim %d",
                       dir, c->te.hidden, c->dit.cap_feat_dim);
    if (c->vae.latent_channels != c->dit.in_channels)
        return zt_fail(err, ZT_ERR_INVALID,
                       "%s: the VAE's latent_channels %d is not the transformer's "
                       "in_channels %d",
                       dir, c->vae.latent_channels, c->dit.in_channels);
    return ZT_OK;
}

void zt_model_config_full(zt_model_config *c)
{
    memset(c, 0, sizeof *c);
    c->te = (zt_te_config){
        .hidden = 2560,
        .intermediate = 9728,
        .n_layers = 36,
        .n_heads = 32,
        .n_kv_heads = 8,
        .head_dim = 128,
        .vocab = 151936,
        .rms_eps = 1e-6f,
        .rope_theta = 1e6,
    };
    c->dit = (zt_dit_config){
        .dim = 3840,
        .n_layers = 30,
        .n_refiner_layers = 2,
        .n_heads = 30,
        .n_kv_heads = 30,
        .norm_eps = 1e-5f,
        .qk_norm = 1,
        .cap_feat_dim = 2560,
        .rope_theta = 256.0,
        .t_scale = 1000.0f,
        .axes_dims = {32, 48, 48},
        .axes_lens = {1024, 512, 512},
        .in_channels = 16,
        .patch = 2,
        .f_patch = 1,
    };
    c->vae = (zt_vae_config){
        .block_out = {128, 256, 512, 512},
        .n_blocks = 4,
        .layers_per_block = 2,
        .latent_channels = 16,
        .out_channels = 3,
        .norm_groups = 32,
        .scaling_factor = 0.3611f,
        .shift_factor = 0.1159f,
        .use_post_quant_conv = 0,
        .mid_attention = 1,
    };
    c->sched = (zt_sched_config){
        .shift = 3.0f,
        .num_train_timesteps = 1000,
        .use_dynamic_shifting = 0,
    };
}
