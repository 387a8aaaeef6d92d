/*
 * copy_decode — PostgreSQL binary COPY → DuckDB vectors (interface and contract in copy_decode.h).
 *
 * How it works. The stream is: an 11-byte signature "PGCOPY\n\377\r\n\0", an int32 flags word, an
 * int32 header-extension length and that many bytes; then tuples, each an int16 field count
 * followed by, per field, an int32 length (-1 for NULL) and the value in the type's binary send
 * format; then the trailer, a field count of -1. All integers are big-endian.
 *
 * copy_decode_feed parses as many complete tuples as the bytes allow. Before decoding a tuple it
 * walks the field lengths to make sure the whole tuple is present, so a row is either written
 * completely into the chunk or not at all; when a buffer ends in the middle of a tuple, the tail is
 * copied into a carry buffer and joined with the next piece (PostgreSQL sends whole rows, so in
 * practice the carry only ever holds a short header). The carry buffer is the only allocation
 * after creation and grows to at most the longest row.
 *
 * Values are written into the chunk's vectors by type: fixed-width values into the data array,
 * strings through duckdb_vector_assign_string_element_len (DuckDB copies them into the vector's
 * own string heap), NULLs by clearing the validity bit. numeric is converted to a scaled integer
 * digit by digit (base 10000) with exact checks against the target precision; timestamps and dates
 * are moved from PostgreSQL's 2000-01-01 epoch to DuckDB's 1970-01-01 with overflow checks.
 */
#include "copy_decode.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_hash.h"

typedef unsigned __int128 u128;
typedef __int128 i128;

#define HEADER_LEN 19
#define HEADER_EXT_MAX (1 << 20)
/* 2000-01-01 - 1970-01-01 */
#define PG_EPOCH_DAYS 10957
#define PG_EPOCH_USECS INT64_C(946684800000000)

enum { ST_HEADER = 0, ST_TUPLES = 1, ST_END = 2 };

typedef struct {
    void *data;
    uint64_t *validity; /* NULL until the first NULL of the current chunk */
    duckdb_vector vec;
} out_col;

struct copy_decoder {
    char table[160];
    cd_column *cols;
    size_t ncols;
    int cursor_col;
    int state;
    u128 p10[39];

    duckdb_data_chunk chunk;
    size_t capacity, nrows;
    out_col *out;
    uint64_t *seeds;   /* per column, when row hashes are on (else NULL) */
    int64_t *hash_out; /* the row-hash vector of the bound chunk */

    char *carry;
    size_t carry_len, carry_off, carry_cap;

    char *text; /* numeric as text: grows to the longest value, reused */
    size_t text_cap;

    uint64_t rows;     /* rows decoded since reset */
    uint64_t consumed; /* stream bytes consumed since reset (complete header/tuples) */
    int64_t cursor_max;
    int has_cursor;
    uint64_t put_hash; /* the row hash of the row being put (copy_decode_put) */
};

static const uint32_t P10_32[10] = {1,      10,      100,      1000,      10000,
                                    100000, 1000000, 10000000, 100000000, 1000000000};

/* ---- type mapping ------------------------------------------------------------------------- */

