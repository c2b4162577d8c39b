/*
 * image.h - PNG files with generation settings, and those settings.
 *
 * zt_gen_params is what produced an image. It travels in two PNG chunks:
 *   - "parameters": the AUTOMATIC1111 text that image front ends read,
 *     tEXt when it is Latin-1, else iTXt (UTF-8):
 *         <prompt>
 *         Negative prompt: <neg>            (omitted when empty)
 *         Steps: 8, Sampler: Euler, CFG scale: 0, Seed: 42, Size: 1024x768, Model: Z-Image-Turbo
 *     Values with ',', ':', '"' or a newline are JSON-quoted.
 *   - "zimt" (iTXt): the exact settings as JSON, preferred when reading.
 *
 * zt_png_write never leaves a partial file and never replaces an existing
 * one: it writes a temporary file in the target directory, syncs it and
 * links it into place. zt_png_read treats the file as hostile.
 *
 * Thread safety: no shared state; any thread may call.
 */
#ifndef ZT_IMAGE_H
#define ZT_IMAGE_H

#include <stdint.h>

#include "status.h"

/* Largest accepted side and pixel count of a PNG read or written. */
#define ZT_PNG_SIDE_MAX 16384
#define ZT_PNG_PIXELS_MAX (64L * 1024 * 1024)

typedef struct zt_gen_params {
    char *prompt;          /* UTF-8, heap, owned; never NULL after _init */
    char *negative_prompt; /* UTF-8, heap, owned; "" when none */
    int width, height;     /* pixels */
    int steps;
    uint64_t seed;  /* all 64 bits are valid seeds */
    float guidance; /* CFG scale; 0 = no classifier-free guidance */
    char rng[8];    /* noise generator: "cuda" or "cpu" (see rng.h) */
    char sampler[32];
    char model[256]; /* model name as shown to users, e.g. "Z-Image-Turbo" */
} zt_gen_params;

/* Defaults: empty prompts, 1024x1024, 8 steps, seed 0, guidance 0, "cuda",
 * "Euler", "Z-Image-Turbo". Returns ZT_ERR_NOMEM (with p still safe to
 * free) when two empty strings cannot be allocated. */
zt_status zt_gen_params_init(zt_gen_params *p);
/* Frees the strings; p may then be _init'ed again. NULL is fine. */
void zt_gen_params_free(zt_gen_params *p);
/* Replace a prompt with a copy of s (NULL = ""). */
zt_status zt_gen_params_set_prompt(zt_gen_params *p, const char *s, zt_err *err);
zt_status zt_gen_params_set_negative(zt_gen_params *p, const char *s, zt_err *err);
/* dst (initialised) becomes a deep copy of src. */
zt_status zt_gen_params_copy(zt_gen_params *dst, const zt_gen_params *src, zt_err *err);
/* 1 when every field is equal. */
int zt_gen_params_equal(const zt_gen_params *a, const zt_gen_params *b);

/* Settings as one line of JSON into *out (heap; caller frees). */
zt_status zt_gen_params_to_json(const zt_gen_params *p, char **out, zt_err *err);
/* Parse JSON into p (initialised). p is reset to defaults first; missing
 * keys keep them, unknown keys are ignored, wrong types are ZT_ERR_FORMAT.
 * The seed may be a number (up to 2^53) or a decimal string. A string
 * holding \u0000 is ZT_ERR_FORMAT. */
zt_status zt_gen_params_from_json(zt_gen_params *p, const char *json, zt_err *err);
/* The same from a parsed object (cJSON), for readers of files that hold
 * settings among other things. The caller refuses \u0000 in the text
 * (zt_json_has_nul_escape, json.h): the object no longer shows it. */
struct cJSON;
zt_status zt_gen_params_from_object(zt_gen_params *p, const struct cJSON *o, zt_err *err);

/* The A1111 "parameters" text (see the top of this file) into *out. */
zt_status zt_gen_params_to_a1111(const zt_gen_params *p, char **out, zt_err *err);
/* Best-effort parse of A1111 text into p (initialised, reset first): the
 * last line holds "Key: value" pairs when it has a "Steps" key; lines
 * before it up to one starting with "Negative prompt:" are the prompt, the
 * rest the negative prompt. Keys read: Steps, Sampler, CFG scale, Seed,
 * Size, Model, RNG; others are ignored. Without a settings line the whole
 * text is the prompt. Malformed values are ZT_ERR_FORMAT. */
zt_status zt_gen_params_from_a1111(zt_gen_params *p, const char *text, zt_err *err);

/* Write rgb (h rows of w RGB8 pixels, row-major, no padding) to path with
 * p's settings (p may be NULL: no text chunks). Fails with ZT_ERR_EXISTS
 * when path exists, ZT_ERR_UTF8 when a prompt is not valid UTF-8, and
 * ZT_ERR_IO naming the path for any write, sync or link failure, in which
 * case nothing is left behind. The file gets mode 0644. */
zt_status zt_png_write(const char *path, const uint8_t *rgb, int w, int h,
                       const zt_gen_params *p, zt_err *err);

/* Wait for the zt_png_write calls under way in any thread to finish, and
 * keep every later one from making a file (it fails at once with
 * ZT_ERR_CANCELLED). For a process about to leave at once, with other
 * threads still running: no temporary file is left behind and no finished
 * image is cut short. Not undone. */
void zt_png_writes_stop(void);

/* Read any PNG as RGB8 (palette, gray, 16-bit and alpha are converted;
 * alpha is dropped). *rgb is heap (caller frees) with w*h*3 bytes; rgb may
 * be NULL to read only the settings. When p is non-NULL (initialised) it
 * receives the settings from the "zimt" chunk, else from "parameters", and
 * *has_params (may be NULL) says whether either was found; when not, p
 * holds defaults. *has_params has ZT_PNG_PARAMS_FALLBACK set when a "zimt"
 * chunk was there (or a text chunk that may be it) but could not be used
 * and the "parameters" text was taken instead: err->msg then says why (its
 * code stays ZT_OK); and ZT_PNG_PARAMS_NO_SEED when the settings (a
 * "parameters" text or a "zimt" chunk) give no seed (p's is then 0: not
 * the image's). An
 * empty "parameters" text is no settings. Settings that are there but cannot be parsed are
 * ZT_ERR_FORMAT with the reason. Oversized (see ZT_PNG_SIDE_MAX), truncated
 * or corrupt files are ZT_ERR_FORMAT or ZT_ERR_TOO_BIG naming the path. */
zt_status zt_png_read(const char *path, uint8_t **rgb, int *w, int *h, zt_gen_params *p,
                      int *has_params, zt_err *err);
#define ZT_PNG_PARAMS_FALLBACK 2
#define ZT_PNG_PARAMS_NO_SEED 4

#endif
