/*
 * duck_dest — RAW layer and load state in DuckDB (contract in duck_dest.h).
 *
 * A load, inside BEGIN … COMMIT:
 *   1. schema   read raw.<t>'s columns from duckdb_columns(); create the table if absent; check
 *               every source column against it: the same type, or integer/DECIMAL types that
 *               differ only in width (same scale) — the raw column is widened with ALTER COLUMN
 *               TYPE when the source grew, which keeps every loaded value; new columns are added
 *               with ALTER TABLE ADD COLUMN; anything else (text→integer, a scale change) is a
 *               schema error and nothing is committed.
 *   2. load id  max(load_id) + 1 over raw._fh_loads (fhload is the only writer: DuckDB's file
 *               lock guarantees one writing process).
 *   3. rows     INSERT INTO raw.<t> (cols, metadata) SELECT *, <id>, now(), 'upsert' FROM
 *               fh_scan() — DuckDB's parallel insert pulls chunks straight from the producer.
 *   4. deletes  (full loads, when the table was loaded before) one INSERT … SELECT of the keys
 *               whose latest raw row is not a delete and that this load did not see.
 *   5. state    a row in raw._fh_loads, an upsert of raw._fh_state.
 * Any failure rolls the transaction back. now() is the transaction's start, so every row of a load
 * carries the same _fh_loaded_at.
 */
#include "duck_dest.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fh_time.h"

struct duck_dest {
    char path[1024];
    duckdb_database db;
    duckdb_connection con;
    duck_scan_slot slot;
    int slot_ready;
};

/* A growable SQL buffer: statements are built per table, never per row. */
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sqlbuf;

static void sb_add(sqlbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sqlbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->n + (size_t)k + 1)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

