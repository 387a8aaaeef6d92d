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

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fh_duck.h"
#include "fh_sql.h"
#include "fh_time.h"
#include "load_log.h"

struct duck_dest {
    char path[1024];
    fh_duck duck; /* the warehouse, fh_scan() registered */
    /* Bounded memory for statements over a table's keys (delete detection, the current-keys table,
     * reconciliation): they run in passes of at most this many keys (a join) or groups (an
     * aggregate), derived from the memory limit. */
    int64_t keys_per_pass, groups_per_pass;
};

static int query(duck_dest *d, const char *sql, duckdb_result *res, fh_error *err)
{
    return fh_duck_query(&d->duck, sql, res, err);
}

/* The columns streamed rows fill (cdc_dest.h), NULL on rows a batch load writes. */
#define STREAM_COLUMNS "_fh_commit_lsn BIGINT, _fh_commit_ts TIMESTAMPTZ, _fh_superseded BOOLEAN"

static void add_stream_columns(fh_sql_buf *b, const char *qtable)
{
    fh_sql_buf_add(b,
                   "ALTER TABLE raw.%s ADD COLUMN IF NOT EXISTS _fh_commit_lsn BIGINT;"
                   "ALTER TABLE raw.%s ADD COLUMN IF NOT EXISTS _fh_commit_ts TIMESTAMPTZ;"
                   "ALTER TABLE raw.%s ADD COLUMN IF NOT EXISTS _fh_superseded BOOLEAN;",
                   qtable, qtable, qtable);
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
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return fh_error_set(err, FH_ECONN, "cannot create directory %s for the warehouse: %s",
                                buf, strerror(errno));
        *p = '/';
    }
    /* The warehouse's own directory is private: DuckDB's WAL and spill files land there too. */
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return fh_error_set(err, FH_ECONN, "cannot create directory %s for the warehouse: %s", buf,
                            strerror(errno));
    return FH_OK;
}

/* The RAW layer's bookkeeping tables, created with the warehouse, into b (its text, or NULL when out
 * of memory). The load log is load_log's one shape, the one Snowflake's RAW.<schema>.FH_LOADS has
 * (ingest/engine/README.md, "The load log"): the same columns, the same meaning. `files` is the
 * Parquet files a load was staged in, 0 here (DuckDB loads straight from the producer); `status` is
 * always 'ok' here (a load that fails leaves no row), Snowflake's loader also writes 'pending' and
 * 'rolled_back'. */
static const char *init_sql(fh_sql_buf *b)
{
    fh_sql_buf_add(b, "BEGIN;CREATE SCHEMA IF NOT EXISTS raw;");
    load_log_create(b, LOAD_LOG_DUCKDB, "raw._fh_loads");
    fh_sql_buf_add(
        b, ";CREATE TABLE IF NOT EXISTS raw._fh_state ("
           " table_name VARCHAR PRIMARY KEY, watermark TIMESTAMPTZ,"
           " last_load_id BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL);"
           /* the load the table's current keys (raw._fh_current_<t>) were last rebuilt at */
           "ALTER TABLE raw._fh_state ADD COLUMN IF NOT EXISTS current_as_of BIGINT;"
           "COMMIT;");
    return b->oom ? NULL : b->s;
}

static duckdb_config make_config(int threads, const char *memory_limit,
                                 const char *disabled_compression)
{
    /* Trading file size for load speed: DuckDB's string compressions (fsst, dictionary) are most of
     * its insert cost on text columns (bench/ingest/README.md). */
    const char *extra[] = {"disabled_compression_methods", disabled_compression, NULL};
    return fh_duck_config(threads, memory_limit, extra);
}

/* fh_duck_open's "cannot open warehouse PATH: …", with what to do about it. */
static int open_error(fh_error *err)
{
    if (err->code != FH_ECONN) /* not the file: fh_scan() could not be registered */
        return err->code;
    const char *hint = "check --warehouse or FINHOUSE_DUCKDB_PATH";
    if (strstr(err->msg, "lock"))
        hint = "another process (a load, dbt, a notebook) has it open for writing; wait for it "
               "to finish";
    char m[FH_ERROR_MAX];
    snprintf(m, sizeof m, "%s", err->msg);
    return fh_error_set(err, err->code, "%s — %s", m, hint);
}

/* Remove what killed creations of this warehouse left: <path>.creating-<pid>[.wal] of processes
 * that are gone (and <path>.creating[.wal], the name older versions used). A creation still
 * running in another process keeps its file. */
static void remove_stale_creations(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    char prefix[300];
    int np = snprintf(prefix, sizeof prefix, "%s.creating", base);
    DIR *dh = opendir(dir);
    if (!dh || np <= 0 || (size_t)np >= sizeof prefix) {
        if (dh)
            closedir(dh);
        return;
    }
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (strncmp(e->d_name, prefix, (size_t)np) != 0)
            continue;
        const char *rest = e->d_name + np;
        int stale = !strcmp(rest, "") || !strcmp(rest, ".wal");
        if (rest[0] == '-') {
            long pid = strtol(rest + 1, NULL, 10);
            stale = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        }
        if (stale) {
            char full[1400];
            snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
            remove(full);
        }
    }
    closedir(dh);
}

/* A new warehouse appears whole or not at all, and never replaces another. DuckDB writes a new
 * file's header blocks when it opens it; a load killed in that instant would leave a file every
 * later run refuses ("not a valid DuckDB database file"). So a new warehouse is created and
 * initialised under <path>.creating-<pid>, checkpointed, closed, made private (0600: it will hold
 * customers' data) and linked into place. link(), unlike rename(), fails when <path> exists: two
 * first runs at once each build their own file, one of them lands, and the other opens the one
 * that landed (DuckDB's lock then makes it wait its turn) instead of replacing it under a run that
 * already loaded into it. */
