/* Unit tests of cdc_dest: streamed changes into a temp-file warehouse, group by group. Values are
 * given as PostgreSQL binary send-format bytes, built here (no pgoutput parser involved). */
#include "cdc_dest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static duckdb_connection con;

static int64_t i64q(const char *sql)
{
    duckdb_result r;
    if (duckdb_query(con, sql, &r) != DuckDBSuccess) {
        fprintf(stderr, "query failed: %s: %s\n", sql, duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        return -999;
    }
    int64_t v = duckdb_row_count(&r) ? duckdb_value_int64(&r, 0, 0) : -998;
    if (duckdb_row_count(&r) && duckdb_value_is_null(&r, 0, 0))
        v = -997;
    duckdb_destroy_result(&r);
    return v;
}

static char sbuf[512];
static const char *strq(const char *sql)
{
    duckdb_result r;
    snprintf(sbuf, sizeof sbuf, "(error)");
    if (duckdb_query(con, sql, &r) != DuckDBSuccess) {
        fprintf(stderr, "query failed: %s: %s\n", sql, duckdb_result_error(&r));
    } else if (duckdb_row_count(&r)) {
        char *v = duckdb_value_varchar(&r, 0, 0);
        snprintf(sbuf, sizeof sbuf, "%s", v ? v : "NULL");
        duckdb_free(v);
    } else {
        snprintf(sbuf, sizeof sbuf, "(none)");
    }
    duckdb_destroy_result(&r);
    return sbuf;
}

/* ---- values in binary send format ---- */

typedef struct {
    unsigned char b[16][64];
    pgo_value v[16];
    pgo_tuple t;
} row;

static void be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static void v_int(row *r, int c, int64_t v, int n)
{
    be(r->b[c], (uint64_t)v, n);
    r->v[c] = (pgo_value){.kind = 'b', .len = (uint32_t)n, .data = r->b[c]};
}

static void v_text(row *r, int c, const char *s)
{
    size_t n = strlen(s);
    memcpy(r->b[c], s, n);
    r->v[c] = (pgo_value){.kind = 'b', .len = (uint32_t)n, .data = r->b[c]};
}

/* numeric with 2 decimals, |cents| < 100000000 */
static void v_num(row *r, int c, int64_t cents)
{
    int neg = cents < 0;
    uint64_t a = (uint64_t)(neg ? -cents : cents);
    uint64_t ip = a / 100, fr = a % 100;
    unsigned char *p = r->b[c];
    int nd = 0;
    uint16_t digits[2];
    int weight;
    if (ip) {
        digits[nd++] = (uint16_t)ip;
        weight = 0;
        if (fr)
            digits[nd++] = (uint16_t)(fr * 100);
    } else {
        weight = -1;
        if (fr)
            digits[nd++] = (uint16_t)(fr * 100);
    }
    be(p, (uint64_t)nd, 2);
    be(p + 2, (uint64_t)(uint16_t)weight, 2);
    be(p + 4, neg ? 0x4000 : 0, 2);
    be(p + 6, 2, 2);
    for (int i = 0; i < nd; i++)
        be(p + 8 + 2 * i, digits[i], 2);
    r->v[c] = (pgo_value){.kind = 'b', .len = (uint32_t)(8 + 2 * nd), .data = p};
}

static void v_kind(row *r, int c, char k) { r->v[c] = (pgo_value){.kind = k}; }

#define PG_EPOCH_US INT64_C(946684800000000)
#define T0 INT64_C(1767225600000000) /* 2026-01-01 00:00:00 UTC */

enum { C_ID, C_BIG, C_AMOUNT, C_NAME, C_AT, C_OK, NC };

/* A loans row; name NULL → SQL NULL, "\x01" → unchanged TOASTed value ('u'). */
static const pgo_tuple *loan(row *r, int id, int64_t big, int64_t cents, const char *name,
                             int64_t at_us, int ok)
{
    memset(r, 0, sizeof *r);
    v_int(r, C_ID, id, 4);
    v_int(r, C_BIG, big, 8);
    v_num(r, C_AMOUNT, cents);
    if (!name)
        v_kind(r, C_NAME, 'n');
    else if (!strcmp(name, "\x01"))
        v_kind(r, C_NAME, 'u');
    else
        v_text(r, C_NAME, name);
    v_int(r, C_AT, at_us - PG_EPOCH_US, 8);
    v_int(r, C_OK, ok, 1);
    r->t = (pgo_tuple){.ncols = NC, .vals = r->v};
    return &r->t;
}

static const pgo_tuple *key_of(row *r, int id)
{
    memset(r, 0, sizeof *r);
    v_int(r, C_ID, id, 4);
    for (int c = 1; c < NC; c++)
        v_kind(r, c, 'n');
    r->t = (pgo_tuple){.ncols = NC, .vals = r->v};
    return &r->t;
}

static void col(cd_column *c, const char *name, uint32_t oid, int32_t typmod, const char *pgt)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->pg_type, sizeof c->pg_type, "%s", pgt);
    c->type_oid = oid;
    c->typmod = typmod;
    fh_error e;
    if (copy_decode_map_type("loans", c, &e) != FH_OK) {
        fprintf(stderr, "map_type: %s\n", e.msg);
        exit(2);
    }
}

