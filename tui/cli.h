/*
 * cli.h - the zimt subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit code. Messages go
 * to stderr prefixed "zimt: "; results go to stdout.
 */
#ifndef ZT_CLI_H
#define ZT_CLI_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "image.h"
#include "status.h"

int zt_cmd_info(int argc, char **argv);
int zt_cmd_tokenize(int argc, char **argv);
int zt_cmd_gen(int argc, char **argv);
int zt_cmd_doctor(int argc, char **argv);
int zt_cmd_synth(int argc, char **argv);
int zt_cmd_bench(int argc, char **argv);
/* The terminal workbench (ui_app.c): zimt ui, or zimt alone on a tty. */
int zt_cmd_ui(int argc, char **argv);

/* fflush(stdout) for a command that writes results as it goes: the
 * first failure's errno is kept for the report when the command ends
 * (later writes to a failed stream leave errno unset). */
void zt_cli_flush(void);

/* Messages and reports quote what files and other programs wrote (tensor
 * names, dtypes, paths, prompts). These print them with terminal controls
 * and bytes that are not UTF-8 shown escaped (^[, <9B>, U+FFFD; '\n'
 * stays), so a model's file cannot retitle, clear or recolour the
 * terminal it is checked in. Each returns the formatted length;
 * zt_cli_printf is zt_cli_fprintf to stdout. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int zt_cli_fprintf(FILE *f, const char *fmt, ...);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
int zt_cli_vprintf(FILE *f, const char *fmt, va_list ap);
#define zt_cli_printf(...) zt_cli_fprintf(stdout, __VA_ARGS__)

/* Print "zimt: <msg>" (or the status text) to stderr, as zt_cli_printf
 * does; returns 1. */
int zt_cli_error(const zt_err *err);
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
int zt_cli_fail(const char *fmt, ...);
#if defined(__GNUC__)
__attribute__((format(printf, 1, 0)))
#endif
int zt_cli_vfail(const char *fmt, va_list ap);

/* An image made but not written (a full disk, its directory gone) is not
 * lost: a copy of rgb ([h, w, 3]) with p's settings goes to
 * zt_cli_keep_dir() ($TMPDIR, else /tmp) as zimt-unsaved-SEED.png,
 * numbered past names taken. kept receives its path, or "" with why
 * saying what stopped the copy too. */
const char *zt_cli_keep_dir(void);
/* ZT_OK when zt_cli_keep_dir() is a directory zimt may write in; else why,
 * naming it as $TMPDIR (a quit prompt says so before promising a copy). */
zt_status zt_cli_keep_dir_check(zt_err *why);
void zt_cli_keep_unsaved(const uint8_t *rgb, int w, int h, const zt_gen_params *p, char *kept,
                         size_t cap, zt_err *why);

/* Catch SIGINT, SIGTERM and SIGHUP (with SA_RESTART, so that writes to
 * slow pipes go on; poll() wakes all the same; SIGHUP not when zimt started
 * with it ignored, as under nohup) and ignore
 * SIGPIPE: afterwards zt_cli_stop holds the last such signal
 * number, 0 while none came, and zt_cli_stops counts them (a second one
 * asks to stop at once rather than at the end of the running step). */
extern volatile sig_atomic_t zt_cli_stop, zt_cli_stops;
void zt_cli_catch_stop(void);

/* The bundled tiny model, used when no model is named. */
#define ZT_DEFAULT_MODEL "tests/data/tiny-zimage"
#define ZT_BUNDLED_TOKENIZER ZT_DEFAULT_MODEL "/tokenizer/tokenizer.json"

/* The bundled tiny model's folder, found from the working directory,
 * beside the binary (a build tree), or installed in share/zimt/tiny-zimage/.
 * buf receives its path; NULL when none is found. */
const char *zt_cli_bundled_model(char *buf, size_t n);
/* The Qwen3 tokenizer for synthetic weights: the bundled tiny model's (the
 * real model's tokenizer), found the same way. buf receives the path of its
 * tokenizer.json (the folder holds the rest); NULL when none is found. */
const char *zt_cli_bundled_tokenizer(char *buf, size_t n);
/* --model DIR or --model=DIR at argv[*i], for cmd's own parsing: 1 with
 * *dir set (*i moved past a separate value); -1, said on stderr as cmd's,
 * when the directory is missing; 0 for any other argument. */
int zt_cli_model_arg(const char *cmd, int argc, char **argv, int *i, const char **dir);
/* The model a command runs into out: named (--model; one that is not a
 * directory is an error), else the first complete one that model discovery
 * finds, else the bundled tiny model, with a line on stderr that says so
 * unless quiet, and *bundled (may be NULL) set. Fails, saying where it
 * looked, when there is none. */
zt_status zt_cli_model(const char *named, char *out, size_t n, int quiet, int *bundled,
                       zt_err *err);

#endif
