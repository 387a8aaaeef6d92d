/*
 * duck_dest — the DuckDB warehouse: the RAW layer and the load state, written in one transaction.
 *
 * Raw contract: schema `raw`, one table per source table with the same name, the source columns
 * (DuckDB types from copy_decode) plus _fh_load_id BIGINT, _fh_loaded_at TIMESTAMPTZ and _fh_op
 * VARCHAR ('upsert' for rows read from the source, 'delete' for keys a full load no longer finds;
 * streamed rows say 'insert', 'update', 'delete': readers treat every op but 'delete' as a live
 * version), and _fh_commit_lsn, _fh_commit_ts, _fh_superseded (cdc_dest.h; NULL for batch rows):
 * raw's current view ignores rows with _fh_superseded IS TRUE.
 * Append-only: fhload never updates or deletes raw rows. Every row also carries _fh_row_hash (the
 * source row's hash, fh_hash.h). raw._fh_current_<t> holds the live keys (with load id and row hash)
 * as of the load raw._fh_state.current_as_of names; raw's current view is that table overridden by
 * the rows loaded since. Full loads and reconciliations rebuild it. Load state lives next to the data:
 *   raw._fh_loads  one row per committed load (load_id, table_name, mode, started_at, finished_at,
 *                  rows_loaded, rows_deleted, files, watermark_from, watermark_to, status: the
 *                  load log's one shape, Snowflake's FH_LOADS too; an older warehouse's log is
 *                  renamed into it when duck_dest_open opens it)
 *   raw._fh_state  one row per table (table_name PK, watermark, last_load_id, updated_at,
 *                  current_as_of)
 * duck_dest_load runs the whole load of a table — schema evolution, rows, deletes, state — inside
 * one DuckDB transaction, so a crash at any point leaves either all of it or none of it.
 */
#ifndef DUCK_DEST_H
#define DUCK_DEST_H

#include <stdint.h>

#include "duck_scan.h"
#include "fh_error.h"
#include "fh_sql.h"

typedef struct duck_dest duck_dest;

/* Open (creating it and its parent directory if needed) the warehouse file at path, with DuckDB
 * limited to `threads` threads and `memory_limit` (e.g. "128MB"); create the raw schema and state
 * tables. `disabled_compression` (NULL or "" for none) lists DuckDB compression methods to skip, e.g.
 * "fsst,dictionary": a faster load into a bigger file. A locked or unreadable file is FH_ECONN. */
int duck_dest_open(const char *path, int threads, const char *memory_limit,
                   const char *disabled_compression, duck_dest **out, fh_error *err);

/* Cut the statements over a table's keys into passes of at most keys_per_pass keys (> 0), instead of
 * the size the memory limit gives: for tests, or for keys wider than BIGINTs. */
void duck_dest_set_keys_per_pass(duck_dest *d, int64_t keys_per_pass);

/* Print every statement on stderr before running it, to see where a load spends its time. */
void duck_dest_set_trace(duck_dest *d, int on);

typedef struct duck_dest_state {
    int found; /* the table has committed state */
    int has_watermark;
    int64_t watermark_us; /* µs since epoch, UTC */
    int64_t last_load_id;
} duck_dest_state;

int duck_dest_read_state(duck_dest *d, const char *table, duck_dest_state *out, fh_error *err);

typedef struct duck_dest_spec {
    const char *table; /* raw table name (the source relation's name) */
    const cd_column *cols;
    size_t ncols;
    const char *const *key; /* primary key columns, for delete detection */
    int nkey;
    int full;           /* full load: record deletes of keys no longer present */
    int max_delete_pct; /* refuse to record deletes of more than this share of the live keys */
    int has_wm_from;
    int64_t wm_from;
    duck_scan_source *src; /* the rows */
    /* Called after the rows are in (same transaction): check the producer finished and give the
     * largest cursor value it read (*has = 0 if none). */
    int (*scan_done)(void *ctx, int *has, int64_t *max, fh_error *err);
    void *scan_ctx;
    /* Reconciliation (duck_dest_reconcile) reads the source in key ranges instead of src: open
     * the rows satisfying `where` (PostgreSQL SQL; NULL for every row) as a producer that also
     * gives row hashes, and close it after the statement (ok = the statement succeeded: check the
     * producer read everything). */
    int (*open_range)(void *ctx, const char *where, duck_scan_source **src, fh_error *err);
    int (*close_range)(void *ctx, int ok, fh_error *err);
    void *range_ctx;
    const uint64_t *compared; /* source rows the closed ranges held, for the delete guard */
} duck_dest_spec;

typedef struct duck_dest_result {
    int64_t load_id;
    uint64_t rows, deleted;
    int has_wm_to;
    int64_t wm_to;
} duck_dest_result;

/* Load one table (see the file comment). Schema errors (incompatible type change) are FH_ESCHEMA;
 * producer errors keep their code. On any error nothing is committed. */
int duck_dest_load(duck_dest *d, const duck_dest_spec *spec, duck_dest_result *res, fh_error *err);

/* Compare the source with raw's current view (key by key, row hash by row hash, in key ranges of
 * bounded size) and append only what differs: upserts of rows raw lacks or holds in another
 * version, deletes of keys the source no longer has. Logged as a load of mode 'reconcile'; the
 * watermark does not move. The table must have a key and have been loaded before. */
int duck_dest_reconcile(duck_dest *d, const duck_dest_spec *spec, duck_dest_result *res,
                        fh_error *err);

/* ---- for cdc_dest: the streaming side of the same RAW contract, inside its own transaction ---- */

/* Run sql on the warehouse (res NULL: discard; else the caller destroys it). */
int duck_dest_query(duck_dest *d, const char *sql, duckdb_result *res, fh_error *err);

/* Schema evolution of raw.<table> as a load does it (create it, add new columns, widen, or
 * FH_ESCHEMA naming table and column). Call inside a transaction. */
int duck_dest_ensure_table(duck_dest *d, const char *table, const cd_column *cols, size_t ncols,
                           fh_error *err);

/* Append to b "since AS (…), live AS (…)": raw's current view of raw.<table> as of the loads before
 * `upto` — columns: the key columns, _fh_load_id, _fh_row_hash — in one pass (creating the current
 * keys table if missing; call inside a transaction, after duck_dest_ensure_table). */
int duck_dest_live_cte(duck_dest *d, const char *table, const cd_column *cols, size_t ncols,
                       const char *const *key, int nkey, int64_t upto, fh_sql_buf *b,
                       fh_error *err);

/* The DuckDB connection (for tests). */
duckdb_connection duck_dest_connection(duck_dest *d);

void duck_dest_close(duck_dest *d);

#endif
