/*
 * tokenizer.h - byte-level BPE tokenizer read from a Hugging Face
 * tokenizer.json (the Qwen2/Qwen3 family that Z-Image uses).
 *
 * What it does, in HF tokenizers order:
 *   1. added_tokens are found as literal strings first (leftmost, longest
 *      at a position), honouring their lstrip / rstrip / single_word flags;
 *   2. the text between them is NFC-normalised (utf8proc);
 *   3. the Split pre-tokenizer regex (PCRE2, behaviour Isolated) cuts it
 *      into words, matches and gaps alike;
 *   4. every byte of a word becomes its ByteLevel character;
 *   5. BPE merges the lowest-ranked adjacent pair first (leftmost on ties)
 *      until no ranked pair is left.
 * Decoding maps the ByteLevel characters back to bytes.
 *
 * What it does not: dropout, other models than BPE, normalizers other than
 * NFC, pre-tokenizers other than Split / ByteLevel. Those files are
 * rejected at load with ZT_ERR_UNSUPPORTED rather than tokenised wrongly.
 *
 * Input text must be valid UTF-8 (no surrogates, no overlongs); anything
 * else is ZT_ERR_UTF8 with the byte offset in the message. Text is (ptr,len),
 * so an embedded NUL is just U+0000.
 *
 * Threads: a zt_tokenizer is immutable after zt_tokenizer_new returns, and
 * every other function may be called on it from several threads at once.
 */
#ifndef ZT_TOKENIZER_H
#define ZT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* The text encoder sees at most this many ids per prompt. */
#define ZT_TOKENIZER_MAX_IDS 512

typedef struct zt_tokenizer zt_tokenizer;

/* Load path (a model's tokenizer.json). *out is NULL on failure. The
 * special tokens of the chat template ("<|im_start|>", "<|im_end|>") must
 * be among its added_tokens, else ZT_ERR_FORMAT naming the missing one:
 * without them the template would be tokenized as plain text. */
zt_status zt_tokenizer_new(zt_tokenizer **out, const char *path, zt_err *err);
/* The same from a JSON text in memory (tests, fuzzing), without the check
 * for the chat template's tokens (zt_tokenizer_encode_chat makes it); what
 * names it in messages. json needs no NUL terminator. */
zt_status zt_tokenizer_new_from_json(zt_tokenizer **out, const char *json, size_t len,
                                     const char *what, zt_err *err);
/* NULL is fine. */
void zt_tokenizer_free(zt_tokenizer *tok);
/* Whether path reads whole, as a model load reads it (for checks that keep
 * no tokenizer; the chat template's tokens included), and when vocab > 0
 * whether its ids fit it (as zt_tokenizer_vocab_check); *n_ids (may be
 * NULL) gets its id count. */
zt_status zt_tokenizer_check(const char *path, int vocab, int32_t *n_ids, zt_err *err);
/* ZT_OK when a tokenizer of n_ids ids (its largest id + 1) names only rows
 * of a text encoder's embedding of vocab rows; else ZT_ERR_FORMAT naming
 * path: such a tokenizer belongs to another model, and every prompt
 * with one of those ids would fail in the encoder. */
zt_status zt_tokenizer_vocab_check(int32_t n_ids, int vocab, const char *path, zt_err *err);

/* Tokenise text[0..len). On success *ids is a malloc'd array of *n_ids ids
 * (NULL when there are none) that the caller frees with free(). */
zt_status zt_tokenizer_encode(const zt_tokenizer *tok, const char *text, size_t len,
                              int32_t **ids, size_t *n_ids, zt_err *err);

/* The Z-Image prompt: "<|im_start|>user\n" + prompt +
 * "<|im_end|>\n<|im_start|>assistant\n", tokenised as one string and cut to
 * the first ZT_TOKENIZER_MAX_IDS ids (the cut may drop the template's
 * tail, as the reference does). ids has room for ZT_TOKENIZER_MAX_IDS.
 * ZT_ERR_FORMAT when tok lacks one of the template's special tokens. */
zt_status zt_tokenizer_encode_chat(const zt_tokenizer *tok, const char *prompt, size_t len,
                                   int32_t *ids, int *n_ids, zt_err *err);
/* Whether encode_chat's n_ids ids of prompt were cut: the templated text
 * as a whole encodes to more than ZT_TOKENIZER_MAX_IDS ids (not the
 * prompt's ids plus the template's, which BPE may merge at the seams). */
int zt_tokenizer_chat_cut(const zt_tokenizer *tok, const char *prompt, size_t len, int n_ids);

/* Ids back to bytes: ByteLevel characters become their bytes, added tokens
 * their content (skipped when skip_special and the token is special). The
 * result is not guaranteed to be valid UTF-8 (a cut may split a character);
 * *text is malloc'd, NUL-terminated, *len bytes without the NUL; caller
 * frees. An id out of range is ZT_ERR_INVALID. */
zt_status zt_tokenizer_decode(const zt_tokenizer *tok, const int32_t *ids, size_t n_ids,
                              int skip_special, char **text, size_t *len, zt_err *err);

/* The vocabulary string of id as stored in the file (ByteLevel form, e.g.
 * "\xC4\xA0red" for " red"), or NULL when id is unknown. Points into tok,
 * lives as long as tok; *len (may be NULL) gets its length. */
const char *zt_tokenizer_token_str(const zt_tokenizer *tok, int32_t id, size_t *len);

/* Number of ids: one more than the largest id known. */
int32_t zt_tokenizer_vocab_size(const zt_tokenizer *tok);

/* The id of a vocabulary or added-token string, or -1. */
int32_t zt_tokenizer_token_id(const zt_tokenizer *tok, const char *str, size_t len);

/* 1 when s[0..len) is valid UTF-8 (shortest forms, no surrogates, at most
 * U+10FFFF). Otherwise 0, and *bad_offset (may be NULL) is the offset of the
 * first byte of the first bad sequence. */
int zt_utf8_validate(const char *s, size_t len, size_t *bad_offset);

#endif
