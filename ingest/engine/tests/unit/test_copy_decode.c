/*
 * test_copy_decode — the binary COPY decoder on hand-built streams.
 *
 * Streams are assembled byte by byte with the builder below (header, tuples, trailer, every type's
 * send format, numeric from decimal text), decoded into DuckDB data chunks, appended to an
 * in-memory DuckDB table of the mapped types and read back as text. So each case checks the whole
 * path: our bytes → our decoder → DuckDB's own interpretation of the vectors. Streams are also fed
 * one byte at a time and in odd splits, into tiny chunks, and broken in every way the validator
 * must catch.
 */
#include <stdlib.h>

#include "check.h"
#include "copy_decode.h"

/* ---- stream builder ------------------------------------------------------------------------- */

typedef struct {
    unsigned char b[1 << 16];
    size_t n;
} sb;

static void put(sb *s, const void *p, size_t n)
{
    memcpy(s->b + s->n, p, n);
    s->n += n;
}
static void put16(sb *s, int v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(s, b, 2);
}
static void put32(sb *s, int64_t v)
{
    uint32_t u = (uint32_t)v;
    unsigned char b[4] = {(unsigned char)(u >> 24), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 8), (unsigned char)u};
    put(s, b, 4);
}
static void put64(sb *s, int64_t v)
{
    put32(s, (int64_t)((uint64_t)v >> 32));
    put32(s, (int64_t)(uint32_t)v);
}
static void header(sb *s)
{
    put(s, "PGCOPY\n\377\r\n\0", 11);
    put32(s, 0);
    put32(s, 0);
}
static void trailer(sb *s) { put16(s, -1); }
static void tuple(sb *s, int n) { put16(s, n); }
static void f_null(sb *s) { put32(s, -1); }
static void f_i16(sb *s, int v)
{
    put32(s, 2);
    put16(s, v);
}
static void f_i32(sb *s, int64_t v)
{
    put32(s, 4);
    put32(s, v);
}
static void f_i64(sb *s, int64_t v)
{
    put32(s, 8);
    put64(s, v);
}
static void f_bytes(sb *s, const void *p, size_t n)
{
    put32(s, (int64_t)n);
    put(s, p, n);
}
static void f_text(sb *s, const char *t) { f_bytes(s, t, strlen(t)); }

/* numeric from decimal text ("-12.34", "NaN", "Infinity", "-Infinity"), as numeric_send does. */
static void f_numeric(sb *s, const char *txt)
{
    if (!strcmp(txt, "NaN") || !strcmp(txt, "Infinity") || !strcmp(txt, "-Infinity")) {
        put32(s, 8);
        put16(s, 0);
        put16(s, 0);
        put16(s, !strcmp(txt, "NaN") ? 0xC000 : txt[0] == '-' ? 0xF000 : 0xD000);
        put16(s, 0);
        return;
    }
    int neg = txt[0] == '-';
    if (neg)
        txt++;
    const char *dot = strchr(txt, '.');
    size_t il = dot ? (size_t)(dot - txt) : strlen(txt);
    const char *frac = dot ? dot + 1 : "";
    size_t fl = strlen(frac);
    /* digits aligned so that the decimal point falls on a group boundary */
    size_t ipad = (4 - il % 4) % 4, fpad = (4 - fl % 4) % 4;
    char all[256];
    size_t n = 0;
    for (size_t i = 0; i < ipad; i++)
        all[n++] = '0';
    memcpy(all + n, txt, il);
    n += il;
    memcpy(all + n, frac, fl);
    n += fl;
    for (size_t i = 0; i < fpad; i++)
        all[n++] = '0';
    int ngroups = (int)(n / 4), weight = (int)((il + ipad) / 4) - 1;
    int groups[64];
    for (int g = 0; g < ngroups; g++)
        groups[g] = (all[4 * g] - '0') * 1000 + (all[4 * g + 1] - '0') * 100 +
                    (all[4 * g + 2] - '0') * 10 + (all[4 * g + 3] - '0');
    int first = 0, last = ngroups;
    while (first < last && groups[first] == 0) {
        first++;
        weight--;
    }
    while (last > first && groups[last - 1] == 0)
        last--;
    int nd = last - first;
    if (nd == 0)
        weight = 0;
    put32(s, 8 + 2 * nd);
    put16(s, nd);
    put16(s, weight);
    put16(s, neg && nd ? 0x4000 : 0);
    put16(s, (int)fl);
    for (int g = first; g < last; g++)
        put16(s, groups[g]);
}

/* ---- decode and read back through DuckDB ---------------------------------------------------- */

static duckdb_database db;
static duckdb_connection con;

static void col(cd_column *c, const char *name, uint32_t oid, int32_t typmod)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->pg_type, sizeof c->pg_type, "pgtype%u", oid);
    c->type_oid = oid;
    c->typmod = typmod;
    fh_error e;
    int rc = copy_decode_map_type("t", c, &e);
    if (rc != FH_OK) {
        fprintf(stderr, "map_type failed: %s\n", e.msg);
        exit(2);
    }
}

static int32_t numtm(int p, int s) { return ((p << 16) | s) + 4; }

#define MAXR 64
static char got[MAXR][8][160]; /* rows × columns, as DuckDB prints them; "NULL" for NULL */
static size_t got_rows;

/* Decode stream s (fed in pieces of `step` bytes; 0 = all at once) into chunks of `cap` rows,
 * append them to table t, and read all rows back as text into got[][]. */