/* "name" quoted as a DuckDB identifier, into out. */
static const char *qid(const char *name, char *out, size_t outsz)
{
    size_t o = 0;
    out[o++] = '"';
    for (const char *p = name; *p && o + 3 < outsz; p++) {
        if (*p == '"')
            out[o++] = '"';
        out[o++] = *p;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* 'text' quoted as a SQL string literal, into out. */
static const char *qlit(const char *text, char *out, size_t outsz)
{
    size_t o = 0;
    out[o++] = '\'';
    for (const char *p = text; *p && o + 3 < outsz; p++) {
        if (*p == '\'')
            out[o++] = '\'';
        out[o++] = *p;
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

static int query(duck_dest *d, const char *sql, duckdb_result *res, fh_error *err)
{
    duckdb_result local;
    duckdb_result *r = res ? res : &local;
    if (duckdb_query(d->con, sql, r) == DuckDBSuccess) {
        if (!res)
            duckdb_destroy_result(r);
        return FH_OK;
    }
    const char *m = duckdb_result_error(r);
    int code = FH_EINTERNAL;
    char hint[160] = "";
    if (m && (strstr(m, "Out of Memory") || strstr(m, "out of memory")))
        snprintf(hint, sizeof hint, " — raise FINHOUSE_DUCKDB_MEMORY_LIMIT");
    fh_error_set(err, code, "warehouse %s: %s%s", d->path, m ? m : "query failed", hint);
    duckdb_destroy_result(r);
    return code;
}

static int mkdir_parents(const char *path, fh_error *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return FH_OK;
    *slash = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return fh_error_set(err, FH_ECONN, "cannot create directory %s for the warehouse: %s",
                                buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return fh_error_set(err, FH_ECONN, "cannot create directory %s for the warehouse: %s", buf,
                            strerror(errno));
    return FH_OK;
}

/* The RAW layer's bookkeeping tables, created with the warehouse. */
static const char INIT_SQL[] =
    "BEGIN;"
    "CREATE SCHEMA IF NOT EXISTS raw;"
    "CREATE TABLE IF NOT EXISTS raw._fh_loads ("
    " load_id BIGINT PRIMARY KEY, table_name VARCHAR NOT NULL, mode VARCHAR NOT NULL,"
    " started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL,"
    " rows BIGINT NOT NULL, deleted BIGINT NOT NULL,"
    " watermark_from TIMESTAMPTZ, watermark_to TIMESTAMPTZ, status VARCHAR NOT NULL);"
    "CREATE TABLE IF NOT EXISTS raw._fh_state ("
    " table_name VARCHAR PRIMARY KEY, watermark TIMESTAMPTZ,"
    " last_load_id BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL);"
    "COMMIT;";

static duckdb_config make_config(int threads, const char *memory_limit, const char *disabled_compression)
{
    duckdb_config cfg;
    char th[16];
    snprintf(th, sizeof th, "%d", threads < 1 ? 1 : threads);
    duckdb_create_config(&cfg);
    duckdb_set_config(cfg, "threads", th);
    duckdb_set_config(cfg, "memory_limit", memory_limit);
    duckdb_set_config(cfg, "preserve_insertion_order", "false");
    /* Trading file size for load speed: DuckDB's string compressions (fsst, dictionary) are most of
     * its insert cost on text columns (bench/ingest/README.md). */
    if (disabled_compression && *disabled_compression)
        duckdb_set_config(cfg, "disabled_compression_methods", disabled_compression);
    return cfg;
}

static int open_error(const char *path, char *oerr, fh_error *err)
{
    const char *hint = "check --warehouse or FINHOUSE_DUCKDB_PATH";
    if (oerr && strstr(oerr, "lock"))
        hint = "another process (a load, dbt, a notebook) has it open for writing; wait for it "
               "to finish";
    fh_error_set(err, FH_ECONN, "cannot open warehouse %s: %s — %s", path,
                 oerr ? oerr : "unknown error", hint);
    if (oerr)
        duckdb_free(oerr);
    return FH_ECONN;
}

/* A new warehouse appears whole or not at all. DuckDB writes a new file's header blocks when it opens
 * it; a load killed in that instant would leave a file every later run refuses ("not a valid DuckDB
 * database file"). So a new warehouse is created and initialised under <path>.creating, checkpointed,
 * closed and renamed into place; a creation that was killed leaves only that temporary file, which the
 * next run removes. */
static int create_whole(const char *path, int threads, const char *memory_limit,
                        const char *disabled_compression, fh_error *err)
{
    char tmp[1100], wal[1120];
    snprintf(tmp, sizeof tmp, "%s.creating", path);
    snprintf(wal, sizeof wal, "%s.wal", tmp);
    remove(tmp);
    remove(wal);
    duckdb_config cfg = make_config(threads, memory_limit, disabled_compression);
    duckdb_database db;
    char *oerr = NULL;
    duckdb_state st = duckdb_open_ext(tmp, &db, cfg, &oerr);
    duckdb_destroy_config(&cfg);
    if (st != DuckDBSuccess)
        return open_error(path, oerr, err);
    duckdb_connection con;
    int ok = duckdb_connect(db, &con) == DuckDBSuccess;
    char msg[512] = "cannot connect";
    if (ok) {
        const char *steps[] = {INIT_SQL, "CHECKPOINT"};
        for (size_t i = 0; ok && i < sizeof steps / sizeof *steps; i++) {
            duckdb_result r;
            ok = duckdb_query(con, steps[i], &r) == DuckDBSuccess;
            if (!ok)
                snprintf(msg, sizeof msg, "%s", duckdb_result_error(&r) ? duckdb_result_error(&r) : "failed");
            duckdb_destroy_result(&r);
        }
        duckdb_disconnect(&con);
    }
    duckdb_close(&db);
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            snprintf(msg, sizeof msg, "cannot rename %s into place: %s", tmp, strerror(errno));
        remove(tmp);
        remove(wal);
        return fh_error_set(err, FH_ECONN, "cannot create warehouse %s: %s — check --warehouse or "
                            "FINHOUSE_DUCKDB_PATH", path, msg);
    }
    return FH_OK;
}

/* DuckDB names a database after its file, up to the first dot: raw.duckdb is the catalog "raw", and
 * raw.<table> then names either that catalog's table or the schema raw's — DuckDB refuses both. Said
 * before anything is created, with the fix. */
static int check_catalog_name(const char *path, fh_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    if (n == 3 && strncasecmp(base, "raw", 3) == 0)
        return fh_error_set(err, FH_EUSAGE, "warehouse %s: DuckDB names the database after the file, "
                            "\"%.*s\", which is also the name of the RAW layer's schema raw, so raw.<table> "
                            "would be ambiguous — give the file another name (e.g. warehouse.duckdb)",
                            path, (int)n, base);
    return FH_OK;
}

int duck_dest_open(const char *path, int threads, const char *memory_limit,
                   const char *disabled_compression, duck_dest **out,
                   fh_error *err)
{
    *out = NULL;
    if (check_catalog_name(path, err) != FH_OK)
        return FH_EUSAGE;
    duck_dest *d = calloc(1, sizeof *d);
    if (!d)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    snprintf(d->path, sizeof d->path, "%s", path);
    int rc = mkdir_parents(path, err);
    struct stat sb;
    if (rc == FH_OK && stat(path, &sb) != 0 && errno == ENOENT)
        rc = create_whole(path, threads, memory_limit, disabled_compression, err);
    if (rc != FH_OK) {
        free(d);
        return rc;
    }
    duckdb_config cfg = make_config(threads, memory_limit, disabled_compression);
    char *oerr = NULL;
    duckdb_state st = duckdb_open_ext(path, &d->db, cfg, &oerr);
    duckdb_destroy_config(&cfg);
    if (st != DuckDBSuccess) {
        free(d);
        return open_error(path, oerr, err);
    }
    if (duckdb_connect(d->db, &d->con) != DuckDBSuccess) {
        duckdb_close(&d->db);
        free(d);
        return fh_error_set(err, FH_ECONN, "cannot connect to warehouse %s", path);
    }
    rc = duck_scan_register(d->con, &d->slot, err);
    d->slot_ready = rc == FH_OK;
    if (rc == FH_OK)
        rc = query(d, INIT_SQL, NULL, err);
    if (rc != FH_OK) {
        duck_dest_close(d);
        return rc;
    }
    *out = d;
    return FH_OK;
}

duckdb_connection duck_dest_connection(duck_dest *d) { return d->con; }

void duck_dest_close(duck_dest *d)
{
    if (!d)
        return;
    duckdb_disconnect(&d->con);
    duckdb_close(&d->db);
    if (d->slot_ready)
        duck_scan_slot_destroy(&d->slot);
    free(d);
}

int duck_dest_read_state(duck_dest *d, const char *table, duck_dest_state *out, fh_error *err)
{
    memset(out, 0, sizeof *out);
    char sql[512], l[160];
    snprintf(sql, sizeof sql,
             "SELECT epoch_us(watermark), last_load_id FROM raw._fh_state WHERE table_name = %s",
             qlit(table, l, sizeof l));
    duckdb_result r;
    int rc = query(d, sql, &r, err);
    if (rc != FH_OK)
        return rc;
    if (duckdb_row_count(&r) > 0) {
        out->found = 1;
        out->has_watermark = !duckdb_value_is_null(&r, 0, 0);
        out->watermark_us = duckdb_value_int64(&r, 0, 0);
        out->last_load_id = duckdb_value_int64(&r, 1, 0);
    }
    duckdb_destroy_result(&r);
    return FH_OK;
}

/* ---- schema evolution ------------------------------------------------------------------------ */

static int int_rank(const char *t)
{
    return !strcmp(t, "SMALLINT") ? 1 : !strcmp(t, "INTEGER") ? 2 : !strcmp(t, "BIGINT") ? 3 : 0;
}

enum { INCOMPATIBLE = 0, HOLDS = 1, WIDEN = 2 };

/* Can raw type `raw` hold every value of source type `src` unaltered (HOLDS), or after widening
 * the raw column to the source type, which keeps every value already loaded (WIDEN)? */
static int compatible(const char *raw, const char *src)
{
    if (!strcmp(raw, src))
        return HOLDS;
    int rr = int_rank(raw), sr = int_rank(src);
    if (rr && sr)
        return rr >= sr ? HOLDS : WIDEN;
    unsigned rw, rs, sw, ss;
    if (sscanf(raw, "DECIMAL(%u,%u)", &rw, &rs) == 2 && sscanf(src, "DECIMAL(%u,%u)", &sw, &ss) == 2 &&
        rs == ss)
        return rw >= sw ? HOLDS : WIDEN;
    return INCOMPATIBLE;
}

#define MAX_RAW_COLS 4096

static int ensure_table(duck_dest *d, const duck_load_spec *s, fh_error *err)
{
    char sql[1024], l[160], q[160], q2[160];
    snprintf(sql, sizeof sql,
             "SELECT column_name, data_type FROM duckdb_columns() "
             "WHERE schema_name = 'raw' AND table_name = %s ORDER BY column_index",
             qlit(s->table, l, sizeof l));
    duckdb_result r;
    int rc = query(d, sql, &r, err);
    if (rc != FH_OK)
        return rc;
    idx_t nraw = duckdb_row_count(&r);
    sqlbuf b = {0};
    for (size_t c = 0; c < s->ncols; c++)
        if (strncmp(s->cols[c].name, "_fh_", 4) == 0) {
            duckdb_destroy_result(&r);
            return fh_error_set(err, FH_ESCHEMA,
                                "table %s, column %s: names starting with _fh_ are reserved for "
                                "fhload's load metadata — rename the column",
                                s->table, s->cols[c].name);
        }
    if (nraw == 0) {
        sb_add(&b, "CREATE TABLE raw.%s (", qid(s->table, q, sizeof q));
        for (size_t c = 0; c < s->ncols; c++) {
            char ty[64];
            copy_decode_type_sql(&s->cols[c], ty, sizeof ty);
            sb_add(&b, "%s %s, ", qid(s->cols[c].name, q, sizeof q), ty);
        }
        sb_add(&b, "_fh_load_id BIGINT NOT NULL, _fh_loaded_at TIMESTAMPTZ NOT NULL, "
                   "_fh_op VARCHAR NOT NULL)");
    } else {
        /* Check everything first, then add what is new. */
        for (size_t c = 0; c < s->ncols && rc == FH_OK; c++) {
            char ty[64];
            copy_decode_type_sql(&s->cols[c], ty, sizeof ty);
            int found = 0;
            for (idx_t i = 0; i < nraw && !found; i++) {
                char *name = duckdb_value_varchar(&r, 0, i);
                if (name && strcasecmp(name, s->cols[c].name) == 0) {
                    found = 1;
                    char *rty = duckdb_value_varchar(&r, 1, i);
                    int how = rty ? compatible(rty, ty) : INCOMPATIBLE;
                    if (how == WIDEN)
                        sb_add(&b, "ALTER TABLE raw.%s ALTER COLUMN %s TYPE %s;",
                               qid(s->table, q, sizeof q), qid(name, q2, sizeof q2), ty);
                    if (how == INCOMPATIBLE)
                        rc = fh_error_set(
                            err, FH_ESCHEMA,
                            "table %s, column %s: the source type changed to %s (%s in DuckDB), "
                            "which raw.%s.%s (%s) cannot hold unaltered — raw is append-only: "
                            "rename the source column or migrate raw.%s by hand",
                            s->table, s->cols[c].name, s->cols[c].pg_type, ty, s->table,
                            s->cols[c].name, rty ? rty : "?", s->table);
                    duckdb_free(rty);
                }
                duckdb_free(name);
            }
            if (!found)
                sb_add(&b, "ALTER TABLE raw.%s ADD COLUMN %s %s;", qid(s->table, q, sizeof q),
                       qid(s->cols[c].name, q2, sizeof q2), ty);
        }
    }
    duckdb_destroy_result(&r);
    if (rc == FH_OK && b.oom)
        rc = fh_error_set(err, FH_EINTERNAL, "out of memory");
    if (rc == FH_OK && b.n > 0)
        rc = query(d, b.s, NULL, err);
    free(b.s);
    return rc;
}

/* ---- load -------------------------------------------------------------------------------------- */

static int scalar_i64(duck_dest *d, const char *sql, int64_t *out, fh_error *err)
{
    duckdb_result r;
    int rc = query(d, sql, &r, err);
    if (rc != FH_OK)
        return rc;
    *out = duckdb_row_count(&r) ? duckdb_value_int64(&r, 0, 0) : 0;
    duckdb_destroy_result(&r);
    return FH_OK;
}

static void ts_or_null(int has, int64_t us, char *buf, size_t bufsz)
{
    if (!has) {
        snprintf(buf, bufsz, "NULL");
        return;
    }
    char t[FH_TIME_TEXT];
    fh_time_format_sql(us, t, sizeof t);
    snprintf(buf, bufsz, "TIMESTAMPTZ '%s'", t);
}

static int load_in_txn(duck_dest *d, const duck_load_spec *s, duck_load_result *res,
                       int64_t started_us, fh_error *err)
{
    char q[160], l[160], sql[2048];
    int rc = ensure_table(d, s, err);
    if (rc != FH_OK)
        return rc;
    rc = scalar_i64(d, "SELECT coalesce(max(load_id), 0) + 1 FROM raw._fh_loads", &res->load_id,
                    err);
    int64_t previous = 0;
    if (rc == FH_OK) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM raw._fh_loads WHERE table_name = %s",
                 qlit(s->table, l, sizeof l));
        rc = scalar_i64(d, sql, &previous, err);
    }
    if (rc != FH_OK)
        return rc;

    /* rows */
    sqlbuf b = {0};
    sb_add(&b, "INSERT INTO raw.%s (", qid(s->table, q, sizeof q));
    for (size_t c = 0; c < s->ncols; c++)
        sb_add(&b, "%s, ", qid(s->cols[c].name, q, sizeof q));
    sb_add(&b, "_fh_load_id, _fh_loaded_at, _fh_op) SELECT *, %" PRId64 ", now(), 'upsert' "
               "FROM fh_scan()",
           res->load_id);
    if (b.oom) {
        free(b.s);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    duckdb_result r;
    duck_scan_arm(&d->slot, s->src);
    rc = query(d, b.s, &r, err);
    free(b.s);
    b = (sqlbuf){0};
    fh_error scan_err;
    if (duck_scan_disarm(&d->slot, &scan_err) != FH_OK) {
        if (rc == FH_OK)
            duckdb_destroy_result(&r);
        *err = scan_err;
        return scan_err.code;
    }
    if (rc != FH_OK)
        return rc;
    res->rows = duckdb_rows_changed(&r);
    duckdb_destroy_result(&r);

    int has_max = 0;
    int64_t mx = 0;
    if (s->scan_done && (rc = s->scan_done(s->scan_ctx, &has_max, &mx, err)) != FH_OK)
        return rc;

    /* deletes: keys whose latest raw row is an upsert and that this full load did not read */
    if (s->full && previous > 0 && s->nkey > 0) {
        sqlbuf k = {0}, on = {0};
        for (int i = 0; i < s->nkey; i++) {
            sb_add(&k, "%s%s", i ? ", " : "", qid(s->key[i], q, sizeof q));
            sb_add(&on, "%scur.%s = prev.%s", i ? " AND " : "", q, q);
        }
        char tq[160];
        qid(s->table, tq, sizeof tq);
        sb_add(&b, "INSERT INTO raw.%s (%s, _fh_load_id, _fh_loaded_at, _fh_op) "
                   "SELECT %s, %" PRId64 ", now(), 'delete' FROM ("
                   " SELECT %s FROM raw.%s WHERE _fh_load_id < %" PRId64
                   " GROUP BY ALL HAVING arg_max(_fh_op, _fh_load_id) <> 'delete') prev "
                   "WHERE NOT EXISTS (SELECT 1 FROM raw.%s cur WHERE cur._fh_load_id = %" PRId64
                   " AND %s)",
               tq, k.s, k.s, res->load_id, k.s, tq, res->load_id, tq, res->load_id, on.s);
        int oom = b.oom || k.oom || on.oom;
        free(k.s);
        free(on.s);
        if (oom) {
            free(b.s);
            return fh_error_set(err, FH_EINTERNAL, "out of memory");
        }
        rc = query(d, b.s, &r, err);
        free(b.s);
        if (rc != FH_OK)
            return rc;
        res->deleted = duckdb_rows_changed(&r);
        duckdb_destroy_result(&r);
    }

    /* state */
    res->has_wm_to = s->has_wm_from || has_max;
    res->wm_to = s->has_wm_from ? s->wm_from : mx;
    if (has_max && mx > res->wm_to)
        res->wm_to = mx;
    char wf[80], wt[80], st[80], fin[80];
    ts_or_null(s->has_wm_from, s->wm_from, wf, sizeof wf);
    ts_or_null(res->has_wm_to, res->wm_to, wt, sizeof wt);
    ts_or_null(1, started_us, st, sizeof st);
    ts_or_null(1, fh_time_now_us(), fin, sizeof fin);
    snprintf(sql, sizeof sql,
             "INSERT INTO raw._fh_loads VALUES (%" PRId64 ", %s, '%s', %s, %s, %" PRIu64
             ", %" PRIu64 ", %s, %s, 'ok');"
             "INSERT INTO raw._fh_state VALUES (%s, %s, %" PRId64 ", %s) "
             "ON CONFLICT (table_name) DO UPDATE SET watermark = excluded.watermark, "
             "last_load_id = excluded.last_load_id, updated_at = excluded.updated_at;",
             res->load_id, l, s->full ? "full" : "incremental", st, fin, res->rows, res->deleted,
             wf, wt, l, wt, res->load_id, fin);
    return query(d, sql, NULL, err);
}

int duck_dest_load(duck_dest *d, const duck_load_spec *spec, duck_load_result *res, fh_error *err)
{
    memset(res, 0, sizeof *res);
    int64_t started = fh_time_now_us();
    int rc = query(d, "BEGIN TRANSACTION", NULL, err);
    if (rc != FH_OK)
        return rc;
    rc = load_in_txn(d, spec, res, started, err);
    if (rc == FH_OK)
        rc = query(d, "COMMIT", NULL, err);
    if (rc != FH_OK) {
        fh_error ignored;
        query(d, "ROLLBACK", NULL, &ignored);
    }
    return rc;
}
