/*
 * test_duck_dest — the DuckDB destination and the Parquet stage with a synthetic producer (no
 * PostgreSQL): parallel fh_scan() inserts, load ids and state, delete detection, schema evolution
 * (added column, widening, incompatible change), a producer error that must roll everything back,
 * and Parquet files with their manifest.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "duck_dest.h"
#include "stage_parquet.h"

/* A producer of rows id = first..first+n-1 (skipping ids in `gone`), cut into `parts` ranges
 * claimed by DuckDB's threads; fails at row `fail_at` (0: never). */
typedef struct {
    cd_column cols[5];
    size_t ncols;
    int64_t first, n, fail_at, gone_lo, gone_hi;
    size_t parts;
    atomic_long next;
    int64_t amount_add;
    int row_hash;                                /* also fill a row-hash column after the others */
    int64_t changed_lo, changed_hi, changed_add; /* ids whose amount differs by changed_add */
    int max_delete_pct;                          /* 0: the default, 50 */
} fake;

typedef struct {
    int64_t pos, end;
} fake_local;

static void mkcol(cd_column *c, const char *name, uint32_t oid, int32_t typmod)
{
    memset(c, 0, sizeof *c);
    strcpy(c->name, name);
    strcpy(c->pg_type, name);
    c->type_oid = oid;
    c->typmod = typmod;
    fh_error e;
    copy_decode_map_type("t", c, &e);
}

static int fake_fill(void *ctx, void **local, duckdb_data_chunk chunk, size_t cap, size_t *rows,
                     fh_error *err)
{
    fake *f = ctx;
    fake_local *l = *local;
    *rows = 0;
    if (!l) {
        l = calloc(1, sizeof *l);
        *local = l;
    }
    int64_t *id = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0));
    duckdb_vector name = duckdb_data_chunk_get_vector(chunk, 1);
    int64_t *amount = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 2));
    int64_t *ts = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 3));
    int64_t *extra =
        f->ncols > 4 ? duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 4)) : NULL;
    int64_t *hash =
        f->row_hash ? duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, f->ncols)) : NULL;
    while (*rows < cap) {
        if (l->pos >= l->end) { /* claim the next range, as pg_source_scan does */
            long p = atomic_fetch_add(&f->next, 1);
            if ((size_t)p >= f->parts)
                break;
            l->pos = f->first + f->n * p / (int64_t)f->parts;
            l->end = f->first + f->n * (p + 1) / (int64_t)f->parts;
            continue;
        }
        int64_t v = l->pos++;
        if (v >= f->gone_lo && v <= f->gone_hi)
            continue;
        if (f->fail_at && v == f->fail_at)
            return fh_error_set(err, FH_EDATA, "table t, column amount, row %lld: injected",
                                (long long)v);
        id[*rows] = v;
        char s[32];
        snprintf(s, sizeof s, "name %lld", (long long)v);
        duckdb_vector_assign_string_element(name, *rows, s);
        amount[*rows] = v * 100 + f->amount_add; /* DECIMAL(12,2) → int64 */
        if (v >= f->changed_lo && v <= f->changed_hi)
            amount[*rows] += f->changed_add;
        if (hash) /* a function of the row's values, as the real row hash is */
            hash[*rows] = v * 1000003 + amount[*rows];
        ts[*rows] = INT64_C(1720698645000000) + v;
        if (extra)
            extra[*rows] = v;
        (*rows)++;
    }
    return FH_OK;
}

static void fake_free(void *ctx, void *local)
{
    (void)ctx;
    free(local);
}

static int fake_done(void *ctx, int *has, int64_t *max, fh_error *err)
{
    (void)err;
    fake *f = ctx;
    *has = 1;
    *max = INT64_C(1720698645000000) + f->first + f->n - 1;
    return FH_OK;
}

static const char *KEY[] = {"id"};

static int load(duck_dest *d, fake *f, int full, duck_dest_result *res, fh_error *err)
{
    atomic_store(&f->next, 0);
    duck_scan_source src = {.ctx = f,
                            .cols = f->cols,
                            .ncols = f->ncols,
                            .max_threads = f->parts,
                            .row_hash = f->row_hash,
                            .fill = fake_fill,
                            .local_free = fake_free};
    duck_dest_state st;
    duck_dest_read_state(d, "t", &st, err);
    duck_dest_spec spec = {.table = "t",
                           .cols = f->cols,
                           .ncols = f->ncols,
                           .key = KEY,
                           .nkey = 1,
                           .full = full,
                           .max_delete_pct = f->max_delete_pct ? f->max_delete_pct : 50,
                           .has_wm_from = st.has_watermark,
                           .wm_from = st.watermark_us,
                           .src = &src,
                           .scan_done = fake_done,
                           .scan_ctx = f};
    return duck_dest_load(d, &spec, res, err);
}

static char *one(duck_dest *d, const char *sql)
{
    static char buf[256];
    char q[2048];
    snprintf(q, sizeof q, "SELECT (%s)::VARCHAR", sql);
    duckdb_result r;
    if (duckdb_query(duck_dest_connection(d), q, &r) != DuckDBSuccess) {
        snprintf(buf, sizeof buf, "ERROR %s", duckdb_result_error(&r));
    } else {
        char *v = duckdb_value_varchar(&r, 0, 0);
        snprintf(buf, sizeof buf, "%s", v ? v : "NULL");
        duckdb_free(v);
    }
    duckdb_destroy_result(&r);
    return buf;
}

