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
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fh_sql.h"
#include "fh_time.h"

struct duck_dest {
    char path[1024];
    duckdb_database db;
    duckdb_connection con;
    duck_scan_slot slot;
    int slot_ready;
    /* Bounded memory for statements over a table's keys (delete detection, the current-keys table,
     * reconciliation): they run in passes of at most this many keys (a join) or groups (an
     * aggregate), derived from the memory limit. */
    int64_t keys_per_pass, groups_per_pass;
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

/* Names and values go into SQL only through fh_sql's quoting. */
#define qid fh_sql_ident
#define qlit fh_sql_literal

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
    if (ok && chmod(tmp, 0600) != 0) {
        ok = 0;
        snprintf(msg, sizeof msg, "cannot make %s private: %s", tmp, strerror(errno));
    }
    if (ok && link(tmp, path) != 0 && errno != EEXIST) {
        ok = 0;
        snprintf(msg, sizeof msg, "cannot link %s into place: %s", tmp, strerror(errno));
    }
    remove(tmp);
    remove(wal);
    if (!ok)
        return fh_error_set(err, FH_ECONN, "cannot create warehouse %s: %s — check --warehouse or "
                            "FINHOUSE_DUCKDB_PATH", path, msg);
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
    } UNITS[] = {{"", 1},        {"b", 1},        {"kb", 1e3},          {"kib", 1024.0},
                 {"mb", 1e6},    {"mib", 1048576.0}, {"gb", 1e9},       {"gib", 1073741824.0},
                 {"tb", 1e12},   {"tib", 1099511627776.0}};
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
        if (!strcasecmp(end, UNITS[i].unit))
            return (int64_t)(v * UNITS[i].factor);
    return 0;
}

/* Keys per pass: measured on 2 threads with a 128MB limit, a hash join over 1M BIGINT keys and an
 * aggregate over 256k groups fit, twice as many did not (bench/ingest/README.md); the divisors keep
 * that margin at any limit. */
