/* status.c - message table and error helpers (see status.h). */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double zt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *const messages[] = {
#define ZT_STATUS_MSG(name, msg) msg,
    ZT_STATUS_LIST(ZT_STATUS_MSG)
#undef ZT_STATUS_MSG
};

const char *zt_status_str(zt_status s)
{
    if ((unsigned)s >= ZT_STATUS_COUNT)
        return "unknown status";
    return messages[s];
}

zt_status zt_vfail(zt_err *err, zt_status s, const char *fmt, va_list ap)
{
    if (err) {
        err->code = s;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return s;
}

zt_status zt_fail(zt_err *err, zt_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zt_vfail(err, s, fmt, ap);
    va_end(ap);
    return s;
}

zt_status zt_err_prefix(zt_err *err, const char *fmt, ...)
{
    if (!err)
        return ZT_ERR_INVALID;
    char head[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* head, ": ", then as much of the old message as fits */
    size_t n = strlen(head), cap = sizeof err->msg - 1;
    if (n > cap)
        n = cap;
    memcpy(err->msg, head, n);
    size_t m = n + 2 <= cap ? 2 : cap - n;
    memcpy(err->msg + n, ": ", m);
    n += m;
    size_t k = strnlen(old, sizeof old);
    if (k > cap - n)
        k = cap - n;
    memcpy(err->msg + n, old, k);
    err->msg[n + k] = '\0';
    return err->code;
}

/* The one place core/ may write to stderr: a bug, not an input error. */
void zt_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "zimt: internal error: %s (%s:%d)\n", expr, file, line);
    abort();
}

const char *zt_bytes_text(char *buf, size_t n, unsigned long long bytes)
{
    const double b = (double)bytes;
    if (bytes >= 1ull << 30)
        snprintf(buf, n, "%.2f GiB", b / (double)(1ull << 30));
    else if (bytes >= 1ull << 20)
        snprintf(buf, n, "%.1f MiB", b / (double)(1ull << 20));
    else if (bytes >= 1024)
        snprintf(buf, n, "%.1f KiB", b / 1024.0);
    else
        snprintf(buf, n, "%llu bytes", bytes);
    return buf;
}
