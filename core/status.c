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

/* Room for a message before it is fitted into a zt_err: two paths of
 * PATH_MAX and their words. */
#define MSG_ROOM 8448

/* s (n bytes) into dst [cap] (NUL-terminated): whole when it fits, else
 * its head, " … " and its tail, each cut where a UTF-8 character starts.
 * A message names its file first and says what is wrong last, so a long
 * path loses its middle and the reason stays. */
static void fit_middle(char *dst, size_t cap, const char *s, size_t n)
{
    if (n < cap) {
        memcpy(dst, s, n);
        dst[n] = '\0';
        return;
    }
    static const char mark[] = " \xe2\x80\xa6 "; /* " … " */
    const size_t m = sizeof mark - 1, room = cap - 1 - m;
    size_t head = room / 3, tail = n - (room - head);
    while (head > 0 && ((unsigned char)s[head] & 0xC0) == 0x80)
        head--; /* s[head] starts a character: the head ends before it */
    while (tail < n && ((unsigned char)s[tail] & 0xC0) == 0x80)
        tail++;
    memcpy(dst, s, head);
    memcpy(dst + head, mark, m);
    memcpy(dst + head + m, s + tail, n - tail);
    dst[head + m + n - tail] = '\0';
}

zt_status zt_vfail(zt_err *err, zt_status s, const char *fmt, va_list ap)
{
    if (err) {
        char text[MSG_ROOM];
        int n = vsnprintf(text, sizeof text, fmt, ap);
        size_t len = n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
        err->code = s;
        fit_middle(err->msg, sizeof err->msg, text, len);
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
    char text[MSG_ROOM];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text - sizeof err->msg - 2, fmt, ap);
    va_end(ap);
    /* head, ": ", then the old message; fitted as a whole */
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > sizeof text - sizeof err->msg - 3)
        len = sizeof text - sizeof err->msg - 3;
    memcpy(text + len, ": ", 2);
    len += 2;
    size_t k = strnlen(err->msg, sizeof err->msg - 1);
    memcpy(text + len, err->msg, k);
    len += k;
    fit_middle(err->msg, sizeof err->msg, text, len);
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