static int run(const cd_column *cols, size_t ncols, const sb *s, size_t step, size_t cap,
               fh_error *err)
{
    duckdb_result r;
    duckdb_query(con, "DROP TABLE IF EXISTS t", NULL);
    char sql[2048] = "CREATE TABLE t (";
    duckdb_logical_type types[8];
    for (size_t c = 0; c < ncols; c++) {
        char ty[64];
        copy_decode_type_sql(&cols[c], ty, sizeof ty);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), "%sc%zu %s", c ? ", " : "", c, ty);
        types[c] = copy_decode_logical_type(&cols[c]);
    }
    strcat(sql, ")");
    if (duckdb_query(con, sql, NULL) != DuckDBSuccess) {
        fprintf(stderr, "create failed: %s\n", sql);
        exit(2);
    }
    duckdb_appender app;
    duckdb_appender_create(con, NULL, "t", &app);
    copy_decoder *d;
    int rc = copy_decode_new("t", cols, ncols, -1, &d, err);
    if (rc != FH_OK)
        exit(2);
    duckdb_data_chunk chunk = duckdb_create_data_chunk(types, ncols);
    copy_decode_bind_chunk(d, chunk, cap);
    size_t off = 0;
    cd_status st = CD_NEED_INPUT;
    while (rc == FH_OK) {
        size_t len = s->n - off;
        if (step && len > step)
            len = step;
        size_t used;
        rc = copy_decode_feed(d, (const char *)s->b + off, len, &used, &st, err);
        if (rc != FH_OK)
            break;
        off += used;
        if (st == CD_CHUNK_FULL || st == CD_END) {
            copy_decode_finish_chunk(d);
            duckdb_append_data_chunk(app, chunk);
            duckdb_data_chunk_reset(chunk);
            copy_decode_bind_chunk(d, chunk, cap);
        }
        if (st == CD_END) {
            if (off < s->n) /* whatever follows the trailer must be refused */
                rc = copy_decode_feed(d, (const char *)s->b + off, s->n - off, &used, &st, err);
            break;
        }
        if (st == CD_NEED_INPUT && off == s->n) {
            rc = copy_decode_finish(d, err);
            break;
        }
    }
    duckdb_appender_destroy(&app);
    duckdb_destroy_data_chunk(&chunk);
    for (size_t c = 0; c < ncols; c++)
        duckdb_destroy_logical_type(&types[c]);
    copy_decode_free(d);
    if (rc != FH_OK)
        return rc;
    char sel[1024] = "SELECT ";
    for (size_t c = 0; c < ncols; c++)
        snprintf(sel + strlen(sel), sizeof sel - strlen(sel), "%sc%zu::VARCHAR", c ? ", " : "", c);
    strcat(sel, " FROM t");
    if (duckdb_query(con, sel, &r) != DuckDBSuccess) {
        fprintf(stderr, "select failed: %s\n", duckdb_result_error(&r));
        exit(2);
    }
    got_rows = duckdb_row_count(&r);
    for (size_t i = 0; i < got_rows && i < MAXR; i++)
        for (size_t c = 0; c < ncols; c++) {
            char *v = duckdb_value_varchar(&r, c, i);
            snprintf(got[i][c], sizeof got[i][c], "%s",
                     (duckdb_value_is_null(&r, c, i) || !v) ? "NULL" : v);
            duckdb_free(v);
        }
    duckdb_destroy_result(&r);
    return FH_OK;
}

/* ---- cases ---------------------------------------------------------------------------------- */

static void test_integers_and_nulls(void)
{
    cd_column c[3];
    col(&c[0], "a", CD_OID_INT2, -1);
    col(&c[1], "b", CD_OID_INT4, -1);
    col(&c[2], "c", CD_OID_INT8, -1);
    sb s = {0};
    header(&s);
    tuple(&s, 3);
    f_i16(&s, -32768);
    f_i32(&s, 2147483647);
    f_i64(&s, INT64_MIN);
    tuple(&s, 3);
    f_null(&s);
    f_null(&s);
    f_null(&s);
    tuple(&s, 3);
    f_i16(&s, 7);
    f_i32(&s, -1);
    f_i64(&s, 1234567890123LL);
    trailer(&s);
    fh_error e;
    for (size_t step = 0; step < 4; step++) {
        CHECK_EQ_INT(run(c, 3, &s, step, 2048, &e), FH_OK);
        CHECK_EQ_INT(got_rows, 3);
        CHECK_STR(got[0][0], "-32768");
        CHECK_STR(got[0][1], "2147483647");
        CHECK_STR(got[0][2], "-9223372036854775808");
        CHECK_STR(got[1][0], "NULL");
        CHECK_STR(got[1][2], "NULL");
        CHECK_STR(got[2][1], "-1");
        CHECK_STR(got[2][2], "1234567890123");
    }
}

