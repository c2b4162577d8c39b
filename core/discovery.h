/*
 * discovery.h - find the model wherever the standard download tools put it.
 *
 * Places, in order:
 *   1. the directory given on the command line (--model DIR): when given it
 *      is the answer, complete or not, so the loader names what is wrong;
 *   2. $ZIMT_MODEL;
 *   3. the Hugging Face cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
 *      $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; in it
 *      models--Tongyi-MAI--Z-Image-Turbo/snapshots/<rev>, the revision named
 *      by refs/main first, then the others, newest first;
 *   4. the ModelScope cache ($MODELSCOPE_CACHE, else ~/.cache/modelscope/hub):
 *      Tongyi-MAI/Z-Image-Turbo and models/Tongyi-MAI/Z-Image-Turbo.
 * The first candidate that zt_modelcheck_run finds complete wins; every
 * place looked at is recorded with what was found there, for `zimt doctor`
 * and for the message when nothing is found. Nothing is ever written.
 *
 * The environment is read through a callback so tests can supply their own;
 * NULL means getenv.
 */
#ifndef ZT_DISCOVERY_H
#define ZT_DISCOVERY_H

#include <stddef.h>

#include "config.h"
#include "status.h"

#define ZT_DISCOVERY_PLACES_MAX 24
#define ZT_DISCOVERY_WARNINGS_MAX 4

#define ZT_HF_REPO_DIR "models--Tongyi-MAI--Z-Image-Turbo"
#define ZT_MS_REPO_DIR "Tongyi-MAI/Z-Image-Turbo"

typedef enum zt_place_state {
    ZT_PLACE_ABSENT,      /* nothing there */
    ZT_PLACE_INCOMPLETE,  /* a model, but something is missing: see detail */
    ZT_PLACE_COMPLETE,    /* complete enough to load */
    ZT_PLACE_CHOSEN,      /* complete, and the one used */
} zt_place_state;

typedef struct zt_discovery_place {
    char source[96];      /* how the place was found: "--model", "$ZIMT_MODEL",
                             "Hugging Face cache ($HF_HOME/hub), refs/main", ... */
    char path[ZT_PATH_MAX];
    zt_place_state state;
    char detail[384];     /* the reason it cannot be used, or a note */
    char partial[ZT_PATH_MAX]; /* where its unfinished downloads land when not
                                  inside it (a cache's blobs), or "" */
} zt_discovery_place;

typedef struct zt_discovery_report {
    int n_places;
    zt_discovery_place places[ZT_DISCOVERY_PLACES_MAX];
    int n_omitted;        /* places looked at past the list's end, not listed
                             (the first complete one still takes the last row) */
    int n_warnings;
    char warnings[ZT_DISCOVERY_WARNINGS_MAX][512];
    int chosen;           /* index into places, -1 when nothing was found */
    int explicit_dir;     /* the answer came from the command line */
} zt_discovery_report;

typedef const char *(*zt_getenv_fn)(void *ud, const char *name);

/* Look everywhere. On success out holds the model directory (the snapshot
 * folder itself, so symlinked blobs resolve through it). explicit_dir may be
 * NULL; when given it is the only place looked at, and one that is not a
 * directory fails as zt_model_dir_check says (rep then lists no place).
 * Fails with ZT_ERR_MISSING when no place holds a complete model; the
 * message then names each place and why it was passed over. rep may be NULL. */
zt_status zt_discover_model(const char *explicit_dir, char *out, size_t n,
                            zt_discovery_report *rep, zt_err *err);
/* The same with the environment taken from env(ud, name). */
zt_status zt_discover_model_env(const char *explicit_dir, zt_getenv_fn env, void *ud, char *out,
                                size_t n, zt_discovery_report *rep, zt_err *err);

/* A model directory named by the user (--model): ZT_OK when dir is a
 * directory; otherwise why not, naming it ("model directory X does not
 * exist", "... is not a directory", "the model directory is an empty
 * path"). Whether it holds a model is for the load or zimt doctor.
 * zt_discover_model applies it to explicit_dir; commands that take the
 * directory as it is (info, tokenize, bench) call it themselves. */
zt_status zt_model_dir_check(const char *dir, zt_err *err);

/* The directory of the running executable (a build tree, or PREFIX/bin)
 * into buf; 0 on success, -1 when it cannot be told or does not fit. The
 * bundled tiny model and the themes are looked for beside it and in
 * ../share/zimt from it. */
int zt_exe_dir(char *buf, size_t n);

/* "absent", "incomplete", "complete", "chosen". */
const char *zt_place_state_str(zt_place_state s);

#endif
