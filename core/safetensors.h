/*
 * safetensors.h - read-only access to a model component's weights.
 *
 * A component directory (text_encoder/, transformer/, vae/) holds either one
 * *.safetensors file or shards listed by a *.safetensors.index.json. Files are
 * mmapped; tensors are views into the mappings, valid until zt_weights_free.
 * Every file is untrusted: the header length, JSON, dtypes, shapes, offsets
 * (inside the data area, non-overlapping) and byte lengths are validated with
 * overflow-checked arithmetic before anything is handed out.
 */
#ifndef ZT_SAFETENSORS_H
#define ZT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

typedef struct zt_st_entry {
    char *name;          /* canonical name (prefix stripped, see open) */
    zt_tensor t;         /* data points into the file mapping */
    size_t nbytes;
    int file;            /* index into the component's file list */
} zt_st_entry;

typedef struct zt_weights zt_weights;

/* Whether name is a weight file name that diffusers and transformers load
 * from a component folder without an index when no variant is asked for:
 * "diffusion_pytorch_model.safetensors" (transformer, VAE) or
 * "model.safetensors" (text encoder). Beside one of them, other
 * *.safetensors files (variants such as "*.fp16.safetensors") are
 * ignored; without one, several files and no index are refused. */
int zt_st_canonical_name(const char *name);

/* The file a load of the component in dir reads first: its index file, else
 * its single *.safetensors file (or the canonical one among several). On
 * success *index or *single (malloc'd file name, not path; caller frees) is
 * set, the other NULL. */
zt_status zt_st_scan_dir(const char *dir, char **index, char **single, zt_err *err);

/* Open every safetensors file of the component in dir (the index's shards,
 * else its single *.safetensors file, else its one canonical file beside
 * others, see zt_st_canonical_name). strip_prefix (e.g.
 * "model." for the text encoder, or NULL) is removed from names that start
 * with it, so both spellings give the same canonical names. With an index,
 * every shard it names must exist and every tensor it maps must be found in
 * the shard it names. */
zt_status zt_weights_open(zt_weights **out, const char *dir, const char *strip_prefix,
                          zt_err *err);
void zt_weights_free(zt_weights *w);

int zt_weights_count(const zt_weights *w);
const zt_st_entry *zt_weights_at(const zt_weights *w, int i);
const zt_st_entry *zt_weights_find(const zt_weights *w, const char *name);
/* File path of entry->file (for messages). */
const char *zt_weights_file(const zt_weights *w, int file);
int zt_weights_file_count(const zt_weights *w);
/* The component directory given to open (for messages). */
const char *zt_weights_dir(const zt_weights *w);
/* Total bytes of tensor data; index metadata.total_size or -1 when absent. */
uint64_t zt_weights_total_bytes(const zt_weights *w);
int64_t zt_weights_index_total_size(const zt_weights *w);

/* Which file's mapping holds the byte at p: its index, or -1 when none. */
int zt_weights_file_of(const zt_weights *w, const void *p);
/* Give back the resident pages of [p, p + n) once their bytes have been
 * copied elsewhere (only whole pages inside the range; later reads fault
 * them in again from the file), so streaming a large model through the
 * mapping keeps the resident set small. */
void zt_weights_drop_pages(const zt_weights *w, const void *p, size_t n);

/* Look up name and check its shape (ndim dims). On success *out is the view.
 * Errors name the component file, the tensor and expected vs found shape. */
zt_status zt_weights_get(const zt_weights *w, const char *name, int ndim,
                         const int64_t *shape, zt_tensor *out, zt_err *err);

/* Parse one safetensors file already in memory (used by open and by fuzzing).
 * On success *entries (malloc'd array of *count, names malloc'd) point into buf.
 * what names the file in messages. */
zt_status zt_st_parse(const uint8_t *buf, size_t len, const char *what,
                      zt_st_entry **entries, int *count, zt_err *err);
void zt_st_entries_free(zt_st_entry *entries, int count);

/* A sharded component's *.safetensors.index.json, parsed but not opened:
 * every weight_map value is checked to be a plain file name in the same
 * directory (no '/', '\\' or ".."). Strings are malloc'd and owned. */
typedef struct zt_st_index {
    char **shards;      /* distinct shard file names, in order of first mention */
    int n_shards;
    char **names;       /* weight_map keys, tensor names as written */
    int *shard_of;      /* names[i] lives in shards[shard_of[i]] */
    int n_names;
    int64_t total_size; /* metadata.total_size, or -1 when absent */
} zt_st_index;
/* Parse json[0..len) (no NUL needed); what names it in messages. On
 * failure *ix is empty and safe to free. */
zt_status zt_st_index_parse(zt_st_index *ix, const char *json, size_t len, const char *what,
                            zt_err *err);
void zt_st_index_free(zt_st_index *ix); /* NULL is fine; *ix is emptied */

/* A single standalone safetensors file (fixtures, tests): mmap + parse. */
typedef struct zt_st_file zt_st_file;
zt_status zt_st_file_open(zt_st_file **out, const char *path, zt_err *err);
void zt_st_file_close(zt_st_file *f);
const zt_st_entry *zt_st_file_find(const zt_st_file *f, const char *name);
int zt_st_file_count(const zt_st_file *f);
const zt_st_entry *zt_st_file_at(const zt_st_file *f, int i);

#endif