static void test_text_family(void)
{
    cd_column c[5];
    col(&c[0], "t", CD_OID_TEXT, -1);
    col(&c[1], "v", CD_OID_VARCHAR, 54);
    col(&c[2], "b", CD_OID_BPCHAR, 9);
    col(&c[3], "n", CD_OID_NAME, -1);
    col(&c[4], "j", CD_OID_JSON, -1);
    sb s = {0};
    header(&s);
    tuple(&s, 5);
    f_text(&s, "");
    f_text(&s, "a string longer than twelve bytes, not inlined");
    f_text(&s, "ab   ");
    f_text(&s, "pg_class");
    f_text(&s, "{\"a\": [1, 2]}");
    tuple(&s, 5);
    f_text(&s, "Kwame Nkrumah — Accra, ₵ 1 000");
    f_null(&s);
    f_null(&s);
    f_null(&s);
    f_null(&s);
    trailer(&s);
    fh_error e;
    CHECK_EQ_INT(run(c, 5, &s, 0, 2048, &e), FH_OK);
    CHECK_STR(got[0][0], "");
    CHECK_STR(got[0][1], "a string longer than twelve bytes, not inlined");
    CHECK_STR(got[0][2], "ab   ");
    CHECK_STR(got[0][3], "pg_class");
    CHECK_STR(got[0][4], "{\"a\": [1, 2]}");
    CHECK_STR(got[1][0], "Kwame Nkrumah — Accra, ₵ 1 000");
    CHECK_STR(got[1][4], "NULL");

    /* jsonb: version byte 1 then text */
    cd_column jb;
    col(&jb, "doc", CD_OID_JSONB, -1);
    sb s2 = {0};
    header(&s2);
    tuple(&s2, 1);
    f_bytes(&s2, "\001{\"k\": \"v\"}", 11);
    tuple(&s2, 1);
    f_null(&s2);
    trailer(&s2);
    CHECK_EQ_INT(run(&jb, 1, &s2, 0, 2048, &e), FH_OK);
    CHECK_STR(got[0][0], "{\"k\": \"v\"}");
    CHECK_STR(got[1][0], "NULL");

    sb s3 = {0};
    header(&s3);
    tuple(&s3, 1);
    f_bytes(&s3, "\002{}", 3);
    trailer(&s3);
    CHECK_EQ_INT(run(&jb, 1, &s3, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "version byte 1");

    /* invalid UTF-8 is refused, naming the column and row */
    sb s4 = {0};
    header(&s4);
    tuple(&s4, 5);
    f_text(&s4, "ok");
    f_text(&s4, "ok");
    f_text(&s4, "ok");
    f_text(&s4, "ok");
    f_text(&s4, "{}");
    tuple(&s4, 5);
    f_text(&s4, "ok");
    f_bytes(&s4, "bad \xc3\x28", 6);
    f_null(&s4);
    f_null(&s4);
    f_null(&s4);
    trailer(&s4);
    CHECK_EQ_INT(run(c, 5, &s4, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "column v");
    CHECK_CONTAINS(e.msg, "row 2");
    CHECK_CONTAINS(e.msg, "UTF-8");
}

static void test_bool_dates_times(void)
{
    cd_column c[6];
    col(&c[0], "ok", CD_OID_BOOL, -1);
    col(&c[1], "d", CD_OID_DATE, -1);
    col(&c[2], "ts", CD_OID_TIMESTAMP, -1);
    col(&c[3], "tz", CD_OID_TIMESTAMPTZ, -1);
    col(&c[4], "tm", CD_OID_TIME, -1);
    col(&c[5], "iv", CD_OID_INTERVAL, -1);
    sb s = {0};
    header(&s);
    tuple(&s, 6);
    f_bytes(&s, "\001", 1);
    f_i32(&s, 0);                                    /* 2000-01-01 */
    f_i64(&s, 0);                                    /* 2000-01-01 00:00:00 */
    f_i64(&s, 774013845123456LL);                    /* 2024-07-11 11:50:45.123456+00 */
    f_i64(&s, (13LL * 3600 + 5 * 60 + 7) * 1000000); /* 13:05:07 */
    put32(&s, 16);
    put64(&s, 3723000000LL);
    put32(&s, 4);
    put32(&s, 14); /* 1 year 2 months 4 days 01:02:03 */
    tuple(&s, 6);
    f_bytes(&s, "\000", 1);
    f_i32(&s, -1);        /* 1999-12-31 */
    f_i64(&s, -1);        /* 1999-12-31 23:59:59.999999 */
    f_i64(&s, INT64_MAX); /* infinity */
    f_null(&s);
    f_null(&s);
    tuple(&s, 6);
    f_null(&s);
    f_i32(&s, INT32_MAX); /* infinity */
    f_i64(&s, INT64_MIN); /* -infinity */
    f_null(&s);
    f_null(&s);
    f_null(&s);
    trailer(&s);
    fh_error e;
    CHECK_EQ_INT(run(c, 6, &s, 0, 2048, &e), FH_OK);
    CHECK_STR(got[0][0], "true");
    CHECK_STR(got[0][1], "2000-01-01");
    CHECK_STR(got[0][2], "2000-01-01 00:00:00");
    CHECK_CONTAINS(got[0][3], "2024-07-11 11:50:45.123456");
    CHECK_STR(got[0][4], "13:05:07");
    CHECK_STR(got[0][5], "1 year 2 months 4 days 01:02:03");
    CHECK_STR(got[1][0], "false");
    CHECK_STR(got[1][1], "1999-12-31");
    CHECK_STR(got[1][2], "1999-12-31 23:59:59.999999");
    CHECK_STR(got[1][3], "infinity");
    CHECK_STR(got[2][0], "NULL");
    CHECK_STR(got[2][1], "infinity");
    CHECK_STR(got[2][2], "-infinity");

    /* a boolean byte other than 0/1, and a wrong fixed length, are malformed */
    sb s2 = {0};
    header(&s2);
    tuple(&s2, 6);
    f_bytes(&s2, "\002", 1);
    f_null(&s2);
    f_null(&s2);
    f_null(&s2);
    f_null(&s2);
    f_null(&s2);
    trailer(&s2);
    CHECK_EQ_INT(run(c, 6, &s2, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "column ok");
    sb s3 = {0};
    header(&s3);
    tuple(&s3, 6);
    f_null(&s3);
    f_i16(&s3, 1);
    f_null(&s3);
    f_null(&s3);
    f_null(&s3);
    f_null(&s3);
    trailer(&s3);
    CHECK_EQ_INT(run(c, 6, &s3, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "column d");
    CHECK_CONTAINS(e.msg, "expected 4");
    /* a timestamp beyond DuckDB's range is an error, not a wrap-around */
    sb s4 = {0};
    header(&s4);
    tuple(&s4, 6);
    f_null(&s4);
    f_null(&s4);
    f_i64(&s4, INT64_MAX - 5);
    f_null(&s4);
    f_null(&s4);
    f_null(&s4);
    trailer(&s4);
    CHECK_EQ_INT(run(c, 6, &s4, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "out of DuckDB's range");
}

static void test_uuid_float_bytea(void)
{
    cd_column c[4];
    col(&c[0], "id", CD_OID_UUID, -1);
    col(&c[1], "f4", CD_OID_FLOAT4, -1);
    col(&c[2], "f8", CD_OID_FLOAT8, -1);
    col(&c[3], "raw", CD_OID_BYTEA, -1);
    sb s = {0};
    header(&s);
    tuple(&s, 4);
    f_bytes(&s, "\x55\x0e\x84\x00\xe2\x9b\x41\xd4\xa7\x16\x44\x66\x55\x44\x00\x00", 16);
    put32(&s, 4);
    put32(&s, 0x3fc00000); /* 1.5f */
    put32(&s, 8);
    put64(&s, (int64_t)0xc004000000000000ULL); /* -2.5 */
    f_bytes(&s, "\x00\x01\xff", 3);
    tuple(&s, 4);
    f_bytes(&s, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);
    f_null(&s);
    f_null(&s);
    f_null(&s);
    trailer(&s);
    fh_error e;
    CHECK_EQ_INT(run(c, 4, &s, 0, 2048, &e), FH_OK);
    CHECK_STR(got[0][0], "550e8400-e29b-41d4-a716-446655440000");
    CHECK_STR(got[0][1], "1.5");
    CHECK_STR(got[0][2], "-2.5");
    CHECK_STR(got[0][3], "\\x00\\x01\\xFF");
    CHECK_STR(got[1][0], "00000000-0000-0000-0000-000000000001");
}

/* Decode one numeric text into numeric(p,s) (p = 0: no typmod); returns rc, value in got[0][0]. */
/* One numeric value through column c, read back into got[0][0]. */
static int one_numeric(const cd_column *c, const char *txt, fh_error *e)
{
    sb s = {0};
    header(&s);
    tuple(&s, 1);
    f_numeric(&s, txt);
    trailer(&s);
    return run(c, 1, &s, 0, 2048, e);
}

static int num1(int p, int sc, const char *txt, fh_error *e)
{
    cd_column c;
    col(&c, "amount", CD_OID_NUMERIC, p ? numtm(p, sc) : -1);
    return one_numeric(&c, txt, e);
}

static void test_numeric(void)
{
    fh_error e;
    struct {
        int p, s;
        const char *in, *out;
    } ok[] = {
        {12, 2, "0", "0.00"},
        {12, 2, "-12.34", "-12.34"},
        {12, 2, "1000000.5", "1000000.50"},
        {4, 2, "-99.99", "-99.99"},                   /* int16 storage */
        {9, 3, "123456.789", "123456.789"},           /* int32 storage */
        {20, 12, "0.000000000123", "0.000000000123"}, /* large scale */
        {20, 12, "-0.000000000001", "-0.000000000001"},
        {18, 0, "123456789012345678", "123456789012345678"}, /* 18 digits */
        {18, 2, "-1234567890123456.78", "-1234567890123456.78"},
        {19, 0, "1234567890123456789", "1234567890123456789"}, /* hugeint from here */
        {38, 0, "12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
        {38, 0, "-99999999999999999999999999999999999999",
         "-99999999999999999999999999999999999999"},
        {38, 10, "1234567890123456789012345678.0123456789",
         "1234567890123456789012345678.0123456789"},
        {38, 38, "0.12345678901234567890123456789012345678",
         ".12345678901234567890123456789012345678"}, /* DuckDB prints no leading 0 when width == scale */
        {10, 4, "10000", "10000.0000"},              /* weight > 0, trailing zero groups */
        {10, 2, "1.5000", "1.50"},                   /* zeros beyond the scale are fine */
        {0, 0, "3.1415926535", "3.1415926535"},      /* no typmod → DECIMAL(38,10) */
        {5, 5, "0.00001", ".00001"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = num1(ok[i].p, ok[i].s, ok[i].in, &e);
        CHECK_EQ_INT(rc, FH_OK);
        if (rc == FH_OK)
            CHECK_STR(got[0][0], ok[i].out);
        else
            fprintf(stderr, "  case %s: %s\n", ok[i].in, e.msg);
    }
    struct {
        int p, s;
        const char *in, *msg;
    } bad[] = {
        {5, 2, "1234.5", "does not fit DECIMAL(5,2)"},
        {10, 2, "1.234", "does not fit DECIMAL(10,2) without rounding"},
        {10, 2, "0.001", "without rounding"},
        {18, 0, "1234567890123456789", "does not fit"},
        {38, 0, "123456789012345678901234567890123456789", "does not fit"},
        {38, 2, "1000000000000000000000000000000000000000000", "does not fit"},
        {12, 2, "NaN", "NaN"},
        {12, 2, "Infinity", "Infinity"},
        {12, 2, "-Infinity", "-Infinity"},
        {0, 0, "0.00000000001", "DECIMAL(38,10)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(num1(bad[i].p, bad[i].s, bad[i].in, &e), FH_EDATA);
        CHECK_CONTAINS(e.msg, bad[i].msg);
        CHECK_CONTAINS(e.msg, "table t, column amount");
        CHECK_CONTAINS(e.msg, "row 1");
    }
    num1(5, 2, "-1234.5", &e);
    CHECK_CONTAINS(e.msg, "value -1234.5 ");
}

/* A numeric column the registry keeps as text (or as its own DECIMAL): one value in, one out. */
static int num_as(int as_text, int w, int sc, const char *txt, fh_error *e)
{
    cd_column c;
    col(&c, "amount", CD_OID_NUMERIC, -1);
    if (copy_decode_override("t", &c, as_text, w, sc, e) != FH_OK)
        return e->code;
    return one_numeric(&c, txt, e);
}

static void test_numeric_types_from_registry(void)
{
    fh_error e;
    /* VARCHAR: numeric_out's text, scale included, whatever the size */
    const char *same[] = {"0",
                          "0.00",
                          "-12.34",
                          "1.50",
                          "10000",
                          "0.0001",
                          "-0.000000000001",
                          "123456789012345678901234567890123456789012345678901234567890.25",
                          "3.141592653589793238462643383279502884197169399375105820974944",
                          "NaN",
                          "Infinity",
                          "-Infinity",
                          "99990000.00010000"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        CHECK_EQ_INT(num_as(1, 0, 0, same[i], &e), FH_OK);
        CHECK_STR(got[0][0], same[i]);
    }
    cd_column c;
    col(&c, "amount", CD_OID_NUMERIC, -1);
    CHECK_EQ_INT(copy_decode_override("t", &c, 1, 0, 0, &e), FH_OK);
    char ty[32];
    copy_decode_type_sql(&c, ty, sizeof ty);
    CHECK_STR(ty, "VARCHAR");
    /* DECIMAL(p,s) of the registry's choosing: exact or an error, as any DECIMAL */
    CHECK_EQ_INT(num_as(0, 38, 20, "0.123456789012345", &e), FH_OK);
    CHECK_STR(got[0][0], "0.12345678901234500000");
    CHECK_EQ_INT(num_as(0, 38, 20, "1234567890123456789.5", &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "give it a warehouse type in the registry");
    /* only numeric columns take a type */
    col(&c, "note", CD_OID_TEXT, -1);
    CHECK_EQ_INT(copy_decode_override("t", &c, 1, 0, 0, &e), FH_ESCHEMA);
    CHECK_CONTAINS(e.msg, "table t, column note");
    /* a malformed value is an error, not a guess */
    sb s = {0};
    header(&s);
    tuple(&s, 1);
    put32(&s, 10);
    put16(&s, 1);
    put16(&s, 0);
    put16(&s, 0);
    put16(&s, 0);
    put16(&s, 12345);
    trailer(&s);
    col(&c, "amount", CD_OID_NUMERIC, -1);
    copy_decode_override("t", &c, 1, 0, 0, &e);
    CHECK_EQ_INT(run(&c, 1, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "malformed numeric");
}

static void test_type_mapping(void)
{
    cd_column c;
    fh_error e;
    memset(&c, 0, sizeof c);
    strcpy(c.name, "shape");
    strcpy(c.pg_type, "point");
    c.type_oid = 600;
    CHECK_EQ_INT(copy_decode_map_type("public.plots", &c, &e), FH_ESCHEMA);
    CHECK_CONTAINS(e.msg, "table public.plots, column shape: unsupported type point");
    c.type_oid = CD_OID_NUMERIC;
    c.typmod = numtm(50, 2);
    strcpy(c.pg_type, "numeric(50,2)");
    CHECK_EQ_INT(copy_decode_map_type("loans", &c, &e), FH_ESCHEMA);
    CHECK_CONTAINS(e.msg, "numeric(50,2)");
    c.typmod = -1;
    CHECK_EQ_INT(copy_decode_map_type("loans", &c, &e), FH_OK);
    char ty[64];
    copy_decode_type_sql(&c, ty, sizeof ty);
    CHECK_STR(ty, "DECIMAL(38,10)");
    c.typmod = numtm(3, 5);
    CHECK_EQ_INT(copy_decode_map_type("loans", &c, &e), FH_OK);
    copy_decode_type_sql(&c, ty, sizeof ty);
    CHECK_STR(ty, "DECIMAL(5,5)");
    c.type_oid = CD_OID_TIMESTAMPTZ;
    CHECK_EQ_INT(copy_decode_map_type("loans", &c, &e), FH_OK);
    copy_decode_type_sql(&c, ty, sizeof ty);
    CHECK_STR(ty, "TIMESTAMP WITH TIME ZONE");
}

static void test_stream_validation(void)
{
    cd_column c[2];
    col(&c[0], "id", CD_OID_INT4, -1);
    col(&c[1], "name", CD_OID_TEXT, -1);
    fh_error e;
    sb s;

    memset(&s, 0, sizeof s);
    put(&s, "PGCOPY\n\377\n\n\0", 11);
    put32(&s, 0);
    put32(&s, 0);
    trailer(&s);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "signature");

    memset(&s, 0, sizeof s);
    put(&s, "PGCOPY\n\377\r\n\0", 11);
    put32(&s, 1 << 16);
    put32(&s, 0);
    trailer(&s);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "OIDs");

    memset(&s, 0, sizeof s);
    put(&s, "PGCOPY\n\377\r\n\0", 11);
    put32(&s, 1 << 20);
    put32(&s, 0);
    trailer(&s);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "critical flags");

    /* non-critical flag bits and a header extension are skipped */
    memset(&s, 0, sizeof s);
    put(&s, "PGCOPY\n\377\r\n\0", 11);
    put32(&s, 0x5);
    put32(&s, 3);
    put(&s, "xyz", 3);
    tuple(&s, 2);
    f_i32(&s, 1);
    f_text(&s, "one");
    trailer(&s);
    CHECK_EQ_INT(run(c, 2, &s, 1, 2048, &e), FH_OK);
    CHECK_STR(got[0][1], "one");

    memset(&s, 0, sizeof s);
    header(&s);
    tuple(&s, 3);
    f_i32(&s, 1);
    f_text(&s, "x");
    f_null(&s);
    trailer(&s);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "3 fields, expected 2");

    memset(&s, 0, sizeof s);
    header(&s);
    tuple(&s, 2);
    f_i32(&s, 1);
    put32(&s, -7);
    trailer(&s);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "negative field length");

    /* truncated: no trailer, or a row cut in the middle */
    memset(&s, 0, sizeof s);
    header(&s);
    tuple(&s, 2);
    f_i32(&s, 1);
    f_text(&s, "x");
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "without its trailer");
    s.n -= 3;
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "without its trailer");

    /* a field length pointing past the end of the data */
    memset(&s, 0, sizeof s);
    header(&s);
    tuple(&s, 2);
    f_i32(&s, 1);
    put32(&s, 1000000);
    put(&s, "ab", 2);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);

    /* bytes after the trailer */
    memset(&s, 0, sizeof s);
    header(&s);
    trailer(&s);
    put(&s, "zz", 2);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "after the COPY trailer");
    CHECK_EQ_INT(run(c, 2, &s, 1, 2048, &e), FH_EDATA);

    /* empty table: header then trailer */
    memset(&s, 0, sizeof s);
    header(&s);
    trailer(&s);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_OK);
    CHECK_EQ_INT(got_rows, 0);

    /* empty input */
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(run(c, 2, &s, 0, 2048, &e), FH_EDATA);
}

