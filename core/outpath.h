/*
 * outpath.h - where generated images may land.
 *
 * Output names are made from a template, for example the default
 * "{date}-{seed}-{slug}.png". Fields:
 *   {date}  local time of the batch, YYYYMMDD-HHMMSS
 *   {seed}  the job's seed
 *   {slug}  the prompt made safe for a file name (see zt_outpath_slug)
 *   {n}     the job's number in the batch, from 1
 *   {w} {h} the image size
 *   {{ }}   literal braces
 * A name, from a template or from a jobs file, is a path relative to an
 * output directory, and it must stay there: absolute names and ".."
 * components are refused, the directory it lands in must be the output
 * directory or below it after every symbolic link is resolved, and nothing
 * that already exists under that name (a file, a dangling link) is ever
 * replaced. Control characters are refused in names so that no file name
 * can carry a terminal escape sequence.
 *
 * The check happens before the model loads; the PNG writer then links the
 * file into place, which also fails rather than replace anything that
 * appeared in between.
 *
 * Thread safety: no shared state (localtime_r); any thread may call.
 */
#ifndef ZT_OUTPATH_H
#define ZT_OUTPATH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "status.h"

#define ZT_OUTPATH_TEMPLATE "{date}-{seed}-{slug}.png"
/* Longest slug, in bytes, without the NUL. */
#define ZT_OUTPATH_SLUG_MAX 48

typedef struct zt_outpath_vars {
    const char *prompt; /* UTF-8; NULL is "" */
    uint64_t seed;
    int index;          /* 1-based job number */
    int width, height;
    time_t when;        /* for {date} */
} zt_outpath_vars;

/* The prompt as ASCII letters, digits and single '-' between words, at most
 * ZT_OUTPATH_SLUG_MAX bytes, cut at a word boundary when one is near, never
 * starting or ending with '-'; "image" when nothing is left. out needs
 * ZT_OUTPATH_SLUG_MAX + 1 bytes. */
void zt_outpath_slug(const char *prompt, char out[ZT_OUTPATH_SLUG_MAX + 1]);

/* Expand tmpl into out (cap bytes). Unknown fields, unbalanced braces and
 * results that do not fit are ZT_ERR_INVALID. The result is not yet
 * checked: pass it to zt_outpath_resolve. */
zt_status zt_outpath_expand(const char *tmpl, const zt_outpath_vars *v, char *out, size_t cap,
                            zt_err *err);

/* Check that name (relative) lands inside dir and write dir/name to out.
 * Refused: empty, absolute or ".." names, control characters, a missing
 * target directory, one outside dir after symlinks, and an existing entry
 * (ZT_ERR_EXISTS). With unique set, an existing entry is instead avoided
 * by numbering: "a.png", "a-2.png", "a-3.png", ... */
zt_status zt_outpath_resolve(const char *dir, const char *name, int unique, char *out,
                             size_t cap, zt_err *err);
/* The same with unique set, where a path for which taken(path, ud) returns
 * non-zero also counts as taken: a batch's earlier jobs reserve their names
 * before any file exists. k (may be NULL) holds the number to try first (1:
 * the name itself; a batch whose jobs expand to one name starts past the
 * last one's, rather than trying every number below it again) and
 * receives the one taken. */
zt_status zt_outpath_resolve_unique(const char *dir, const char *name,
                                    int (*taken)(const char *path, void *ud), void *ud, int *k,
                                    char *out, size_t cap, zt_err *err);
/* "a.png" -> "a-K.png" into dst (cap bytes); a name without an extension,
 * or one that starts with its only dot (".png"), gets "-K" at its end.
 * Returns 0 when the result does not fit. */
int zt_outpath_numbered(char *dst, size_t cap, const char *name, int k);

/* Make directory dir and its missing parents (0755, as mkdir -p; "a/b/"
 * and "/x//y" are fine). made (cap bytes; may be NULL) receives the
 * outermost directory this call created, "" when dir existed, so that
 * zt_outpath_unmake_dir can take a run's new directories back when its
 * checks fail. On failure errno is that of the step that failed (ENOTDIR
 * for a file in the way) and whatever this call made is removed again.
 * A dir with a "." or ".." component after the first directory made is
 * made but never taken back (made is then ""): past a new directory such a
 * path may lead into older ones. */
zt_status zt_outpath_make_dir(const char *dir, char *made, size_t cap, zt_err *err);
/* Remove, deepest first, the empty directories from dir up to made (as
 * zt_outpath_make_dir gave it); nothing when made is "". */
void zt_outpath_unmake_dir(const char *dir, const char *made);
/* Make the directories a name inside dir needs ("cats/a.png" needs
 * dir/cats), once the name passes zt_outpath_resolve's rules and the
 * deepest of them that exists is dir or below it after every link is
 * resolved; nothing is made anywhere else. made is as for
 * zt_outpath_make_dir (for the directory dir/cats); a name without a
 * directory makes nothing. */
zt_status zt_outpath_make_subdir(const char *dir, const char *name, char *made, size_t cap,
                                 zt_err *err);

#endif