#define BYTES_PER_JOIN_KEY 128
#define BYTES_PER_GROUP 512
#define MIN_KEYS_PER_PASS 16384

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
    int64_t limit = parse_bytes(memory_limit);
    if (limit <= 0)
        limit = 128 * 1000 * 1000;
    d->keys_per_pass = limit / BYTES_PER_JOIN_KEY;
    d->groups_per_pass = limit / BYTES_PER_GROUP;
    if (d->keys_per_pass < MIN_KEYS_PER_PASS)
        d->keys_per_pass = MIN_KEYS_PER_PASS;
    if (d->groups_per_pass < MIN_KEYS_PER_PASS)
        d->groups_per_pass = MIN_KEYS_PER_PASS;
    /* An explicit pass size (tests, or a warehouse whose keys are wider than BIGINTs). */
    const char *kpp = getenv("FINHOUSE_KEYS_PER_PASS");
    if (kpp && atoll(kpp) > 0) {
        d->keys_per_pass = atoll(kpp);
        d->groups_per_pass = d->keys_per_pass / 4 > 0 ? d->keys_per_pass / 4 : 1;
    }
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
                   "_fh_op VARCHAR NOT NULL, _fh_row_hash BIGINT)");
    } else {
        /* Raw tables written before row hashes existed get the column (NULL for their rows). */
        int has_hash = 0;
        for (idx_t i = 0; i < nraw; i++) {
            char *name = duckdb_value_varchar(&r, 0, i);
            has_hash |= name && !strcmp(name, "_fh_row_hash");
            duckdb_free(name);
        }
        if (!has_hash)
            sb_add(&b, "ALTER TABLE raw.%s ADD COLUMN _fh_row_hash BIGINT;", qid(s->table, q, sizeof q));
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
    *out = duckdb_row_count(&r) && !duckdb_value_is_null(&r, 0, 0) ? duckdb_value_int64(&r, 0, 0) : 0;
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

/* What the statements of one load share: the table, its key, the load id. */
typedef struct {
    const duck_load_spec *s;
    char tq[160];   /* raw."t" */
    char cq[200];   /* raw."_fh_current_t" */
    int64_t id;     /* this load's id */
} load_ctx;

static void load_ctx_init(load_ctx *lc, const duck_load_spec *s, int64_t id)
{
    char q[160], name[200];
    lc->s = s;
    lc->id = id;
    snprintf(lc->tq, sizeof lc->tq, "raw.%s", qid(s->table, q, sizeof q));
    snprintf(name, sizeof name, "_fh_current_%s", s->table);
    snprintf(lc->cq, sizeof lc->cq, "raw.%s", qid(name, q, sizeof q));
}

/* "a.k1 = b.k1 AND a.k2 = b.k2" */
static void key_match(sqlbuf *b, const duck_load_spec *s, const char *a, const char *bb)
{
    char q[160];
    for (int i = 0; i < s->nkey; i++)
        sb_add(b, "%s%s.%s = %s.%s", i ? " AND " : "", a, qid(s->key[i], q, sizeof q), bb, q);
}

/* "a.k1, a.k2" (prefix "" for bare names) */
static void key_list(sqlbuf *b, const duck_load_spec *s, const char *a)
{
    char q[160];
    for (int i = 0; i < s->nkey; i++)
        sb_add(b, "%s%s%s%s", i ? ", " : "", a, a[0] ? "." : "", qid(s->key[i], q, sizeof q));
}

/* The condition that selects pass p of np over the keys of alias a (true when np is 1): a hash
 * partition, so that each pass holds about 1/np of the keys whatever their distribution. */
static void pass_cond(sqlbuf *b, const duck_load_spec *s, const char *a, int64_t p, int64_t np)
{
    if (np <= 1) {
        sb_add(b, "true");
        return;
    }
    sb_add(b, "hash(");
    key_list(b, s, a);
    sb_add(b, ") %% %" PRId64 " = %" PRId64, np, p);
}

/* How many passes keep each pass's keys within the memory limit (at least 1). */
static int64_t passes_for(const duck_dest *d, int64_t keys, int64_t keys_per_pass)
{
    (void)d;
    assert(keys_per_pass > 0);
    return keys <= keys_per_pass ? 1 : (keys + keys_per_pass - 1) / keys_per_pass;
}

static int run_sql(duck_dest *d, sqlbuf *b, uint64_t *changed, fh_error *err)
{
    if (b->oom) {
        free(b->s);
        *b = (sqlbuf){0};
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    duckdb_result r;
    int rc = query(d, b->s, changed ? &r : NULL, err);
    free(b->s);
    *b = (sqlbuf){0};
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
             qlit(name, l, sizeof l));
    int64_t n;
    int rc = scalar_i64(d, sql, &n, err);
    *exists = n > 0;
    return rc;
}

/* The current-keys table raw._fh_current_<t>: one row per key whose latest raw row is not a delete,
 * with that row's load id and row hash. Every load keeps it up to date in its own transaction, so
 * delete detection and reconciliation compare the source with it instead of aggregating raw's
 * history (which grows with every load: ten versions of ten million keys did not fit the loader's
 * memory limit). A warehouse written before it existed gets it here, built from raw's history in
 * passes of bounded size. */
static int ensure_current(duck_dest *d, load_ctx *lc, fh_error *err)
{
    const duck_load_spec *s = lc->s;
    char name[200], q[160];
    snprintf(name, sizeof name, "_fh_current_%s", s->table);
    int exists;
    int rc = table_exists(d, name, &exists, err);
    if (rc != FH_OK || exists)
        return rc;
    sqlbuf b = {0};
    sb_add(&b, "CREATE TABLE %s (", lc->cq);
    for (int i = 0; i < s->nkey; i++) {
        const cd_column *col = NULL;
        for (size_t c = 0; c < s->ncols; c++)
            if (!strcmp(s->cols[c].name, s->key[i]))
                col = &s->cols[c];
        assert(col); /* main checked the key columns against the source */
        char ty[64];
        copy_decode_type_sql(col, ty, sizeof ty);
        sb_add(&b, "%s %s NOT NULL, ", qid(col->name, q, sizeof q), ty);
    }
    sb_add(&b, "_fh_load_id BIGINT NOT NULL, _fh_row_hash BIGINT)");
    if ((rc = run_sql(d, &b, NULL, err)) != FH_OK)
        return rc;

    /* Built from the history: a key is current when the row of its greatest load id is not a
     * delete. max(load_id * 2 + is_delete) finds that row and its op with one fixed-size
     * aggregate; arg_max_null keeps the row hash even when it is NULL (rows loaded before row
     * hashes existed). Passes of bounded size keep the hash table small. */
    int64_t keys;
    sb_add(&b, "SELECT approx_count_distinct(hash(");
    key_list(&b, s, "");
    sb_add(&b, ")) FROM %s", lc->tq);
    if (b.oom)
        return run_sql(d, &b, NULL, err);
    rc = scalar_i64(d, b.s, &keys, err);
    free(b.s);
    b = (sqlbuf){0};
    if (rc != FH_OK || keys == 0)
        return rc;
    int64_t np = passes_for(d, keys + keys / 10, d->groups_per_pass);
    for (int64_t p = 0; p < np && rc == FH_OK; p++) {
        sb_add(&b, "INSERT INTO %s SELECT ", lc->cq);
        key_list(&b, s, "");
        sb_add(&b, ", m // 2, h FROM (SELECT ");
        key_list(&b, s, "");
        sb_add(&b, ", max(_fh_load_id * 2 + (_fh_op = 'delete')::BIGINT) AS m, "
                   "arg_max_null(_fh_row_hash, _fh_load_id) AS h FROM %s WHERE ", lc->tq);
        pass_cond(&b, s, "", p, np);
        sb_add(&b, " GROUP BY ALL) WHERE m %% 2 = 0");
        rc = run_sql(d, &b, NULL, err);
    }
    return rc;
}

/* Keys of the current table that this full load did not read become 'delete' rows. */
static int record_deletes(duck_dest *d, load_ctx *lc, int64_t live, uint64_t loaded,
                          uint64_t *deleted, fh_error *err)
{
    const duck_load_spec *s = lc->s;
    int64_t np = passes_for(d, live > (int64_t)loaded ? live : (int64_t)loaded, d->keys_per_pass);
    int rc = FH_OK;
    *deleted = 0;
    for (int64_t p = 0; p < np && rc == FH_OK; p++) {
        sqlbuf b = {0};
        sb_add(&b, "INSERT INTO %s (", lc->tq);
        key_list(&b, s, "");
        sb_add(&b, ", _fh_load_id, _fh_loaded_at, _fh_op) SELECT ");
        key_list(&b, s, "c");
        /* An explicit ANTI JOIN, not a correlated NOT EXISTS: DuckDB plans the latter as a DELIM
         * join that first collects the distinct keys of the outer side — every current key, at once,
         * whatever the passes (it ran out of 128MB at 10M keys). */
        sb_add(&b, ", %" PRId64 ", now(), 'delete' FROM (SELECT * FROM %s WHERE ", lc->id, lc->cq);
        pass_cond(&b, s, "", p, np);
        sb_add(&b, ") c ANTI JOIN (SELECT ");
        key_list(&b, s, "");
        sb_add(&b, " FROM %s WHERE _fh_load_id = %" PRId64 " AND ", lc->tq, lc->id);
        pass_cond(&b, s, "", p, np);
        sb_add(&b, ") n ON ");
        key_match(&b, s, "n", "c");
        uint64_t n = 0;
        rc = run_sql(d, &b, &n, err);
        *deleted += n;
    }
    return rc;
}

/* Refuse to record deletes of more than max_delete_pct of the live keys: a source pointed at an
 * empty or wrong database would otherwise mark every row of the table deleted. */
static int check_deletes(const load_ctx *lc, const char *what, int64_t live, uint64_t deleted,
                         fh_error *err)
{
    const duck_load_spec *s = lc->s;
    if (live <= 0 || deleted == 0 || (double)deleted * 100.0 <= (double)s->max_delete_pct * (double)live)
        return FH_OK;
    return fh_error_set(err, FH_EDATA,
                        "table %s: this %s would mark %" PRIu64 " of %" PRId64 " rows (%.0f%%) "
                        "deleted, above the %d%% limit — is --source the right database? If these "
                        "rows really were deleted, rerun with --max-delete-percent 100 (or set "
                        "FINHOUSE_MAX_DELETE_PERCENT); nothing was committed",
                        s->table, what, deleted, live, 100.0 * (double)deleted / (double)live,
                        s->max_delete_pct);
}

/* Bring the current table up to date with this load's rows: every key it wrote loses its old
 * entry, and its upserts become the current versions. A full load replaces the whole table. */
static int apply_to_current(duck_dest *d, load_ctx *lc, int full, uint64_t written, fh_error *err)
{
    const duck_load_spec *s = lc->s;
    int rc = FH_OK;
    sqlbuf b = {0};
    if (full) {
        sb_add(&b, "DELETE FROM %s", lc->cq);
        rc = run_sql(d, &b, NULL, err);
    } else if (written > 0) {
        int64_t np = passes_for(d, (int64_t)written, d->keys_per_pass);
        /* DELETE … USING a join, not a correlated EXISTS (see record_deletes): the load's keys of
         * this pass are the join's build side. */
        for (int64_t p = 0; p < np && rc == FH_OK; p++) {
            sb_add(&b, "DELETE FROM %s c USING (SELECT ", lc->cq);
            key_list(&b, s, "");
            sb_add(&b, " FROM %s WHERE _fh_load_id = %" PRId64 " AND ", lc->tq, lc->id);
            pass_cond(&b, s, "", p, np);
            sb_add(&b, ") n WHERE ");
            key_match(&b, s, "n", "c");
            rc = run_sql(d, &b, NULL, err);
        }
    }
    if (rc != FH_OK || written == 0)
        return rc;
    sb_add(&b, "INSERT INTO %s SELECT ", lc->cq);
    key_list(&b, s, "");
    sb_add(&b, ", _fh_load_id, _fh_row_hash FROM %s WHERE _fh_load_id = %" PRId64
               " AND _fh_op = 'upsert'",
           lc->tq, lc->id);
    return run_sql(d, &b, NULL, err);
}

/* Run an INSERT … SELECT … FROM fh_scan() with src as the producer; the producer's error, if it
 * raised one, wins over DuckDB's (it says what went wrong in the source). */
static int scan_into(duck_dest *d, duck_scan_source *src, sqlbuf *b, uint64_t *rows, fh_error *err)
{
    if (b->oom)
        return run_sql(d, b, NULL, err);
    duckdb_result r;
    duck_scan_arm(&d->slot, src);
    int rc = query(d, b->s, &r, err);
    free(b->s);
    *b = (sqlbuf){0};
    fh_error scan_err;
    if (duck_scan_disarm(&d->slot, &scan_err) != FH_OK) {
        if (rc == FH_OK)
            duckdb_destroy_result(&r);
        *err = scan_err;
        return scan_err.code;
    }
    if (rc != FH_OK)
        return rc;
    *rows = duckdb_rows_changed(&r);
    duckdb_destroy_result(&r);
    return FH_OK;
}

/* The rows of the scan, appended with this load's metadata. */
static int insert_rows(duck_dest *d, load_ctx *lc, uint64_t *rows, fh_error *err)
{
    const duck_load_spec *s = lc->s;
    char q[160];
    sqlbuf b = {0};
    sb_add(&b, "INSERT INTO %s (", lc->tq);
    for (size_t c = 0; c < s->ncols; c++)
        sb_add(&b, "%s, ", qid(s->cols[c].name, q, sizeof q));
    sb_add(&b, "_fh_row_hash, _fh_load_id, _fh_loaded_at, _fh_op) SELECT *, %s%" PRId64
               ", now(), 'upsert' FROM fh_scan()",
           s->src->row_hash ? "" : "NULL, ", lc->id);
    return scan_into(d, s->src, &b, rows, err);
}

static int begin_load(duck_dest *d, load_ctx *lc, const duck_load_spec *s, int64_t *previous,
                      fh_error *err)
{
    char sql[512], l[160];
    int rc = ensure_table(d, s, err);
    int64_t id = 0;
    if (rc == FH_OK)
        rc = scalar_i64(d, "SELECT coalesce(max(load_id), 0) + 1 FROM raw._fh_loads", &id, err);
    if (rc == FH_OK) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM raw._fh_loads WHERE table_name = %s",
                 qlit(s->table, l, sizeof l));
        rc = scalar_i64(d, sql, previous, err);
    }
    load_ctx_init(lc, s, id);
    if (rc == FH_OK && s->nkey > 0)
        rc = ensure_current(d, lc, err);
    return rc;
}

