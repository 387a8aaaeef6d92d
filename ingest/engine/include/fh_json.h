/*
 * fh_json — just enough JSON output for fhload: escaped strings and timestamp-or-null values, for
 * the --json summaries and the Parquet manifest. Writers take the FILE* they write to; library
 * code writes files it owns, only main passes stdout.
 */
#ifndef FH_JSON_H
#define FH_JSON_H

#include <stdint.h>
#include <stdio.h>

/* Write s as a JSON string literal (quotes included), escaping per RFC 8259. */
void fh_json_string(FILE *f, const char *s);

/* Write an ISO 8601 UTC timestamp string, or null when !has. */
void fh_json_time(FILE *f, int has, int64_t us);

#endif