static void test_splits_and_chunks(void)
{
    cd_column c[2];
    col(&c[0], "id", CD_OID_INT8, -1);
    col(&c[1], "note", CD_OID_TEXT, -1);
    static sb s;
    memset(&s, 0, sizeof s);
    header(&s);
    for (int i = 0; i < 50; i++) {
        char t[64];
        snprintf(t, sizeof t, "row %d with some padding text", i);
        tuple(&s, 2);
        f_i64(&s, i);
        if (i % 7 == 3)
            f_null(&s);
        else
            f_text(&s, t);
    }
    trailer(&s);
    fh_error e;
    size_t steps[] = {0, 1, 2, 3, 5, 13, 64, 1000};
    size_t caps[] = {1, 3, 7, 2048};
    for (size_t a = 0; a < sizeof steps / sizeof steps[0]; a++)
        for (size_t b = 0; b < sizeof caps / sizeof caps[0]; b++) {
            CHECK_EQ_INT(run(c, 2, &s, steps[a], caps[b], &e), FH_OK);
            CHECK_EQ_INT(got_rows, 50);
            CHECK_STR(got[49][0], "49");
            CHECK_STR(got[48][1], "row 48 with some padding text");
            CHECK_STR(got[3][1], "NULL");
            CHECK_STR(got[10][1], "NULL");
            CHECK_STR(got[11][1], "row 11 with some padding text");
        }
}