static cd_column COLS[NC + 1];
static const int KEY[] = {C_ID};

static void setup_cols(void)
{
    col(&COLS[C_ID], "id", CD_OID_INT4, -1, "integer");
    col(&COLS[C_BIG], "big", CD_OID_INT8, -1, "bigint");
    col(&COLS[C_AMOUNT], "amount", CD_OID_NUMERIC, ((12 << 16) | 2) + 4, "numeric(12,2)");
    col(&COLS[C_NAME], "name", CD_OID_TEXT, -1, "text");
    col(&COLS[C_AT], "at", CD_OID_TIMESTAMPTZ, -1, "timestamp with time zone");
    col(&COLS[C_OK], "ok", CD_OID_BOOL, -1, "boolean");
    col(&COLS[NC], "note", CD_OID_TEXT, -1, "text");
}

/* raw's current view of loans, as dbt's latest_version reads it */
#define CUR                                                                            \
    "(SELECT * FROM raw.loans WHERE _fh_superseded IS NOT TRUE QUALIFY _fh_load_id = " \
    "max(_fh_load_id) OVER (PARTITION BY id))"
#define LIVE "(SELECT * FROM " CUR " WHERE _fh_op <> 'delete')"

static char dir[] = "/tmp/test_cdc_dest.XXXXXX";
static char path[300];

