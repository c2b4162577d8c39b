/* json.c - see json.h. */
#include "json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* set by watched_malloc when malloc fails, read after each parse */
static _Thread_local int alloc_failed;

static void *watched_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        alloc_failed = 1;
    return p;
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void set_hooks(void)
{
    cJSON_Hooks h = {watched_malloc, free};
    cJSON_InitHooks(&h);
}

cJSON *zt_json_parse(const char *text, size_t len, const char **end, int *nomem)
{
    pthread_once(&hooks_once, set_hooks);
    alloc_failed = 0;
    const char *stop = NULL;
    cJSON *r = cJSON_ParseWithLengthOpts(text, len, &stop, 0);
    *nomem = !r && alloc_failed;
    if (end)
        *end = stop;
    return r;
}

/* The C locale's numbers, made once; (locale_t)0 where it cannot be made,
 * and then the process's own locale is used. */
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;
static locale_t c_numeric;

static void make_c_numeric(void)
{
    c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* This thread's locale switched to the C locale's numbers; returns what to
 * give leave_c (0: nothing changed). */
static locale_t enter_c(void)
{
    pthread_once(&c_numeric_once, make_c_numeric);
    return c_numeric ? uselocale(c_numeric) : (locale_t)0;
}

static void leave_c(locale_t old)
{
    int e = errno;
    if (old)
        uselocale(old);
    errno = e;
}

float zt_strtof_c(const char *s, char **end)
{
    locale_t old = enter_c();
    float v = strtof(s, end);
    leave_c(old);
    return v;
}

double zt_strtod_c(const char *s, char **end)
{
    locale_t old = enter_c();
    double v = strtod(s, end);
    leave_c(old);
    return v;
}

const char *zt_float_text(char *buf, size_t n, float v)
{
    /* whole digits are not cut to an exponent: 100, not 1e+02 */
    double a = fabs((double)v);
    int whole = 1;
    for (; a >= 10 && a < 1e16; a /= 10)
        whole++;
    locale_t old = enter_c();
    for (int prec = 1; prec <= 9; prec++) { /* 9 digits always read back */
        snprintf(buf, n, "%.*g", prec < whole ? whole : prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    leave_c(old);
    return buf;
}

const char *zt_double_text(char *buf, size_t n, double v)
{
    locale_t old = enter_c();
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    leave_c(old);
    return buf;
}

cJSON *zt_json_parse_object(const char *text, char *why, size_t why_len, int *nomem)
{
    const char *end = NULL;
    size_t n = strlen(text);
    cJSON *root = zt_json_parse(text, n, &end, nomem);
    if (cJSON_IsObject(root))
        return root;
    if (*nomem)
        snprintf(why, why_len, "out of memory");
    else if (!text[strspn(text, " \t\r\n")])
        snprintf(why, why_len, "empty");
    else if (!root && end) /* cut short, or damaged: where it broke */
        snprintf(why, why_len, "not valid JSON (it breaks at byte %zu of %zu)",
                 (size_t)(end - text), n);
    else
        snprintf(why, why_len, "not a JSON object");
    cJSON_Delete(root);
    return NULL;
}

/* cJSON keeps no string lengths, so the text is read here, escape by
 * escape: "\\u0000" (a backslash, then u0000) is ordinary text. */
int zt_json_nul_escape(const char *s, size_t len)
{
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            in_str = !in_str;
        } else if (in_str && s[i] == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && len - i >= 6 && !memcmp(s + i + 2, "0000", 4))
                return 1;
            i++; /* the escaped character; \uXXXX's digits are plain text */
        }
    }
    return 0;
}

int zt_json_has_nul_escape(const char *s)
{
    return zt_json_nul_escape(s, strlen(s));
}

const char *zt_json_dup_key(const cJSON *o)
{
    for (const cJSON *v = o ? o->child : NULL; v; v = v->next)
        for (const cJSON *u = o->child; u != v; u = u->next)
            if (u->string && v->string && !strcmp(u->string, v->string))
                return v->string;
    return NULL;
}