static int create_whole(const char *path, int threads, const char *memory_limit,
                        const char *disabled_compression, fh_error *err)
{
    char tmp[1100], wal[1120];
    remove_stale_creations(path);
    snprintf(tmp, sizeof tmp, "%s.creating-%ld", path, (long)getpid());
    snprintf(wal, sizeof wal, "%s.wal", tmp);
    remove(tmp);
    remove(wal);
    duckdb_config cfg = make_config(threads, memory_limit, disabled_compression);
    char what[1100];
    snprintf(what, sizeof what, "warehouse %s", path);
    fh_duck h;
    fh_error e;
    if (fh_duck_open(&h, tmp, what, &cfg, &e) != FH_OK) {
        *err = e;
        return open_error(err);
    }
    fh_sql_buf init = {0};
    const char *sql = init_sql(&init);
    if (!sql)
        fh_error_set(&e, FH_EINTERNAL, "out of memory");
    int ok = sql && fh_duck_query(&h, sql, NULL, &e) == FH_OK &&
             fh_duck_query(&h, "CHECKPOINT", NULL, &e) == FH_OK;
    fh_sql_buf_reset(&init);
    char msg[FH_ERROR_MAX + 64] = "";
    if (!ok)
        snprintf(msg, sizeof msg, "cannot create %s", e.msg);
    fh_duck_close(&h);
    if (ok && chmod(tmp, 0600) != 0) {
        ok = 0;
        snprintf(msg, sizeof msg, "cannot create warehouse %s: cannot make %s private: %s", path,
                 tmp, strerror(errno));
    }
    if (ok && link(tmp, path) != 0 && errno != EEXIST) {
        ok = 0;
        snprintf(msg, sizeof msg, "cannot create warehouse %s: cannot link %s into place: %s", path,
                 tmp, strerror(errno));
    }
    remove(tmp);
    remove(wal);
    if (!ok)
        return fh_error_set(err, FH_ECONN, "%s — check --warehouse or FINHOUSE_DUCKDB_PATH", msg);
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
        return fh_error_set(
            err, FH_EUSAGE,
            "warehouse %s: DuckDB names the database after the file, "
            "\"%.*s\", which is also the name of the RAW layer's schema raw, so raw.<table> "
            "would be ambiguous — give the file another name (e.g. warehouse.duckdb)",
            path, (int)n, base);
    return FH_OK;
}

/* A warehouse written before the load log had its one shape (rows, deleted, no files) is brought to
 * it in place, in one transaction, the first time a newer fhload opens it: readers (dbt, the tests,
 * Superset) then see one shape whatever fhload wrote the older rows. The older loads' `files` is 0,
 * which is what it means on DuckDB. */
static int migrate_load_log(duck_dest *d, fh_error *err)
{
    duckdb_result r;
    int rc = query(d,
                   "SELECT count(*) FILTER (WHERE column_name = 'rows'), "
                   "count(*) FILTER (WHERE column_name = 'deleted'), "
                   "count(*) FILTER (WHERE column_name = 'files') FROM duckdb_columns() "
                   "WHERE schema_name = 'raw' AND table_name = '_fh_loads'",
                   &r, err);
    if (rc != FH_OK)
        return rc;
    int old_rows = duckdb_value_int64(&r, 0, 0) > 0, old_deleted = duckdb_value_int64(&r, 1, 0) > 0,
        has_files = duckdb_value_int64(&r, 2, 0) > 0;
    duckdb_destroy_result(&r);
    if (!old_rows && !old_deleted && has_files)
        return FH_OK;
    char sql[512];
    snprintf(sql, sizeof sql, "BEGIN;%s%s%sCOMMIT;",
             old_rows ? "ALTER TABLE raw._fh_loads RENAME COLUMN \"rows\" TO rows_loaded;" : "",
             old_deleted ? "ALTER TABLE raw._fh_loads RENAME COLUMN deleted TO rows_deleted;" : "",
             has_files ? "" : "ALTER TABLE raw._fh_loads ADD COLUMN files BIGINT DEFAULT 0;");
    rc = query(d, sql, NULL, err);
    if (rc != FH_OK) {
        fh_error ignored;
        query(d, "ROLLBACK", NULL, &ignored);
    }
    return rc;
}

/* Raw tables written before streaming existed get its columns (cdc_dest.h) the first time a newer
 * fhload opens the warehouse, so raw's current view and dbt's latest_version can read them on every
 * table: a catalog change per table (ADD COLUMN of a NULL column writes no data), one transaction. */
static int migrate_stream_columns(duck_dest *d, fh_error *err)
{
    duckdb_result r;
    int rc = query(d,
                   "SELECT table_name FROM duckdb_columns() WHERE schema_name = 'raw' AND "
                   "column_name = '_fh_op' AND NOT starts_with(table_name, '_fh_') EXCEPT "
                   "SELECT table_name FROM duckdb_columns() WHERE schema_name = 'raw' AND "
                   "column_name = '_fh_superseded'",
                   &r, err);
    if (rc != FH_OK)
        return rc;
    idx_t n = duckdb_row_count(&r);
    fh_sql_buf b = {0};
    fh_sql_buf_add(&b, "BEGIN;");
    for (idx_t i = 0; i < n; i++) {
        char *t = duckdb_value_varchar(&r, 0, i), q[160];
        if (t)
            add_stream_columns(&b, fh_sql_ident(t, q, sizeof q));
        duckdb_free(t);
    }
    fh_sql_buf_add(&b, "COMMIT;");
    duckdb_destroy_result(&r);
    if (n == 0) {
        fh_sql_buf_reset(&b);
        return FH_OK;
    }
    rc = b.oom ? fh_error_set(err, FH_EINTERNAL, "out of memory") : query(d, b.s, NULL, err);
    fh_sql_buf_reset(&b);
    if (rc != FH_OK) {
        fh_error ignored;
        query(d, "ROLLBACK", NULL, &ignored);
    }
    return rc;
}

/* "128MB", "1.5 GiB", "512KB" → bytes (DuckDB's units: KB = 1000, KiB = 1024); 0 if unreadable. */
static int64_t parse_bytes(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || v <= 0)
        return 0;
    while (*end == ' ')
        end++;
    static const struct {
        const char *unit;
        double factor;
    } UNITS[] = {{"", 1},      {"b", 1},
                 {"kb", 1e3},  {"kib", 1024.0},
                 {"mb", 1e6},  {"mib", 1048576.0},
                 {"gb", 1e9},  {"gib", 1073741824.0},
                 {"tb", 1e12}, {"tib", 1099511627776.0}};
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
        if (!strcasecmp(end, UNITS[i].unit))
            return (int64_t)(v * UNITS[i].factor);
    return 0;
}

/* Keys per pass. Measured on 2 threads with a 128MB limit: one hash join over 1M BIGINT keys fit, and
 * an aggregate over 256k groups; a pass of delete detection (an aggregate of raw's rows since the
 * current keys, and two joins, in one statement) over 1M keys did not. A third of that (333k at
 * 128MB) leaves room at any limit (24MB included: ingest/engine/tests/e2e/run.sh). */
#define BYTES_PER_JOIN_KEY 384
#define BYTES_PER_GROUP 1024
#define MIN_KEYS_PER_PASS 16384