static void test_stream(void)
{
    duck_dest *wh;
    cdc_dest *d;
    fh_error err;
    CHECK_EQ_INT(duck_dest_open(path, 1, "64MB", NULL, &wh, &err), FH_OK);
    con = duck_dest_connection(wh);
    duckdb_query(con, "SET TimeZone = 'UTC'", NULL);
    duck_dest_set_trace(wh, getenv("CDC_TRACE") != NULL); /* the statements, to read them */
    CHECK_EQ_INT(cdc_dest_open(wh, "s1", &d, &err), FH_OK);
    cdc_state s;
    CHECK_EQ_INT(cdc_dest_read_state(d, &s, &err), FH_OK);
    CHECK_EQ_INT(s.found, 0);
    CHECK_EQ_INT(cdc_dest_snapshot_done(d, "pub", 50, &err), FH_OK);

    /* a table without a key */
    CHECK_EQ_INT(cdc_dest_relation(d, 99, "nokey", COLS, NC, NULL, 0, &err), FH_ESCHEMA);
    CHECK_CONTAINS(err.msg, "table nokey has no key");
    CHECK_CONTAINS(err.msg, "REPLICA IDENTITY");

    CHECK_EQ_INT(cdc_dest_relation(d, 7, "loans", COLS, NC, KEY, 1, &err), FH_OK);
    row a, b;
    /* group 1: inserts, updates of the same key, a delete */
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 100, T0 + 1, NULL,
                                 loan(&a, 1, INT64_C(9000000000), 1050, "one", T0, 1), &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 100, T0 + 1, NULL,
                                 loan(&a, 2, -5, -1225, NULL, T0 + 7, 0), &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 100, T0 + 1, NULL, loan(&a, 3, 3, 1, "three", T0, 1),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'U', 110, T0 + 2, NULL, loan(&a, 2, -5, 2000, "two", T0, 0),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'U', 120, T0 + 3, NULL, loan(&a, 2, -6, 2001, "two!", T0, 1),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'D', 130, T0 + 4, NULL, key_of(&a, 3), &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_pending(d), 6);
    cdc_group_stats st;
    err.code = FH_OK;
    CHECK_EQ_INT(cdc_dest_commit_group(d, 131, T0 + 4, &st, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_pending(d), 0);
    CHECK(st.load_id > 0);
    CHECK_EQ_INT(st.rows, 5);
    CHECK_EQ_INT(st.deleted, 1);
    CHECK_EQ_INT(st.tables, 1);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans"), 6);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans WHERE _fh_superseded"), 3);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans WHERE id = 2 AND _fh_superseded IS NOT TRUE"),
                 1);
    CHECK_STR(strq("SELECT string_agg(id || ':' || _fh_op, ',' ORDER BY id) FROM " CUR),
              "1:insert,2:update,3:delete");
    CHECK_STR(strq("SELECT big || '|' || amount || '|' || name || '|' || \"at\" || '|' || ok "
                   "FROM " CUR " WHERE id = 2"),
              "-6|20.01|two!|2026-01-01 00:00:00+00|true");
    CHECK_STR(strq("SELECT big || '|' || amount || '|' || name || '|' || ok FROM " CUR
                   " WHERE id = 1"),
              "9000000000|10.50|one|true");
    CHECK_EQ_INT(i64q("SELECT _fh_commit_lsn FROM " CUR " WHERE id = 2"), 120);
    CHECK_STR(strq("SELECT _fh_commit_ts::VARCHAR FROM " CUR " WHERE id = 2"),
              "2026-01-01 00:00:00.000003+00");
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans WHERE _fh_row_hash IS NULL"), 1); /* delete */
    CHECK_STR(strq("SELECT mode || rows_loaded || '/' || rows_deleted || ' ' || watermark_from || "
                   "' ' || watermark_to FROM raw._fh_loads"),
              "stream5/1 2026-01-01 00:00:00.000001+00 2026-01-01 00:00:00.000004+00");
    CHECK_EQ_INT(i64q("SELECT last_load_id FROM raw._fh_state WHERE table_name = 'loans'"),
                 st.load_id);
    CHECK_EQ_INT(cdc_dest_read_state(d, &s, &err), FH_OK);
    CHECK_EQ_INT(s.found, 1);
    CHECK_EQ_INT(s.confirmed_lsn, 131);
    CHECK_EQ_INT(s.snapshot_lsn, 50);
    CHECK_EQ_INT(s.confirmed_commit_ts, T0 + 4);
    CHECK_STR(s.publication, "pub");
    /* the same row via the stream hashes as a COPY of it would: the insert row of id 1 */
    CHECK(i64q("SELECT _fh_row_hash FROM " CUR " WHERE id = 1") != 0);

    /* group 2: an unchanged TOASTed value from an earlier group, and from the same group */
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'U', 200, T0 + 10, NULL, loan(&a, 1, 1, 1100, "\x01", T0, 0),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 210, T0 + 11, NULL, loan(&a, 5, 5, 500, "long", T0, 1),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'U', 220, T0 + 12, NULL, loan(&a, 5, 6, 600, "\x01", T0, 1),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'U', 230, T0 + 13, NULL, loan(&a, 5, 7, 700, "\x01", T0, 1),
                                 &err),
                 FH_OK);
    /* the key of 2 changes to 4: the old key's delete, then the update */
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'U', 240, T0 + 14, key_of(&b, 2),
                                 loan(&a, 4, 4, 400, "four", T0, 1), &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_commit_group(d, 241, T0 + 14, &st, &err), FH_OK);
    CHECK_STR(strq("SELECT name || amount FROM " CUR " WHERE id = 1"), "one11.00");
    CHECK_STR(strq("SELECT name || big FROM " CUR " WHERE id = 5"), "long7");
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans WHERE id = 5 AND name IS NULL"), 0);
    CHECK_STR(strq("SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM " LIVE), "1,4,5");
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans WHERE _fh_op NOT IN ('insert', 'update', "
                      "'delete')"),
                 0);

    /* group 3: TRUNCATE between an insert and another */
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 300, T0 + 20, NULL, loan(&a, 10, 1, 1, "x", T0, 1),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_truncate(d, 7, 310, T0 + 21, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 320, T0 + 22, NULL, loan(&a, 11, 1, 1, "y", T0, 1),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_commit_group(d, 321, T0 + 22, &st, &err), FH_OK);
    CHECK_STR(strq("SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM " LIVE), "11");
    CHECK_STR(strq("SELECT table_name || commit_lsn || '/' || keys_deleted || '/' || "
                   "(load_id = " /* the group's load */
                   "(SELECT max(load_id) FROM raw._fh_loads)) FROM raw._fh_truncates"),
              "loans310/4/true");
    CHECK_EQ_INT(st.deleted, 4);
    CHECK_EQ_INT(st.rows, 2);

    /* a new column */
    CHECK_EQ_INT(cdc_dest_relation(d, 7, "loans", COLS, NC + 1, KEY, 1, &err), FH_OK);
    row c;
    loan(&c, 12, 1, 1, "z", T0, 1);
    v_text(&c, NC, "noted");
    c.t.ncols = NC + 1;
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 400, T0 + 30, NULL, &c.t, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_commit_group(d, 401, T0 + 30, &st, &err), FH_OK);
    CHECK_STR(strq("SELECT note FROM " CUR " WHERE id = 12"), "noted");
    CHECK_STR(strq("SELECT coalesce(note, 'null') FROM " CUR " WHERE id = 11"), "null");

    /* an incompatible type change: nothing of the group is committed */
    int64_t loads = i64q("SELECT count(*) FROM raw._fh_loads"),
            rows = i64q("SELECT count(*) FROM raw.loans");
    cd_column bad[NC + 1];
    memcpy(bad, COLS, sizeof bad);
    col(&bad[C_NAME], "name", CD_OID_INT4, -1, "integer");
    CHECK_EQ_INT(cdc_dest_relation(d, 8, "other", COLS, NC, KEY, 1, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 8, 'I', 500, T0 + 40, NULL, loan(&a, 1, 1, 1, "o", T0, 1),
                                 &err),
                 FH_OK);
    CHECK_EQ_INT(cdc_dest_relation(d, 7, "loans", bad, NC + 1, KEY, 1, &err), FH_OK);
    v_int(&c, C_NAME, 42, 4);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 500, T0 + 40, NULL, &c.t, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_commit_group(d, 501, T0 + 40, &st, &err), FH_ESCHEMA);
    CHECK_CONTAINS(err.msg, "table loans, column name");
    CHECK_EQ_INT(cdc_dest_pending(d), 0);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw._fh_loads"), loads);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans"), rows);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'other'"), 0);
    CHECK_EQ_INT(cdc_dest_read_state(d, &s, &err), FH_OK);
    CHECK_EQ_INT(s.confirmed_lsn, 401);

    /* nothing pending: only the position moves */
    CHECK_EQ_INT(cdc_dest_relation(d, 7, "loans", COLS, NC + 1, KEY, 1, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_commit_group(d, 999, 0, &st, &err), FH_OK);
    CHECK_EQ_INT(st.load_id, 0);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw._fh_loads"), loads);
    CHECK_EQ_INT(cdc_dest_read_state(d, &s, &err), FH_OK);
    CHECK_EQ_INT(s.confirmed_lsn, 999);
    CHECK_EQ_INT(s.confirmed_commit_ts, T0 + 30);

    /* rollback leaves nothing */
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 1000, T0 + 50, NULL, &c.t, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_pending(d), 1);
    cdc_dest_rollback_group(d);
    CHECK_EQ_INT(cdc_dest_pending(d), 0);
    CHECK_EQ_INT(cdc_dest_commit_group(d, 1001, T0 + 50, &st, &err), FH_OK);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans"), rows);

    /* a text-format value is refused, naming the column */
    loan(&a, 13, 1, 1, "t", T0, 1);
    a.v[C_NAME].kind = 't';
    CHECK_EQ_INT(cdc_dest_relation(d, 7, "loans", COLS, NC, KEY, 1, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 7, 'I', 1100, T0 + 60, NULL, &a.t, &err), FH_EDATA);
    CHECK_CONTAINS(err.msg, "table loans, column name");
    CHECK_EQ_INT(cdc_dest_pending(d), 0);

    cdc_dest_close(d);
    duck_dest_close(wh);

    /* durable: the position after reopening the file */
    CHECK_EQ_INT(duck_dest_open(path, 1, "64MB", NULL, &wh, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_open(wh, "s1", &d, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_read_state(d, &s, &err), FH_OK);
    CHECK_EQ_INT(s.found, 1);
    CHECK_EQ_INT(s.confirmed_lsn, 1001);
    CHECK_EQ_INT(cdc_dest_forget(d, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_read_state(d, &s, &err), FH_OK);
    CHECK_EQ_INT(s.found, 0);
    cdc_dest_close(d);
    duck_dest_close(wh);
}

/* 10,000 single-row inserts (one transaction each at the source) into one table, one group. */
static void test_throughput(void)
{
    duck_dest *wh;
    cdc_dest *d;
    fh_error err;
    char p2[400];
    snprintf(p2, sizeof p2, "%s/bench.duckdb", dir);
    CHECK_EQ_INT(duck_dest_open(p2, 1, "64MB", NULL, &wh, &err), FH_OK);
    con = duck_dest_connection(wh);
    CHECK_EQ_INT(cdc_dest_open(wh, "s1", &d, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_relation(d, 7, "loans", COLS, NC, KEY, 1, &err), FH_OK);
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    row a;
    for (int i = 0; i < 10000; i++)
        if (cdc_dest_change(d, 7, 'I', (uint64_t)(1000 + i), T0 + i, NULL,
                            loan(&a, i, i, i, "some name", T0, 1), &err) != FH_OK)
            break;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cdc_group_stats st;
    CHECK_EQ_INT(cdc_dest_commit_group(d, 20000, T0 + 9999, &st, &err), FH_OK);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    CHECK_EQ_INT(st.rows, 10000);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw.loans WHERE _fh_superseded IS NOT TRUE"), 10000);
    fprintf(stderr, "test_cdc_dest: 10000 inserts: buffered in %.1f ms, group commit %.1f ms\n",
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
            (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
    /* and 100 groups of one update each (an idle-ish source) */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 100; i++) {
        cdc_dest_change(d, 7, 'U', (uint64_t)(30000 + i), T0 + i, NULL,
                        loan(&a, i, i, i + 1, "other", T0, 1), &err);
        if (cdc_dest_commit_group(d, (uint64_t)(30000 + i), T0 + i, &st, &err) != FH_OK)
            break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ_INT(i64q("SELECT count(*) FROM raw._fh_loads"), 101);
    fprintf(stderr, "test_cdc_dest: 100 one-row groups: %.2f ms per group commit\n",
            ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) /
                100.0);
    cdc_dest_close(d);
    duck_dest_close(wh);
    remove(p2);
}

/* ---- a batch source for duck_dest_load / duck_dest_reconcile: a binary COPY stream, decoded ---- */

typedef struct {
    unsigned char b[4096];
    size_t n;
    const cd_column *cols;
    size_t ncols;
    int done;
} copy_src;

static void cs_put(copy_src *s, const void *p, size_t n)
{
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void cs_int(copy_src *s, uint64_t v, int n)
{
    unsigned char t[8];
    be(t, v, n);
    cs_put(s, t, (size_t)n);
}

/* rows of (id int4, name text) */
static void cs_build(copy_src *s, const int *ids, const char *const *names, int n)
{
    s->n = 0;
    cs_put(s, "PGCOPY\n\377\r\n\0", 11);
    cs_int(s, 0, 4);
    cs_int(s, 0, 4);
    for (int i = 0; i < n; i++) {
        cs_int(s, 2, 2);
        cs_int(s, 4, 4);
        cs_int(s, (uint64_t)ids[i], 4);
        cs_int(s, strlen(names[i]), 4);
        cs_put(s, names[i], strlen(names[i]));
    }
    cs_int(s, 0xffff, 2);
    s->done = 0;
}

static int cs_fill(void *ctx, void **local, duckdb_data_chunk chunk, size_t capacity, size_t *rows,
                   fh_error *err)
{
    (void)local;
    copy_src *s = ctx;
    *rows = 0;
    if (s->done)
        return FH_OK;
    copy_decoder *dec;
    int rc = copy_decode_new("acct", s->cols, s->ncols, -1, &dec, err);
    if (rc != FH_OK)
        return rc;
    if ((rc = copy_decode_enable_row_hash(dec, err)) == FH_OK) {
        copy_decode_bind_chunk(dec, chunk, capacity);
        size_t used;
        cd_status st;
        rc = copy_decode_feed(dec, (const char *)s->b, s->n, &used, &st, err);
        *rows = copy_decode_finish_chunk(dec);
    }
    copy_decode_free(dec);
    s->done = 1;
    return rc;
}

static duck_scan_source cs_source(copy_src *s)
{
    return (duck_scan_source){.ctx = s,
                              .cols = s->cols,
                              .ncols = s->ncols,
                              .row_hash = 1,
                              .max_threads = 1,
                              .fill = cs_fill};
}

static copy_src range_cs;
static duck_scan_source range_source;

static int cs_open_range(void *ctx, const char *where, duck_scan_source **out, fh_error *err)
{
    (void)ctx;
    (void)err;
    CHECK(where == NULL);
    range_cs.done = 0;
    range_source = cs_source(&range_cs);
    *out = &range_source;
    return FH_OK;
}

static int cs_close_range(void *ctx, int ok, fh_error *err)
{
    (void)ctx;
    (void)ok;
    (void)err;
    return FH_OK;
}

static const pgo_tuple *acct_row(row *r, int id, const char *name)
{
    memset(r, 0, sizeof *r);
    v_int(r, 0, id, 4);
    if (name)
        v_text(r, 1, name);
    else
        v_kind(r, 1, 'n');
    r->t = (pgo_tuple){.ncols = 2, .vals = r->v};
    return &r->t;
}

/* A full batch load, then streamed changes, then a reconciliation against the source as it now
 * is: the streamed rows (hashes included) already match it, nothing is repaired. */
static void test_batch_then_stream_reconcile(void)
{
    duck_dest *wh;
    cdc_dest *d;
    fh_error err;
    char p3[400];
    snprintf(p3, sizeof p3, "%s/rec.duckdb", dir);
    CHECK_EQ_INT(duck_dest_open(p3, 1, "64MB", NULL, &wh, &err), FH_OK);
    con = duck_dest_connection(wh);
    cd_column cols[2];
    col(&cols[0], "id", CD_OID_INT4, -1, "integer");
    col(&cols[1], "name", CD_OID_TEXT, -1, "text");
    static const char *key[] = {"id"};
    copy_src src = {.cols = cols, .ncols = 2};
    const int ids0[] = {1, 2, 3};
    const char *names0[] = {"a", "b", "c"};
    cs_build(&src, ids0, names0, 3);
    duck_scan_source ss = cs_source(&src);
    duck_dest_spec spec = {.table = "acct",
                           .cols = cols,
                           .ncols = 2,
                           .key = key,
                           .nkey = 1,
                           .full = 1,
                           .max_delete_pct = 50,
                           .src = &ss};
    duck_dest_result res;
    CHECK_EQ_INT(duck_dest_load(wh, &spec, &res, &err), FH_OK);
    CHECK_EQ_INT(res.rows, 3);

    CHECK_EQ_INT(cdc_dest_open(wh, "s1", &d, &err), FH_OK);
    const int kc[] = {0};
    CHECK_EQ_INT(cdc_dest_relation(d, 1, "acct", cols, 2, kc, 1, &err), FH_OK);
    row a, b;
    CHECK_EQ_INT(cdc_dest_change(d, 1, 'U', 10, T0, NULL, acct_row(&a, 2, "B"), &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 1, 'D', 11, T0, NULL, acct_row(&a, 3, NULL), &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 1, 'I', 12, T0, NULL, acct_row(&a, 4, "d"), &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 1, 'I', 13, T0, NULL, acct_row(&a, 5, "e"), &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_change(d, 1, 'U', 14, T0, NULL, acct_row(&a, 5, "e2"), &err), FH_OK);
    /* the key of 1 becomes 6 */
    CHECK_EQ_INT(cdc_dest_change(d, 1, 'U', 15, T0, acct_row(&b, 1, NULL), acct_row(&a, 6, "a"),
                                 &err),
                 FH_OK);
    cdc_group_stats st;
    CHECK_EQ_INT(cdc_dest_commit_group(d, 16, T0, &st, &err), FH_OK);

    const int ids1[] = {2, 4, 5, 6};
    const char *names1[] = {"B", "d", "e2", "a"};
    range_cs.cols = cols;
    range_cs.ncols = 2;
    cs_build(&range_cs, ids1, names1, 4);
    uint64_t compared = 4;
    duck_dest_spec rs = {.table = "acct",
                         .cols = cols,
                         .ncols = 2,
                         .key = key,
                         .nkey = 1,
                         .max_delete_pct = 50,
                         .open_range = cs_open_range,
                         .close_range = cs_close_range,
                         .compared = &compared};
    CHECK_EQ_INT(duck_dest_reconcile(wh, &rs, &res, &err), FH_OK);
    CHECK_EQ_INT(res.rows, 0);
    CHECK_EQ_INT(res.deleted, 0);
    /* and a full load of the same state finds no key to delete */
    cs_build(&src, ids1, names1, 4);
    CHECK_EQ_INT(duck_dest_load(wh, &spec, &res, &err), FH_OK);
    CHECK_EQ_INT(res.deleted, 0);
    cdc_dest_close(d);
    duck_dest_close(wh);
    remove(p3);
}

/* More than 64 columns: the unchanged-TOAST marker is a string, not a bitmask. */
static void test_wide_toast(void)
{
    duck_dest *wh;
    cdc_dest *d;
    fh_error err;
    char p4[400];
    snprintf(p4, sizeof p4, "%s/wide.duckdb", dir);
    CHECK_EQ_INT(duck_dest_open(p4, 1, "64MB", NULL, &wh, &err), FH_OK);
    con = duck_dest_connection(wh);
    enum { W = 70 };
    static cd_column cols[W];
    col(&cols[0], "id", CD_OID_INT4, -1, "integer");
    for (int c = 1; c < W; c++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", c);
        col(&cols[c], name, CD_OID_TEXT, -1, "text");
    }
    CHECK_EQ_INT(cdc_dest_open(wh, "s1", &d, &err), FH_OK);
    const int kc[] = {0};
    CHECK_EQ_INT(cdc_dest_relation(d, 3, "wide", cols, W, kc, 1, &err), FH_OK);
    static unsigned char bytes[W][8];
    static pgo_value v[W];
    be(bytes[0], 1, 4);
    v[0] = (pgo_value){.kind = 'b', .len = 4, .data = bytes[0]};
    for (int c = 1; c < W; c++) {
        snprintf((char *)bytes[c], sizeof bytes[c], "v%d", c);
        v[c] =
            (pgo_value){.kind = 'b', .len = (uint32_t)strlen((char *)bytes[c]), .data = bytes[c]};
    }
    pgo_tuple t = {.ncols = W, .vals = v};
    CHECK_EQ_INT(cdc_dest_change(d, 3, 'I', 10, T0, NULL, &t, &err), FH_OK);
    cdc_group_stats st;
    CHECK_EQ_INT(cdc_dest_commit_group(d, 11, T0, &st, &err), FH_OK);
    v[69].kind = 'u';
    v[2].kind = 'u';
    memcpy(bytes[1], "new", 3);
    v[1].len = 3;
    CHECK_EQ_INT(cdc_dest_change(d, 3, 'U', 20, T0, NULL, &t, &err), FH_OK);
    CHECK_EQ_INT(cdc_dest_commit_group(d, 21, T0, &st, &err), FH_OK);
    CHECK_STR(strq("SELECT c1 || c2 || c3 || c69 FROM raw.wide WHERE _fh_op = 'update'"),
              "newv2v3v69");
    cdc_dest_close(d);
    duck_dest_close(wh);
    remove(p4);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(path, sizeof path, "%s/wh.duckdb", dir);
    setup_cols();
    test_stream();
    test_throughput();
    test_batch_then_stream_reconcile();
    test_wide_toast();
    remove(path);
    char wal[320];
    snprintf(wal, sizeof wal, "%s.wal", path);
    remove(wal);
    rmdir(dir);
    return check_done("test_cdc_dest");
}
