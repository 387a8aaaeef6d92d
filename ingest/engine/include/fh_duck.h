/*
 * fh_duck — one DuckDB database and connection with fh_scan() registered on it: what the two
 * modules that write through DuckDB (duck_dest, the warehouse; stage_parquet, the Parquet files for
 * Snowflake) share, written once.
 *
 *     fh_duck h;
 *     duckdb_config cfg = fh_duck_config(threads, "128MB", NULL);
 *     if (fh_duck_open(&h, path, "warehouse w.duckdb", &cfg, &err) != FH_OK) ...
 *     fh_duck_query(&h, "CREATE ...", NULL, &err);
 *     fh_duck_scan(&h, src, "INSERT INTO raw.t SELECT * FROM fh_scan()", &changed, &err);
 *     fh_duck_close(&h);
 *
 * Every failure is an error value whose message starts with what the handle is ("warehouse PATH: …",
 * "parquet staging in DIR: …"); an out-of-memory error says which setting to raise.
 */
#ifndef FH_DUCK_H
#define FH_DUCK_H

#include <stdint.h>

#include "duck_scan.h"
#include "duckdb.h"
#include "fh_error.h"

typedef struct fh_duck {
    duckdb_database db;
    duckdb_connection con;
    duck_scan_slot slot;
    int db_open, con_open, slot_ready;
    int trace;       /* every statement on stderr first (FHLOAD_TRACE_SQL) */
    char what[1100]; /* how messages name it */
} fh_duck;

/* fhload's DuckDB settings: `threads` (at least 1), `memory_limit` (e.g. "128MB"), insertion order
 * not preserved (the loads never rely on it, and keeping it costs memory); then `extra`, pairs of
 * setting name and value ending with a NULL name (NULL: none; a NULL or "" value is skipped). */
duckdb_config fh_duck_config(int threads, const char *memory_limit, const char *const *extra);

/* Open the database at `path` (NULL: in memory) with *cfg, which is destroyed here; connect; register
 * fh_scan(). `what` names it in messages. A file that cannot be opened is FH_ECONN with DuckDB's reason
 * ("cannot open WHAT: …"); an in-memory database that cannot start is FH_EINTERNAL. On failure h holds
 * nothing to close. */
int fh_duck_open(fh_duck *h, const char *path, const char *what, duckdb_config *cfg, fh_error *err);

/* Run sql; res NULL: discard the result, else the caller destroys it (only on success). */
int fh_duck_query(fh_duck *h, const char *sql, duckdb_result *res, fh_error *err);

/* The first value of the first row as an integer (0 when there is no row or it is NULL). */
int fh_duck_scalar_i64(fh_duck *h, const char *sql, int64_t *out, fh_error *err);

/* Run a statement that reads fh_scan() with src as its producer (arm, run, disarm). The producer's
 * error, if it raised one, wins over DuckDB's: it says what went wrong in the source. `changed`
 * (may be NULL) gets the rows the statement changed or, for a COPY, wrote. */
int fh_duck_scan(fh_duck *h, duck_scan_source *src, const char *sql, uint64_t *changed,
                 fh_error *err);

/* Disconnect and close; safe on a handle fh_duck_open failed to open. */
void fh_duck_close(fh_duck *h);

#endif