/* Reconciliation's producer: the fake, whole (one key range: the tests stay below a pass). */
static duck_scan_source range_src;
static int ranges_opened;

static int fake_open_range(void *ctx, const char *where, duck_scan_source **out, fh_error *err)
{
    (void)err;
    fake *f = ctx;
    CHECK(where == NULL);
    atomic_store(&f->next, 0);
    range_src = (duck_scan_source){.ctx = f,
                                   .cols = f->cols,
                                   .ncols = f->ncols,
                                   .max_threads = f->parts,
                                   .row_hash = 1,
                                   .fill = fake_fill,
                                   .local_free = fake_free};
    ranges_opened++;
    *out = &range_src;
    return FH_OK;
}

static int fake_close_range(void *ctx, int ok, fh_error *err)
{
    (void)ctx;
    (void)ok;
    (void)err;
    return FH_OK;
}

static int reconcile(duck_dest *d, fake *f, duck_dest_result *res, fh_error *err)
{
    static uint64_t compared; /* the rows the fake source holds */
    compared = 0;
    for (int64_t v = f->first; v < f->first + f->n; v++)
        compared += !(v >= f->gone_lo && v <= f->gone_hi);
    duck_dest_state st;
    duck_dest_read_state(d, "t", &st, err);
    duck_dest_spec spec = {.table = "t",
                           .cols = f->cols,
                           .ncols = f->ncols,
                           .key = KEY,
                           .nkey = 1,
                           .max_delete_pct = f->max_delete_pct ? f->max_delete_pct : 50,
                           .has_wm_from = st.has_watermark,
                           .wm_from = st.watermark_us,
                           .open_range = fake_open_range,
                           .close_range = fake_close_range,
                           .range_ctx = f,
                           .compared = &compared};
    return duck_dest_reconcile(d, &spec, res, err);
}

/* Rows where the current-keys table and raw's latest non-deleted versions differ. */
#define CUR_DIFF                                                                                   \
    "SELECT (SELECT count(*) FROM (SELECT id, _fh_load_id, _fh_row_hash FROM (SELECT * FROM "      \
    "raw.t "                                                                                       \
    "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _fh_load_id DESC) = 1) WHERE _fh_op <> "  \
    "'delete' EXCEPT SELECT id, _fh_load_id, _fh_row_hash FROM raw._fh_current_t)) + (SELECT "     \
    "count(*) FROM (SELECT id, _fh_load_id, _fh_row_hash FROM raw._fh_current_t EXCEPT SELECT "    \
    "id, "                                                                                         \
    "_fh_load_id, _fh_row_hash FROM (SELECT * FROM raw.t QUALIFY row_number() OVER (PARTITION BY " \
    "id ORDER BY _fh_load_id DESC) = 1) WHERE _fh_op <> 'delete'))"