int copy_decode_map_type(const char *table, cd_column *col, fh_error *err)
{
    col->width = col->scale = 0;
    switch (col->type_oid) {
    case CD_OID_INT2: col->kind = CD_INT2; return FH_OK;
    case CD_OID_INT4: col->kind = CD_INT4; return FH_OK;
    case CD_OID_INT8: col->kind = CD_INT8; return FH_OK;
    case CD_OID_FLOAT4: col->kind = CD_FLOAT4; return FH_OK;
    case CD_OID_FLOAT8: col->kind = CD_FLOAT8; return FH_OK;
    case CD_OID_TEXT:
    case CD_OID_VARCHAR:
    case CD_OID_BPCHAR:
    case CD_OID_NAME: col->kind = CD_TEXT; return FH_OK;
    case CD_OID_BOOL: col->kind = CD_BOOL; return FH_OK;
    case CD_OID_DATE: col->kind = CD_DATE; return FH_OK;
    case CD_OID_TIME: col->kind = CD_TIME; return FH_OK;
    case CD_OID_TIMESTAMP: col->kind = CD_TIMESTAMP; return FH_OK;
    case CD_OID_TIMESTAMPTZ: col->kind = CD_TIMESTAMPTZ; return FH_OK;
    case CD_OID_INTERVAL: col->kind = CD_INTERVAL; return FH_OK;
    case CD_OID_UUID: col->kind = CD_UUID; return FH_OK;
    case CD_OID_JSON: col->kind = CD_JSON; return FH_OK;
    case CD_OID_JSONB: col->kind = CD_JSONB; return FH_OK;
    case CD_OID_BYTEA: col->kind = CD_BYTEA; return FH_OK;
    case CD_OID_NUMERIC: {
        col->kind = CD_NUMERIC;
        if (col->typmod < 4) { /* no declared precision */
            col->width = 38;
            col->scale = CD_NUMERIC_DEFAULT_SCALE;
            return FH_OK;
        }
        int32_t tm = col->typmod - 4;
        int prec = (tm >> 16) & 0xffff;
        int scale = ((tm & 0x7ff) ^ 1024) - 1024; /* 11-bit signed, as PostgreSQL stores it */
        if (prec < 1 || prec > 38 || scale < 0)
            return fh_error_set(err, FH_ESCHEMA,
                                "table %s, column %s: type %s cannot be held exactly by DuckDB's "
                                "DECIMAL (precision 1..38, scale >= 0) — give it a warehouse type "
                                "in the registry (column:VARCHAR as the sixth field of the table's "
                                "line), narrow the column, or cast it in a view",
                                table, col->name, col->pg_type[0] ? col->pg_type : "numeric");
        col->width = (uint8_t)(scale > prec ? scale : prec);
        col->scale = (uint8_t)scale;
        return FH_OK;
    }
    default:
        return fh_error_set(err, FH_ESCHEMA,
                            "table %s, column %s: unsupported type %s (oid %u) — fhload decodes "
                            "integers, numeric, float, text/varchar/char, bool, date, time, "
                            "timestamp[tz], interval, uuid, json/jsonb and bytea; cast the column "
                            "in a view or drop it",
                            table, col->name, col->pg_type[0] ? col->pg_type : "?",
                            (unsigned)col->type_oid);
    }
}

int copy_decode_override(const char *table, cd_column *col, int as_text, int width, int scale,
                         fh_error *err)
{
    if (col->type_oid != CD_OID_NUMERIC)
        return fh_error_set(err, FH_ESCHEMA,
                            "table %s, column %s: the registry gives it a warehouse type, but it "
                            "is "
                            "%s — only numeric columns take one; remove it from the registry line",
                            table, col->name, col->pg_type[0] ? col->pg_type : "not numeric");
    assert(as_text || (width >= 1 && width <= 38 && scale >= 0 && scale <= width));
    col->kind = as_text ? CD_NUMERIC_TEXT : CD_NUMERIC;
    col->width = (uint8_t)(as_text ? 0 : width);
    col->scale = (uint8_t)(as_text ? 0 : scale);
    return FH_OK;
}

void copy_decode_type_sql(const cd_column *col, char *buf, size_t bufsz)
{
    const char *s = "VARCHAR";
    switch (col->kind) {
    case CD_INT2: s = "SMALLINT"; break;
    case CD_INT4: s = "INTEGER"; break;
    case CD_INT8: s = "BIGINT"; break;
    case CD_FLOAT4: s = "FLOAT"; break;
    case CD_FLOAT8: s = "DOUBLE"; break;
    case CD_NUMERIC: snprintf(buf, bufsz, "DECIMAL(%u,%u)", col->width, col->scale); return;
    case CD_TEXT:
    case CD_JSON:
    case CD_JSONB:
    case CD_NUMERIC_TEXT: s = "VARCHAR"; break;
    case CD_BOOL: s = "BOOLEAN"; break;
    case CD_DATE: s = "DATE"; break;
    case CD_TIME: s = "TIME"; break;
    case CD_TIMESTAMP: s = "TIMESTAMP"; break;
    case CD_TIMESTAMPTZ: s = "TIMESTAMP WITH TIME ZONE"; break;
    case CD_INTERVAL: s = "INTERVAL"; break;
    case CD_UUID: s = "UUID"; break;
    case CD_BYTEA: s = "BLOB"; break;
    }
    snprintf(buf, bufsz, "%s", s);
}