int duck_dest_open(const char *path, int threads, const char *memory_limit,
                   const char *disabled_compression, duck_dest **out, fh_error *err)
{
    *out = NULL;
    if (check_catalog_name(path, err) != FH_OK)
        return FH_EUSAGE;
    duck_dest *d = calloc(1, sizeof *d);
    if (!d)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    snprintf(d->path, sizeof d->path, "%s", path);
    int64_t limit = parse_bytes(memory_limit);
    if (limit <= 0)
        limit = 128 * 1000 * 1000;
    d->keys_per_pass = limit / BYTES_PER_JOIN_KEY;
    d->groups_per_pass = limit / BYTES_PER_GROUP;
    if (d->keys_per_pass < MIN_KEYS_PER_PASS)
        d->keys_per_pass = MIN_KEYS_PER_PASS;
    if (d->groups_per_pass < MIN_KEYS_PER_PASS)
        d->groups_per_pass = MIN_KEYS_PER_PASS;
    int rc = mkdir_parents(path, err);
    struct stat sb;
    if (rc == FH_OK && stat(path, &sb) != 0 && errno == ENOENT)
        rc = create_whole(path, threads, memory_limit, disabled_compression, err);
    if (rc != FH_OK) {
        free(d);
        return rc;
    }
    duckdb_config cfg = make_config(threads, memory_limit, disabled_compression);
    char what[1100];
    snprintf(what, sizeof what, "warehouse %s", path);
    if (fh_duck_open(&d->duck, path, what, &cfg, err) != FH_OK) {
        free(d);
        return open_error(err);
    }
    if (rc == FH_OK) {
        fh_sql_buf init = {0};
        const char *sql = init_sql(&init);
        rc = sql ? query(d, sql, NULL, err) : fh_error_set(err, FH_EINTERNAL, "out of memory");
        fh_sql_buf_reset(&init);
    }
    if (rc == FH_OK)
        rc = migrate_load_log(d, err);
    if (rc == FH_OK)
        rc = migrate_stream_columns(d, err);
    if (rc != FH_OK) {
        duck_dest_close(d);
        return rc;
    }
    *out = d;
    return FH_OK;
}

void duck_dest_set_keys_per_pass(duck_dest *d, int64_t keys_per_pass)
{
    assert(keys_per_pass > 0);
    d->keys_per_pass = keys_per_pass;
    d->groups_per_pass = keys_per_pass / 4 > 0 ? keys_per_pass / 4 : 1;
}

void duck_dest_set_trace(duck_dest *d, int on) { d->duck.trace = on; }

duckdb_connection duck_dest_connection(duck_dest *d) { return d->duck.con; }

void duck_dest_close(duck_dest *d)
{
    if (!d)
        return;
    fh_duck_close(&d->duck);
    free(d);
}