static void test_cursor_and_counters(void)
{
    cd_column c[2];
    col(&c[0], "id", CD_OID_INT4, -1);
    col(&c[1], "updated_at", CD_OID_TIMESTAMPTZ, -1);
    sb s = {0};
    header(&s);
    tuple(&s, 2);
    f_i32(&s, 1);
    f_i64(&s, 100);
    tuple(&s, 2);
    f_i32(&s, 2);
    f_i64(&s, 900);
    tuple(&s, 2);
    f_i32(&s, 3);
    f_null(&s);
    tuple(&s, 2);
    f_i32(&s, 4);
    f_i64(&s, INT64_MAX); /* infinity is not a watermark */
    trailer(&s);
    fh_error e;
    copy_decoder *d;
    CHECK_EQ_INT(copy_decode_new("t", c, 2, 1, &d, &e), FH_OK);
    duckdb_logical_type ty[2] = {copy_decode_logical_type(&c[0]), copy_decode_logical_type(&c[1])};
    duckdb_data_chunk ch = duckdb_create_data_chunk(ty, 2);
    copy_decode_bind_chunk(d, ch, duckdb_vector_size());
    size_t used;
    cd_status st;
    int64_t mx = 0;
    CHECK_EQ_INT(copy_decode_cursor_max(d, &mx), 0);
    CHECK_EQ_INT(copy_decode_feed(d, (const char *)s.b, s.n, &used, &st, &e), FH_OK);
    CHECK_EQ_INT(st, CD_END);
    CHECK_EQ_INT(used, s.n);
    CHECK_EQ_INT(copy_decode_finish_chunk(d), 4);
    CHECK_EQ_INT(copy_decode_rows(d), 4);
    CHECK_EQ_INT(copy_decode_bytes(d), s.n);
    CHECK_EQ_INT(copy_decode_cursor_max(d, &mx), 1);
    CHECK_EQ_INT(mx, 900 + 946684800000000LL);
    CHECK_EQ_INT(copy_decode_finish(d, &e), FH_OK);
    /* a second stream after reset */
    copy_decode_reset(d);
    duckdb_data_chunk_reset(ch);
    copy_decode_bind_chunk(d, ch, duckdb_vector_size());
    CHECK_EQ_INT(copy_decode_feed(d, (const char *)s.b, 19, &used, &st, &e), FH_OK);
    CHECK_EQ_INT(st, CD_NEED_INPUT);
    CHECK_EQ_INT(copy_decode_finish(d, &e), FH_EDATA);
    duckdb_destroy_data_chunk(&ch);
    duckdb_destroy_logical_type(&ty[0]);
    duckdb_destroy_logical_type(&ty[1]);
    copy_decode_free(d);
}

