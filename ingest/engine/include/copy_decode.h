/*
 * copy_decode — PostgreSQL binary COPY stream → DuckDB data chunks, exactly.
 *
 * The decoder is fed the bytes of a `COPY ... TO STDOUT (FORMAT binary)` stream in pieces of any
 * size (PostgreSQL sends one row per CopyData message, with the file header glued to the first
 * one, but the decoder does not rely on that) and writes each row straight into the vectors of a
 * caller-provided duckdb_data_chunk: no text round trip, no allocation per row or per value.
 *
 * Every PostgreSQL type fhload accepts maps to one DuckDB type (see copy_decode_map_type and the
 * README's table). numeric becomes DECIMAL(p,s) through integer arithmetic only: a value that
 * does not fit the target precision and scale, NaN and ±Infinity are errors naming the table,
 * the column and the row — never a rounding. The stream comes from outside the process, so the
 * header, the field counts, every length and the trailer are validated; garbage yields an error,
 * never a crash (there is a libFuzzer target for this module).
 */
#ifndef COPY_DECODE_H
#define COPY_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "duckdb.h"
#include "fh_error.h"

/* PostgreSQL type OIDs fhload decodes (from pg_type.dat; stable across versions). */
enum {
    CD_OID_BOOL = 16,
    CD_OID_BYTEA = 17,
    CD_OID_NAME = 19,
    CD_OID_INT8 = 20,
    CD_OID_INT2 = 21,
    CD_OID_INT4 = 23,
    CD_OID_TEXT = 25,
    CD_OID_JSON = 114,
    CD_OID_FLOAT4 = 700,
    CD_OID_FLOAT8 = 701,
    CD_OID_BPCHAR = 1042,
    CD_OID_VARCHAR = 1043,
    CD_OID_DATE = 1082,
    CD_OID_TIME = 1083,
    CD_OID_TIMESTAMP = 1114,
    CD_OID_TIMESTAMPTZ = 1184,
    CD_OID_INTERVAL = 1186,
    CD_OID_NUMERIC = 1700,
    CD_OID_UUID = 2950,
    CD_OID_JSONB = 3802
};

/* How a column is decoded (the DuckDB type follows from it). */
typedef enum {
    CD_INT2,
    CD_INT4,
    CD_INT8,
    CD_FLOAT4,
    CD_FLOAT8,
    CD_NUMERIC,
    CD_TEXT,
    CD_BOOL,
    CD_DATE,
    CD_TIME,
    CD_TIMESTAMP,
    CD_TIMESTAMPTZ,
    CD_INTERVAL,
    CD_UUID,
    CD_JSON,
    CD_JSONB,
    CD_BYTEA,
    CD_NUMERIC_TEXT /* numeric kept as its exact decimal text (VARCHAR), by the registry's choice */
} cd_kind;

/* numeric without a declared precision becomes DECIMAL(38, CD_NUMERIC_DEFAULT_SCALE). */
#define CD_NUMERIC_DEFAULT_SCALE 10

#define CD_NAME_MAX 64

/* One source column. Fill name, type_oid, typmod and pg_type (format_type(), for messages);
 * copy_decode_map_type fills kind, width and scale. */
typedef struct cd_column {
    char name[CD_NAME_MAX];
    char pg_type[CD_NAME_MAX];
    uint32_t type_oid;
    int32_t typmod;
    cd_kind kind;
    uint8_t width; /* DECIMAL precision (1..38) */
    uint8_t scale; /* DECIMAL scale (0..width) */
} cd_column;

/* Map col->type_oid/typmod to a decoder kind (and DECIMAL width/scale). An unsupported type, or a
 * numeric wider than DECIMAL(38), is FH_ESCHEMA naming table, column and type. */
int copy_decode_map_type(const char *table, cd_column *col, fh_error *err);

/* Give a numeric column the warehouse type the registry names instead of the default mapping:
 * its exact decimal text (as_text: VARCHAR, as PostgreSQL prints it, NaN and ±Infinity included)
 * or DECIMAL(width, scale) (1 <= width <= 38, 0 <= scale <= width; values that do not fit are
 * still errors, never rounded). FH_ESCHEMA if the column is not numeric. */
