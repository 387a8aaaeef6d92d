/*
 * fh_sql — quoting names and values into the SQL fhload builds for DuckDB.
 *
 * fhload builds its DuckDB statements as text, once per table (never per row). Every name that
 * comes from outside (tables and columns from the registry and the source's catalog) goes in as a
 * quoted identifier, and every value (paths, sizes, names compared as strings) as a quoted literal,
 * through these two functions — never by pasting the text between quotes.
 */
#ifndef FH_SQL_H
#define FH_SQL_H

#include <stddef.h>

/* "name" with embedded double quotes doubled, into out; NULL (and out = "") if it does not fit. */
const char *fh_sql_ident(const char *name, char *out, size_t outsz);

/* 'text' with embedded single quotes doubled, into out; NULL (and out = "") if it does not fit. */
const char *fh_sql_literal(const char *text, char *out, size_t outsz);

/* A growable statement, built once per table (never per row). An allocation failure is remembered
 * (oom) and later additions do nothing: the caller checks once, when the statement is complete. */
typedef struct fh_sql_buf {
    char *s;
    size_t n, cap;
    int oom;
} fh_sql_buf;

/* Append printf-style text. */
void fh_sql_buf_add(fh_sql_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Free the text and make the buffer empty again, ready for the next statement. */
void fh_sql_buf_reset(fh_sql_buf *b);

#endif