duckdb_logical_type copy_decode_logical_type(const cd_column *col)
{
    duckdb_type t = DUCKDB_TYPE_VARCHAR;
    switch (col->kind) {
    case CD_INT2: t = DUCKDB_TYPE_SMALLINT; break;
    case CD_INT4: t = DUCKDB_TYPE_INTEGER; break;
    case CD_INT8: t = DUCKDB_TYPE_BIGINT; break;
    case CD_FLOAT4: t = DUCKDB_TYPE_FLOAT; break;
    case CD_FLOAT8: t = DUCKDB_TYPE_DOUBLE; break;
    case CD_NUMERIC: return duckdb_create_decimal_type(col->width, col->scale);
    case CD_TEXT:
    case CD_JSON:
    case CD_JSONB:
    case CD_NUMERIC_TEXT: t = DUCKDB_TYPE_VARCHAR; break;
    case CD_BOOL: t = DUCKDB_TYPE_BOOLEAN; break;
    case CD_DATE: t = DUCKDB_TYPE_DATE; break;
    case CD_TIME: t = DUCKDB_TYPE_TIME; break;
    case CD_TIMESTAMP: t = DUCKDB_TYPE_TIMESTAMP; break;
    case CD_TIMESTAMPTZ: t = DUCKDB_TYPE_TIMESTAMP_TZ; break;
    case CD_INTERVAL: t = DUCKDB_TYPE_INTERVAL; break;
    case CD_UUID: t = DUCKDB_TYPE_UUID; break;
    case CD_BYTEA: t = DUCKDB_TYPE_BLOB; break;
    }
    return duckdb_create_logical_type(t);
}

/* ---- byte helpers ---------------------------------------------------------------------------- */

