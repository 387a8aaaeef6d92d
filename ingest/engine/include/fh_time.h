/*
 * fh_time — instants as microseconds since 1970-01-01 UTC: the one representation fhload uses for
 * cursors and watermarks, whatever the column type (timestamptz, timestamp read as UTC, date at
 * midnight), plus its text forms.
 */
#ifndef FH_TIME_H
#define FH_TIME_H

#include <stddef.h>
#include <stdint.h>

#define FH_TIME_TEXT 40

/* The current time, microseconds since the epoch. */
int64_t fh_time_now_us(void);

/* Seconds of a monotonic clock, for rates and durations. */
double fh_time_mono(void);

/* "2024-07-11 11:50:45.123456+00" (SQL literal form, accepted by PostgreSQL and DuckDB). */
void fh_time_format_sql(int64_t us, char *buf, size_t bufsz);

/* "2024-07-11T11:50:45.123456Z" (ISO 8601, for JSON). */
void fh_time_format_iso(int64_t us, char *buf, size_t bufsz);

/* Parse "YYYY-MM-DD", "YYYY-MM-DD[T| ]HH:MM[:SS[.ffffff]]" with an optional "Z" or "±HH[:MM]"
 * offset (none means UTC). Returns 0 and sets *us, or -1 if the text is not such a timestamp. */
int fh_time_parse(const char *s, int64_t *us);

#endif
