/*
 * duck_scan — a DuckDB table function, fh_scan(), that pulls rows from a C producer.
 *
 * The producer (in fhload, a pg_source_scan) fills DuckDB data chunks directly. Wrapping it in a table
 * function instead of an appender lets DuckDB run its parallel insert pipeline:
 *     INSERT INTO raw.t SELECT *, <metadata> FROM fh_scan()
 *     COPY (SELECT ... FROM fh_scan()) TO 'x.parquet'
 * with up to `max_threads` DuckDB threads each calling fill() with their own local state.
 * fh_scan() is registered once per connection with a slot; the caller puts a producer in the slot
 * before running the statement and takes the first error back out of it afterwards (DuckDB only
 * keeps a message; the slot keeps our fh_error with its exit code).
 */
#ifndef DUCK_SCAN_H
#define DUCK_SCAN_H

#include <pthread.h>
#include <stddef.h>

#include "copy_decode.h"
#include "duckdb.h"
#include "fh_error.h"

typedef struct duck_scan_source {
    void *ctx;
    const cd_column *cols; /* output columns: names and types */
    size_t ncols;
    int row_hash;         /* one more output column, _fh_row_hash BIGINT, after cols */
    uint64_t cardinality; /* rows expected, for DuckDB's planner (0: unknown) */
    size_t max_threads;
    /* Fill chunk with up to capacity rows; *local starts NULL per thread. *rows = 0: done. */
    int (*fill)(void *ctx, void **local, duckdb_data_chunk chunk, size_t capacity, size_t *rows,
                fh_error *err);
    void (*local_free)(void *ctx, void *local);
} duck_scan_source;

typedef struct duck_scan_slot {
    duck_scan_source *src; /* set by the caller around one statement */
    pthread_mutex_t mu;
    fh_error err; /* first error raised by fill() during the statement */
} duck_scan_slot;

/* Initialise slot and register fh_scan() on con. The slot must outlive the connection. */
int duck_scan_register(duckdb_connection con, duck_scan_slot *slot, fh_error *err);

/* Arm the slot with a producer before a statement that reads fh_scan(); clears the error. */
void duck_scan_arm(duck_scan_slot *slot, duck_scan_source *src);

/* Disarm after the statement; returns the error code fill() raised (FH_OK if none) and copies the
 * error into err when there was one. */
int duck_scan_disarm(duck_scan_slot *slot, fh_error *err);

void duck_scan_slot_destroy(duck_scan_slot *slot);

#endif
