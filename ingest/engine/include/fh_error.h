/*
 * fh_error — the error value every fhload module returns.
 *
 * Library code never prints and never exits: a function that can fail returns an int status
 * (FH_OK, or one of the FH_E* codes below) and fills a caller-owned fh_error with a one-line,
 * human-readable message that says what went wrong and where (table, column, row, byte offset)
 * and, when we know it, how to fix it. Only main() prints the message and turns the code into
 * the process exit status, so the codes double as fhload's documented exit codes.
 */
#ifndef FH_ERROR_H
#define FH_ERROR_H

#include <stddef.h>

enum {
    FH_OK = 0,        /* success */
    FH_EINTERNAL = 1, /* a bug or an unexpected library failure */
    FH_EUSAGE = 2,    /* bad option, malformed registry, unknown table or group */
    FH_ECONN = 3,     /* cannot connect / authenticate to the source or the warehouse */
    FH_ESCHEMA = 4,   /* unsupported or incompatible column type */
    FH_EDATA = 5,     /* a value does not fit, or the COPY stream is malformed */
    /* fhload stream (change data capture): each says what to do in its one line */
    FH_EWAL = 6,  /* the source's wal_level is not logical (or no replication slots/senders) */
    FH_ESLOT = 7, /* the slot is missing while the warehouse holds progress for it: --resync */
    FH_EBUSY = 8, /* the slot is in use by another process */
    FH_EPERM = 9  /* the role may not replicate, publish or read a captured table */
};

#define FH_ERROR_MAX 1024

typedef struct fh_error {
    int code;               /* FH_OK when no error was recorded */
    char msg[FH_ERROR_MAX]; /* one line, no trailing newline */
} fh_error;

/* Reset err to "no error". */
void fh_error_clear(fh_error *err);

/* Record an error: sets err->code and formats the message (truncated to fit, newlines and tabs
 * flattened to spaces so that the message stays one line). Returns code, so library code can
 * write `return fh_error_set(err, FH_EDATA, "...", ...);`. err may be NULL. */
int fh_error_set(fh_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context to an existing message ("table loans: " + old message). Keeps the code. */
int fh_error_prefix(fh_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short name for a code: "ok", "internal", "usage", "connection", "schema", "data". */
const char *fh_error_kind(int code);

#endif
