/*
 * load_log — the RAW layer's load log, its one shape on both warehouses, and the Snowflake
 * bookkeeping objects fhload prescribes (ingest/engine/README.md, "Who owns what a load means").
 *
 * One table of columns (LOAD_LOG_COLUMNS) is the load log: DuckDB's raw._fh_loads (duck_dest) and
 * Snowflake's RAW.<schema>.FH_LOADS are both created from it, with the same names and the same
 * meaning; only the type spelling and one constraint (finished_at is set when DuckDB writes its row,
 * NULL while a Snowflake load is pending) differ by warehouse.
 */
#ifndef LOAD_LOG_H
#define LOAD_LOG_H

#include <stdio.h>

#include "fh_sql.h"

typedef enum { LOAD_LOG_INT, LOAD_LOG_TEXT, LOAD_LOG_TIME } load_log_type;

/* Where a column is NOT NULL. */
typedef enum { LOAD_LOG_NULL, LOAD_LOG_NOT_NULL, LOAD_LOG_NOT_NULL_DUCKDB } load_log_nulls;

typedef struct {
    const char *name; /* lower case; Snowflake's is the upper-case spelling of the same name */
    load_log_type type;
    load_log_nulls nulls;
    const char *meaning;
} load_log_column;

extern const load_log_column LOAD_LOG_COLUMNS[];
extern const size_t LOAD_LOG_NCOLUMNS;

typedef enum { LOAD_LOG_DUCKDB, LOAD_LOG_SNOWFLAKE } load_log_dialect;

/* CREATE TABLE IF NOT EXISTS <name> (…) of the load log in the warehouse's SQL; <name> is pasted as
 * given (raw._fh_loads, or the placeholder {log} the loader replaces with FH_LOADS' qualified name). */
void load_log_create(fh_sql_buf *out, load_log_dialect d, const char *name);

/* Snowflake's bookkeeping objects, in the order they are created: the load log ({log}), the state
 * view over it ({state}), the lease table ({leases}). Each an allocated statement in out[i]
 * (fh_sql_buf_reset each); returns how many, or 0 when out of memory (all reset). */
#define LOAD_LOG_SF_SETUP_MAX 3
size_t load_log_sf_setup(fh_sql_buf out[LOAD_LOG_SF_SETUP_MAX]);

/* fhload --print-snowflake-setup: {"placeholders": [...], "statements": [...]} on f, one JSON
 * document; FH_OK, or FH_EINTERNAL when out of memory. */
int load_log_print_sf_setup(FILE *f);

#endif
