/* json.c - see json.h. */
#include "json.h"

#include <pthread.h>
#include <stdlib.h>

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