int copy_decode_override(const char *table, cd_column *col, int as_text, int width, int scale,
                         fh_error *err);

/* The DuckDB SQL type of a mapped column, e.g. "DECIMAL(12,2)", as duckdb_columns() spells it. */
void copy_decode_type_sql(const cd_column *col, char *buf, size_t bufsz);

/* The DuckDB logical type of a mapped column; destroy it with duckdb_destroy_logical_type. */
duckdb_logical_type copy_decode_logical_type(const cd_column *col);

typedef enum {
    CD_NEED_INPUT = 0, /* every byte given was consumed (or kept); feed more */
    CD_CHUNK_FULL = 1, /* the chunk is full: emit it, bind a new one, feed the rest */
    CD_END = 2         /* the trailer was read: the stream is complete */
} cd_status;

typedef struct copy_decoder copy_decoder;

/* Create a decoder for rows of ncols columns (already mapped). `table` names the table in messages.
 * cursor_col is the index of a DATE/TIMESTAMP/TIMESTAMPTZ column whose maximum to track, or -1.
 * The decoder keeps its own copy of the column descriptions. */
int copy_decode_new(const char *table, const cd_column *cols, size_t ncols, int cursor_col,
                    copy_decoder **out, fh_error *err);

/* Also write each row's hash (fh_hash.h) into a BIGINT column that follows the source columns in
 * every chunk bound from now on (the chunk then has ncols + 1 columns). Call before binding. */
int copy_decode_enable_row_hash(copy_decoder *d, fh_error *err);

/* Start a new stream (header expected next); row counters and cursor maximum restart. */
void copy_decode_reset(copy_decoder *d);

/* Give the decoder an empty chunk whose column types are copy_decode_logical_type of the columns,
 * in order (then one BIGINT when row hashes are enabled). Rows are written from index 0 up to `capacity` (normally duckdb_vector_size()). */
void copy_decode_bind_chunk(copy_decoder *d, duckdb_data_chunk chunk, size_t capacity);

/* Rows written into the bound chunk so far; also sets the chunk's size to that number. */
size_t copy_decode_finish_chunk(copy_decoder *d);

/* Feed len bytes. *used is how many were consumed: everything unless *st is CD_CHUNK_FULL or
 * CD_END, in which case call again with buf + *used after handling the status (a trailing
 * partial row is copied into an internal buffer, so the caller may free buf after the call).
 * Errors: FH_EDATA with table, column, row and byte offset. */
int copy_decode_feed(copy_decoder *d, const char *buf, size_t len, size_t *used, cd_status *st,
                     fh_error *err);

/* Call when the stream has no more bytes: FH_EDATA unless the trailer was read. */
int copy_decode_finish(copy_decoder *d, fh_error *err);

/* Rows decoded since the last reset, and stream bytes consumed. */
uint64_t copy_decode_rows(const copy_decoder *d);
uint64_t copy_decode_bytes(const copy_decoder *d);

/* The largest finite cursor value seen since reset, in microseconds since 1970-01-01 UTC (a DATE
 * counts as its midnight). Returns 0 when none was seen, 1 when *out was set. */
int copy_decode_cursor_max(const copy_decoder *d, int64_t *out);

/* Values one at a time, for changes that do not come as a COPY stream (pgoutput's binary 'b'
 * values are the same send format as binary COPY fields). Write column c of row `row` (< capacity)
 * of the bound chunk from len bytes at p, decoded exactly as copy_decode_feed decodes a field
 * (FH_EDATA naming table, column and row); or NULL. Give every column of a row, in any order, then
 * copy_decode_put_row_done: it writes the row's hash (of the values given, when enabled), counts
 * the row and sets the bound chunk's row count to at least row + 1. A row's hash is accumulated
 * across its puts, so rows are put one after another, not interleaved. */
int copy_decode_put(copy_decoder *d, size_t row, size_t c, const unsigned char *p, uint32_t len,
                    fh_error *err);
void copy_decode_put_null(copy_decoder *d, size_t row, size_t c);
void copy_decode_put_row_done(copy_decoder *d, size_t row);

void copy_decode_free(copy_decoder *d);

#endif