static int finish_load(duck_dest *d, load_ctx *lc, const char *mode, duck_load_result *res,
                       int64_t started_us, fh_error *err)
{
    const duck_load_spec *s = lc->s;
    char sql[2048], l[160], wf[80], wt[80], st[80], fin[80];
    qlit(s->table, l, sizeof l);
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
             lc->id, l, mode, st, fin, res->rows, res->deleted, wf, wt, l, wt, lc->id, fin);
    return query(d, sql, NULL, err);
}

static int load_in_txn(duck_dest *d, const duck_load_spec *s, duck_load_result *res,
                       int64_t started_us, fh_error *err)
{
    load_ctx lc;
    int64_t previous = 0;
    int rc = begin_load(d, &lc, s, &previous, err);
    if (rc != FH_OK)
        return rc;
    res->load_id = lc.id;
    int64_t live = 0;
    if (s->nkey > 0) {
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", lc.cq);
        if ((rc = scalar_i64(d, sql, &live, err)) != FH_OK)
            return rc;
    }

    if ((rc = insert_rows(d, &lc, &res->rows, err)) != FH_OK)
        return rc;
    int has_max = 0;
    int64_t mx = 0;
    if (s->scan_done && (rc = s->scan_done(s->scan_ctx, &has_max, &mx, err)) != FH_OK)
        return rc;

    if (s->nkey > 0) {
        if (s->full && live > 0) {
            rc = record_deletes(d, &lc, live, res->rows, &res->deleted, err);
            if (rc == FH_OK)
                rc = check_deletes(&lc, "full load", live, res->deleted, err);
        }
        if (rc == FH_OK)
            rc = apply_to_current(d, &lc, s->full, res->rows, err);
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
static int in_transaction(duck_dest *d, int (*body)(duck_dest *, const duck_load_spec *,
                                                    duck_load_result *, int64_t, fh_error *),
                          const duck_load_spec *spec, duck_load_result *res, fh_error *err)
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

int duck_dest_load(duck_dest *d, const duck_load_spec *spec, duck_load_result *res, fh_error *err)
{
    return in_transaction(d, load_in_txn, spec, res, err);
}

/* ---- reconciliation ------------------------------------------------------------------------------ */

/* The boundaries that cut the current keys into ranges of at most keys_per_pass keys, on the first
 * key column when it is an integer (PostgreSQL and DuckDB then agree on the order; other keys are
 * reconciled as one range). approx_quantile keeps a fixed-size sketch, whatever the table's size. */
static int range_bounds(duck_dest *d, const load_ctx *lc, int64_t live, int64_t **bounds,
                        size_t *nbounds, fh_error *err)
{
    const duck_load_spec *s = lc->s;
    *bounds = NULL;
    *nbounds = 0;
    const cd_column *k0 = NULL;
    for (size_t c = 0; c < s->ncols; c++)
        if (!strcmp(s->cols[c].name, s->key[0]))
            k0 = &s->cols[c];
    int64_t np = passes_for(d, live, d->keys_per_pass);
    if (!k0 || np <= 1 || (k0->kind != CD_INT2 && k0->kind != CD_INT4 && k0->kind != CD_INT8))
        return FH_OK;
    char q[160];
    sqlbuf b = {0};
    sb_add(&b, "SELECT DISTINCT unnest(approx_quantile(%s, [", qid(k0->name, q, sizeof q));
    for (int64_t p = 1; p < np; p++)
        sb_add(&b, "%s%.6f", p > 1 ? ", " : "", (double)p / (double)np);
    sb_add(&b, "]))::BIGINT AS b FROM %s ORDER BY b", lc->cq);
    if (b.oom)
        return run_sql(d, &b, NULL, err);
    duckdb_result r;
    int rc = query(d, b.s, &r, err);
    free(b.s);
    if (rc != FH_OK)
        return rc;
    idx_t n = duckdb_row_count(&r);
    *bounds = n ? malloc(n * sizeof **bounds) : NULL;
    if (n && !*bounds) {
        duckdb_destroy_result(&r);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    for (idx_t i = 0; i < n; i++)
        (*bounds)[i] = duckdb_value_int64(&r, 0, i);
    *nbounds = n;
    duckdb_destroy_result(&r);
    return FH_OK;
}

/* "k0" >= lo AND "k0" < hi for range i of the bounds, in the syntax both databases read. */
static void range_cond(char *buf, size_t bufsz, const char *alias, const char *k0,
                       const int64_t *bounds, size_t nbounds, size_t i)
{
    char q[160], lo[64] = "", hi[64] = "";
    const char *col = qid(k0, q, sizeof q);
    if (nbounds == 0) {
        snprintf(buf, bufsz, "true");
        return;
    }
    if (i > 0)
        snprintf(lo, sizeof lo, "%" PRId64, bounds[i - 1]);
    if (i < nbounds)
        snprintf(hi, sizeof hi, "%" PRId64, bounds[i]);
    snprintf(buf, bufsz, "%s%s%s%s%s%s%s%s%s%s%s", lo[0] ? alias : "", lo[0] && alias[0] ? "." : "",
             lo[0] ? col : "", lo[0] ? " >= " : "", lo, lo[0] && hi[0] ? " AND " : "",
             hi[0] ? alias : "", hi[0] && alias[0] ? "." : "", hi[0] ? col : "", hi[0] ? " < " : "",
             hi);
}

/* One range: the source rows (fh_scan) against the current keys, by key and row hash; what differs
 * is appended — a source row raw lacks or holds in another version as an upsert, a current key the
 * source no longer has as a delete. */
static int reconcile_range(duck_dest *d, load_ctx *lc, duck_scan_source *src, const char *cond,
                           fh_error *err)
{
    const duck_load_spec *s = lc->s;
    char q[160];
    sqlbuf b = {0};
    sb_add(&b, "INSERT INTO %s (", lc->tq);
    for (size_t c = 0; c < s->ncols; c++)
        sb_add(&b, "%s, ", qid(s->cols[c].name, q, sizeof q));
    sb_add(&b, "_fh_row_hash, _fh_load_id, _fh_loaded_at, _fh_op) SELECT ");
    for (size_t c = 0; c < s->ncols; c++) {
        int is_key = 0;
        for (int k = 0; k < s->nkey; k++)
            is_key |= !strcmp(s->key[k], s->cols[c].name);
        qid(s->cols[c].name, q, sizeof q);
        if (is_key)
            sb_add(&b, "coalesce(s.%s, c.%s), ", q, q);
        else
            sb_add(&b, "s.%s, ", q);
    }
    sb_add(&b, "s._fh_row_hash, %" PRId64 ", now(), CASE WHEN s._fh_row_hash IS NULL THEN 'delete' "
               "ELSE 'upsert' END FROM fh_scan() s FULL OUTER JOIN (SELECT * FROM %s WHERE %s) c ON ",
           lc->id, lc->cq, cond);
    key_match(&b, s, "s", "c");
    sb_add(&b, " WHERE s._fh_row_hash IS NULL OR c._fh_load_id IS NULL "
               "OR s._fh_row_hash IS DISTINCT FROM c._fh_row_hash");
    uint64_t n;
    return scan_into(d, src, &b, &n, err);
}

static int reconcile_in_txn(duck_dest *d, const duck_load_spec *s, duck_load_result *res,
                            int64_t started_us, fh_error *err)
{
    assert(s->nkey > 0 && s->open_range && s->close_range);
    load_ctx lc;
    int64_t previous = 0, live = 0;
    int rc = begin_load(d, &lc, s, &previous, err);
    char sql[512];
    if (rc == FH_OK) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", lc.cq);
        rc = scalar_i64(d, sql, &live, err);
    }
    int64_t *bounds = NULL;
    size_t nbounds = 0;
    if (rc == FH_OK)
        rc = range_bounds(d, &lc, live, &bounds, &nbounds, err);
    res->load_id = lc.id;
    for (size_t i = 0; i <= nbounds && rc == FH_OK; i++) {
        char pg_cond[256], duck_cond[300];
        range_cond(pg_cond, sizeof pg_cond, "", s->key[0], bounds, nbounds, i);
        range_cond(duck_cond, sizeof duck_cond, "", s->key[0], bounds, nbounds, i);
        duck_scan_source *src = NULL;
        rc = s->open_range(s->range_ctx, nbounds ? pg_cond : NULL, &src, err);
        if (rc == FH_OK)
            rc = reconcile_range(d, &lc, src, duck_cond, err);
        if (src) {
            fh_error close_err;
            int crc = s->close_range(s->range_ctx, rc == FH_OK, &close_err);
            if (rc == FH_OK && crc != FH_OK) {
                *err = close_err;
                rc = crc;
            }
        }
    }
    free(bounds);
    if (rc != FH_OK)
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE _fh_op = 'upsert'), count(*) FILTER (WHERE _fh_op = "
             "'delete') FROM %s WHERE _fh_load_id = %" PRId64,
             lc.tq, lc.id);
    duckdb_result r;
    if ((rc = query(d, sql, &r, err)) != FH_OK)
        return rc;
    res->rows = (uint64_t)duckdb_value_int64(&r, 0, 0);
    res->deleted = (uint64_t)duckdb_value_int64(&r, 1, 0);
    duckdb_destroy_result(&r);
    rc = check_deletes(&lc, "reconciliation", live, res->deleted, err);
    if (rc == FH_OK)
        rc = apply_to_current(d, &lc, 0, res->rows + res->deleted, err);
    if (rc != FH_OK)
        return rc;
    /* The watermark does not move: reconciliation repairs what lies behind it. */
    res->has_wm_to = s->has_wm_from;
    res->wm_to = s->wm_from;
    return finish_load(d, &lc, "reconcile", res, started_us, err);
}

int duck_dest_reconcile(duck_dest *d, const duck_load_spec *spec, duck_load_result *res,
                        fh_error *err)
{
    return in_transaction(d, reconcile_in_txn, spec, res, err);
}
