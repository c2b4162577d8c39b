/*
 * test_ui_term.c - what the workbench learns from the terminal
 * (tui/ui_term.h), asked through a pseudo-terminal whose other end is a
 * thread playing the terminal: it waits for the queries (DA1 last) and
 * answers with a script, in pieces when the case says so, as replies over
 * a slow link arrive.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 600 /* posix_openpt */
#endif
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ui_term.h"

typedef struct fake_term {
    int master;
    const char *reply; /* NULL: never answers */
    int pieces;        /* the reply in this many writes, 30 ms apart */
    char query[256];   /* what the terminal was sent */
} fake_term;

static void *fake_run(void *arg)
{
    fake_term *f = arg;
    size_t n = 0;
    /* read the queries up to DA1's "ESC [ c" */
    while (n < sizeof f->query - 1) {
        struct pollfd p = {f->master, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            break;
        ssize_t k = read(f->master, f->query + n, sizeof f->query - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        f->query[n] = 0;
        if (strstr(f->query, "\033[c"))
            break;
    }
    if (!f->reply)
        return NULL;
    size_t len = strlen(f->reply), at = 0;
    int pieces = f->pieces > 0 ? f->pieces : 1;
    for (int i = 0; i < pieces; i++) {
        size_t end = i == pieces - 1 ? len : len * (size_t)(i + 1) / (size_t)pieces;
        if (write(f->master, f->reply + at, end - at) < 0)
            break;
        at = end;
        struct timespec gap = {0, 30000000};
        nanosleep(&gap, NULL);
    }
    return NULL;
}

/* Run detection on a fresh pty of rows x cols cells (xpix x ypix pixels,
 * 0 when the kernel has none) against reply. */
static zt_ui_term detect(const char *reply, int pieces, int rows, int cols, int xpix, int ypix,
                         int timeout_ms, char *query, size_t qcap)
{
    zt_ui_term t;
    memset(&t, 0, sizeof t);
    fake_term f = {.reply = reply, .pieces = pieces};
    f.master = posix_openpt(O_RDWR | O_NOCTTY);
    if (f.master < 0 || grantpt(f.master) || unlockpt(f.master)) {
        CHECK(0, "no pseudo-terminal");
        return t;
    }
    int slave = open(ptsname(f.master), O_RDWR | O_NOCTTY);
    struct winsize ws = {(unsigned short)rows, (unsigned short)cols, (unsigned short)xpix,
                         (unsigned short)ypix};
    ioctl(slave, TIOCSWINSZ, &ws);
    pthread_t th;
    if (slave < 0 || pthread_create(&th, NULL, fake_run, &f)) {
        CHECK(0, "no terminal thread");
        return t;
    }
    zt_ui_term_detect(&t, slave, timeout_ms);
    pthread_join(th, NULL);
    if (query)
        snprintf(query, qcap, "%s", f.query);
    close(slave);
    close(f.master);
    return t;
}

static void no_hints(void)
{
    unsetenv("TERM_PROGRAM");
    unsetenv("WEZTERM_EXECUTABLE");
    unsetenv("MLTERM");
    setenv("TERM", "xterm-256color", 1);
}

/* The queries go out in one write, DA1 last. */
static void test_queries(void)
{
    char q[256];
    detect("\033[?1;2c", 1, 40, 100, 0, 0, 1000, q, sizeof q);
    CHECK(!strcmp(q, "\033[16t\033[14t\033[c"), "queries sent: %zu bytes", strlen(q));
}

/* A sixel terminal with a cell report: both taken. */
static void test_cell_report(void)
{
    zt_ui_term t = detect("\033[6;17;8t\033[4;680;800t\033[?63;1;2;4;6;9;15;16;22;28c", 1, 40,
                          100, 0, 0, 1000, NULL, 0);
    CHECK(t.answered && t.sixel, "answered %d sixel %d", t.answered, t.sixel);
    CHECK(t.cell_w == 8 && t.cell_h == 17, "cell %dx%d, want 8x17", t.cell_w, t.cell_h);
}

/* Only the text area is reported (700 x 680 px over 100 x 40 cells): the
 * cell is its share, 7 x 17. No 4 among DA1's parameters: no sixel. */
static void test_text_area(void)
{
    zt_ui_term t = detect("\033[4;680;700t\033[?62;1;22c", 1, 40, 100, 0, 0, 1000, NULL, 0);
    CHECK(t.answered && !t.sixel, "answered %d sixel %d", t.answered, t.sixel);
    CHECK(t.cell_w == 7 && t.cell_h == 17, "cell %dx%d, want 7x17", t.cell_w, t.cell_h);
}

/* The kernel's pixel sizes come first (1000 x 800 over 100 x 40: 10 x 20),
 * whatever the replies say. */
static void test_kernel_first(void)
{
    zt_ui_term t = detect("\033[6;17;8t\033[?63;4c", 1, 40, 100, 1000, 800, 1000, NULL, 0);
    CHECK(t.cell_w == 10 && t.cell_h == 20, "cell %dx%d, want 10x20", t.cell_w, t.cell_h);
    CHECK(t.sixel, "sixel lost");
}

/* Replies arriving in five pieces, 30 ms apart (a slow link), are put
 * together before they are read. */
static void test_pieces(void)
{
    zt_ui_term t = detect("\033[6;19;9t\033[4;760;900t\033[?63;1;2;4;6c", 5, 40, 100, 0, 0, 1000,
                          NULL, 0);
    CHECK(t.answered && t.sixel, "answered %d sixel %d", t.answered, t.sixel);
    CHECK(t.cell_w == 9 && t.cell_h == 19, "cell %dx%d, want 9x19", t.cell_w, t.cell_h);
}

/* Nonsense sizes are not cells: 0 x 0 (unknown) rather than a cell of one
 * pixel from a 14 t report of a tiny area, or of 5000 from a huge one. */
static void test_implausible(void)
{
    zt_ui_term t = detect("\033[6;5000;1t\033[4;40;100t\033[?1;2c", 1, 40, 100, 0, 0, 1000, NULL,
                          0);
    CHECK(t.cell_w == 0 && t.cell_h == 0, "cell %dx%d, want unknown", t.cell_w, t.cell_h);
}

/* A terminal that never answers: the wait ends at the timeout, nothing
 * is assumed, and a terminal named by the environment is trusted. */
static void test_silent(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    zt_ui_term t = detect(NULL, 1, 40, 100, 0, 0, 300, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    CHECK(!t.answered && !t.sixel && !t.cell_w, "answered %d sixel %d cell %d", t.answered,
          t.sixel, t.cell_w);
    CHECK(ms >= 250 && ms < 2500, "waited %.0f ms for a 300 ms timeout", ms);
    setenv("TERM", "foot", 1);
    t = detect(NULL, 1, 40, 100, 0, 0, 100, NULL, 0);
    CHECK(!t.answered && t.sixel, "foot without an answer: sixel %d", t.sixel);
    no_hints();
}

int main(void)
{
    no_hints();
    RUN(test_queries);
    RUN(test_cell_report);
    RUN(test_text_area);
    RUN(test_kernel_first);
    RUN(test_pieces);
    RUN(test_implausible);
    RUN(test_silent);
    return zt_test_summary("test_ui_term");
}