/* The current-keys table, the delete guard and reconciliation, on a warehouse of their own. */
static void test_current_guard_reconcile(const char *dir)
{
    char path[300];
    snprintf(path, sizeof path, "%s/rec.duckdb", dir);
    fake f = {.ncols = 4, .first = 1, .n = 5000, .parts = 2, .row_hash = 1};
    mkcol(&f.cols[0], "id", CD_OID_INT8, -1);
    mkcol(&f.cols[1], "name", CD_OID_TEXT, -1);
    mkcol(&f.cols[2], "amount", CD_OID_NUMERIC, ((12 << 16) | 2) + 4);
    mkcol(&f.cols[3], "updated_at", CD_OID_TIMESTAMPTZ, -1);
    duck_dest *d;
    fh_error err;
    duck_dest_result res;
    CHECK_EQ_INT(duck_dest_open(path, 2, "64MB", NULL, &d, &err), FH_OK);
    CHECK_EQ_INT(load(d, &f, 1, &res, &err), FH_OK);
    CHECK_STR(one(d, "SELECT count(*) FROM raw._fh_current_t"), "5000");
    CHECK_STR(one(d, CUR_DIFF), "0");
    CHECK_STR(one(d, "SELECT count(*) FROM raw.t WHERE _fh_row_hash = id * 1000003 + amount * 100"),
              "5000");

    CHECK_STR(one(d, "SELECT current_as_of FROM raw._fh_state"), "1");
    /* an incremental load leaves the current keys as they were (as of load 1): the view is them
     * overridden by the rows loaded since */
    f.first = 100;
    f.n = 50;
    f.amount_add = 7;
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_OK);
    CHECK_STR(one(d, "SELECT count(*) FROM raw._fh_current_t WHERE _fh_load_id = 2"), "0");
    CHECK_STR(one(d, "SELECT current_as_of FROM raw._fh_state"), "1");

    /* a full load that would delete 60% of the keys is refused, nothing committed; 100 allows it */
    f.first = 1;
    f.n = 5000;
    f.amount_add = 0;
    f.gone_lo = 2001;
    f.gone_hi = 5000;
    char before[64];
    snprintf(before, sizeof before, "%s",
             one(d, "SELECT count(*) || '/' || max(load_id) FROM raw._fh_loads"));
    CHECK_EQ_INT(load(d, &f, 1, &res, &err), FH_EDATA);
    CHECK_CONTAINS(err.msg, "table t: this full load would mark 3000 of 5000 rows (60%) deleted, "
                            "above the 50% limit");
    CHECK_STR(one(d, "SELECT current_as_of FROM raw._fh_state"), "1");
    CHECK_CONTAINS(err.msg, "--max-delete-percent 100");
    CHECK_STR(one(d, "SELECT count(*) || '/' || max(load_id) FROM raw._fh_loads"), before);
    CHECK_STR(one(d, "SELECT count(*) FROM raw._fh_current_t"), "5000");
    f.max_delete_pct = 60;
    CHECK_EQ_INT(load(d, &f, 1, &res, &err), FH_OK);
    CHECK_EQ_INT(res.deleted, 3000);
    CHECK_STR(one(d, "SELECT count(*) FROM raw._fh_current_t"), "2000");
    CHECK_STR(one(d, CUR_DIFF), "0");
    CHECK_STR(one(d, "SELECT current_as_of = last_load_id FROM raw._fh_state"), "true");
    f.max_delete_pct = 0;

    /* reconciliation: the source is keys 1..2000 with 10..19 changed, 1990..2000 gone, 2001..2004
     * back; only those are written */
    f.gone_lo = 1990;
    f.gone_hi = 2000;
    f.n = 2004;
    f.changed_lo = 10;
    f.changed_hi = 19;
    f.changed_add = 1;
    ranges_opened = 0;
    CHECK_EQ_INT(reconcile(d, &f, &res, &err), FH_OK);
    CHECK_EQ_INT(ranges_opened, 1);
    CHECK_EQ_INT(res.rows, 10 + 4); /* changed, and back */
    CHECK_EQ_INT(res.deleted, 11);
    CHECK_STR(one(d, "SELECT mode FROM raw._fh_loads ORDER BY load_id DESC LIMIT 1"), "reconcile");
    CHECK_STR(one(d, CUR_DIFF), "0");
    CHECK_STR(one(d, "SELECT current_as_of = last_load_id FROM raw._fh_state"), "true");
    /* an incremental load since, then a reconciliation: the view is the current keys and that
     * load's rows; it repairs nothing (the incremental brought 100..149 back to amount_add 0) */
    f.first = 100;
    f.n = 50;
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_OK);
    f.first = 1;
    f.n = 2004;
    CHECK_EQ_INT(reconcile(d, &f, &res, &err), FH_OK);
    CHECK_EQ_INT(res.rows, 0);
    CHECK_EQ_INT(res.deleted, 0);
    CHECK_STR(one(d, CUR_DIFF), "0");
    /* a warehouse from before the current keys: they are built from raw's whole history */
    CHECK(
        duckdb_query(duck_dest_connection(d),
                     "DROP TABLE raw._fh_current_t; UPDATE raw._fh_state SET current_as_of = NULL",
                     NULL) == DuckDBSuccess);
    f.changed_lo = 1;
    f.changed_hi = 1;
    f.changed_add = 99;
    CHECK_EQ_INT(reconcile(d, &f, &res, &err), FH_OK);
    CHECK_EQ_INT(res.rows, 1 + 10); /* key 1 changed, keys 10..19 back to their first amounts */
    CHECK_EQ_INT(res.deleted, 0);
    CHECK_STR(one(d, CUR_DIFF), "0");
    CHECK_STR(one(d, "SELECT count(*) FROM raw._fh_current_t"), "1993");
    /* nothing differs now */
    CHECK_EQ_INT(reconcile(d, &f, &res, &err), FH_OK);
    CHECK_EQ_INT(res.rows, 0);
    CHECK_EQ_INT(res.deleted, 0);
    /* a source emptied is refused */
    f.gone_lo = 1;
    f.gone_hi = 5000;
    CHECK_EQ_INT(reconcile(d, &f, &res, &err), FH_EDATA);
    CHECK_CONTAINS(err.msg, "this reconciliation would mark 1993 of 1993 rows (100%) deleted");
    duck_dest_close(d);
}

/* A warehouse whose load log has the shape older fhloads wrote (rows, deleted, no files) is brought to
 * the one shape when fhload opens it, its loads kept, and loads go on from them. */
