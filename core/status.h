/*
 * status.h - status codes and error messages for everything in core/.
 *
 * core/ never prints and never exits. A fallible function returns a
 * zt_status and, when given a zt_err, fills it with a message naming the
 * file, tensor or key and the problem. The caller decides what to show.
 */
#ifndef ZT_STATUS_H
#define ZT_STATUS_H

#include <stdarg.h>
#include <stddef.h>

/* One list: the enum and the message table are both generated from it. */
#define ZT_STATUS_LIST(X)                                   \
    X(OK, "ok")                                             \
    X(ERR_IO, "I/O error")                                  \
    X(ERR_FORMAT, "malformed file")                         \
    X(ERR_NOMEM, "out of memory")                           \
    X(ERR_INVALID, "invalid argument")                      \
    X(ERR_MISSING, "missing")                               \
    X(ERR_SHAPE, "wrong shape")                             \
    X(ERR_DTYPE, "wrong dtype")                             \
    X(ERR_UNSUPPORTED, "unsupported")                       \
    X(ERR_UTF8, "invalid UTF-8")                            \
    X(ERR_EXISTS, "already exists")                         \
    X(ERR_CANCELLED, "cancelled")                           \
    X(ERR_DEVICE, "device error")                           \
    X(ERR_TOO_BIG, "does not fit")

typedef enum zt_status {
#define ZT_STATUS_ENUM(name, msg) ZT_##name,
    ZT_STATUS_LIST(ZT_STATUS_ENUM)
#undef ZT_STATUS_ENUM
    ZT_STATUS_COUNT
} zt_status;

/* A status with its message. Caller-owned storage; no heap. */
typedef struct zt_err {
    zt_status code;
    char msg[512];
} zt_err;

/* The fixed text for a code ("malformed file"). */
const char *zt_status_str(zt_status s);

/* Record s with a printf-style message into err (which may be NULL) and
 * return s, so a call site reads `return zt_fail(err, ZT_ERR_IO, "...")`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
zt_status zt_fail(zt_err *err, zt_status s, const char *fmt, ...);
zt_status zt_vfail(zt_err *err, zt_status s, const char *fmt, va_list ap);

/* Prefix an existing message with more context ("text_encoder: ...").
 * Returns err->code (or ZT_ERR_INVALID if err is NULL). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
zt_status zt_err_prefix(zt_err *err, const char *fmt, ...);

/* CLOCK_MONOTONIC in milliseconds: the one clock of timings, event times
 * and timeouts. */
double zt_now_ms(void);

/* A size of memory or of a file for a message, in the unit that keeps
 * its digits ("20.77 GiB", "426.8 MiB", "3.5 KiB", "12 bytes"): a tiny
 * model's figures all read "0.01 GiB" in GiB. Returns buf. */
const char *zt_bytes_text(char *buf, size_t n, unsigned long long bytes);

/* Broken invariants only: never for bad input. */
#define ZT_ASSERT(c) \
    ((c) ? (void)0 : zt_assert_fail(#c, __FILE__, __LINE__))
void zt_assert_fail(const char *expr, const char *file, int line);

#endif