int duck_dest_read_state(duck_dest *d, const char *table, duck_dest_state *out, fh_error *err)
{
    memset(out, 0, sizeof *out);
    char sql[512], l[160];
    snprintf(sql, sizeof sql,
             "SELECT epoch_us(watermark), last_load_id FROM raw._fh_state WHERE table_name = %s",
             fh_sql_literal(table, l, sizeof l));
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

/* Can raw type `raw` hold every value of source column `col` (DuckDB type `src`) unaltered
 * (HOLDS), or after changing the raw column to the source type, which keeps every value already
 * loaded exactly (WIDEN)? */
static int compatible(const char *raw, const char *src, const cd_column *col)
{
    if (!strcmp(raw, src))
        return HOLDS;
    int rr = int_rank(raw), sr = int_rank(src);
    if (rr && sr)
        return rr >= sr ? HOLDS : WIDEN;
    unsigned rw, rs, sw, ss;
    int raw_dec = sscanf(raw, "DECIMAL(%u,%u)", &rw, &rs) == 2;
    if (raw_dec && sscanf(src, "DECIMAL(%u,%u)", &sw, &ss) == 2) {
        if (rs == ss)
            return rw >= sw ? HOLDS : WIDEN;
        /* more decimals and no fewer integer digits: every loaded value fits */
        return ss > rs && sw - ss >= rw - rs ? WIDEN : INCOMPATIBLE;
    }
    /* A numeric the registry now keeps as text: the loaded DECIMALs become their exact text. */
    if (raw_dec && col->kind == CD_NUMERIC_TEXT)
        return WIDEN;
    return INCOMPATIBLE;
}

#define MAX_RAW_COLS 4096

static int ensure_table(duck_dest *d, const duck_dest_spec *s, fh_error *err)
{
    char sql[1024], l[160], q[160], q2[160];
    snprintf(sql, sizeof sql,
             "SELECT column_name, data_type FROM duckdb_columns() "
             "WHERE schema_name = 'raw' AND table_name = %s ORDER BY column_index",
             fh_sql_literal(s->table, l, sizeof l));
    duckdb_result r;
    int rc = query(d, sql, &r, err);
    if (rc != FH_OK)
        return rc;
    idx_t nraw = duckdb_row_count(&r);
    fh_sql_buf b = {0};
    for (size_t c = 0; c < s->ncols; c++)
        if (strncmp(s->cols[c].name, "_fh_", 4) == 0) {
            duckdb_destroy_result(&r);
            return fh_error_set(err, FH_ESCHEMA,
                                "table %s, column %s: names starting with _fh_ are reserved for "
                                "fhload's load metadata — rename the column",
                                s->table, s->cols[c].name);
        }
    if (nraw == 0) {
        fh_sql_buf_add(&b, "CREATE TABLE raw.%s (", fh_sql_ident(s->table, q, sizeof q));
        for (size_t c = 0; c < s->ncols; c++) {
            char ty[64];
            copy_decode_type_sql(&s->cols[c], ty, sizeof ty);
            fh_sql_buf_add(&b, "%s %s, ", fh_sql_ident(s->cols[c].name, q, sizeof q), ty);
        }
        fh_sql_buf_add(&b,
                       "_fh_load_id BIGINT NOT NULL, _fh_loaded_at TIMESTAMPTZ NOT NULL, "
                       "_fh_op VARCHAR NOT NULL, _fh_row_hash BIGINT, %s)",
                       STREAM_COLUMNS);
    } else {
        /* Raw tables written before row hashes (or streaming) existed get the columns (NULL for
         * their rows); duck_dest_open adds the streaming ones already, this is for a table created
         * since by an older fhload. */
        int has_hash = 0, has_stream = 0;
        for (idx_t i = 0; i < nraw; i++) {
            char *name = duckdb_value_varchar(&r, 0, i);
            has_hash |= name && !strcmp(name, "_fh_row_hash");
            has_stream |= name && !strcmp(name, "_fh_superseded");
            duckdb_free(name);
        }
        if (!has_hash)
            fh_sql_buf_add(&b, "ALTER TABLE raw.%s ADD COLUMN _fh_row_hash BIGINT;",
                           fh_sql_ident(s->table, q, sizeof q));
        if (!has_stream)
            add_stream_columns(&b, fh_sql_ident(s->table, q, sizeof q));
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
                    int how = rty ? compatible(rty, ty, &s->cols[c]) : INCOMPATIBLE;
                    if (how == WIDEN)
                        fh_sql_buf_add(&b, "ALTER TABLE raw.%s ALTER COLUMN %s TYPE %s;",
                                       fh_sql_ident(s->table, q, sizeof q),
                                       fh_sql_ident(name, q2, sizeof q2), ty);
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
                fh_sql_buf_add(&b, "ALTER TABLE raw.%s ADD COLUMN %s %s;",
                               fh_sql_ident(s->table, q, sizeof q),
                               fh_sql_ident(s->cols[c].name, q2, sizeof q2), ty);
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
    return fh_duck_scalar_i64(&d->duck, sql, out, err);
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

/* What the statements of one load share: the table, its key, the load id, and where the current
 * keys stand. */
typedef struct {
    const duck_dest_spec *s;
    char tq[160];                 /* raw."t" */
    char cq[200];                 /* raw."_fh_current_t" */
    char cname[140];              /* _fh_current_t */
    int64_t id;                   /* this load's id */
    int64_t as_of;                /* the current keys hold every load up to this id (0: none yet) */
    int64_t cur_rows, delta_rows; /* rows of the current keys, and of raw after as_of */
} load_ctx;

static void load_ctx_init(load_ctx *lc, const duck_dest_spec *s, int64_t id)
{
    char q[160];
    memset(lc, 0, sizeof *lc);
    lc->s = s;
    lc->id = id;
    snprintf(lc->tq, sizeof lc->tq, "raw.%s", fh_sql_ident(s->table, q, sizeof q));
    snprintf(lc->cname, sizeof lc->cname, "_fh_current_%s", s->table);
    snprintf(lc->cq, sizeof lc->cq, "raw.%s", fh_sql_ident(lc->cname, q, sizeof q));
}

/* "a.k1 = b.k1 AND a.k2 = b.k2" */
static void key_match(fh_sql_buf *b, const duck_dest_spec *s, const char *a, const char *bb)
{
    assert(s->nkey > 0); /* only keyed tables have deletes, current keys and reconciliation */
    char q[160];
    for (int i = 0; i < s->nkey; i++)
        fh_sql_buf_add(b, "%s%s.%s = %s.%s", i ? " AND " : "", a,
                       fh_sql_ident(s->key[i], q, sizeof q), bb, q);
}

/* "a.k1, a.k2" (prefix "" for bare names) */
static void key_list(fh_sql_buf *b, const duck_dest_spec *s, const char *a)
{
    assert(s->nkey > 0);
    char q[160];
    for (int i = 0; i < s->nkey; i++)
        fh_sql_buf_add(b, "%s%s%s%s", i ? ", " : "", a, a[0] ? "." : "",
                       fh_sql_ident(s->key[i], q, sizeof q));
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    assert(b > 0);
    return a <= 0 ? 0 : (a + b - 1) / b;
}

/* How a statement over a table's keys is cut into passes: n key ranges on the first key column
 * when it is an integer (raw's rows and the current keys are mostly in key order — a full load
 * reads the source's heap in order — so zone maps let each pass read little more than its own
 * row groups), else n hash partitions. */
typedef struct {
    int64_t n;       /* passes, >= 1 */
    int64_t *bounds; /* n - 1 ascending boundaries on the first key column, or NULL */
    char k0[160];    /* the first key column, quoted */
} pass_plan;

static void pass_plan_free(pass_plan *pl)
{
    free(pl->bounds);
    pl->bounds = NULL;
}

/* The condition that selects pass p of the plan, over unaliased key columns ("true" for one pass),
 * in SQL both DuckDB and PostgreSQL read when the plan has key ranges. */
static void pass_cond(fh_sql_buf *b, const load_ctx *lc, const pass_plan *pl, int64_t p)
{
    assert(p >= 0 && p < pl->n);
    assert(pl->bounds == NULL || pl->n > 1);
    if (pl->n <= 1) {
        fh_sql_buf_add(b, "true");
    } else if (pl->bounds) {
        if (p > 0)
            fh_sql_buf_add(b, "%s >= %" PRId64, pl->k0, pl->bounds[p - 1]);
        if (p > 0 && p < pl->n - 1)
            fh_sql_buf_add(b, " AND ");
        if (p < pl->n - 1)
            fh_sql_buf_add(b, "%s < %" PRId64, pl->k0, pl->bounds[p]);
    } else {
        fh_sql_buf_add(b, "hash(");
        key_list(b, lc->s, "");
        fh_sql_buf_add(b, ") %% %" PRId64 " = %" PRId64, pl->n, p);
    }
}

static int run_sql(duck_dest *d, fh_sql_buf *b, uint64_t *changed, fh_error *err)
{
    if (b->oom) {
        fh_sql_buf_reset(b);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    duckdb_result r;
    int rc = query(d, b->s, changed ? &r : NULL, err);
    fh_sql_buf_reset(b);
    if (rc == FH_OK && changed) {
        *changed = duckdb_rows_changed(&r);
        duckdb_destroy_result(&r);
    }
    return rc;
}

static int table_exists(duck_dest *d, const char *name, int *exists, fh_error *err)
{
    char sql[512], l[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = %s",
             fh_sql_literal(name, l, sizeof l));
    int64_t n;
    int rc = scalar_i64(d, sql, &n, err);
    *exists = n > 0;
    return rc;
}

/* ---- the current keys ----------------------------------------------------------------------------
 *
 * raw._fh_current_<t> holds, for every key live after load `as_of` (raw._fh_state.current_as_of),
 * the load id and row hash of its latest version. Delete detection and reconciliation need raw's
 * current view: it is that table overridden by raw's rows loaded after as_of (appended, so their
 * row groups are found by zone maps on _fh_load_id), never raw's whole history. Incremental loads
 * leave the table alone; a full load or a reconciliation, which read the whole source anyway,
 * rebuild it and move as_of to themselves. No load deletes from it: DuckDB keeps 16 KiB of
 * version information per 2048-row vector a DELETE touches, which for keys scattered over a 10M-row
 * table was 80 MB on top of the memory limit. A warehouse from before this table existed starts
 * with as_of 0 and an empty table: the view is then raw's whole history, read in passes. */

static int ensure_current(duck_dest *d, load_ctx *lc, fh_error *err)
{
    const duck_dest_spec *s = lc->s;
    char sql[600], l[160], q[160];
    int exists;
    int rc = table_exists(d, lc->cname, &exists, err);
    if (rc == FH_OK && exists) {
        snprintf(sql, sizeof sql,
                 "SELECT coalesce(max(current_as_of), 0) FROM raw._fh_state WHERE table_name = %s",
                 fh_sql_literal(s->table, l, sizeof l));
        rc = scalar_i64(d, sql, &lc->as_of, err);
    }
    if (rc != FH_OK)
        return rc;
    if (!exists || lc->as_of == 0) { /* a new table, or one loaded before the current keys */
        lc->as_of = 0;
        fh_sql_buf b = {0};
        fh_sql_buf_add(&b, "CREATE OR REPLACE TABLE %s (", lc->cq);
        for (int i = 0; i < s->nkey; i++) {
            const cd_column *col = NULL;
            for (size_t c = 0; c < s->ncols; c++)
                if (!strcmp(s->cols[c].name, s->key[i]))
                    col = &s->cols[c];
            assert(col); /* main checked the key columns against the source */
            char ty[64];
            copy_decode_type_sql(col, ty, sizeof ty);
            fh_sql_buf_add(&b, "%s %s, ", fh_sql_ident(col->name, q, sizeof q), ty);
        }
        fh_sql_buf_add(&b, "_fh_load_id BIGINT NOT NULL, _fh_row_hash BIGINT)");
        if ((rc = run_sql(d, &b, NULL, err)) != FH_OK)
            return rc;
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", lc->cq);
    rc = scalar_i64(d, sql, &lc->cur_rows, err);
    if (rc == FH_OK) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM %s WHERE _fh_load_id > %" PRId64
                 " AND _fh_load_id < %" PRId64,
                 lc->tq, lc->as_of, lc->id);
        rc = scalar_i64(d, sql, &lc->delta_rows, err);
    }
    return rc;
}

/* Plan the passes of a statement over raw's current view as of the loads before `upto`, joined with
 * `extra_keys` more keys (the load's own) when given: per pass at most keys_per_pass current or
 * extra keys, and groups_per_pass distinct keys among raw's rows after as_of. `for_source`: the
 * passes must be key ranges PostgreSQL can select too (reconciliation), so a table whose first key
 * is not an integer gets one pass. */
static int plan_passes(duck_dest *d, const load_ctx *lc, int64_t extra_keys, int64_t upto,
                       int for_source, pass_plan *pl, fh_error *err)
{
    const duck_dest_spec *s = lc->s;
    memset(pl, 0, sizeof *pl);
    pl->n = 1;
    int rc = FH_OK;
    int64_t groups = lc->delta_rows;
    fh_sql_buf b = {0};
    if (groups > d->groups_per_pass) { /* many versions of few keys, or many keys: count them */
        fh_sql_buf_add(&b, "SELECT approx_count_distinct(hash(");
        key_list(&b, s, "");
        fh_sql_buf_add(&b, ")) FROM %s WHERE _fh_load_id > %" PRId64 " AND _fh_load_id < %" PRId64,
                       lc->tq, lc->as_of, upto);
        if (b.oom)
            return run_sql(d, &b, NULL, err);
        rc = scalar_i64(d, b.s, &groups, err);
        fh_sql_buf_reset(&b);
        groups += groups / 10; /* the sketch's error */
    }
    int64_t n = ceil_div(lc->cur_rows, d->keys_per_pass);
    int64_t m = ceil_div(groups, d->groups_per_pass), e = ceil_div(extra_keys, d->keys_per_pass);
    n = n > m ? n : m;
    n = n > e ? n : e;
    if (rc != FH_OK || n <= 1)
        return rc;
    const cd_column *k0 = NULL;
    for (size_t c = 0; c < s->ncols; c++)
        if (!strcmp(s->cols[c].name, s->key[0]))
            k0 = &s->cols[c];
    if (!k0 || (k0->kind != CD_INT2 && k0->kind != CD_INT4 && k0->kind != CD_INT8)) {
        pl->n = for_source ? 1 : n;
        return FH_OK;
    }
    /* boundaries at the quantiles of the keys (approx_quantile: a fixed-size sketch) */
    fh_sql_ident(k0->name, pl->k0, sizeof pl->k0);
    fh_sql_buf_add(&b, "SELECT DISTINCT unnest(approx_quantile(k, [");
    for (int64_t p = 1; p < n; p++)
        fh_sql_buf_add(&b, "%s%.6f", p > 1 ? ", " : "", (double)p / (double)n);
    fh_sql_buf_add(&b,
                   "]))::BIGINT AS b FROM (SELECT %s AS k FROM %s UNION ALL SELECT %s FROM %s "
                   "WHERE "
                   "_fh_load_id > %" PRId64 " AND _fh_load_id <= %" PRId64 ") ORDER BY b",
                   pl->k0, lc->cq, pl->k0, lc->tq, lc->as_of, lc->id);
    if (b.oom)
        return run_sql(d, &b, NULL, err);
    duckdb_result r;
    rc = query(d, b.s, &r, err);
    free(b.s);
    if (rc != FH_OK)
        return rc;
    idx_t nb = duckdb_row_count(&r);
    pl->bounds = nb ? malloc(nb * sizeof *pl->bounds) : NULL;
    if (nb && !pl->bounds) {
        duckdb_destroy_result(&r);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    for (idx_t i = 0; i < nb; i++)
        pl->bounds[i] = duckdb_value_int64(&r, 0, i);
    duckdb_destroy_result(&r);
    pl->n = (int64_t)nb + 1;
    return FH_OK;
}

/* `live AS (…)`: raw's current view for pass p of the plan, as of the loads before `upto` (exclusive) —
 * the latest version of each key among raw's rows after as_of (one fixed-size aggregate:
 * max(load id * 2 + is_delete) finds that row and its op; arg_max_null keeps its hash even when
 * NULL), and the current keys' entry of every other key. Its columns: the keys, _fh_load_id,
 * _fh_row_hash. */
static void live_cte(fh_sql_buf *b, const load_ctx *lc, const pass_plan *pl, int64_t p,
                     int64_t upto)
{
    const duck_dest_spec *s = lc->s;
    fh_sql_buf_add(b, "since AS (SELECT ");
    key_list(b, s, "");
    fh_sql_buf_add(b,
                   ", max(_fh_load_id * 2 + (_fh_op = 'delete')::BIGINT) AS m, "
                   "arg_max_null(_fh_row_hash, _fh_load_id) AS h FROM %s WHERE _fh_load_id > "
                   "%" PRId64 " AND _fh_load_id < %" PRId64 " AND _fh_superseded IS NOT TRUE AND ",
                   lc->tq, lc->as_of, upto);
    pass_cond(b, lc, pl, p);
    fh_sql_buf_add(b, " GROUP BY ALL), live AS (SELECT ");
    key_list(b, s, "");
    fh_sql_buf_add(b, ", m // 2 AS _fh_load_id, h AS _fh_row_hash FROM since WHERE m %% 2 = 0 "
                      "UNION ALL SELECT ");
    key_list(b, s, "c");
    fh_sql_buf_add(b, ", c._fh_load_id, c._fh_row_hash FROM (SELECT * FROM %s WHERE ", lc->cq);
    pass_cond(b, lc, pl, p);
    fh_sql_buf_add(b, ") c ANTI JOIN since ON ");
    key_match(b, s, "c", "since");
    fh_sql_buf_add(b, ")");
}

/* The current keys become the view as of this load (its rows included). A full load's view is its
 * own keys; a reconciliation's is built pass by pass. The new table replaces the old one. */
static int rebuild_current(duck_dest *d, load_ctx *lc, int full, fh_error *err)
{
    const duck_dest_spec *s = lc->s;
    char next[200], q[160], sql[600];
    snprintf(next, sizeof next, "raw.%s", fh_sql_ident("_fh_current_next", q, sizeof q));
    fh_sql_buf b = {0};
    fh_sql_buf_add(&b, "CREATE OR REPLACE TABLE %s AS SELECT * FROM %s LIMIT 0", next, lc->cq);
    int rc = run_sql(d, &b, NULL, err);
    if (full) {
        fh_sql_buf_add(&b, "INSERT INTO %s SELECT ", next);
        key_list(&b, s, "");
        fh_sql_buf_add(&b,
                       ", _fh_load_id, _fh_row_hash FROM %s WHERE _fh_load_id = %" PRId64
                       " AND _fh_op <> 'delete' AND _fh_superseded IS NOT TRUE",
                       lc->tq, lc->id);
        if (rc == FH_OK)
            rc = run_sql(d, &b, NULL, err);
    } else {
        /* the view now includes this load's rows: count them in the passes' size */
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM %s WHERE _fh_load_id > %" PRId64
                 " AND _fh_load_id <= %" PRId64,
                 lc->tq, lc->as_of, lc->id);
        if (rc == FH_OK)
            rc = scalar_i64(d, sql, &lc->delta_rows, err);
        pass_plan pl = {.n = 1};
        if (rc == FH_OK)
            rc = plan_passes(d, lc, 0, lc->id + 1, 0, &pl, err);
        for (int64_t p = 0; p < pl.n && rc == FH_OK; p++) {
            fh_sql_buf_add(&b, "INSERT INTO %s WITH ", next);
            live_cte(&b, lc, &pl, p, lc->id + 1);
            fh_sql_buf_add(&b, " SELECT * FROM live");
            rc = run_sql(d, &b, NULL, err);
        }
        pass_plan_free(&pl);
    }
    fh_sql_buf_reset(&b);
    /* The next table takes the old one's place. */
    if (rc == FH_OK) {
        snprintf(sql, sizeof sql, "DROP TABLE %s", lc->cq);
        rc = query(d, sql, NULL, err);
    }
    if (rc == FH_OK) {
        snprintf(sql, sizeof sql, "ALTER TABLE %s RENAME TO %s", next,
                 fh_sql_ident(lc->cname, q, sizeof q));
        rc = query(d, sql, NULL, err);
    }
    if (rc == FH_OK)
        lc->as_of = lc->id; /* finish_load writes it into the state, with the load */
    return rc;
}

/* Keys live before this full load that it did not read become 'delete' rows. */
static int record_deletes(duck_dest *d, load_ctx *lc, uint64_t loaded, uint64_t *deleted,
                          fh_error *err)
{
    const duck_dest_spec *s = lc->s;
    assert(s->full && s->nkey > 0);
    *deleted = 0;
    if (lc->cur_rows == 0 && lc->delta_rows == 0) /* nothing was live: a first load */
        return FH_OK;
    /* the load's own keys are a join side too */
    pass_plan pl;
    int rc = plan_passes(d, lc, (int64_t)loaded, lc->id, 0, &pl, err);
    for (int64_t p = 0; p < pl.n && rc == FH_OK; p++) {
        /* An explicit ANTI JOIN, not a correlated NOT EXISTS: DuckDB plans the latter as a DELIM
         * join that first collects the distinct keys of the outer side — every live key at once,
         * whatever the passes (it ran out of 128MB at 10M keys). */
        fh_sql_buf b = {0};
        fh_sql_buf_add(&b, "INSERT INTO %s (", lc->tq);
        key_list(&b, s, "");
        fh_sql_buf_add(&b, ", _fh_load_id, _fh_loaded_at, _fh_op) WITH ");
        live_cte(&b, lc, &pl, p, lc->id);
        fh_sql_buf_add(&b, " SELECT ");
        key_list(&b, s, "live");
        fh_sql_buf_add(&b, ", %" PRId64 ", now(), 'delete' FROM live ANTI JOIN (SELECT ", lc->id);
        key_list(&b, s, "");
        fh_sql_buf_add(&b, " FROM %s WHERE _fh_load_id = %" PRId64 " AND ", lc->tq, lc->id);
        pass_cond(&b, lc, &pl, p);
        fh_sql_buf_add(&b, ") n ON ");
        key_match(&b, s, "n", "live");
        uint64_t n = 0;
        rc = run_sql(d, &b, &n, err);
        *deleted += n;
    }
    pass_plan_free(&pl);
    return rc;
}

/* Refuse to record deletes of more than max_delete_pct of the table: a source pointed at an empty or
 * wrong database would otherwise mark every row of the table deleted. The table's rows are those
 * the source still has (`kept`) and those it would lose. */
static int check_deletes(const load_ctx *lc, const char *what, uint64_t kept, uint64_t deleted,
                         fh_error *err)
{
    const duck_dest_spec *s = lc->s;
    double total = (double)kept + (double)deleted;
    if (deleted == 0 || (double)deleted * 100.0 <= (double)s->max_delete_pct * total)
        return FH_OK;
    return fh_error_set(err, FH_EDATA,
                        "table %s: this %s would mark %" PRIu64 " of %.0f rows (%.0f%%) deleted, "
                        "above the %d%% limit — is --source the right database? If these rows "
                        "really were deleted, rerun with --max-delete-percent 100 (or set "
                        "FINHOUSE_MAX_DELETE_PERCENT); nothing was committed",
                        s->table, what, deleted, total, 100.0 * (double)deleted / total,
                        s->max_delete_pct);
}

/* Run an INSERT … SELECT … FROM fh_scan() with src as the producer (fh_duck_scan: the producer's
 * error wins over DuckDB's). */
static int scan_into(duck_dest *d, duck_scan_source *src, fh_sql_buf *b, uint64_t *rows,
                     fh_error *err)
{
    if (b->oom)
        return run_sql(d, b, NULL, err);
    int rc = fh_duck_scan(&d->duck, src, b->s, rows, err);
    fh_sql_buf_reset(b);
    return rc;
}

/* The rows of the scan, appended with this load's metadata. */
static int insert_rows(duck_dest *d, load_ctx *lc, uint64_t *rows, fh_error *err)
{
    const duck_dest_spec *s = lc->s;
    char q[160];
    fh_sql_buf b = {0};
    fh_sql_buf_add(&b, "INSERT INTO %s (", lc->tq);
    for (size_t c = 0; c < s->ncols; c++)
        fh_sql_buf_add(&b, "%s, ", fh_sql_ident(s->cols[c].name, q, sizeof q));
    fh_sql_buf_add(&b,
                   "_fh_row_hash, _fh_load_id, _fh_loaded_at, _fh_op) SELECT *, %s%" PRId64
                   ", now(), 'upsert' FROM fh_scan()",
                   s->src->row_hash ? "" : "NULL, ", lc->id);
    return scan_into(d, s->src, &b, rows, err);
}

static int begin_load(duck_dest *d, load_ctx *lc, const duck_dest_spec *s, int with_current,
                      fh_error *err)
{
    int rc = ensure_table(d, s, err);
    int64_t id = 0;
    if (rc == FH_OK)
        rc = scalar_i64(d, "SELECT coalesce(max(load_id), 0) + 1 FROM raw._fh_loads", &id, err);
    load_ctx_init(lc, s, id);
    if (rc == FH_OK && with_current && s->nkey > 0)
        rc = ensure_current(d, lc, err);
    return rc;
}

static int finish_load(duck_dest *d, load_ctx *lc, const char *mode, duck_dest_result *res,
                       int64_t started_us, fh_error *err)
{
    const duck_dest_spec *s = lc->s;
    assert(lc->id > 0 && lc->as_of <= lc->id);
    char sql[2048], l[160], wf[80], wt[80], st[80], fin[80];
    fh_sql_literal(s->table, l, sizeof l);
    ts_or_null(s->has_wm_from, s->wm_from, wf, sizeof wf);
    ts_or_null(res->has_wm_to, res->wm_to, wt, sizeof wt);
    ts_or_null(1, started_us, st, sizeof st);
    ts_or_null(1, fh_time_now_us(), fin, sizeof fin);
    /* current_as_of: the load the current keys were rebuilt at (this one, or an earlier one). */
    char as_of[40];
    if (lc->as_of > 0)
        snprintf(as_of, sizeof as_of, "%" PRId64, lc->as_of);
    else
        snprintf(as_of, sizeof as_of, "NULL");
    snprintf(sql, sizeof sql,
             "INSERT INTO raw._fh_loads (load_id, table_name, mode, started_at, finished_at, "
             "rows_loaded, rows_deleted, files, watermark_from, watermark_to, status) "
             "VALUES (%" PRId64 ", %s, '%s', %s, %s, %" PRIu64 ", %" PRIu64 ", 0, %s, %s, 'ok');"
             "INSERT INTO raw._fh_state (table_name, watermark, last_load_id, updated_at, "
             "current_as_of) VALUES (%s, %s, %" PRId64 ", %s, %s) "
             "ON CONFLICT (table_name) DO UPDATE SET watermark = excluded.watermark, "
             "last_load_id = excluded.last_load_id, updated_at = excluded.updated_at, "
             "current_as_of = coalesce(excluded.current_as_of, raw._fh_state.current_as_of);",
             lc->id, l, mode, st, fin, res->rows, res->deleted, wf, wt, l, wt, lc->id, fin, as_of);
    return query(d, sql, NULL, err);
}

static int load_in_txn(duck_dest *d, const duck_dest_spec *s, duck_dest_result *res,
                       int64_t started_us, fh_error *err)
{
    load_ctx lc;
    /* Only a full load reads the current keys (incremental loads leave them as they are). */
    int rc = begin_load(d, &lc, s, s->full, err);
    if (rc != FH_OK)
        return rc;
    res->load_id = lc.id;

    if ((rc = insert_rows(d, &lc, &res->rows, err)) != FH_OK)
        return rc;
    int has_max = 0;
    int64_t mx = 0;
    if (s->scan_done && (rc = s->scan_done(s->scan_ctx, &has_max, &mx, err)) != FH_OK)
        return rc;

    if (s->full && s->nkey > 0) {
        rc = record_deletes(d, &lc, res->rows, &res->deleted, err);
        if (rc == FH_OK)
            rc = check_deletes(&lc, "full load", res->rows, res->deleted, err);
        if (rc == FH_OK)
            rc = rebuild_current(d, &lc, 1, err);
        if (rc != FH_OK)
            return rc;
    }

    res->has_wm_to = s->has_wm_from || has_max;
    res->wm_to = s->has_wm_from ? s->wm_from : mx;
    if (has_max && mx > res->wm_to)
        res->wm_to = mx;
    return finish_load(d, &lc, s->full ? "full" : "incremental", res, started_us, err);
}

/* Run one load's statements in one transaction: all of it commits, or nothing. */
static int in_transaction(duck_dest *d,
                          int (*body)(duck_dest *, const duck_dest_spec *, duck_dest_result *,
                                      int64_t, fh_error *),
                          const duck_dest_spec *spec, duck_dest_result *res, fh_error *err)
{
    memset(res, 0, sizeof *res);
    int64_t started = fh_time_now_us();
    int rc = query(d, "BEGIN TRANSACTION", NULL, err);
    if (rc != FH_OK)
        return rc;
    rc = body(d, spec, res, started, err);
    if (rc == FH_OK)
        rc = query(d, "COMMIT", NULL, err);
    if (rc != FH_OK) {
        fh_error ignored;
        query(d, "ROLLBACK", NULL, &ignored);
    }
    return rc;
}

int duck_dest_load(duck_dest *d, const duck_dest_spec *spec, duck_dest_result *res, fh_error *err)
{
    assert(d && spec && spec->table && spec->src && res);
    assert(!spec->full || spec->nkey == 0 || spec->key != NULL);
    return in_transaction(d, load_in_txn, spec, res, err);
}

/* ---- reconciliation ------------------------------------------------------------------------------ */

/* One range: the source rows (fh_scan) against raw's current view, by key and row hash; what
 * differs is appended — a source row raw lacks or holds in another version as an upsert, a live key
 * the source no longer has as a delete. */
static int reconcile_range(duck_dest *d, load_ctx *lc, duck_scan_source *src, const pass_plan *pl,
                           int64_t p, fh_error *err)
{
    const duck_dest_spec *s = lc->s;
    char q[160];
    fh_sql_buf b = {0};
    fh_sql_buf_add(&b, "INSERT INTO %s (", lc->tq);
    for (size_t c = 0; c < s->ncols; c++)
        fh_sql_buf_add(&b, "%s, ", fh_sql_ident(s->cols[c].name, q, sizeof q));
    fh_sql_buf_add(&b, "_fh_row_hash, _fh_load_id, _fh_loaded_at, _fh_op) WITH ");
    live_cte(&b, lc, pl, p, lc->id);
    fh_sql_buf_add(&b, " SELECT ");
    for (size_t c = 0; c < s->ncols; c++) {
        int is_key = 0;
        for (int k = 0; k < s->nkey; k++)
            is_key |= !strcmp(s->key[k], s->cols[c].name);
        fh_sql_ident(s->cols[c].name, q, sizeof q);
        if (is_key)
            fh_sql_buf_add(&b, "coalesce(s.%s, live.%s), ", q, q);
        else
            fh_sql_buf_add(&b, "s.%s, ", q);
    }
    fh_sql_buf_add(&b,
                   "s._fh_row_hash, %" PRId64
                   ", now(), CASE WHEN s._fh_row_hash IS NULL THEN 'delete' "
                   "ELSE 'upsert' END FROM fh_scan() s FULL OUTER JOIN live ON ",
                   lc->id);
    key_match(&b, s, "s", "live");
    fh_sql_buf_add(&b, " WHERE s._fh_row_hash IS NULL OR live._fh_load_id IS NULL "
                       "OR s._fh_row_hash IS DISTINCT FROM live._fh_row_hash");
    uint64_t n;
    return scan_into(d, src, &b, &n, err);
}

static int reconcile_in_txn(duck_dest *d, const duck_dest_spec *s, duck_dest_result *res,
                            int64_t started_us, fh_error *err)
{
    assert(s->nkey > 0 && s->open_range && s->close_range);
    load_ctx lc;
    int rc = begin_load(d, &lc, s, 1, err);
    pass_plan pl = {.n = 1};
    if (rc == FH_OK)
        rc = plan_passes(d, &lc, 0, lc.id, 1, &pl, err);
    res->load_id = lc.id;
    for (int64_t p = 0; p < pl.n && rc == FH_OK; p++) {
        /* the same key range, read by PostgreSQL and by DuckDB */
        fh_sql_buf cond = {0};
        pass_cond(&cond, &lc, &pl, p);
        duck_scan_source *src = NULL;
        rc = cond.oom ? fh_error_set(err, FH_EINTERNAL, "out of memory")
                      : s->open_range(s->range_ctx, pl.n > 1 ? cond.s : NULL, &src, err);
        free(cond.s);
        if (rc == FH_OK)
            rc = reconcile_range(d, &lc, src, &pl, p, err);
        if (src) {
            fh_error close_err;
            int crc = s->close_range(s->range_ctx, rc == FH_OK, &close_err);
            if (rc == FH_OK && crc != FH_OK) {
                *err = close_err;
                rc = crc;
            }
        }
    }
    pass_plan_free(&pl);
    if (rc != FH_OK)
        return rc;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE _fh_op <> 'delete'), count(*) FILTER (WHERE _fh_op = "
             "'delete') FROM %s WHERE _fh_load_id = %" PRId64,
             lc.tq, lc.id);
    duckdb_result r;
    if ((rc = query(d, sql, &r, err)) != FH_OK)
        return rc;
    res->rows = (uint64_t)duckdb_value_int64(&r, 0, 0);
    res->deleted = (uint64_t)duckdb_value_int64(&r, 1, 0);
    duckdb_destroy_result(&r);
    /* the source's rows: every one the ranges compared */
    rc = check_deletes(&lc, "reconciliation", s->compared ? *s->compared : 0, res->deleted, err);
    if (rc == FH_OK)
        rc = rebuild_current(d, &lc, 0, err);
    if (rc != FH_OK)
        return rc;
    /* The watermark does not move: reconciliation repairs what lies behind it. */
    res->has_wm_to = s->has_wm_from;
    res->wm_to = s->wm_from;
    return finish_load(d, &lc, "reconcile", res, started_us, err);
}

int duck_dest_reconcile(duck_dest *d, const duck_dest_spec *spec, duck_dest_result *res,
                        fh_error *err)
{
    return in_transaction(d, reconcile_in_txn, spec, res, err);
}

/* ---- for cdc_dest ---------------------------------------------------------------------------- */

int duck_dest_query(duck_dest *d, const char *sql, duckdb_result *res, fh_error *err)
{
    return query(d, sql, res, err);
}

int duck_dest_ensure_table(duck_dest *d, const char *table, const cd_column *cols, size_t ncols,
                           fh_error *err)
{
    duck_dest_spec s = {.table = table, .cols = cols, .ncols = ncols};
    return ensure_table(d, &s, err);
}

int duck_dest_live_cte(duck_dest *d, const char *table, const cd_column *cols, size_t ncols,
                       const char *const *key, int nkey, int64_t upto, fh_sql_buf *b, fh_error *err)
{
    assert(nkey > 0 && upto > 0);
    duck_dest_spec s = {.table = table, .cols = cols, .ncols = ncols, .key = key, .nkey = nkey};
    load_ctx lc;
    load_ctx_init(&lc, &s, upto);
    int rc = ensure_current(d, &lc, err);
    if (rc != FH_OK)
        return rc;
    pass_plan pl = {.n = 1};
    live_cte(b, &lc, &pl, 0, upto);
    return FH_OK;
}