/* The row hash of the one row in stream s (row hashes enabled), or 0 on an error. */
static uint64_t row_hash_of(const cd_column *cols, size_t ncols, const sb *s)
{
    duckdb_logical_type types[9];
    for (size_t c = 0; c < ncols; c++)
        types[c] = copy_decode_logical_type(&cols[c]);
    types[ncols] = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_data_chunk chunk = duckdb_create_data_chunk(types, ncols + 1);
    copy_decoder *d;
    fh_error e;
    uint64_t h = 0;
    if (copy_decode_new("t", cols, ncols, -1, &d, &e) == FH_OK &&
        copy_decode_enable_row_hash(d, &e) == FH_OK) {
        copy_decode_bind_chunk(d, chunk, 16);
        size_t used;
        cd_status st;
        if (copy_decode_feed(d, (const char *)s->b, s->n, &used, &st, &e) == FH_OK &&
            copy_decode_finish_chunk(d) == 1)
            h = (uint64_t)((int64_t *)duckdb_vector_get_data(
                duckdb_data_chunk_get_vector(chunk, ncols)))[0];
        copy_decode_free(d);
    }
    duckdb_destroy_data_chunk(&chunk);
    for (size_t c = 0; c <= ncols; c++)
        duckdb_destroy_logical_type(&types[c]);
    return h;
}

