/*
 * cli — fhload's command line: options and environment into cli_options, the --help text, and
 * the formats of what fhload writes (progress line, summary table, --json objects). Functions
 * write to the FILE* main gives them; nothing here exits.
 */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>
#include <stdio.h>

#include "fh_error.h"
#include "registry.h"

#define CLI_VERSION "0.1.0"
#define CLI_MAX_GROUPS 16
#define CLI_DEFAULT_SOURCE "postgresql://postgres@127.0.0.1:5432/microfinance"
#define CLI_DEFAULT_WAREHOUSE ".finhouse/warehouse/finhouse.duckdb"
#define CLI_DEFAULT_REGISTRY "ingest/registry.tsv"
#define CLI_DEFAULT_MAX_DELETE_PCT "50"
/* fhload stream: the replication slot and publication, and when a group commit is due */
#define CLI_DEFAULT_STREAM_SLOT "finhouse"
#define CLI_DEFAULT_STREAM_PUBLICATION "finhouse"
#define CLI_DEFAULT_STREAM_COMMIT_INTERVAL_MS "200"
#define CLI_DEFAULT_STREAM_COMMIT_ROWS "100000"
/* DuckDB's buffer pool. fhload's peak RSS is about this plus 130MB (DuckDB's code, its checkpoint,
 * libpq): 100MB keeps every load of a 10M-row table under 256 MiB (bench/ingest/README.md). */
#define CLI_DEFAULT_MEMORY_LIMIT "100MB"

typedef struct cli_options {
    const char *source, *warehouse, *registry, *parquet;
    const char *groups[CLI_MAX_GROUPS];
    int ngroups;
    char **tables; /* positional TABLE arguments (point into argv) */
    int ntables;
    int full, json, quiet, help, version;
    int print_registry;      /* --print-registry: print the parsed registry as JSON, load nothing */
    int print_sf_setup;      /* --print-snowflake-setup: Snowflake's bookkeeping DDL as JSON */
    int reconcile;           /* --reconcile: compare with the source and load only what differs */
    int64_t load_id;         /* --load-id: with --parquet, the id the warehouse's sequence gave */
    const char *raw_columns; /* --raw-columns: with --parquet, Snowflake's raw columns (CSV) */
    int max_delete_pct;      /* --max-delete-percent / FINHOUSE_MAX_DELETE_PERCENT (0..100) */
    int64_t lookback_s;
    int workers;
    int has_since;
    int64_t since_us;
    const char *memory_limit;         /* FINHOUSE_DUCKDB_MEMORY_LIMIT */
    const char *disabled_compression; /* FINHOUSE_DUCKDB_DISABLED_COMPRESSION, "" = none */
    const char *parquet_file_size;    /* FINHOUSE_PARQUET_FILE_SIZE */
    int64_t keys_per_pass;            /* FINHOUSE_KEYS_PER_PASS, 0 = from the memory limit */
    int trace_sql;                    /* FHLOAD_TRACE_SQL set and not empty */

    /* fhload stream (the first argument is "stream") */
    int stream;
    const char *slot;        /* --slot / FINHOUSE_STREAM_SLOT */
    const char *publication; /* --publication / FINHOUSE_STREAM_PUBLICATION */
    int resync, setup, status, drop_slot;
    int64_t commit_interval_ms; /* --commit-interval / FINHOUSE_STREAM_COMMIT_INTERVAL_MS */
    int64_t commit_rows;        /* --commit-rows / FINHOUSE_STREAM_COMMIT_ROWS */
    int has_stop_lsn;
    uint64_t stop_lsn;   /* --stop-at-lsn */
    int64_t max_seconds; /* --max-seconds, 0 = no limit */
} cli_options;

/* Parse argv (and FINHOUSE_* variables from the environment). FH_EUSAGE with a one-line message
 * on a bad option or value. */
int cli_parse(int argc, char **argv, cli_options *o, fh_error *err);

/* Free what cli_parse allocated (safe after a failed parse). */
void cli_free(cli_options *o);

/* The --help text. */
void cli_help(FILE *f);

/* What fhload reports about one table. */
typedef struct cli_result {
    const char *table, *group, *mode;
    uint64_t rows, deleted, bytes;
    double seconds;
    int64_t load_id;
    int has_wm_from, has_wm_to;
    int64_t wm_from, wm_to;
    int code;            /* FH_OK, or the error's code */
    const char *message; /* the error, when code != FH_OK */
    size_t files;        /* Parquet files, in --parquet mode */
    int has_reconciled;  /* a reconciliation: rows/deleted are what it repaired */
    uint64_t compared;   /* source rows it compared */
} cli_result;

/* One JSON object on one line. */
void cli_print_json(FILE *f, const cli_result *r);

/* The live progress line (carriage return, no newline unless final). */
void cli_print_progress(FILE *f, const char *table, uint64_t rows, double seconds, int final);

/* The summary table after a run. */
void cli_print_summary(FILE *f, const cli_result *rs, size_t n);

/* --print-registry: the parsed, validated registry as one JSON document, for the platform's Python
 * (src/finhouse/registry.py), which reads the registry only through it:
 *   {"registry": PATH, "groups": [the entity groups, canonical order],
 *    "tables": [{"name", "group", "key": [..], "cursor": name or null, "mode": "incremental"|"full",
 *                "types": [{"column", "type": "VARCHAR"|"DECIMAL(p,s)"}], "line"}, ...]}
 * tables in file order. */
void cli_print_registry(FILE *f, const char *path, const registry *reg);

#endif
