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

#endif