/* Row hashes: the same values hash the same whatever the column order; a column that is NULL
 * (e.g. just added) leaves the hash unchanged; any changed value, or a value moved to another
 * column, changes it. */
static void test_row_hash(void)
{
    cd_column ab[3], ba[2];
    col(&ab[0], "id", CD_OID_INT8, -1);
    col(&ab[1], "amount", CD_OID_NUMERIC, numtm(12, 2));
    col(&ab[2], "added", CD_OID_TEXT, -1);
    col(&ba[0], "amount", CD_OID_NUMERIC, numtm(12, 2));
    col(&ba[1], "id", CD_OID_INT8, -1);
    sb s1 = {.n = 0}, s2 = {.n = 0}, s3 = {.n = 0}, s4 = {.n = 0}, s5 = {.n = 0};
    header(&s1);
    tuple(&s1, 3);
    f_i64(&s1, 42);
    f_numeric(&s1, "10.50");
    f_null(&s1);
    trailer(&s1);
    header(&s2);
    tuple(&s2, 2);
    f_numeric(&s2, "10.50");
    f_i64(&s2, 42);
    trailer(&s2);
    header(&s3);
    tuple(&s3, 3);
    f_i64(&s3, 42);
    f_numeric(&s3, "10.51");
    f_null(&s3);
    trailer(&s3);
    header(&s4);
    tuple(&s4, 3);
    f_i64(&s4, 42);
    f_numeric(&s4, "10.50");
    f_text(&s4, "");
    trailer(&s4);
    header(&s5);
    tuple(&s5, 2);
    f_numeric(&s5, "42");
    f_i64(&s5, 10);
    trailer(&s5);
    uint64_t h1 = row_hash_of(ab, 3, &s1), h2 = row_hash_of(ba, 2, &s2);
    CHECK(h1 != 0);
    CHECK(h1 == h2);
    CHECK(h1 != row_hash_of(ab, 3, &s3));
    CHECK(h1 != row_hash_of(ab, 3, &s4)); /* an empty string is not NULL */
    CHECK(h2 != row_hash_of(ba, 2, &s5));
}

/* Decode stream s into table `name` (source columns + row hash): by copy_decode_feed (put = 0) or
 * field by field through copy_decode_put (put = 1), walking the stream's tuples here. */