static void test_migrate_load_log(const char *dir)
{
    char path[300];
    snprintf(path, sizeof path, "%s/old.duckdb", dir);
    duckdb_database db;
    duckdb_connection con;
    CHECK(duckdb_open(path, &db) == DuckDBSuccess);
    CHECK(duckdb_connect(db, &con) == DuckDBSuccess);
    duckdb_result r;
    CHECK(duckdb_query(con,
                       "CREATE SCHEMA raw;"
                       "CREATE TABLE raw._fh_loads (load_id BIGINT PRIMARY KEY, table_name VARCHAR "
                       "NOT NULL,"
                       " mode VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, finished_at "
                       "TIMESTAMPTZ NOT NULL,"
                       " rows BIGINT NOT NULL, deleted BIGINT NOT NULL, watermark_from TIMESTAMPTZ,"
                       " watermark_to TIMESTAMPTZ, status VARCHAR NOT NULL);"
                       "INSERT INTO raw._fh_loads VALUES (7, 'old', 'full', now(), now(), 12, 3, "
                       "NULL, NULL, 'ok');",
                       &r) == DuckDBSuccess);
    duckdb_destroy_result(&r);
    duckdb_disconnect(&con);
    duckdb_close(&db);

    duck_dest *d;
    fh_error err;
    CHECK_EQ_INT(duck_dest_open(path, 1, "64MB", NULL, &d, &err), FH_OK);
    CHECK_STR(
        one(d, "SELECT string_agg(column_name, ',' ORDER BY column_index) FROM duckdb_columns() "
               "WHERE schema_name = 'raw' AND table_name = '_fh_loads'"),
        "load_id,table_name,mode,started_at,finished_at,rows_loaded,rows_deleted,watermark_from,"
        "watermark_to,status,files");
    CHECK_STR(one(d,
                  "SELECT rows_loaded || ' ' || rows_deleted || ' ' || files FROM raw._fh_loads"),
              "12 3 0");
    fake f = {.ncols = 4, .first = 1, .n = 10, .parts = 1};
    mkcol(&f.cols[0], "id", CD_OID_INT8, -1);
    mkcol(&f.cols[1], "name", CD_OID_TEXT, -1);
    mkcol(&f.cols[2], "amount", CD_OID_NUMERIC, ((12 << 16) | 2) + 4);
    mkcol(&f.cols[3], "updated_at", CD_OID_TIMESTAMPTZ, -1);
    duck_dest_result res;
    CHECK_EQ_INT(load(d, &f, 1, &res, &err), FH_OK);
    CHECK_EQ_INT(res.load_id, 8);
    CHECK_STR(one(d, "SELECT rows_loaded || ' ' || rows_deleted || ' ' || files FROM raw._fh_loads "
                     "WHERE load_id = 8"),
              "10 0 0");
    duck_dest_close(d);
    /* opened again: already in shape, nothing to do */
    CHECK_EQ_INT(duck_dest_open(path, 1, "64MB", NULL, &d, &err), FH_OK);
    CHECK_STR(one(d, "SELECT count(*) FROM raw._fh_loads"), "2");
    duck_dest_close(d);
}

