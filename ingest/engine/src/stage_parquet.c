/*
 * stage_parquet — Parquet files and manifest for the Snowflake leg (contract in stage_parquet.h).
 *
 * How it works: an in-memory DuckDB with fh_scan() registered runs
 *     COPY (SELECT *, <load id> AS _fh_load_id, now() AS _fh_loaded_at, 'upsert' AS _fh_op
 *           FROM fh_scan()) TO 'DIR/.<table>.tmp-<pid>'
 *          (FORMAT parquet, FILE_SIZE_BYTES <size>, FILENAME_PATTERN 'part-{i}')
 * so rows stream from the COPY decoder into Parquet writers with bounded memory. Then each file's
 * row count is read back from its Parquet footer, manifest.json is written, and the directory is
 * renamed to DIR/<table>.
 */
#include "stage_parquet.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fh_duck.h"
#include "fh_json.h"
#include "fh_sql.h"
#include "fh_time.h"

struct stage_parquet {
    char dir[1024];
    fh_duck duck; /* in memory, fh_scan() registered */
};

static int mkdirs(const char *path, fh_error *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return fh_error_set(err, FH_EUSAGE, "cannot create directory %s: %s", buf,
                                    strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return FH_OK;
}

/* Remove the plain files of a directory fhload wrote, then the directory. */
static void remove_dir(const char *path)
{
    DIR *dh = opendir(path);
    if (!dh)
        return;
    struct dirent *e;
    char p[2048];
    while ((e = readdir(dh)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        unlink(p);
    }
    closedir(dh);
    rmdir(path);
}

int stage_parquet_open(const char *dir, int threads, const char *memory_limit, stage_parquet **out,
                       fh_error *err)
{
    *out = NULL;
    int rc = mkdirs(dir, err);
    if (rc != FH_OK)
        return rc;
    stage_parquet *sp = calloc(1, sizeof *sp);
    if (!sp)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    snprintf(sp->dir, sizeof sp->dir, "%s", dir);
    char tmp[1100], what[1100];
    snprintf(tmp, sizeof tmp, "%s/.tmp", dir);
    snprintf(what, sizeof what, "parquet staging in %s", dir);
    const char *extra[] = {"temp_directory", tmp, NULL};
    duckdb_config cfg = fh_duck_config(threads, memory_limit, extra);
    rc = fh_duck_open(&sp->duck, NULL, what, &cfg, err);
    if (rc != FH_OK) {
        free(sp);
        return rc;
    }
    *out = sp;
    return FH_OK;
}

void stage_parquet_close(stage_parquet *sp)
{
    if (!sp)
        return;
    fh_duck_close(&sp->duck);
    free(sp);
}

int stage_parquet_snowflake_type(const cd_column *col, char *buf, size_t bufsz)
{
    const char *t = NULL;
    switch (col->kind) {
    /* Snowflake's integers are all NUMBER(38,0): every BIGINT (and row hash) exact */
    case CD_INT2:
    case CD_INT4:
    case CD_INT8: t = "NUMBER(38,0)"; break;
    case CD_FLOAT4:
    case CD_FLOAT8: t = "FLOAT"; break;
    case CD_NUMERIC: snprintf(buf, bufsz, "NUMBER(%u,%u)", col->width, col->scale); return 1;
    /* JSON and JSONB stay their text (raw keeps it unaltered; staging parses it); Snowflake has no
     * UUID type, and the text form is what dbt and analysts read. */
    case CD_TEXT:
    case CD_JSON:
    case CD_JSONB:
    case CD_NUMERIC_TEXT:
    case CD_UUID: t = "VARCHAR"; break;
    case CD_BOOL: t = "BOOLEAN"; break;
    case CD_DATE: t = "DATE"; break;
    case CD_TIME: t = "TIME"; break;
    case CD_TIMESTAMP: t = "TIMESTAMP_NTZ"; break;
    case CD_TIMESTAMPTZ: t = "TIMESTAMP_TZ"; break;
    case CD_BYTEA: t = "BINARY"; break;
    case CD_INTERVAL: break; /* no equivalent */
    }
    snprintf(buf, bufsz, "%s", t ? t : "");
    return t != NULL;
}

/* A column as the Snowflake loader names it: upper case, quoted (snowflake.py creates the raw tables'
 * columns so). */
static void sf_ident(const char *name, char *out, size_t outsz)
{
    char up[140];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof up; i++)
        up[i] = (char)toupper((unsigned char)name[i]);
    up[i] = '\0';
    fh_sql_ident(up, out, outsz);
}

/* ---- schema evolution in Snowflake ----------------------------------------------------------------
 *
 * The raw table as it is in Snowflake comes from the loader: its INFORMATION_SCHEMA.COLUMNS rows, as
 * Snowflake reports them, in a CSV file (--raw-columns; table_name, column_name, data_type,
 * numeric_precision, numeric_scale). The rule, the one duck_dest keeps in DuckDB in Snowflake's
 * types: a missing table is created with every column; a new column is added; a NUMBER whose
 * precision grew at the same scale is widened; the same type (by family: VARCHAR is TEXT) or a
 * narrower NUMBER is left as it is; anything else is refused (FH_ESCHEMA, naming table and column)
 * before a file is written. A raw column the source no longer has stays (NULLs). */

typedef struct sf_type {
    char family[32]; /* Snowflake's name for it as INFORMATION_SCHEMA reports it: NUMBER, TEXT, … */
    int precision, scale; /* NUMBER only */
} sf_type;

/* Names Snowflake (or the emulator) may report for the types stage_parquet_snowflake_type gives. */
static void sf_type_from(const char *data_type, int has_p, int64_t p, int has_s, int64_t s,
                         sf_type *t)
{
    static const char *const alias[][2] = {{"VARCHAR", "TEXT"},
                                           {"STRING", "TEXT"},
                                           {"CHAR", "TEXT"},
                                           {"CHARACTER", "TEXT"},
                                           {"DECIMAL", "NUMBER"},
                                           {"NUMERIC", "NUMBER"},
                                           {"DOUBLE", "FLOAT"},
                                           {"REAL", "FLOAT"},
                                           {"TIMESTAMPNTZ", "TIMESTAMP_NTZ"},
                                           {"DATETIME", "TIMESTAMP_NTZ"},
                                           {"TIMESTAMPTZ", "TIMESTAMP_TZ"},
                                           {"VARBINARY", "BINARY"}};
    size_t i = 0;
    for (; data_type[i] && i + 1 < sizeof t->family; i++)
        t->family[i] = (char)toupper((unsigned char)data_type[i]);
    t->family[i] = '\0';
    for (size_t a = 0; a < sizeof alias / sizeof alias[0]; a++)
        if (!strcmp(t->family, alias[a][0])) {
            snprintf(t->family, sizeof t->family, "%s", alias[a][1]);
            break;
        }
    int number = !strcmp(t->family, "NUMBER");
    t->precision = number ? (has_p ? (int)p : 38) : 0;
    t->scale = number ? (has_s ? (int)s : 0) : 0;
}

/* A type as stage_parquet_snowflake_type writes it ("NUMBER(12,2)", "VARCHAR", …). */
static void sf_type_parse(const char *ddl, sf_type *t)
{
    int p, s;
    if (sscanf(ddl, "NUMBER(%d,%d)", &p, &s) == 2)
        sf_type_from("NUMBER", 1, p, 1, s, t);
    else
        sf_type_from(ddl, 0, 0, 0, 0, t);
}

static void sf_type_ddl(const sf_type *t, char *buf, size_t bufsz)
{
    if (!strcmp(t->family, "NUMBER"))
        snprintf(buf, bufsz, "NUMBER(%d,%d)", t->precision, t->scale);
    else
        snprintf(buf, bufsz, "%s", !strcmp(t->family, "TEXT") ? "VARCHAR" : t->family);
}

int stage_parquet_sf_change(const char *have_type, int has_p, int64_t p, int has_s, int64_t s,
                            const char *want_ddl)
{
    sf_type have, want;
    sf_type_from(have_type, has_p, p, has_s, s, &have);
    sf_type_parse(want_ddl, &want);
    if (strcmp(have.family, want.family) != 0)
        return STAGE_PARQUET_SF_REFUSE;
    if (strcmp(have.family, "NUMBER") != 0)
        return STAGE_PARQUET_SF_SAME;
    if (have.scale != want.scale)
        return STAGE_PARQUET_SF_REFUSE;
    return have.precision < want.precision ? STAGE_PARQUET_SF_WIDEN : STAGE_PARQUET_SF_SAME;
}

/* The columns a Snowflake raw table holds for this load: the source's, then fhload's metadata. */
typedef struct sf_col {
    const char *name;
    char type[64];
} sf_col;

static size_t sf_columns(const stage_parquet_spec *s, sf_col *out)
{
    size_t n = 0;
    for (size_t c = 0; c < s->ncols; c++, n++) {
        out[n].name = s->cols[c].name;
        int known = stage_parquet_snowflake_type(&s->cols[c], out[n].type, sizeof out[n].type);
        assert(known); /* stage_parquet_write checked every column first */
        (void)known;
    }
    static const char *const meta[][2] = {{"_fh_row_hash", "NUMBER(38,0)"},
                                          {"_fh_load_id", "NUMBER(38,0)"},
                                          {"_fh_loaded_at", "TIMESTAMP_TZ"},
                                          {"_fh_op", "VARCHAR"}};
    for (size_t m = s->src->row_hash ? 0 : 1; m < 4; m++, n++) {
        out[n].name = meta[m][0];
        snprintf(out[n].type, sizeof out[n].type, "%s", meta[m][1]);
    }
    return n;
}

/* The statements that bring the raw table to this load's columns, into stmts (one buffer each, at
 * most ncols + 4), or FH_ESCHEMA. */
static int sf_schema_sql(stage_parquet *sp, const stage_parquet_spec *s, fh_sql_buf *stmts,
                         size_t *nstmts, fh_error *err)
{
    char path_lit[2100], tab_lit[300], q[300];
    if (!fh_sql_literal(s->raw_columns, path_lit, sizeof path_lit))
        return fh_error_set(err, FH_EUSAGE, "--raw-columns path is too long");
    fh_sql_literal(s->table, tab_lit, sizeof tab_lit);
    fh_sql_buf sql = {0};
    fh_sql_buf_add(&sql,
                   "SELECT upper(column_name), data_type, numeric_precision, numeric_scale FROM "
                   "read_csv(%s, header = true, delim = ',', quote = '\"', escape = '\"', "
                   "columns = {'table_name': 'VARCHAR', 'column_name': 'VARCHAR', "
                   "'data_type': 'VARCHAR', 'numeric_precision': 'BIGINT', "
                   "'numeric_scale': 'BIGINT'}) WHERE upper(table_name) = upper(%s)",
                   path_lit, tab_lit);
    if (sql.oom)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    duckdb_result r;
    fh_error qerr = {0};
    int rc = fh_duck_query(&sp->duck, sql.s, &r, &qerr);
    fh_sql_buf_reset(&sql);
    if (rc != FH_OK)
        return fh_error_set(err, FH_EUSAGE,
                            "table %s: cannot read the raw columns %s (--raw-columns): %s",
                            s->table, s->raw_columns, qerr.msg);
    sf_col *want = calloc(s->ncols + 4, sizeof *want);
    if (!want) {
        duckdb_destroy_result(&r);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    size_t nwant = sf_columns(s, want), nhave = (size_t)duckdb_row_count(&r);
    *nstmts = 0;
    if (nhave == 0) {
        fh_sql_buf *b = &stmts[(*nstmts)++];
        fh_sql_buf_add(b, "CREATE TABLE IF NOT EXISTS {table} (");
        for (size_t c = 0; c < nwant; c++) {
            sf_ident(want[c].name, q, sizeof q);
            fh_sql_buf_add(b, "%s%s %s", c ? ", " : "", q, want[c].type);
        }
        fh_sql_buf_add(b, ")");
    }
    for (size_t c = 0; c < nwant && nhave && rc == FH_OK; c++) {
        char up[300];
        sf_ident(want[c].name, q, sizeof q);
        snprintf(up, sizeof up, "%s", want[c].name);
        for (char *u = up; *u; u++)
            *u = (char)toupper((unsigned char)*u);
        int found = 0;
        for (idx_t i = 0; i < nhave && !found; i++) {
            char *name = duckdb_value_varchar(&r, 0, i);
            if (name && !strcmp(name, up)) {
                found = 1;
                char *ty = duckdb_value_varchar(&r, 1, i);
                int has_p = !duckdb_value_is_null(&r, 2, i),
                    has_s = !duckdb_value_is_null(&r, 3, i);
                int64_t p = duckdb_value_int64(&r, 2, i), sc = duckdb_value_int64(&r, 3, i);
                int how = stage_parquet_sf_change(ty ? ty : "", has_p, p, has_s, sc, want[c].type);
                if (how == STAGE_PARQUET_SF_WIDEN)
                    fh_sql_buf_add(&stmts[(*nstmts)++],
                                   "ALTER TABLE {table} ALTER COLUMN %s SET DATA TYPE %s", q,
                                   want[c].type);
                if (how == STAGE_PARQUET_SF_REFUSE) {
                    sf_type have;
                    char held[64];
                    sf_type_from(ty ? ty : "", has_p, p, has_s, sc, &have);
                    sf_type_ddl(&have, held, sizeof held);
                    rc = fh_error_set(
                        err, FH_ESCHEMA,
                        "table %s, column %s: the source now has %s but the Snowflake raw "
                        "table holds %s — an incompatible type change; migrate the raw "
                        "table (or rename the column)",
                        s->table, want[c].name, want[c].type, held);
                }
                duckdb_free(ty);
            }
            duckdb_free(name);
        }
        if (!found)
            fh_sql_buf_add(&stmts[(*nstmts)++], "ALTER TABLE {table} ADD COLUMN %s %s", q,
                           want[c].type);
    }
    duckdb_destroy_result(&r);
    free(want);
    for (size_t i = 0; i < *nstmts && rc == FH_OK; i++)
        if (stmts[i].oom)
            rc = fh_error_set(err, FH_EINTERNAL, "out of memory");
    return rc;
}

/* The raw view before this load: each key's latest row (by load id) among the loads before it. */
static void sf_prev(fh_sql_buf *b, const stage_parquet_spec *s)
{
    char q[300];
    fh_sql_buf_add(b, "(SELECT ");
    for (int k = 0; k < s->nkey; k++) {
        sf_ident(s->key[k], q, sizeof q);
        fh_sql_buf_add(b, "%s, ", q);
    }
    fh_sql_buf_add(b,
                   "_FH_OP FROM {table} WHERE _FH_LOAD_ID < %" PRId64
                   " QUALIFY ROW_NUMBER() OVER (PARTITION BY ",
                   s->load_id);
    for (int k = 0; k < s->nkey; k++) {
        sf_ident(s->key[k], q, sizeof q);
        fh_sql_buf_add(b, "%s%s", k ? ", " : "", q);
    }
    fh_sql_buf_add(b, " ORDER BY _FH_LOAD_ID DESC) = 1) prev");
}

static void sf_match(fh_sql_buf *b, const stage_parquet_spec *s)
{
    char q[300];
    for (int k = 0; k < s->nkey; k++) {
        sf_ident(s->key[k], q, sizeof q);
        fh_sql_buf_add(b, "%scur.%s = prev.%s", k ? " AND " : "", q, q);
    }
}

/* A full load's delete rows in Snowflake, the contract duck_dest keeps in DuckDB: every key whose
 * latest raw row is not a delete and that this load did not bring gets a 'delete' row (its key, the
 * load id, the time; the other columns NULL). `count`: the live keys and how many of them this load
 * would mark deleted, for the delete guard; `insert`: those rows. {table} stands for the raw table's
 * qualified name, which only the loader knows (its database and schema). */
static void sf_deletes_sql(const stage_parquet_spec *s, fh_sql_buf *count, fh_sql_buf *insert)
{
    assert(s->full && s->nkey > 0);
    char q[300];
    fh_sql_buf_add(count, "SELECT COUNT(*), COUNT(*) - COUNT(cur._FH_SEEN) FROM ");
    sf_prev(count, s);
    fh_sql_buf_add(count, " LEFT JOIN (SELECT DISTINCT ");
    for (int k = 0; k < s->nkey; k++) {
        sf_ident(s->key[k], q, sizeof q);
        fh_sql_buf_add(count, "%s, ", q);
    }
    fh_sql_buf_add(count, "1 AS _FH_SEEN FROM {table} WHERE _FH_LOAD_ID = %" PRId64 ") cur ON ",
                   s->load_id);
    sf_match(count, s);
    fh_sql_buf_add(count, " WHERE prev._FH_OP <> 'delete'");

    fh_sql_buf_add(insert, "INSERT INTO {table} (");
    for (int k = 0; k < s->nkey; k++) {
        sf_ident(s->key[k], q, sizeof q);
        fh_sql_buf_add(insert, "%s, ", q);
    }
    fh_sql_buf_add(insert, "_FH_LOAD_ID, _FH_LOADED_AT, _FH_OP) SELECT ");
    for (int k = 0; k < s->nkey; k++) {
        sf_ident(s->key[k], q, sizeof q);
        fh_sql_buf_add(insert, "prev.%s, ", q);
    }
    fh_sql_buf_add(insert, "%" PRId64 ", CURRENT_TIMESTAMP(), 'delete' FROM ", s->load_id);
    sf_prev(insert, s);
    fh_sql_buf_add(insert,
                   " WHERE prev._FH_OP <> 'delete' AND NOT EXISTS (SELECT 1 FROM {table} cur "
                   "WHERE cur._FH_LOAD_ID = %" PRId64 " AND ",
                   s->load_id);
    sf_match(insert, s);
    fh_sql_buf_add(insert, ")");
}

/* The load log's row for this load in Snowflake (FH_LOADS, the shape of raw._fh_loads: ingest/engine/README.md,
 * "The RAW-layer contract"). `pending`: the row the loader inserts before it uploads anything;
 * `commit`: the one statement that makes the load the table's state — only while it is still pending
 * (a roll-back claims a load by moving it out of 'pending') and only while the loader holds the table's
 * lease (the join on {leases}; the lease protocol is the loader's). {log} and {leases} stand for the
 * qualified names of FH_LOADS and FH_LEASES; %(rows_deleted)s and %(holder)s are the loader's bound
 * parameters (the delete rows it inserted, itself). Names and values here are the registry's
 * identifiers, a mode and fh_time's ISO text: nothing a literal has to escape but a quote. */
static void sf_log_sql(const stage_parquet_spec *s, const stage_parquet_result *res, uint64_t rows,
                       fh_sql_buf *pending, fh_sql_buf *commit)
{
    char tab[300], from[64] = "NULL", to[64] = "NULL", iso[40], lit[60];
    fh_sql_literal(s->table, tab, sizeof tab);
    if (s->has_wm_from) {
        fh_time_format_iso(s->wm_from, iso, sizeof iso);
        snprintf(from, sizeof from, "CAST(%s AS TIMESTAMP_TZ)",
                 fh_sql_literal(iso, lit, sizeof lit));
    }
    if (res->has_wm_to) {
        fh_time_format_iso(res->wm_to, iso, sizeof iso);
        snprintf(to, sizeof to, "CAST(%s AS TIMESTAMP_TZ)", fh_sql_literal(iso, lit, sizeof lit));
    }
    fh_sql_buf_add(pending,
                   "INSERT INTO {log} (LOAD_ID, TABLE_NAME, MODE, STARTED_AT, ROWS_LOADED, "
                   "ROWS_DELETED, FILES, WATERMARK_FROM, WATERMARK_TO, STATUS) SELECT %" PRId64
                   ", %s, '%s', CURRENT_TIMESTAMP(), %" PRIu64 ", 0, %zu, %s, %s, 'pending'",
                   s->load_id, tab, s->full ? "full" : "incremental", rows, res->nfiles, from, to);
    fh_sql_buf_add(commit,
                   "UPDATE {log} l SET STATUS = 'ok', FINISHED_AT = CURRENT_TIMESTAMP(), "
                   "ROWS_LOADED = %" PRIu64 ", ROWS_DELETED = %%(rows_deleted)s FROM {leases} k "
                   "WHERE l.TABLE_NAME = %s AND l.LOAD_ID = %" PRId64 " AND l.STATUS = 'pending' "
                   "AND k.TABLE_NAME = l.TABLE_NAME AND k.HOLDER = %%(holder)s",
                   rows, tab, s->load_id);
}

/* The manifest's "snowflake" object: every statement of this load in Snowflake's SQL. */
static int write_sf_statements(FILE *f, const stage_parquet_spec *s, const fh_sql_buf *schema,
                               size_t nschema, const stage_parquet_result *res, uint64_t rows,
                               fh_error *err)
{
    fh_sql_buf pending = {0}, commit = {0}, count = {0}, insert = {0};
    int deletes = s->full && s->nkey > 0;
    sf_log_sql(s, res, rows, &pending, &commit);
    if (deletes)
        sf_deletes_sql(s, &count, &insert);
    int rc = FH_OK;
    if (pending.oom || commit.oom || count.oom || insert.oom)
        rc = fh_error_set(err, FH_EINTERNAL, "out of memory");
    else {
        if (s->raw_columns) {
            /* the raw table's DDL (none: it already fits), run before the load log's row */
            fputs("\n    \"schema\": [", f);
            for (size_t i = 0; i < nschema; i++) {
                fputs(i ? ", " : "", f);
                fh_json_string(f, schema[i].s);
            }
            fputs("],", f);
        }
        fputs("\n    \"log_pending\": ", f);
        fh_json_string(f, pending.s);
        fputs(",\n    \"log_commit\": ", f);
        fh_json_string(f, commit.s);
        if (deletes) {
            fputs(",\n    \"count_deletes\": ", f);
            fh_json_string(f, count.s);
            fputs(",\n    \"insert_deletes\": ", f);
            fh_json_string(f, insert.s);
        }
        fputs("\n  ", f);
    }
    fh_sql_buf_reset(&pending);
    fh_sql_buf_reset(&commit);
    fh_sql_buf_reset(&count);
    fh_sql_buf_reset(&insert);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = strlen(x), ly = strlen(y); /* part-2 before part-10 */
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

static int write_manifest(stage_parquet *sp, const stage_parquet_spec *s, const fh_sql_buf *schema,
                          size_t nschema, const char *tmpdir, stage_parquet_result *res,
                          fh_error *err)
{
    /* the Parquet files, in order */
    DIR *dh = opendir(tmpdir);
    char *names[4096];
    size_t n = 0;
    if (dh) {
        struct dirent *e;
        while ((e = readdir(dh)) != NULL && n < 4096)
            if (strstr(e->d_name, ".parquet"))
                names[n++] = strdup(e->d_name);
        closedir(dh);
    }
    qsort(names, n, sizeof names[0], cmp_names);
    char path[2048];
    snprintf(path, sizeof path, "%s/manifest.json", tmpdir);
    FILE *f = fopen(path, "w");
    int rc = FH_OK;
    if (!f)
        rc = fh_error_set(err, FH_EUSAGE, "cannot write %s: %s", path, strerror(errno));
    if (rc == FH_OK) {
        fputs("{\n  \"table\": ", f);
        fh_json_string(f, s->table);
        fputs(",\n  \"group\": ", f);
        fh_json_string(f, s->group);
        fprintf(f, ",\n  \"mode\": \"%s\",\n  \"load_id\": %" PRId64 ",\n  \"watermark_from\": ",
                s->full ? "full" : "incremental", s->load_id);
        fh_json_time(f, s->has_wm_from, s->wm_from);
        fputs(",\n  \"watermark_to\": ", f);
        fh_json_time(f, res->has_wm_to, res->wm_to);
        fprintf(f, ",\n  \"lookback_seconds\": %" PRId64 ",\n  \"cursor\": ", s->lookback_s);
        if (s->cursor && s->cursor[0])
            fh_json_string(f, s->cursor);
        else
            fputs("null", f);
        fputs(",\n  \"primary_key\": [", f);
        for (int k = 0; k < s->nkey; k++) {
            fputs(k ? ", " : "", f);
            fh_json_string(f, s->key[k]);
        }
        fputs("],\n  \"columns\": [", f);
        for (size_t c = 0; c < s->ncols; c++) {
            char ty[64], sf[64];
            copy_decode_type_sql(&s->cols[c], ty, sizeof ty);
            int known = stage_parquet_snowflake_type(&s->cols[c], sf, sizeof sf);
            assert(known); /* stage_parquet_write checked every column first */
            (void)known;
            fputs(c ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
            fh_json_string(f, s->cols[c].name);
            fputs(", \"type\": ", f);
            fh_json_string(f, ty);
            fputs(", \"snowflake_type\": ", f);
            fh_json_string(f, sf);
            fputs(", \"pg_type\": ", f);
            fh_json_string(f, s->cols[c].pg_type);
            fputs("}", f);
        }
        if (s->src->row_hash)
            fputs(",\n    {\"name\": \"_fh_row_hash\", \"type\": \"BIGINT\", "
                  "\"snowflake_type\": \"NUMBER(38,0)\"}",
                  f);
        fputs(",\n    {\"name\": \"_fh_load_id\", \"type\": \"BIGINT\", \"snowflake_type\": "
              "\"NUMBER(38,0)\"},"
              "\n    {\"name\": \"_fh_loaded_at\", \"type\": \"TIMESTAMP WITH TIME ZONE\", "
              "\"snowflake_type\": \"TIMESTAMP_TZ\"},"
              "\n    {\"name\": \"_fh_op\", \"type\": \"VARCHAR\", \"snowflake_type\": "
              "\"VARCHAR\"}\n  ],\n  \"files\": [",
              f);
        uint64_t total = 0;
        for (size_t i = 0; i < n && rc == FH_OK; i++) {
            char fp[2048], lit[4200], sql[4300];
            snprintf(fp, sizeof fp, "%s/%s", tmpdir, names[i]);
            snprintf(sql, sizeof sql, "SELECT count(*) FROM read_parquet(%s)",
                     fh_sql_literal(fp, lit, sizeof lit));
            int64_t rows;
            rc = fh_duck_scalar_i64(&sp->duck, sql, &rows, err);
            if (rc != FH_OK)
                break;
            struct stat stt;
            uint64_t bytes = stat(fp, &stt) == 0 ? (uint64_t)stt.st_size : 0;
            res->bytes += bytes;
            total += (uint64_t)rows;
            fputs(i ? ",\n    {\"path\": " : "\n    {\"path\": ", f);
            fh_json_string(f, names[i]);
            fprintf(f, ", \"rows\": %" PRId64 ", \"bytes\": %" PRIu64 "}", rows, bytes);
        }
        fprintf(f, "\n  ],\n  \"rows\": %" PRIu64 ",\n  \"snowflake\": {", total);
        res->nfiles = n;
        if (rc == FH_OK)
            rc = write_sf_statements(f, s, schema, nschema, res, total, err);
        fputs("}\n}\n", f);
        if (rc == FH_OK && total != res->rows)
            rc = fh_error_set(err, FH_EINTERNAL,
                              "table %s: the Parquet files hold %" PRIu64 " rows, %" PRIu64
                              " were extracted",
                              s->table, total, res->rows);
        if (fclose(f) != 0 && rc == FH_OK)
            rc = fh_error_set(err, FH_EUSAGE, "cannot write %s: %s", path, strerror(errno));
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return rc;
}

static void free_stmts(fh_sql_buf *stmts, size_t n)
{
    for (size_t i = 0; stmts && i < n; i++)
        fh_sql_buf_reset(&stmts[i]);
    free(stmts);
}

static int write_files(stage_parquet *sp, const stage_parquet_spec *s, const fh_sql_buf *schema,
                       size_t nschema, stage_parquet_result *res, fh_error *err)
{
    char tmpdir[1200], final[1200];
    snprintf(tmpdir, sizeof tmpdir, "%s/.%s.tmp-%ld", sp->dir, s->table, (long)getpid());
    snprintf(final, sizeof final, "%s/%s", sp->dir, s->table);
    remove_dir(tmpdir);

    /* The directory and the size come from the command line: literals, quoted. */
    char dir_lit[2500], size_lit[200];
    if (!fh_sql_literal(tmpdir, dir_lit, sizeof dir_lit) ||
        !fh_sql_literal(s->file_size && s->file_size[0] ? s->file_size : "200MB", size_lit,
                        sizeof size_lit))
        return fh_error_set(err, FH_EUSAGE,
                            "--parquet directory or FINHOUSE_PARQUET_FILE_SIZE is "
                            "too long");
    /* room for both literals at their largest, so the statement is never cut */
    char sql[sizeof dir_lit + sizeof size_lit + 400];
    int n =
        snprintf(sql, sizeof sql,
                 "COPY (SELECT *, %" PRId64 "::BIGINT AS _fh_load_id, now() AS _fh_loaded_at, "
                 "'upsert' AS _fh_op FROM fh_scan()) TO %s (FORMAT parquet, FILE_SIZE_BYTES %s, "
                 "FILENAME_PATTERN 'part-{i}', COMPRESSION snappy)",
                 s->load_id, dir_lit, size_lit);
    assert(n > 0 && (size_t)n < sizeof sql);
    (void)n;
    int rc = fh_duck_scan(&sp->duck, s->src, sql, &res->rows, err);
    if (rc != FH_OK) {
        remove_dir(tmpdir);
        return rc;
    }
    int has = 0;
    int64_t mx = 0;
    if (s->scan_done && (rc = s->scan_done(s->scan_ctx, &has, &mx, err)) != FH_OK) {
        remove_dir(tmpdir);
        return rc;
    }
    res->has_wm_to = s->has_wm_from || has;
    res->wm_to = s->has_wm_from ? s->wm_from : mx;
    if (has && mx > res->wm_to)
        res->wm_to = mx;
    if (mkdirs(tmpdir, err) != FH_OK) /* no rows: DuckDB may not have created it */
        return err->code;
    rc = write_manifest(sp, s, schema, nschema, tmpdir, res, err);
    if (rc == FH_OK) {
        remove_dir(final);
        if (rename(tmpdir, final) != 0)
            rc = fh_error_set(err, FH_EUSAGE, "cannot rename %s to %s: %s", tmpdir, final,
                              strerror(errno));
    }
    if (rc != FH_OK)
        remove_dir(tmpdir);
    return rc;
}

int stage_parquet_write(stage_parquet *sp, const stage_parquet_spec *s, stage_parquet_result *res,
                        fh_error *err)
{
    assert(sp && s && s->table && s->src && res);
    /* Every column must have a Snowflake type before anything is written. */
    for (size_t c = 0; c < s->ncols; c++) {
        char sf[64], ty[64];
        if (!stage_parquet_snowflake_type(&s->cols[c], sf, sizeof sf)) {
            copy_decode_type_sql(&s->cols[c], ty, sizeof ty);
            return fh_error_set(err, FH_ESCHEMA,
                                "table %s, column %s: type %s (%s) has no Snowflake equivalent — "
                                "cast it "
                                "in the source or leave the column out",
                                s->table, s->cols[c].name, s->cols[c].pg_type, ty);
        }
    }
    memset(res, 0, sizeof *res);
    /* The raw table's changes, or the refusal, before any file is written. */
    size_t nschema = 0;
    fh_sql_buf *schema = NULL;
    if (s->raw_columns) {
        schema = calloc(s->ncols + 5, sizeof *schema);
        if (!schema)
            return fh_error_set(err, FH_EINTERNAL, "out of memory");
        int rc = sf_schema_sql(sp, s, schema, &nschema, err);
        if (rc != FH_OK) {
            free_stmts(schema, nschema);
            return rc;
        }
    }
    int rc = write_files(sp, s, schema, nschema, res, err);
    free_stmts(schema, nschema);
    return rc;
}
