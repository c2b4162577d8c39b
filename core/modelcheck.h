/*
 * modelcheck.h - is a model directory complete enough to load?
 *
 * A quick look that reads no weight data: the five JSON files and the
 * tokenizer are present, each component's index names shards that exist as
 * regular files (symlinks followed, as in a Hugging Face snapshot), their
 * sizes add up to at least the index's total_size, and no download is left
 * unfinished (*.incomplete). Discovery runs it on every candidate; `zimt
 * doctor` prints its details. Deeper checks (headers, tensor shapes) belong
 * to safetensors.h and manifest.h.
 *
 * Nothing is written anywhere; results live in caller storage.
 */
#ifndef ZT_MODELCHECK_H
#define ZT_MODELCHECK_H

#include <stdint.h>

#include "config.h"

#define ZT_MODELCHECK_PROBLEMS_MAX 16
#define ZT_MODELCHECK_PARTS 3

typedef struct zt_modelcheck_part {
    const char *name;    /* "text_encoder", "transformer", "vae" (static) */
    int config;          /* config.json present */
    int indexed;         /* weights listed by a *.safetensors.index.json */
    int files_expected;  /* shards the index names, or 1 for a single file */
    int files_present;   /* of those, regular files (after symlinks) */
    uint64_t bytes;      /* sizes of the present files */
    int64_t total_size;  /* index metadata.total_size, -1 when absent */
    int incomplete;      /* *.incomplete files in the component folder */
    int singles;         /* *.safetensors files in the folder (index or not) */
    int ignored;         /* of those, beside the canonical one and no index:
                            variants a load leaves alone (zt_st_canonical_name) */
    char single[256];    /* the file loaded without an index; else, with several
                            and none canonical, the first of them */
    char other[256];     /* one ignored or unchosen file, for messages */
} zt_modelcheck_part;

typedef struct zt_modelcheck {
    int exists;          /* dir is a directory */
    int model_index, scheduler, tokenizer; /* their files present */
    char why[3][64]; /* for each of the three not present: "missing", "not a regular
                        file", or the system's reason */
    zt_modelcheck_part part[ZT_MODELCHECK_PARTS];
    int incomplete;      /* *.incomplete files found anywhere looked at */
    char incomplete_where[ZT_PATH_MAX];   /* one of them, for messages */
    int unfinished;      /* those make the model incomplete (a problem) */
    int n_problems;      /* 0: complete enough to load */
    char problems[ZT_MODELCHECK_PROBLEMS_MAX][384];
} zt_modelcheck;

/* ModelScope's folder for files being downloaded, beside its models: a
 * partial_dir with this component holds nothing but unfinished files. */
#define ZT_MS_TEMP_DIR "._____temp"

/* Check dir. partial_dir, when not NULL, is where the tool that downloaded
 * the model keeps unfinished files (a Hugging Face repo's blobs/ folder,
 * where only *.incomplete ones count, or ModelScope's ZT_MS_TEMP_DIR, where
 * every file does). Files there finish and move into place one
 * by one, so they make the model incomplete only when some file is also
 * missing from dir; then the problem says a download stopped halfway.
 * *.incomplete files inside dir itself (local-dir downloads) always count. */
void zt_modelcheck_run(zt_modelcheck *mc, const char *dir, const char *partial_dir);

/* NULL when path is a regular file after following links (*size, may be
 * NULL, gets its length); else what it is instead, static text: "missing"
 * (a link to nothing too), "not a regular file" (a folder, a device), or
 * the system's reason ("Permission denied" for a folder that may not be
 * searched, "Too many levels of symbolic links"). */
const char *zt_modelcheck_file(const char *path, uint64_t *size);

/* The problem that best explains why dir cannot load, or "" when none. */
const char *zt_modelcheck_reason(const zt_modelcheck *mc);

#endif