int main(void)
{
    char dir[] = "/tmp/fhload-test-dest-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    char path[256], cmd[300];
    snprintf(path, sizeof path, "%s/sub/dir/w.duckdb", dir);

    fake f = {.ncols = 4, .first = 1, .n = 10000, .parts = 3};
    mkcol(&f.cols[0], "id", CD_OID_INT8, -1);
    mkcol(&f.cols[1], "name", CD_OID_TEXT, -1);
    mkcol(&f.cols[2], "amount", CD_OID_NUMERIC, ((12 << 16) | 2) + 4);
    mkcol(&f.cols[3], "updated_at", CD_OID_TIMESTAMPTZ, -1);

    duck_dest *d;
    fh_error err;
    CHECK_EQ_INT(duck_dest_open(path, 2, "128MB", NULL, &d, &err), FH_OK);
    duck_dest_state st;
    CHECK_EQ_INT(duck_dest_read_state(d, "t", &st, &err), FH_OK);
    CHECK_EQ_INT(st.found, 0);

    /* 1: first load, parallel */
    duck_dest_result res;
    CHECK_EQ_INT(load(d, &f, 1, &res, &err), FH_OK);
    CHECK_EQ_INT(res.load_id, 1);
    CHECK_EQ_INT(res.rows, 10000);
    CHECK_EQ_INT(res.deleted, 0);
    CHECK_STR(one(d, "SELECT count(DISTINCT id) FROM raw.t WHERE _fh_op = 'upsert'"), "10000");
    CHECK_STR(one(d, "SELECT sum(amount) FROM raw.t"), "50005000.00");
    CHECK_STR(one(d, "SELECT name FROM raw.t WHERE id = 4321"), "name 4321");
    CHECK_STR(one(d, "SELECT count(DISTINCT _fh_loaded_at) FROM raw.t"), "1");
    CHECK_STR(one(d, "SELECT data_type FROM duckdb_columns() WHERE table_name = 't' AND "
                     "column_name = '_fh_loaded_at'"),
              "TIMESTAMP WITH TIME ZONE");
    CHECK_EQ_INT(duck_dest_read_state(d, "t", &st, &err), FH_OK);
    CHECK(st.found && st.has_watermark);
    CHECK_EQ_INT(st.watermark_us, INT64_C(1720698645000000) + 10000);
    CHECK_EQ_INT(st.last_load_id, 1);

    /* 2: a producer error rolls back rows and state */
    f.fail_at = 7777;
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_EDATA);
    CHECK_CONTAINS(err.msg, "injected");
    f.fail_at = 0;
    CHECK_STR(one(d, "SELECT count(*) FROM raw.t"), "10000");
    CHECK_STR(one(d, "SELECT count(*) FROM raw._fh_loads"), "1");

    /* 3: full load with ids 100..199 gone → 100 delete rows; then none the next time */
    f.gone_lo = 100;
    f.gone_hi = 199;
    CHECK_EQ_INT(load(d, &f, 1, &res, &err), FH_OK);
    CHECK_EQ_INT(res.load_id, 2);
    CHECK_EQ_INT(res.rows, 9900);
    CHECK_EQ_INT(res.deleted, 100);
    CHECK_STR(one(d, "SELECT count(*) FROM raw.t WHERE _fh_op = 'delete' AND name IS NULL AND "
                     "_fh_load_id = 2"),
              "100");
    CHECK_EQ_INT(load(d, &f, 1, &res, &err), FH_OK);
    CHECK_EQ_INT(res.deleted, 0);
    /* an incremental load never records deletes */
    f.gone_hi = 299;
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_OK);
    CHECK_EQ_INT(res.deleted, 0);
    CHECK_STR(one(d, "SELECT mode || ' ' || rows_loaded || ' ' || rows_deleted || ' ' || files || "
                     "' ' || status "
                     "FROM raw._fh_loads WHERE load_id = 4"),
              "incremental 9800 0 0 ok");
    f.gone_lo = f.gone_hi = 0;

    /* 4: added column flows in; old rows have NULL */
    f.ncols = 5;
    mkcol(&f.cols[4], "officer_id", CD_OID_INT8, -1);
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_OK);
    CHECK_STR(one(d, "SELECT count(officer_id) FROM raw.t"), "10000");
    CHECK_STR(one(d, "SELECT count(*) FILTER (officer_id IS NULL) > 0 FROM raw.t"), "true");

    /* 5: widening: INTEGER source into BIGINT raw holds; DECIMAL(14,2) widens DECIMAL(12,2) */
    mkcol(&f.cols[2], "amount", CD_OID_NUMERIC, ((14 << 16) | 2) + 4);
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_OK);
    CHECK_STR(one(d, "SELECT data_type FROM duckdb_columns() WHERE table_name = 't' AND "
                     "column_name = 'amount'"),
              "DECIMAL(14,2)");

    /* 6: incompatible: scale change, text → integer; nothing committed */
    char before[64];
    snprintf(before, sizeof before, "%s",
             one(d, "SELECT count(*) || '/' || max(load_id) FROM raw._fh_loads"));
    mkcol(&f.cols[2], "amount", CD_OID_NUMERIC, ((14 << 16) | 1) + 4);
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_ESCHEMA);
    CHECK_CONTAINS(err.msg, "table t, column amount");
    mkcol(&f.cols[2], "amount", CD_OID_NUMERIC, ((14 << 16) | 2) + 4);
    mkcol(&f.cols[1], "name", CD_OID_INT8, -1);
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_ESCHEMA);
    CHECK_CONTAINS(err.msg, "column name");
    CHECK_STR(one(d, "SELECT count(*) || '/' || max(load_id) FROM raw._fh_loads"), before);
    mkcol(&f.cols[1], "_fh_op", CD_OID_TEXT, -1);
    CHECK_EQ_INT(load(d, &f, 0, &res, &err), FH_ESCHEMA);
    CHECK_CONTAINS(err.msg, "reserved");
    mkcol(&f.cols[1], "name", CD_OID_TEXT, -1);
    duck_dest_close(d);

    /* a new warehouse appears whole: a creation killed mid-way leaves only <path>.creating (here a
     * file of garbage, as DuckDB's first blocks half-written), which the next run replaces */
    char fresh[300], creating[320];
    snprintf(fresh, sizeof fresh, "%s/fresh.duckdb", dir);
    snprintf(creating, sizeof creating, "%s.creating", fresh);
    FILE *junk = fopen(creating, "w");
    CHECK(junk != NULL);
    if (junk) {
        fputs("DUCK half a header", junk);
        fclose(junk);
    }
    duck_dest *dn;
    CHECK_EQ_INT(duck_dest_open(fresh, 1, "64MB", "", &dn, &err), FH_OK);
    CHECK_STR(one(dn, "SELECT count(*) FROM raw._fh_loads"), "0");
    duck_dest_close(dn);
    struct stat sb;
    CHECK(stat(creating, &sb) != 0);
    CHECK_EQ_INT(duck_dest_open(fresh, 1, "64MB", "", &dn, &err), FH_OK);
    duck_dest_close(dn);
    /* it is private, and so is a directory created for it */
    CHECK(stat(fresh, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    char subdir[300];
    snprintf(subdir, sizeof subdir, "%s/sub/dir", dir);
    CHECK(stat(subdir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    /* a stale creation of a process that is gone is removed; another process's is left alone */
    char stale[320], live[320];
    snprintf(stale, sizeof stale, "%s.creating-999999999", fresh);
    snprintf(live, sizeof live, "%s.creating-1", fresh); /* pid 1 is always running */
    FILE *sf = fopen(stale, "w"), *lf = fopen(live, "w");
    if (sf)
        fclose(sf);
    if (lf)
        fclose(lf);
    char fresh2[300];
    snprintf(fresh2, sizeof fresh2, "%s/fresh.duckdb", dir);
    remove(fresh2);
    CHECK_EQ_INT(duck_dest_open(fresh2, 1, "64MB", "", &dn, &err), FH_OK);
    duck_dest_close(dn);
    CHECK(stat(stale, &sb) != 0);
    CHECK(stat(live, &sb) == 0);
    remove(live);
    /* two first runs at once on a new path: each loads its own table, and both tables are in the
     * file at the end — neither run's file replaced the other's */
    for (int round = 0; round < 12; round++) {
        char racy[300];
        snprintf(racy, sizeof racy, "%s/racy-%d.duckdb", dir, round);
        pid_t kids[2];
        for (int k = 0; k < 2; k++) {
            kids[k] = fork();
            if (kids[k] == 0) {
                duck_dest *dr = NULL;
                fh_error er;
                for (int tries = 0; tries < 400; tries++) { /* wait for the other's lock */
                    if (duck_dest_open(racy, 1, "64MB", "", &dr, &er) == FH_OK)
                        break;
                    usleep(10000);
                }
                if (!dr)
                    _exit(2);
                char sql[100];
                snprintf(sql, sizeof sql, "CREATE TABLE raw.kid%d AS SELECT 1 AS x", k);
                int rc = duckdb_query(duck_dest_connection(dr), sql, NULL) == DuckDBSuccess ? 0 : 3;
                duck_dest_close(dr);
                _exit(rc);
            }
        }
        int ok2 = 1;
        for (int k = 0; k < 2; k++) {
            int st2 = 0;
            waitpid(kids[k], &st2, 0);
            ok2 &= WIFEXITED(st2) && WEXITSTATUS(st2) == 0;
        }
        CHECK(ok2);
        CHECK_EQ_INT(duck_dest_open(racy, 1, "64MB", "", &dn, &err), FH_OK);
        CHECK_STR(one(dn,
                      "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('kid0', 'kid1')"),
                  "2");
        duck_dest_close(dn);
    }

    /* a new warehouse where none can be created: an error naming it, and no file left */
    char nowhere[300];
    snprintf(nowhere, sizeof nowhere, "%s/fresh.duckdb/x.duckdb", dir);
    CHECK(duck_dest_open(nowhere, 1, "64MB", "", &dn, &err) == FH_ECONN);
    CHECK_CONTAINS(err.msg, "x.duckdb");

    /* a file DuckDB would name "raw", as the schema: refused before anything is created, saying why */
    char clash[300];
    snprintf(clash, sizeof clash, "%s/RAW.v2.duckdb", dir);
    CHECK(duck_dest_open(clash, 1, "64MB", "", &dn, &err) == FH_EUSAGE);
    CHECK_CONTAINS(err.msg, "give the file another name");
    CHECK(stat(clash, &sb) != 0);
    snprintf(clash, sizeof clash, "%s/raw1.duckdb", dir);
    CHECK_EQ_INT(duck_dest_open(clash, 1, "64MB", "", &dn, &err), FH_OK);
    duck_dest_close(dn);

    /* a locked warehouse is a connection error naming the file */
    CHECK_EQ_INT(duck_dest_open(path, 1, "64MB", "", &d, &err), FH_OK);
    pid_t pid = fork();
    if (pid == 0) {
        duck_dest *d2;
        fh_error e2;
        int rc = duck_dest_open(path, 1, "64MB", "", &d2, &e2);
        _exit(rc == FH_ECONN && strstr(e2.msg, "cannot open warehouse") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    duck_dest_close(d);

    /* Parquet stage: files, manifest, row counts */
    char sdir[256];
    snprintf(sdir, sizeof sdir, "%s/stage", dir);
    stage_parquet *sp;
    CHECK_EQ_INT(stage_parquet_open(sdir, 2, "128MB", &sp, &err), FH_OK);
    f.ncols = 4;
    f.n = 300000;
    atomic_store(&f.next, 0);
    duck_scan_source src = {.ctx = &f,
                            .cols = f.cols,
                            .ncols = 4,
                            .max_threads = f.parts,
                            .fill = fake_fill,
                            .local_free = fake_free};
    stage_parquet_spec ss = {.table = "t",
                             .group = "loans",
                             .cursor = "updated_at",
                             .cols = f.cols,
                             .ncols = 4,
                             .key = KEY,
                             .nkey = 1,
                             .full = 0,
                             .load_id = 42,
                             .lookback_s = 900,
                             .has_wm_from = 1,
                             .wm_from = 0,
                             .file_size = "300KB",
                             .src = &src,
                             .scan_done = fake_done,
                             .scan_ctx = &f};
    stage_parquet_result sr;
    CHECK_EQ_INT(stage_parquet_write(sp, &ss, &sr, &err), FH_OK);
    CHECK_EQ_INT(sr.rows, 300000);
    CHECK(sr.nfiles >= 2);
    CHECK(sr.has_wm_to);
    char mpath[300];
    snprintf(mpath, sizeof mpath, "%s/t/manifest.json", sdir);
    FILE *mf = fopen(mpath, "r");
    CHECK(mf != NULL);
    char mbuf[32768] = "";
    if (mf) {
        size_t got = fread(mbuf, 1, sizeof mbuf - 1, mf);
        mbuf[got] = '\0';
        fclose(mf);
    }
    CHECK_CONTAINS(mbuf, "\"table\": \"t\"");
    CHECK_CONTAINS(mbuf, "\"mode\": \"incremental\"");
    CHECK_CONTAINS(mbuf, "\"load_id\": 42");
    CHECK_CONTAINS(mbuf, "\"watermark_from\": \"1970-01-01T00:00:00.000000Z\"");
    CHECK_CONTAINS(mbuf, "\"primary_key\": [\"id\"]");
    CHECK_CONTAINS(mbuf, "{\"name\": \"amount\", \"type\": \"DECIMAL(14,2)\", \"snowflake_type\": "
                         "\"NUMBER(14,2)\"");
    CHECK_CONTAINS(mbuf,
                   "{\"name\": \"id\", \"type\": \"BIGINT\", \"snowflake_type\": \"NUMBER(38,0)\"");
    CHECK_CONTAINS(mbuf,
                   "\"type\": \"TIMESTAMP WITH TIME ZONE\", \"snowflake_type\": \"TIMESTAMP_TZ\"");
    CHECK_CONTAINS(mbuf, "{\"name\": \"_fh_op\", \"type\": \"VARCHAR\", \"snowflake_type\": "
                         "\"VARCHAR\"}");
    CHECK_CONTAINS(mbuf, "\"path\": \"part-1.parquet\"");
    CHECK_CONTAINS(mbuf, "\"rows\": 300000,\n  \"snowflake\": {");
    /* the load log's row: pending before the upload, ok at the commit, under the loader's lease */
    CHECK_CONTAINS(mbuf,
                   "\"log_pending\": \"INSERT INTO {log} (LOAD_ID, TABLE_NAME, MODE, STARTED_AT, "
                   "ROWS_LOADED, ROWS_DELETED, FILES, WATERMARK_FROM, WATERMARK_TO, STATUS) SELECT "
                   "42, "
                   "'t', 'incremental', CURRENT_TIMESTAMP(), 300000, 0, ");
    CHECK_CONTAINS(mbuf, "CAST('1970-01-01T00:00:00.000000Z' AS TIMESTAMP_TZ), CAST('");
    CHECK_CONTAINS(
        mbuf, "\"log_commit\": \"UPDATE {log} l SET STATUS = 'ok', FINISHED_AT = "
              "CURRENT_TIMESTAMP(), ROWS_LOADED = 300000, ROWS_DELETED = %(rows_deleted)s FROM "
              "{leases} k WHERE l.TABLE_NAME = 't' AND l.LOAD_ID = 42 AND l.STATUS = 'pending' "
              "AND k.TABLE_NAME = l.TABLE_NAME AND k.HOLDER = %(holder)s\"");
    /* again: replaces the previous files; a failing producer leaves the last good stage */
    atomic_store(&f.next, 0);
    f.fail_at = 200000;
    CHECK_EQ_INT(stage_parquet_write(sp, &ss, &sr, &err), FH_EDATA);
    f.fail_at = 0;
    struct stat stt;
    CHECK(stat(mpath, &stt) == 0);
    /* a column Snowflake has no type for: refused before anything is written, naming it */
    cd_column span;
    mkcol(&span, "span", CD_OID_INTERVAL, -1);
    strcpy(span.pg_type, "interval");
    cd_column with_span[5];
    memcpy(with_span, f.cols, 4 * sizeof f.cols[0]);
    with_span[4] = span;
    stage_parquet_spec bad = ss;
    bad.cols = with_span;
    bad.ncols = 5;
    CHECK_EQ_INT(stage_parquet_write(sp, &bad, &sr, &err), FH_ESCHEMA);
    CHECK_CONTAINS(err.msg,
                   "table t, column span: type interval (INTERVAL) has no Snowflake equivalent");
    CHECK(stat(mpath, &stt) == 0);
    char sft[64];
    CHECK(stage_parquet_snowflake_type(&f.cols[1], sft, sizeof sft));
    CHECK_STR(sft, "VARCHAR");
    /* a full load: the manifest prescribes its delete rows in Snowflake (an incremental one: none) */
    CHECK(strstr(mbuf, "count_deletes") == NULL);
    ss.full = 1;
    f.n = 1000;
    atomic_store(&f.next, 0);
    CHECK_EQ_INT(stage_parquet_write(sp, &ss, &sr, &err), FH_OK);
    mf = fopen(mpath, "r");
    CHECK(mf != NULL);
    if (mf) {
        size_t got = fread(mbuf, 1, sizeof mbuf - 1, mf);
        mbuf[got] = '\0';
        fclose(mf);
    }
    CHECK_CONTAINS(mbuf,
                   "\"count_deletes\": \"SELECT COUNT(*), COUNT(*) - COUNT(cur._FH_SEEN) FROM "
                   "(SELECT \\\"ID\\\", _FH_OP FROM {table} WHERE _FH_LOAD_ID < 42 QUALIFY");
    CHECK_CONTAINS(mbuf, "\"insert_deletes\": \"INSERT INTO {table} (\\\"ID\\\", _FH_LOAD_ID, "
                         "_FH_LOADED_AT, "
                         "_FH_OP) SELECT prev.\\\"ID\\\", 42, CURRENT_TIMESTAMP(), 'delete' FROM");
    CHECK_CONTAINS(mbuf, "WHERE cur._FH_LOAD_ID = 42 AND cur.\\\"ID\\\" = prev.\\\"ID\\\")\"");

    /* Snowflake's raw table: fhload decides from the columns the loader reads in Snowflake */
    CHECK_EQ_INT(stage_parquet_sf_change("NUMBER", 1, 12, 1, 2, "NUMBER(18,2)"),
                 STAGE_PARQUET_SF_WIDEN);
    CHECK_EQ_INT(stage_parquet_sf_change("NUMBER", 1, 18, 1, 2, "NUMBER(12,2)"),
                 STAGE_PARQUET_SF_SAME);
    CHECK_EQ_INT(stage_parquet_sf_change("NUMBER", 1, 18, 1, 2, "NUMBER(18,3)"),
                 STAGE_PARQUET_SF_REFUSE);
    CHECK_EQ_INT(stage_parquet_sf_change("NUMBER", 0, 0, 0, 0, "NUMBER(38,0)"),
                 STAGE_PARQUET_SF_SAME);
    CHECK_EQ_INT(stage_parquet_sf_change("DECIMAL", 1, 38, 1, 0, "NUMBER(38,0)"),
                 STAGE_PARQUET_SF_SAME);
    CHECK_EQ_INT(stage_parquet_sf_change("TEXT", 0, 0, 0, 0, "VARCHAR"), STAGE_PARQUET_SF_SAME);
    CHECK_EQ_INT(stage_parquet_sf_change("TIMESTAMPTZ", 0, 0, 0, 0, "TIMESTAMP_TZ"),
                 STAGE_PARQUET_SF_SAME);
    CHECK_EQ_INT(stage_parquet_sf_change("TEXT", 0, 0, 0, 0, "BOOLEAN"), STAGE_PARQUET_SF_REFUSE);
    CHECK_EQ_INT(stage_parquet_sf_change("NUMBER", 1, 38, 1, 0, "VARCHAR"),
                 STAGE_PARQUET_SF_REFUSE);
    char cpath[300];
    snprintf(cpath, sizeof cpath, "%s/raw-columns.csv", dir);
    FILE *cf = fopen(cpath, "w");
    CHECK(cf != NULL);
    if (cf) { /* another table's columns, then t's: a narrower AMOUNT, no NAME, no metadata yet */
        fputs("table_name,column_name,data_type,numeric_precision,numeric_scale\n"
              "OTHER,ID,NUMBER,38,0\nT,ID,NUMBER,38,0\nT,AMOUNT,NUMBER,12,2\n",
              cf);
        fclose(cf);
    }
    ss.raw_columns = cpath;
    atomic_store(&f.next, 0);
    CHECK_EQ_INT(stage_parquet_write(sp, &ss, &sr, &err), FH_OK);
    mf = fopen(mpath, "r");
    if (mf) {
        size_t got = fread(mbuf, 1, sizeof mbuf - 1, mf);
        mbuf[got] = '\0';
        fclose(mf);
    }
    CHECK_CONTAINS(mbuf,
                   "\"schema\": [\"ALTER TABLE {table} ADD COLUMN \\\"NAME\\\" VARCHAR\", \"ALTER "
                   "TABLE {table} ALTER COLUMN \\\"AMOUNT\\\" SET DATA TYPE NUMBER(14,2)\", ");
    CHECK_CONTAINS(mbuf, "\"ALTER TABLE {table} ADD COLUMN \\\"_FH_LOAD_ID\\\" NUMBER(38,0)\"");
    CHECK(strstr(mbuf, "COLUMN \\\"ID\\\"") == NULL);
    /* a table Snowflake does not have yet: created with every column */
    cf = fopen(cpath, "w");
    if (cf) {
        fputs("table_name,column_name,data_type,numeric_precision,numeric_scale\nOTHER,ID,NUMBER,"
              "38,0\n",
              cf);
        fclose(cf);
    }
    atomic_store(&f.next, 0);
    CHECK_EQ_INT(stage_parquet_write(sp, &ss, &sr, &err), FH_OK);
    mf = fopen(mpath, "r");
    if (mf) {
        size_t got = fread(mbuf, 1, sizeof mbuf - 1, mf);
        mbuf[got] = '\0';
        fclose(mf);
    }
    CHECK_CONTAINS(mbuf,
                   "\"schema\": [\"CREATE TABLE IF NOT EXISTS {table} (\\\"ID\\\" NUMBER(38,0), ");
    CHECK_CONTAINS(mbuf, "\\\"AMOUNT\\\" NUMBER(14,2), ");
    CHECK_CONTAINS(mbuf, "\\\"_FH_OP\\\" VARCHAR)\"],");
    /* an incompatible change: refused before anything is written, naming table and column */
    cf = fopen(cpath, "w");
    if (cf) {
        fputs("table_name,column_name,data_type,numeric_precision,numeric_scale\nt,amount,NUMBER,"
              "14,3\n",
              cf);
        fclose(cf);
    }
    struct stat kept;
    CHECK(stat(mpath, &kept) == 0);
    atomic_store(&f.next, 0);
    CHECK_EQ_INT(stage_parquet_write(sp, &ss, &sr, &err), FH_ESCHEMA);
    CHECK_CONTAINS(err.msg,
                   "table t, column amount: the source now has NUMBER(14,2) but the Snowflake raw "
                   "table holds NUMBER(14,3) — an incompatible type change");
    CHECK(stat(mpath, &stt) == 0 && stt.st_mtim.tv_nsec == kept.st_mtim.tv_nsec &&
          stt.st_ino == kept.st_ino);
    ss.raw_columns = "/nonexistent/raw-columns.csv";
    CHECK_EQ_INT(stage_parquet_write(sp, &ss, &sr, &err), FH_EUSAGE);
    CHECK_CONTAINS(err.msg, "table t: cannot read the raw columns /nonexistent/raw-columns.csv");
    ss.raw_columns = NULL;
    stage_parquet_close(sp);

    test_current_guard_reconcile(dir);
    test_migrate_load_log(dir);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_duck_dest");
}
