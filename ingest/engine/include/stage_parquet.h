/*
 * stage_parquet — extraction for Snowflake: rows become Parquet files plus a manifest.json, which
 * the Python step uploads (PUT + COPY INTO). The watermark state lives in Snowflake and moves only
 * after Snowflake confirms every file, so here it comes in as an argument (--since) and goes out
 * in the manifest.
 *
 * Layout: DIR/<table>/part-<n>.parquet and DIR/<table>/manifest.json. The files are written into a
 * temporary directory next to it and renamed into place with the manifest already inside, so a
 * reader that sees DIR/<table>/manifest.json sees complete files. A previous DIR/<table> (files
 * fhload wrote) is replaced. Files are cut at about `file_size` bytes (Snowflake recommends
 * 100–250 MB compressed per file for bulk loads; usually one file per table at our scale).
 * Rows carry the same metadata columns as the DuckDB raw layer (_fh_load_id, _fh_loaded_at,
 * _fh_op = 'upsert'). The manifest's "snowflake" object prescribes the load's statements in
 * Snowflake's SQL — the raw table's DDL (from --raw-columns), the load log's row (pending, then its
 * commit) and, for a full load of a keyed table, the delete rows and their count — which the loading
 * step (src/finhouse/ingest/snowflake.py) runs.
 */
#ifndef STAGE_PARQUET_H
#define STAGE_PARQUET_H

#include <stdint.h>

#include "duck_scan.h"
#include "fh_error.h"

typedef struct stage_parquet stage_parquet;

/* Create DIR if needed and an in-memory DuckDB (threads, memory_limit; spills under DIR/.tmp). */
int stage_parquet_open(const char *dir, int threads, const char *memory_limit, stage_parquet **out,
                       fh_error *err);

typedef struct stage_parquet_spec {
    const char *table, *group, *cursor; /* cursor may be "" */
    const cd_column *cols;
    size_t ncols;
    const char *const *key;
    int nkey;
    int full;
    int64_t load_id;
    int64_t lookback_s;
    int has_wm_from;
    int64_t wm_from;
    const char *file_size; /* e.g. "200MB" */
    /* --raw-columns: a CSV of the Snowflake raw tables' columns as INFORMATION_SCHEMA.COLUMNS reports
     * them (table_name, column_name, data_type, numeric_precision, numeric_scale), which the loader
     * reads under the table's lease. Given, the manifest prescribes the raw table's DDL ("schema":
     * CREATE TABLE, ADD COLUMN, a widening) or the load is refused (FH_ESCHEMA, naming table and
     * column) before any file is written; NULL: the manifest prescribes no schema. */
    const char *raw_columns;
    duck_scan_source *src;
    int (*scan_done)(void *ctx, int *has, int64_t *max, fh_error *err);
    void *scan_ctx;
} stage_parquet_spec;

typedef struct stage_parquet_result {
    uint64_t rows, bytes;
    size_t nfiles;
    int has_wm_to;
    int64_t wm_to;
} stage_parquet_result;

int stage_parquet_write(stage_parquet *sp, const stage_parquet_spec *spec,
                        stage_parquet_result *res, fh_error *err);

void stage_parquet_close(stage_parquet *sp);

/* The Snowflake type of a source column (its DDL: "NUMBER(12,2)", "VARCHAR", "TIMESTAMP_TZ", …) into
 * buf; 0 (buf "") when Snowflake has none (an interval): stage_parquet_write then refuses the table
 * with FH_ESCHEMA before writing anything. The one place the mapping lives: the manifest carries it
 * per column ("snowflake_type") and the loading step (src/finhouse/ingest/snowflake.py) reads it there. */
int stage_parquet_snowflake_type(const cd_column *col, char *buf, size_t bufsz);

/* What a load does to a Snowflake raw column reported as `have_type` (INFORMATION_SCHEMA's DATA_TYPE,
 * NUMERIC_PRECISION and NUMERIC_SCALE, has_p/has_s 0 when NULL) for a source column now of type
 * `want_ddl` (as stage_parquet_snowflake_type gives it): leave it (the same type, or a narrower NUMBER
 * of the same scale), widen it (a NUMBER whose precision grew), or refuse the load. */
enum { STAGE_PARQUET_SF_SAME, STAGE_PARQUET_SF_WIDEN, STAGE_PARQUET_SF_REFUSE };
int stage_parquet_sf_change(const char *have_type, int has_p, int64_t p, int has_s, int64_t s,
                            const char *want_ddl);

#endif