static void decode_into(const char *name, const cd_column *cols, size_t ncols, const sb *s, int put)
{
    duckdb_logical_type types[9];
    char sql[1024];
    snprintf(sql, sizeof sql, "CREATE OR REPLACE TABLE %s (", name);
    for (size_t c = 0; c < ncols; c++) {
        char ty[64];
        copy_decode_type_sql(&cols[c], ty, sizeof ty);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), "c%zu %s, ", c, ty);
        types[c] = copy_decode_logical_type(&cols[c]);
    }
    strcat(sql, "h BIGINT)");
    types[ncols] = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    CHECK(duckdb_query(con, sql, NULL) == DuckDBSuccess);
    duckdb_data_chunk chunk = duckdb_create_data_chunk(types, ncols + 1);
    copy_decoder *d;
    fh_error e;
    int rc = copy_decode_new("t", cols, ncols, -1, &d, &e);
    CHECK(rc == FH_OK && copy_decode_enable_row_hash(d, &e) == FH_OK);
    copy_decode_bind_chunk(d, chunk, 64);
    if (!put) {
        size_t used;
        cd_status st;
        CHECK(copy_decode_feed(d, (const char *)s->b, s->n, &used, &st, &e) == FH_OK);
        CHECK(st == CD_END);
    } else {
        size_t i = 19, row = 0;
        for (;;) {
            int16_t nf = (int16_t)((s->b[i] << 8) | s->b[i + 1]);
            i += 2;
            if (nf < 0)
                break;
            for (size_t c = 0; c < (size_t)nf; c++) {
                int32_t len = (int32_t)(((uint32_t)s->b[i] << 24) | ((uint32_t)s->b[i + 1] << 16) |
                                        ((uint32_t)s->b[i + 2] << 8) | s->b[i + 3]);
                i += 4;
                if (len < 0) {
                    copy_decode_put_null(d, row, c);
                    continue;
                }
                CHECK(copy_decode_put(d, row, c, s->b + i, (uint32_t)len, &e) == FH_OK);
                i += (size_t)len;
            }
            copy_decode_put_row_done(d, row++);
        }
        CHECK_EQ_INT(copy_decode_rows(d), row);
    }
    copy_decode_finish_chunk(d);
    duckdb_appender app;
    CHECK(duckdb_appender_create(con, NULL, name, &app) == DuckDBSuccess);
    CHECK(duckdb_append_data_chunk(app, chunk) == DuckDBSuccess);
    duckdb_appender_destroy(&app);
    duckdb_destroy_data_chunk(&chunk);
    for (size_t c = 0; c <= ncols; c++)
        duckdb_destroy_logical_type(&types[c]);
    copy_decode_free(d);
}

/* copy_decode_put decodes values exactly as the stream does: the same vectors, the same hashes;
 * and a malformed value is an error naming table, column and change. */
static void test_put_values(void)
{
    cd_column cols[6];
    col(&cols[0], "id", CD_OID_INT4, -1);
    col(&cols[1], "big", CD_OID_INT8, -1);
    col(&cols[2], "amount", CD_OID_NUMERIC, numtm(12, 2));
    col(&cols[3], "name", CD_OID_TEXT, -1);
    col(&cols[4], "at", CD_OID_TIMESTAMPTZ, -1);
    col(&cols[5], "ok", CD_OID_BOOL, -1);
    sb s = {.n = 0};
    header(&s);
    for (int r = 0; r < 3; r++) {
        tuple(&s, 6);
        f_i32(&s, r + 1);
        if (r == 1)
            f_null(&s);
        else
            f_i64(&s, INT64_C(9000000000) * (r + 1));
        f_numeric(&s, r == 2 ? "-12345.67" : "10.50");
        if (r == 2)
            f_null(&s);
        else
            f_text(&s, r ? "héllo" : "");
        f_i64(&s, INT64_C(86400000000) * r); /* 2000-01-01 + r days */
        unsigned char b = (unsigned char)(r & 1);
        f_bytes(&s, &b, 1);
    }
    trailer(&s);
    decode_into("via_stream", cols, 6, &s, 0);
    decode_into("via_put", cols, 6, &s, 1);
    duckdb_result r;
    CHECK(
        duckdb_query(con,
                     "SELECT (SELECT count(*) FROM via_put), (SELECT count(*) FROM (SELECT * FROM "
                     "via_stream EXCEPT ALL SELECT * FROM via_put)), (SELECT count(*) FROM (SELECT "
                     "* FROM via_put EXCEPT ALL SELECT * FROM via_stream)), (SELECT count(*) FROM "
                     "via_put WHERE h = 0 OR h IS NULL)",
                     &r) == DuckDBSuccess);
    CHECK_EQ_INT(duckdb_value_int64(&r, 0, 0), 3);
    CHECK_EQ_INT(duckdb_value_int64(&r, 1, 0), 0);
    CHECK_EQ_INT(duckdb_value_int64(&r, 2, 0), 0);
    CHECK_EQ_INT(duckdb_value_int64(&r, 3, 0), 0);
    duckdb_destroy_result(&r);

    /* a 3-byte int4 */
    duckdb_logical_type ty[2] = {copy_decode_logical_type(&cols[0]),
                                 duckdb_create_logical_type(DUCKDB_TYPE_BIGINT)};
    duckdb_data_chunk chunk = duckdb_create_data_chunk(ty, 2);
    copy_decoder *d;
    fh_error e;
    CHECK(copy_decode_new("loans", cols, 1, -1, &d, &e) == FH_OK);
    CHECK(copy_decode_enable_row_hash(d, &e) == FH_OK);
    copy_decode_bind_chunk(d, chunk, 8);
    const unsigned char bad[3] = {0, 0, 1};
    CHECK_EQ_INT(copy_decode_put(d, 0, 0, bad, 3, &e), FH_EDATA);
    CHECK_CONTAINS(e.msg, "table loans, column id");
    CHECK_CONTAINS(e.msg, "change 1");
    copy_decode_free(d);
    duckdb_destroy_data_chunk(&chunk);
    duckdb_destroy_logical_type(&ty[0]);
    duckdb_destroy_logical_type(&ty[1]);
}

int main(void)
{
    if (duckdb_open(NULL, &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess) {
        fprintf(stderr, "cannot open in-memory DuckDB\n");
        return 2;
    }
    duckdb_query(con, "SET TimeZone = 'UTC'", NULL);
    test_integers_and_nulls();
    test_text_family();
    test_bool_dates_times();
    test_uuid_float_bytea();
    test_numeric();
    test_type_mapping();
    test_stream_validation();
    test_splits_and_chunks();
    test_cursor_and_counters();
    test_row_hash();
    test_numeric_types_from_registry();
    test_put_values();
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return check_done("test_copy_decode");
}
