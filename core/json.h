/*
 * json.h - cJSON parsing that tells a lack of memory from bad text.
 *
 * cJSON returns NULL both for text that is not JSON and for an allocation
 * that failed, so a model file read under a tight memory limit was called
 * malformed. Parsing here watches cJSON's allocations (its hooks, set once
 * for the process: plain malloc and free, with a per-thread note of a
 * failure) and says which it was.
 */
#ifndef ZT_JSON_H
#define ZT_JSON_H

#include <stddef.h>

#include <cJSON.h>

/* cJSON_ParseWithLengthOpts(text, len, end, 0). On NULL, *nomem is 1 when
 * an allocation failed (then *end means nothing), else 0 and *end (when
 * given) points where the text went wrong. */
cJSON *zt_json_parse(const char *text, size_t len, const char **end, int *nomem);

/* Whether JSON text (len bytes) holds the escape \u0000 inside a string:
 * cJSON would end that string at the NUL without a word, so readers of
 * prompts, paths and names refuse it. The second form reads to a NUL. */
int zt_json_nul_escape(const char *text, size_t len);
int zt_json_has_nul_escape(const char *text);

/* The first key that object o gives twice (cJSON keeps both, and a lookup
 * takes the first without a word), or NULL. */
const char *zt_json_dup_key(const cJSON *o);

/* text parsed as a JSON object (zt_json_parse); NULL with why saying what
 * it is instead: out of memory (then *nomem is 1), empty, not valid JSON
 * with where it breaks, or not an object. */
cJSON *zt_json_parse_object(const char *text, char *why, size_t why_len, int *nomem);

/* The shortest "%g" text that reads back as v (buf, which it returns),
 * whole numbers below 1e16 in full: 7.3f is "7.3", where printing the
 * double it widens to gives 7.3000001907348633; 1e-06, not
 * 9.99999997e-07; 1000, not 1e+03. Finite v only (JSON has no inf or
 * nan). */
const char *zt_float_text(char *buf, size_t n, float v);
/* The same for a double (up to 17 digits). */
const char *zt_double_text(char *buf, size_t n, double v);

/* strtof and strtod with '.' as the decimal point whatever LC_NUMERIC the
 * program set: numbers in files and on command lines must not depend on
 * the user's locale (under de_DE, strtof stops at the '.' of "3.5" and
 * printf writes "3,5", which is no JSON number). The two text functions
 * above write '.' likewise. errno as strtof and strtod leave it. */
float zt_strtof_c(const char *s, char **end);
double zt_strtod_c(const char *s, char **end);

#endif