static inline uint16_t be16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t be64(const unsigned char *p)
{
    return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF), with an 8-byte ASCII fast path. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c == 0xE0) {
            need = 2;
            lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            need = 2;
        else if (c == 0xED) {
            need = 2;
            hi = 0x9F;
        } else if (c == 0xF0) {
            need = 3;
            lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3)
            need = 3;
        else if (c == 0xF4) {
            need = 3;
            hi = 0x8F;
        } else
            return 0;
        if (n - i - 1 < need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

/* ---- numeric --------------------------------------------------------------------------------- */

enum { NUM_OK = 0, NUM_NOFIT, NUM_NAN, NUM_PINF, NUM_NINF, NUM_MALFORMED };

/* numeric's binary form: int16 ndigits, int16 weight, uint16 sign, uint16 dscale, then ndigits
 * base-10000 digits; value = sum(digit[i] * 10000^(weight - i)). Produce value * 10^scale. */
static int numeric_scaled(const copy_decoder *d, const unsigned char *p, uint32_t len, int width,
                          int scale, i128 *out)
{
    if (len < 8)
        return NUM_MALFORMED;
    int ndigits = (int16_t)be16(p);
    int weight = (int16_t)be16(p + 2);
    uint16_t sign = be16(p + 4);
    if (ndigits < 0 || len != 8 + 2 * (uint32_t)ndigits)
        return NUM_MALFORMED;
    if (sign == 0xC000)
        return NUM_NAN;
    if (sign == 0xD000)
        return NUM_PINF;
    if (sign == 0xF000)
        return NUM_NINF;
    if (sign != 0 && sign != 0x4000)
        return NUM_MALFORMED;
    u128 acc = 0, limit = d->p10[width] - 1;
    for (int i = 0; i < ndigits; i++) {
        uint32_t dg = be16(p + 8 + 2 * i);
        if (dg > 9999)
            return NUM_MALFORMED;
        if (dg == 0)
            continue;
        long e = 4L * (weight - i) + scale;
        if (e >= 0) {
            if (e > 38)
                return NUM_NOFIT;
            if (e > 34 && dg >= P10_32[38 - e]) /* dg * 10^e >= 10^38 */
                return NUM_NOFIT;
            acc += (u128)dg * d->p10[e];
        } else {
            if (e <= -4 || dg % P10_32[-e] != 0)
                return NUM_NOFIT; /* digits beyond the scale: would need rounding */
            acc += dg / P10_32[-e];
        }
        if (acc > limit)
            return NUM_NOFIT;
    }
    *out = sign == 0x4000 ? -(i128)acc : (i128)acc;
    return NUM_OK;
}

/* numeric as decimal text, for messages (cut with "..." when longer than the buffer). */
static void numeric_text(const unsigned char *p, char *buf, size_t bufsz)
{
    int ndigits = (int16_t)be16(p), weight = (int16_t)be16(p + 2);
    size_t o = 0;
#define PUT(...)                                                    \
    do {                                                            \
        if (o + 12 < bufsz)                                         \
            o += (size_t)snprintf(buf + o, bufsz - o, __VA_ARGS__); \
        else if (o + 4 <= bufsz) {                                  \
            memcpy(buf + o, "...", 4);                              \
            return;                                                 \
        }                                                           \
    } while (0)
    buf[0] = '\0';
    if (be16(p + 4) == 0x4000)
        PUT("-");
    if (weight < 0)
        PUT("0");
    for (int j = 0; j <= weight; j++)
        PUT(j == 0 ? "%u" : "%04u", j < ndigits ? be16(p + 8 + 2 * j) : 0u);
    if (ndigits - 1 > weight) {
        PUT(".");
        for (int j = weight + 1; j < ndigits; j++)
            PUT("%04u", j >= 0 ? be16(p + 8 + 2 * j) : 0u);
        while (o > 0 && buf[o - 1] == '0')
            buf[--o] = '\0';
    }
#undef PUT
}

/* numeric as PostgreSQL prints it (numeric_out): sign, integer digits, and exactly dscale decimals;
 * NaN and ±Infinity by name. Written into d->text, which grows once to the longest value. Returns
 * the length, or -1 if the value is malformed or memory ran out. */
static long numeric_exact_text(copy_decoder *d, const unsigned char *p, uint32_t len)
{
    if (len < 8)
        return -1;
    int ndigits = (int16_t)be16(p), weight = (int16_t)be16(p + 2);
    uint16_t sign = be16(p + 4), dscale = be16(p + 6);
    if (ndigits < 0 || len != 8 + 2 * (uint32_t)ndigits || (dscale & 0xC000))
        return -1;
    const char *special = sign == 0xC000   ? "NaN"
                          : sign == 0xD000 ? "Infinity"
                          : sign == 0xF000 ? "-Infinity"
                                           : NULL;
    if (!special && sign != 0 && sign != 0x4000)
        return -1;
    /* sign + up to 4 digits per integer group (at least one) + point + dscale decimals */
    size_t need = 16 + (weight >= 0 ? 4 * ((size_t)weight + 1) : 1) + (size_t)dscale;
    if (need > d->text_cap) {
        char *nb = realloc(d->text, need);
        if (!nb)
            return -1;
        d->text = nb;
        d->text_cap = need;
    }
    char *o = d->text;
    if (special)
        return (long)(stpcpy(o, special) - o);
    for (int i = 0; i < ndigits; i++)
        if (be16(p + 8 + 2 * i) > 9999)
            return -1;
    size_t n = 0;
    if (sign == 0x4000)
        o[n++] = '-';
    if (weight < 0) {
        o[n++] = '0';
    } else {
        for (int g = 0; g <= weight; g++) {
            unsigned dg = g < ndigits ? be16(p + 8 + 2 * g) : 0;
            if (g == 0)
                n += (size_t)snprintf(o + n, 8, "%u", dg);
            else
                n += (size_t)snprintf(o + n, 8, "%04u", dg);
        }
    }
    if (dscale > 0) {
        o[n++] = '.';
        /* decimal digit k (1-based) after the point lies in group weight + 1 + (k-1)/4 */
        for (int k = 1; k <= dscale; k++) {
            int g = weight + 1 + (k - 1) / 4;
            unsigned dg = g >= 0 && g < ndigits ? be16(p + 8 + 2 * g) : 0;
            static const unsigned DIV[4] = {1000, 100, 10, 1};
            o[n++] = (char)('0' + (dg / DIV[(k - 1) % 4]) % 10);
        }
    }
    o[n] = '\0';
    return (long)n;
}

/* ---- decoder --------------------------------------------------------------------------------- */

int copy_decode_new(const char *table, const cd_column *cols, size_t ncols, int cursor_col,
                    copy_decoder **out, fh_error *err)
{
    *out = NULL;
    if (ncols == 0 || ncols > 1600)
        return fh_error_set(err, FH_ESCHEMA, "table %s: %zu columns (expected 1..1600)", table,
                            ncols);
    copy_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    d->cols = malloc(ncols * sizeof *d->cols);
    d->out = calloc(ncols, sizeof *d->out);
    if (!d->cols || !d->out) {
        copy_decode_free(d);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    memcpy(d->cols, cols, ncols * sizeof *cols);
    d->ncols = ncols;
    snprintf(d->table, sizeof d->table, "%s", table);
    d->cursor_col = cursor_col;
    d->p10[0] = 1;
    for (int i = 1; i <= 38; i++)
        d->p10[i] = d->p10[i - 1] * 10;
    copy_decode_reset(d);
    *out = d;
    return FH_OK;
}

int copy_decode_enable_row_hash(copy_decoder *d, fh_error *err)
{
    if (d->seeds)
        return FH_OK;
    d->seeds = malloc(d->ncols * sizeof *d->seeds);
    if (!d->seeds)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    for (size_t c = 0; c < d->ncols; c++)
        d->seeds[c] = fh_hash_column_seed(d->cols[c].name);
    return FH_OK;
}

void copy_decode_reset(copy_decoder *d)
{
    d->state = ST_HEADER;
    d->carry_len = d->carry_off = 0;
    d->rows = d->consumed = 0;
    d->has_cursor = 0;
    d->cursor_max = 0;
}

void copy_decode_bind_chunk(copy_decoder *d, duckdb_data_chunk chunk, size_t capacity)
{
    d->chunk = chunk;
    d->capacity = capacity;
    d->nrows = 0;
    for (size_t c = 0; c < d->ncols; c++) {
        d->out[c].vec = duckdb_data_chunk_get_vector(chunk, c);
        d->out[c].data = duckdb_vector_get_data(d->out[c].vec);
        d->out[c].validity = NULL;
    }
    d->hash_out =
        d->seeds ? duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, d->ncols)) : NULL;
}

size_t copy_decode_finish_chunk(copy_decoder *d)
{
    if (d->chunk)
        duckdb_data_chunk_set_size(d->chunk, d->nrows);
    return d->nrows;
}

uint64_t copy_decode_rows(const copy_decoder *d) { return d->rows; }
uint64_t copy_decode_bytes(const copy_decoder *d) { return d->consumed; }

int copy_decode_cursor_max(const copy_decoder *d, int64_t *out)
{
    if (!d->has_cursor)
        return 0;
    *out = d->cursor_max;
    return 1;
}

void copy_decode_free(copy_decoder *d)
{
    if (!d)
        return;
    free(d->cols);
    free(d->out);
    free(d->seeds);
    free(d->carry);
    free(d->text);
    free(d);
}

/* An error about column c of the row being decoded, at stream offset off. */
static int field_error(copy_decoder *d, fh_error *err, size_t c, uint64_t off, const char *fmt,
                       const char *detail)
{
    char what[512];
    snprintf(what, sizeof what, fmt, detail ? detail : "");
    if (off == UINT64_MAX) /* copy_decode_put: a value, not a stream */
        return fh_error_set(err, FH_EDATA, "table %s, column %s (%s), change %" PRIu64 ": %s",
                            d->table, d->cols[c].name,
                            d->cols[c].pg_type[0] ? d->cols[c].pg_type : "?", d->rows + 1, what);
    return fh_error_set(err, FH_EDATA,
                        "table %s, column %s (%s), row %" PRIu64 " (byte offset %" PRIu64
                        " of the COPY stream): %s",
                        d->table, d->cols[c].name, d->cols[c].pg_type[0] ? d->cols[c].pg_type : "?",
                        d->rows + 1, off, what);
}

static inline void set_null(copy_decoder *d, size_t c, size_t row)
{
    out_col *o = &d->out[c];
    if (!o->validity) {
        duckdb_vector_ensure_validity_writable(o->vec);
        o->validity = duckdb_vector_get_validity(o->vec);
    }
    o->validity[row >> 6] &= ~(UINT64_C(1) << (row & 63));
}

static inline void track_cursor(copy_decoder *d, int64_t v)
{
    if (!d->has_cursor || v > d->cursor_max) {
        d->cursor_max = v;
        d->has_cursor = 1;
    }
}

/* Decode one non-NULL field of n bytes at p into row `row` of column c. off = stream offset. */
static int decode_field(copy_decoder *d, size_t c, size_t row, const unsigned char *p, uint32_t n,
                        uint64_t off, fh_error *err)
{
    const cd_column *col = &d->cols[c];
    out_col *o = &d->out[c];
    char lenmsg[64];
#define WANT_LEN(k)                                                                     \
    do {                                                                                \
        if (n != (k)) {                                                                 \
            snprintf(lenmsg, sizeof lenmsg, "%u bytes, expected %u", n, (unsigned)(k)); \
            return field_error(d, err, c, off, "malformed value: %s", lenmsg);          \
        }                                                                               \
    } while (0)

    switch (col->kind) {
    case CD_INT2:
        WANT_LEN(2);
        ((int16_t *)o->data)[row] = (int16_t)be16(p);
        return FH_OK;
    case CD_INT4:
        WANT_LEN(4);
        ((int32_t *)o->data)[row] = (int32_t)be32(p);
        return FH_OK;
    case CD_INT8:
        WANT_LEN(8);
        ((int64_t *)o->data)[row] = (int64_t)be64(p);
        return FH_OK;
    case CD_FLOAT4: {
        WANT_LEN(4);
        uint32_t u = be32(p);
        float f;
        memcpy(&f, &u, 4);
        ((float *)o->data)[row] = f;
        return FH_OK;
    }
    case CD_FLOAT8: {
        WANT_LEN(8);
        uint64_t u = be64(p);
        double f;
        memcpy(&f, &u, 8);
        ((double *)o->data)[row] = f;
        return FH_OK;
    }
    case CD_BOOL:
        WANT_LEN(1);
        if (p[0] > 1)
            return field_error(d, err, c, off, "malformed boolean byte%s", "");
        ((bool *)o->data)[row] = p[0] != 0;
        return FH_OK;
    case CD_DATE: {
        WANT_LEN(4);
        int32_t v = (int32_t)be32(p), r;
        if (v == INT32_MAX)
            r = INT32_MAX; /* infinity in both systems' conventions */
        else if (v == INT32_MIN)
            r = -INT32_MAX;
        else if (__builtin_add_overflow(v, PG_EPOCH_DAYS, &r) || r == INT32_MAX)
            return field_error(d, err, c, off, "date out of DuckDB's range%s", "");
        else if ((int)c == d->cursor_col)
            track_cursor(d, (int64_t)r * INT64_C(86400000000));
        ((int32_t *)o->data)[row] = r;
        return FH_OK;
    }
    case CD_TIME:
        WANT_LEN(8);
        ((int64_t *)o->data)[row] = (int64_t)be64(p);
        return FH_OK;
    case CD_TIMESTAMP:
    case CD_TIMESTAMPTZ: {
        WANT_LEN(8);
        int64_t v = (int64_t)be64(p), r;
        if (v == INT64_MAX)
            r = INT64_MAX;
        else if (v == INT64_MIN)
            r = -INT64_MAX;
        else if (__builtin_add_overflow(v, PG_EPOCH_USECS, &r) || r == INT64_MAX || r == -INT64_MAX)
            return field_error(d, err, c, off, "timestamp out of DuckDB's range%s", "");
        else if ((int)c == d->cursor_col)
            track_cursor(d, r);
        ((int64_t *)o->data)[row] = r;
        return FH_OK;
    }
    case CD_INTERVAL: {
        WANT_LEN(16);
        duckdb_interval iv;
        iv.micros = (int64_t)be64(p);
        iv.days = (int32_t)be32(p + 8);
        iv.months = (int32_t)be32(p + 12);
        ((duckdb_interval *)o->data)[row] = iv;
        return FH_OK;
    }
    case CD_UUID: {
        WANT_LEN(16);
        duckdb_hugeint h;
        /* DuckDB stores a UUID as a hugeint whose top bit is flipped, so that it sorts as text. */
        h.upper = (int64_t)(be64(p) ^ (UINT64_C(1) << 63));
        h.lower = be64(p + 8);
        ((duckdb_hugeint *)o->data)[row] = h;
        return FH_OK;
    }
    case CD_NUMERIC: {
        i128 v;
        int r = numeric_scaled(d, p, n, col->width, col->scale, &v);
        if (r != NUM_OK) {
            char text[96], msg[200];
            switch (r) {
            case NUM_NAN:
                return field_error(d, err, c, off,
                                   "NaN cannot be stored in DECIMAL%s — fix the source row", "");
            case NUM_PINF:
            case NUM_NINF:
                return field_error(d, err, c, off,
                                   "%sInfinity cannot be stored in DECIMAL — fix the source row",
                                   r == NUM_NINF ? "-" : "");
            case NUM_NOFIT:
                numeric_text(p, text, sizeof text);
                snprintf(msg, sizeof msg, "value %s does not fit DECIMAL(%u,%u) without rounding",
                         text, col->width, col->scale);
                return field_error(d, err, c, off,
                                   "%s — widen the column in the source, or give it a warehouse "
                                   "type in the registry: add column:DECIMAL(38,s) with enough "
                                   "decimals, or column:VARCHAR for the exact text, as the sixth "
                                   "field of the table's line",
                                   msg);
            default: return field_error(d, err, c, off, "malformed numeric value%s", "");
            }
        }
        if (col->width <= 4)
            ((int16_t *)o->data)[row] = (int16_t)v;
        else if (col->width <= 9)
            ((int32_t *)o->data)[row] = (int32_t)v;
        else if (col->width <= 18)
            ((int64_t *)o->data)[row] = (int64_t)v;
        else {
            duckdb_hugeint h;
            h.lower = (uint64_t)(u128)v;
            h.upper = (int64_t)(v >> 64);
            ((duckdb_hugeint *)o->data)[row] = h;
        }
        return FH_OK;
    }
    case CD_NUMERIC_TEXT: {
        long tl = numeric_exact_text(d, p, n);
        if (tl < 0)
            return field_error(d, err, c, off, "malformed numeric value%s", "");
        duckdb_vector_assign_string_element_len(o->vec, row, d->text, (idx_t)tl);
        return FH_OK;
    }
    case CD_JSONB:
        if (n < 1 || p[0] != 1)
            return field_error(d, err, c, off, "jsonb value without version byte 1%s", "");
        p++;
        n--;
        /* fall through */
    case CD_TEXT:
    case CD_JSON:
        if (!utf8_valid(p, n))
            return field_error(d, err, c, off, "text is not valid UTF-8%s", "");
        /* fall through */
    case CD_BYTEA:
        duckdb_vector_assign_string_element_len(o->vec, row, (const char *)p, n);
        return FH_OK;
    }
#undef WANT_LEN
    return field_error(d, err, c, off, "internal: unknown decoder kind%s", "");
}

/* Parse from src[*pos..n). Stops at the end of complete input, a full chunk, or the trailer. */
static int parse(copy_decoder *d, const unsigned char *src, size_t n, size_t *pos, cd_status *st,
                 fh_error *err)
{
    static const unsigned char SIG[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    size_t i = *pos;
    *st = CD_NEED_INPUT;
    for (;;) {
        if (d->state == ST_END) {
            *st = CD_END;
            break;
        }
        if (d->state == ST_HEADER) {
            if (n - i < HEADER_LEN)
                break;
            if (memcmp(src + i, SIG, 11) != 0)
                return fh_error_set(err, FH_EDATA,
                                    "table %s: the COPY stream does not start with the binary "
                                    "signature PGCOPY (byte offset 0)",
                                    d->table);
            uint32_t flags = be32(src + i + 11);
            if (flags & (UINT32_C(1) << 16))
                return fh_error_set(err, FH_EDATA,
                                    "table %s: the COPY stream carries OIDs (flags 0x%08x), which "
                                    "fhload never asks for",
                                    d->table, flags);
            if (flags & UINT32_C(0xFFFE0000))
                return fh_error_set(err, FH_EDATA,
                                    "table %s: the COPY stream has unknown critical flags 0x%08x "
                                    "(byte offset 11) — newer PostgreSQL format?",
                                    d->table, flags);
            uint32_t ext = be32(src + i + 15);
            if (ext > HEADER_EXT_MAX)
                return fh_error_set(err, FH_EDATA,
                                    "table %s: COPY header extension of %u bytes (byte offset 15) "
                                    "is not plausible",
                                    d->table, ext);
            if (n - i - HEADER_LEN < ext)
                break;
            i += HEADER_LEN + ext;
            d->consumed += HEADER_LEN + ext;
            d->state = ST_TUPLES;
            continue;
        }
        /* ST_TUPLES */
        if (n - i < 2)
            break;
        int16_t nf = (int16_t)be16(src + i);
        if (nf == -1) {
            i += 2;
            d->consumed += 2;
            d->state = ST_END;
            continue;
        }
        if (nf < 0 || (size_t)nf != d->ncols)
            return fh_error_set(err, FH_EDATA,
                                "table %s, row %" PRIu64 " (byte offset %" PRIu64
                                " of the COPY stream): %d fields, expected %zu",
                                d->table, d->rows + 1, d->consumed, (int)nf, d->ncols);
        if (!d->chunk || d->nrows >= d->capacity) {
            *st = CD_CHUNK_FULL;
            break;
        }
        /* Make sure the whole tuple is here before writing anything. */
        size_t j = i + 2;
        int complete = 1;
        for (size_t c = 0; c < d->ncols; c++) {
            if (n - j < 4) {
                complete = 0;
                break;
            }
            int32_t len = (int32_t)be32(src + j);
            j += 4;
            if (len == -1)
                continue;
            if (len < 0)
                return fh_error_set(err, FH_EDATA,
                                    "table %s, column %s, row %" PRIu64 " (byte offset %" PRIu64
                                    " of the COPY stream): negative field length %d",
                                    d->table, d->cols[c].name, d->rows + 1,
                                    d->consumed + (j - 4 - i), (int)len);
            if ((size_t)len > n - j) {
                complete = 0;
                break;
            }
            j += (size_t)len;
        }
        if (!complete)
            break;
        size_t row = d->nrows;
        size_t k = i + 2;
        uint64_t hash = 0;
        for (size_t c = 0; c < d->ncols; c++) {
            int32_t len = (int32_t)be32(src + k);
            k += 4;
            if (len == -1) {
                set_null(d, c, row);
                continue;
            }
            int rc = decode_field(d, c, row, src + k, (uint32_t)len, d->consumed + (k - i), err);
            if (rc != FH_OK)
                return rc;
            if (d->seeds)
                hash += fh_hash64(src + k, (size_t)len, d->seeds[c]);
            k += (size_t)len;
        }
        if (d->hash_out)
            d->hash_out[row] = (int64_t)hash;
        d->nrows++;
        d->rows++;
        d->consumed += j - i;
        i = j;
    }
    *pos = i;
    return FH_OK;
}

/* ---- values one at a time ------------------------------------------------------------------- */

int copy_decode_put(copy_decoder *d, size_t row, size_t c, const unsigned char *p, uint32_t len,
                    fh_error *err)
{
    assert(d->chunk && row < d->capacity && c < d->ncols);
    int rc = decode_field(d, c, row, p, len, UINT64_MAX, err);
    if (rc == FH_OK && d->seeds)
        d->put_hash += fh_hash64(p, len, d->seeds[c]);
    return rc;
}

void copy_decode_put_null(copy_decoder *d, size_t row, size_t c)
{
    assert(d->chunk && row < d->capacity && c < d->ncols);
    set_null(d, c, row);
}

void copy_decode_put_row_done(copy_decoder *d, size_t row)
{
    assert(d->chunk && row < d->capacity);
    if (d->hash_out)
        d->hash_out[row] = (int64_t)d->put_hash;
    d->put_hash = 0;
    if (d->nrows < row + 1)
        d->nrows = row + 1;
    d->rows++;
}

static int carry_append(copy_decoder *d, const char *buf, size_t len, fh_error *err)
{
    if (d->carry_off > 0) { /* compact */
        memmove(d->carry, d->carry + d->carry_off, d->carry_len - d->carry_off);
        d->carry_len -= d->carry_off;
        d->carry_off = 0;
    }
    if (d->carry_len + len > d->carry_cap) {
        size_t ncap = d->carry_cap ? d->carry_cap : 256;
        while (ncap < d->carry_len + len)
            ncap *= 2;
        char *nb = realloc(d->carry, ncap);
        if (!nb)
            return fh_error_set(err, FH_EINTERNAL, "table %s: out of memory for a %zu-byte row",
                                d->table, d->carry_len + len);
        d->carry = nb;
        d->carry_cap = ncap;
    }
    if (len)
        memcpy(d->carry + d->carry_len, buf, len);
    d->carry_len += len;
    return FH_OK;
}

int copy_decode_feed(copy_decoder *d, const char *buf, size_t len, size_t *used, cd_status *st,
                     fh_error *err)
{
    *used = 0;
    *st = CD_NEED_INPUT;
    int rc;
    if (d->state == ST_END && (len > 0 || d->carry_off < d->carry_len)) {
        return fh_error_set(err, FH_EDATA,
                            "table %s: bytes after the COPY trailer (byte offset %" PRIu64 ")",
                            d->table, d->consumed);
    }
    if (d->carry_off < d->carry_len) {
        if ((rc = carry_append(d, buf, len, err)) != FH_OK)
            return rc;
        *used = len;
        size_t pos = d->carry_off;
        rc = parse(d, (const unsigned char *)d->carry, d->carry_len, &pos, st, err);
        if (rc != FH_OK)
            return rc;
        d->carry_off = pos;
        if (d->carry_off == d->carry_len)
            d->carry_off = d->carry_len = 0;
        if (*st == CD_END && d->carry_len > 0)
            return fh_error_set(err, FH_EDATA,
                                "table %s: bytes after the COPY trailer (byte offset %" PRIu64 ")",
                                d->table, d->consumed);
        return FH_OK;
    }
    size_t pos = 0;
    rc = parse(d, (const unsigned char *)buf, len, &pos, st, err);
    if (rc != FH_OK)
        return rc;
    if (*st == CD_NEED_INPUT && pos < len) {
        if ((rc = carry_append(d, buf + pos, len - pos, err)) != FH_OK)
            return rc;
        pos = len;
    }
    if (*st == CD_END && pos < len)
        return fh_error_set(err, FH_EDATA,
                            "table %s: bytes after the COPY trailer (byte offset %" PRIu64 ")",
                            d->table, d->consumed);
    *used = pos;
    return FH_OK;
}

int copy_decode_finish(copy_decoder *d, fh_error *err)
{
    if (d->state == ST_END)
        return FH_OK;
    return fh_error_set(err, FH_EDATA,
                        "table %s: the COPY stream ended after %" PRIu64
                        " rows (byte offset %" PRIu64
                        ") without its trailer — connection lost or server error?",
                        d->table, d->rows, d->consumed + (d->carry_len - d->carry_off));
}
