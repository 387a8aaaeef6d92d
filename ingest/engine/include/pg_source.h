/*
 * pg_source — the PostgreSQL side: connections, one snapshot for the whole run, column discovery
 * and the binary COPY streams that feed the decoder.
 *
 * A pg_source holds the run's main connection, inside `BEGIN ISOLATION LEVEL REPEATABLE READ, READ
 * ONLY`: every table of the run is read from that one snapshot. With more than one worker, the
 * snapshot is exported (pg_export_snapshot) and worker connections, opened when a table is first
 * split, join it with SET TRANSACTION SNAPSHOT. A pg_source_scan reads one table: a single COPY, or, for
 * a large table read in full, one COPY per ctid range, each range read by its own connection.
 * pg_source_scan_fill is called from DuckDB's threads (through duck_scan): each thread claims a
 * connection, then claims ranges until none is left, decoding straight into DuckDB chunks.
 */
#ifndef PG_SOURCE_H
#define PG_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "copy_decode.h"
#include "fh_error.h"

#define PG_SOURCE_MAX_WORKERS 16

typedef struct pg_source pg_source;
typedef struct pg_source_scan pg_source_scan;

/* A source table: resolved schema and name, its columns (mapped to DuckDB types). */
typedef struct pg_source_table_desc {
    char schema[CD_NAME_MAX];
    char name[CD_NAME_MAX];
    cd_column *cols;
    size_t ncols;
    uint64_t pages;         /* size in 8 kB blocks when described, to decide on splitting */
    uint64_t rows_estimate; /* pg_class.reltuples (0 when never analyzed) */
} pg_source_table_desc;

/* Copy url into out with any password removed (URI user:password@, password= parameters). */
void pg_source_redact_url(const char *url, char *out, size_t outsz);

/* Replace every occurrence of url's password in text with "***" — for libpq's messages, which can
 * echo a connection string it could not parse. */
void pg_source_scrub(const char *url, char *text, size_t textsz);

/* Connect to url and open the run's snapshot; workers (1..PG_SOURCE_MAX_WORKERS) is how many
 * connections may read one table in parallel. FH_ECONN with a one-line message and hint when the
 * server is unreachable or refuses the credentials (the URL is shown without its password). */
int pg_source_open(const char *url, int workers, pg_source **out, fh_error *err);

/* The same, reading the snapshot `snapshot` exported by another session (a logical replication
 * slot's, CREATE_REPLICATION_SLOT … (SNAPSHOT 'export')) instead of exporting its own: the main
 * connection and every worker run SET TRANSACTION SNAPSHOT. The exporting session must stay open
 * and idle until the workers have joined (fhload stream keeps it so for the whole snapshot). */
int pg_source_open_snapshot(const char *url, int workers, const char *snapshot, pg_source **out,
                            fh_error *err);

/* How many workers the source will actually use (1 when the snapshot could not be exported). */
int pg_source_workers(const pg_source *src);

/* Map a column instead of the default mapping (the registry's column types): set *done when it
 * did, return an error to stop. */
typedef int (*pg_source_column_override)(void *ctx, const char *table, cd_column *col, int *done,
                                         fh_error *err);

/* Discover the columns of `table` ("name" or "schema.name") from the catalog and map their types
 * (through `override` first, when given). A missing table or an unsupported type is FH_ESCHEMA.
 * Free with pg_source_desc_free. */
int pg_source_describe(pg_source *src, const char *table, pg_source_column_override override,
                       void *override_ctx, pg_source_table_desc *out, fh_error *err);
void pg_source_desc_free(pg_source_table_desc *desc);

/* Index of column `name` in desc, or -1. */
int pg_source_column(const pg_source_table_desc *desc, const char *name);

/* What a scan reads: everything, or rows whose cursor column is newer than since_us - lookback. */
typedef struct pg_source_scan_opts {
    int cursor_col;     /* index of the cursor column, or -1 */
    int incremental;    /* filter on the cursor */
    int64_t since_us;   /* watermark (µs since epoch, UTC) when incremental */
    int64_t lookback_s; /* seconds subtracted from since_us */
    int allow_split;    /* may split by ctid ranges across workers */
    int row_hash;       /* chunks carry each row's hash after the columns (copy_decode) */
    const char *where;  /* an extra condition on the rows in PostgreSQL's SQL (a reconciliation's
                         * key range), or NULL; a scan with one is not split */
} pg_source_scan_opts;

int pg_source_scan_new(pg_source *src, const pg_source_table_desc *desc,
                       const pg_source_scan_opts *opts, pg_source_scan **out, fh_error *err);

/* How many DuckDB threads may call pg_source_scan_fill in parallel (= number of ranges). */
size_t pg_source_scan_parts(const pg_source_scan *scan);

/* Fill `chunk` with up to `capacity` rows. *local is the calling thread's state (NULL on its first
 * call; free it with pg_source_scan_local_free). *rows = 0 means this thread has nothing more to read.
 * Thread-safe across distinct *local. */
int pg_source_scan_fill(void *scan, void **local, duckdb_data_chunk chunk, size_t capacity,
                        size_t *rows, fh_error *err);
void pg_source_scan_local_free(void *scan, void *local);

/* Progress and totals (safe to read from another thread while the scan runs). */
uint64_t pg_source_scan_rows(const pg_source_scan *scan);
uint64_t pg_source_scan_bytes(const pg_source_scan *scan);

/* After the scan: FH_OK if every range was read to its trailer, else FH_EINTERNAL. */
int pg_source_scan_check_complete(const pg_source_scan *scan, fh_error *err);

/* Largest cursor value read (µs since epoch); 0 if none. */
int pg_source_scan_cursor_max(const pg_source_scan *scan, int64_t *out);

/* The SQL of range `part` (for tests and messages). */
const char *pg_source_scan_sql(const pg_source_scan *scan, size_t part);

void pg_source_scan_free(pg_source_scan *scan);

void pg_source_close(pg_source *src);

#endif
