/*
 * test_fh_duck — the DuckDB helper duck_dest and stage_parquet share, and fh_sql's quoting and
 * statement buffer: settings, open errors, query errors that name the handle, scalars, a producer
 * through fh_scan() (its error winning over DuckDB's), a close that is safe twice.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fh_duck.h"
#include "fh_sql.h"

/* n rows of one BIGINT column, 1..n, in one thread; fails at row fail_at (0: never). */
typedef struct {
    cd_column col;
    int64_t n, fail_at;
} counter;

static int counter_fill(void *ctx, void **local, duckdb_data_chunk chunk, size_t cap, size_t *rows,
                        fh_error *err)
{
    counter *c = ctx;
    int64_t *pos = *local;
    if (!pos) {
        pos = calloc(1, sizeof *pos);
        if (!pos)
            return fh_error_set(err, FH_EINTERNAL, "out of memory");
        *local = pos;
    }
    int64_t *v = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0));
    *rows = 0;
    while (*rows < cap && *pos < c->n) {
        int64_t x = ++*pos;
        if (x == c->fail_at)
            return fh_error_set(err, FH_EDATA, "table t, column id, row %lld: injected",
                                (long long)x);
        v[(*rows)++] = x;
    }
    return FH_OK;
}

static void counter_free(void *ctx, void *local)
{
    (void)ctx;
    free(local);
}

static void test_sql(void)
{
    char out[16];
    CHECK_STR(fh_sql_ident("a\"b", out, sizeof out), "\"a\"\"b\"");
    CHECK_STR(fh_sql_literal("it's", out, sizeof out), "'it''s'");
    CHECK(fh_sql_literal("far too long for the buffer", out, sizeof out) == NULL);
    CHECK_STR(out, "");

    fh_sql_buf b = {0};
    fh_sql_buf_add(&b, "SELECT ");
    for (int i = 0; i < 500; i++) /* past the first 1024 bytes: the buffer grows */
        fh_sql_buf_add(&b, "%s%d", i ? ", " : "", i);
    CHECK(!b.oom);
    CHECK_EQ_INT(b.n, strlen(b.s));
    CHECK(b.n > 1024 && b.cap > b.n);
    CHECK_CONTAINS(b.s, ", 499");
    fh_sql_buf_reset(&b);
    CHECK(b.s == NULL && b.n == 0 && b.cap == 0 && !b.oom);
    fh_sql_buf_add(&b, "%s", "again");
    CHECK_STR(b.s, "again");
    fh_sql_buf_reset(&b);
}

static void test_duck(const char *dir)
{
    fh_duck h;
    fh_error err;
    const char *extra[] = {"disabled_compression_methods", "", "threads", NULL, NULL};
    duckdb_config cfg = fh_duck_config(0, "64MB", extra); /* threads 0 → 1; empty values skipped */
    CHECK_EQ_INT(fh_duck_open(&h, NULL, "test db", &cfg, &err), FH_OK);
    int64_t v = -1;
    CHECK_EQ_INT(fh_duck_scalar_i64(&h, "SELECT current_setting('threads')", &v, &err), FH_OK);
    CHECK_EQ_INT(v, 1);
    CHECK_EQ_INT(fh_duck_scalar_i64(&h, "SELECT current_setting('preserve_insertion_order')::INT",
                                    &v, &err),
                 FH_OK);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(fh_duck_scalar_i64(&h, "SELECT NULL::BIGINT", &v, &err), FH_OK);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(fh_duck_scalar_i64(&h, "SELECT 1 WHERE false", &v, &err), FH_OK);
    CHECK_EQ_INT(v, 0);

    /* a failing statement: an error value naming the handle */
    CHECK_EQ_INT(fh_duck_query(&h, "SELECT * FROM no_such_table", NULL, &err), FH_EINTERNAL);
    CHECK_CONTAINS(err.msg, "test db: ");
    CHECK_CONTAINS(err.msg, "no_such_table");

    /* a producer through fh_scan() */
    counter c = {.n = 5000};
    memset(&c.col, 0, sizeof c.col);
    strcpy(c.col.name, "id");
    strcpy(c.col.pg_type, "bigint");
    c.col.type_oid = CD_OID_INT8;
    c.col.typmod = -1;
    CHECK_EQ_INT(copy_decode_map_type("t", &c.col, &err), FH_OK);
    duck_scan_source src = {.ctx = &c,
                            .cols = &c.col,
                            .ncols = 1,
                            .max_threads = 1,
                            .fill = counter_fill,
                            .local_free = counter_free};
    CHECK_EQ_INT(fh_duck_query(&h, "CREATE TABLE t (id BIGINT)", NULL, &err), FH_OK);
    uint64_t changed = 0;
    CHECK_EQ_INT(fh_duck_scan(&h, &src, "INSERT INTO t SELECT * FROM fh_scan()", &changed, &err),
                 FH_OK);
    CHECK_EQ_INT(changed, 5000);
    CHECK_EQ_INT(fh_duck_scalar_i64(&h, "SELECT sum(id) FROM t", &v, &err), FH_OK);
    CHECK_EQ_INT(v, 5000 * 5001 / 2);
    /* the producer's error wins over DuckDB's, code included; nothing is inserted */
    c.fail_at = 4321;
    CHECK_EQ_INT(fh_duck_scan(&h, &src, "INSERT INTO t SELECT * FROM fh_scan()", NULL, &err),
                 FH_EDATA);
    CHECK_CONTAINS(err.msg, "row 4321: injected");
    CHECK_EQ_INT(fh_duck_scalar_i64(&h, "SELECT count(*) FROM t", &v, &err), FH_OK);
    CHECK_EQ_INT(v, 5000);
    /* DuckDB's own error when the producer is fine */
    c.fail_at = 0;
    CHECK_EQ_INT(fh_duck_scan(&h, &src, "INSERT INTO nowhere SELECT * FROM fh_scan()", NULL, &err),
                 FH_EINTERNAL);
    CHECK_CONTAINS(err.msg, "test db: ");
    fh_duck_close(&h);
    fh_duck_close(&h); /* safe twice */

    /* a file that cannot be opened: FH_ECONN with DuckDB's reason; nothing to close */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.duckdb", dir);
    cfg = fh_duck_config(1, "64MB", NULL);
    CHECK_EQ_INT(fh_duck_open(&h, bad, "warehouse x", &cfg, &err), FH_ECONN);
    CHECK_CONTAINS(err.msg, "cannot open warehouse x: ");
    fh_duck_close(&h);
}

int main(void)
{
    char dir[] = "/tmp/fhload-test-duck-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    test_sql();
    test_duck(dir);
    rmdir(dir);
    return check_done("test_fh_duck");
}
