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

/* The raw view before this load: each key's latest row (by load id) among the loads before it. */
static void sf_prev(fh_sql_buf *b, const stage_parquet_spec *s)
{
    char q[300];
    fh_sql_buf_add(b, "(SELECT ");
    for (int k = 0; k < s->nkey; k++) {
        sf_ident(s->key[k], q, sizeof q);
        fh_sql_buf_add(b, "%s, ", q);
    }
    fh_sql_buf_add(b, "_FH_OP FROM {table} WHERE _FH_LOAD_ID < %" PRId64
                      " QUALIFY ROW_NUMBER() OVER (PARTITION BY ", s->load_id);
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
    fh_sql_buf_add(insert, " WHERE prev._FH_OP <> 'delete' AND NOT EXISTS (SELECT 1 FROM {table} cur "
                           "WHERE cur._FH_LOAD_ID = %" PRId64 " AND ",
                   s->load_id);
    sf_match(insert, s);
    fh_sql_buf_add(insert, ")");
}

static int cmp_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = strlen(x), ly = strlen(y); /* part-2 before part-10 */
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

static int write_manifest(stage_parquet *sp, const stage_parquet_spec *s, const char *tmpdir,
                          stage_parquet_result *res, fh_error *err)
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
        fputs("],\n  \"snowflake\": {", f);
        if (s->full && s->nkey > 0) {
            fh_sql_buf count = {0}, insert = {0};
            sf_deletes_sql(s, &count, &insert);
            if (count.oom || insert.oom)
                rc = fh_error_set(err, FH_EINTERNAL, "out of memory");
            else {
                fputs("\n    \"count_deletes\": ", f);
                fh_json_string(f, count.s);
                fputs(",\n    \"insert_deletes\": ", f);
                fh_json_string(f, insert.s);
                fputs("\n  ", f);
            }
            fh_sql_buf_reset(&count);
            fh_sql_buf_reset(&insert);
        }
        fputs("},\n  \"columns\": [", f);
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
        fprintf(f, "\n  ],\n  \"rows\": %" PRIu64 "\n}\n", total);
        res->nfiles = n;
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

int stage_parquet_write(stage_parquet *sp, const stage_parquet_spec *s, stage_parquet_result *res, fh_error *err)
{
    assert(sp && s && s->table && s->src && res);
    /* Every column must have a Snowflake type before anything is written. */
    for (size_t c = 0; c < s->ncols; c++) {
        char sf[64], ty[64];
        if (!stage_parquet_snowflake_type(&s->cols[c], sf, sizeof sf)) {
            copy_decode_type_sql(&s->cols[c], ty, sizeof ty);
            return fh_error_set(err, FH_ESCHEMA,
                                "table %s, column %s: type %s (%s) has no Snowflake equivalent — cast it "
                                "in the source or leave the column out",
                                s->table, s->cols[c].name, s->cols[c].pg_type, ty);
        }
    }
    memset(res, 0, sizeof *res);
    char tmpdir[1200], final[1200];
    snprintf(tmpdir, sizeof tmpdir, "%s/.%s.tmp-%ld", sp->dir, s->table, (long)getpid());
    snprintf(final, sizeof final, "%s/%s", sp->dir, s->table);
    remove_dir(tmpdir);

    /* The directory and the size come from the command line: literals, quoted. */
    char dir_lit[2500], size_lit[200];
    if (!fh_sql_literal(tmpdir, dir_lit, sizeof dir_lit) ||
        !fh_sql_literal(s->file_size && s->file_size[0] ? s->file_size : "200MB", size_lit,
                        sizeof size_lit))
        return fh_error_set(err, FH_EUSAGE, "--parquet directory or FINHOUSE_PARQUET_FILE_SIZE is "
                            "too long");
    /* room for both literals at their largest, so the statement is never cut */
    char sql[sizeof dir_lit + sizeof size_lit + 400];
    int n = snprintf(sql, sizeof sql,
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
    rc = write_manifest(sp, s, tmpdir, res, err);
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
