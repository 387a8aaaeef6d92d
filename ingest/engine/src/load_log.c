/*
 * load_log — the load log's one shape and Snowflake's bookkeeping DDL (interface in load_log.h).
 */
#include "load_log.h"

#include <ctype.h>
#include <string.h>

#include "fh_error.h"
#include "fh_json.h"

/* The load log: a row per load (ingest/engine/README.md, "The RAW-layer contract"). */
const load_log_column LOAD_LOG_COLUMNS[] = {
    {"load_id", LOAD_LOG_INT, LOAD_LOG_NOT_NULL, "the load, increasing"},
    {"table_name", LOAD_LOG_TEXT, LOAD_LOG_NOT_NULL, "the registry's table"},
    {"mode", LOAD_LOG_TEXT, LOAD_LOG_NOT_NULL, "full or incremental"},
    {"started_at", LOAD_LOG_TIME, LOAD_LOG_NOT_NULL, "when the load began"},
    {"finished_at", LOAD_LOG_TIME, LOAD_LOG_NOT_NULL_DUCKDB, "when it committed (NULL: pending)"},
    {"rows_loaded", LOAD_LOG_INT, LOAD_LOG_NOT_NULL, "rows appended to raw.<table>"},
    {"rows_deleted", LOAD_LOG_INT, LOAD_LOG_NOT_NULL, "delete rows of a full load"},
    {"files", LOAD_LOG_INT, LOAD_LOG_NOT_NULL, "Parquet files staged (0 on DuckDB)"},
    {"watermark_from", LOAD_LOG_TIME, LOAD_LOG_NULL, "the cursor read from (NULL: full)"},
    {"watermark_to", LOAD_LOG_TIME, LOAD_LOG_NULL, "the largest cursor loaded"},
    {"status", LOAD_LOG_TEXT, LOAD_LOG_NOT_NULL, "ok; on Snowflake also pending, rolled_back"},
};
const size_t LOAD_LOG_NCOLUMNS = sizeof LOAD_LOG_COLUMNS / sizeof LOAD_LOG_COLUMNS[0];

static const char *type_sql(load_log_type t, load_log_dialect d)
{
    int duck = d == LOAD_LOG_DUCKDB;
    switch (t) {
    case LOAD_LOG_INT: return duck ? "BIGINT" : "NUMBER(38,0)";
    case LOAD_LOG_TIME: return duck ? "TIMESTAMPTZ" : "TIMESTAMP_TZ";
    case LOAD_LOG_TEXT: break;
    }
    return "VARCHAR";
}

void load_log_create(fh_sql_buf *out, load_log_dialect d, const char *name)
{
    int duck = d == LOAD_LOG_DUCKDB;
    fh_sql_buf_add(out, "CREATE TABLE IF NOT EXISTS %s (", name);
    for (size_t i = 0; i < LOAD_LOG_NCOLUMNS; i++) {
        const load_log_column *c = &LOAD_LOG_COLUMNS[i];
        char col[32];
        size_t k = 0;
        for (; c->name[k] && k + 1 < sizeof col; k++)
            col[k] = duck ? c->name[k] : (char)toupper((unsigned char)c->name[k]);
        col[k] = '\0';
        int not_null =
            c->nulls == LOAD_LOG_NOT_NULL || (duck && c->nulls == LOAD_LOG_NOT_NULL_DUCKDB);
        fh_sql_buf_add(out, "%s%s %s%s", i ? ", " : "", col, type_sql(c->type, d),
                       not_null ? " NOT NULL" : "");
        /* DuckDB: a load id is one load (one writer, one transaction); a warehouse written before
         * `files` existed gets 0 for its older loads (duck_dest's migration). */
        if (duck && !strcmp(c->name, "load_id"))
            fh_sql_buf_add(out, " PRIMARY KEY");
        if (duck && !strcmp(c->name, "files"))
            fh_sql_buf_add(out, " DEFAULT 0");
    }
    /* Snowflake does not enforce it; it documents what identifies a row. */
    fh_sql_buf_add(out, duck ? ")" : ", PRIMARY KEY (TABLE_NAME, LOAD_ID))");
}

size_t load_log_sf_setup(fh_sql_buf out[LOAD_LOG_SF_SETUP_MAX])
{
    memset(out, 0, LOAD_LOG_SF_SETUP_MAX * sizeof out[0]);
    load_log_create(&out[0], LOAD_LOG_SNOWFLAKE, "{log}");
    /* a table's state: its newest committed load (the watermark the next load reads from) */
    fh_sql_buf_add(&out[1],
                   "CREATE VIEW IF NOT EXISTS {state} AS SELECT TABLE_NAME, WATERMARK_TO AS "
                   "WATERMARK, LOAD_ID AS LAST_LOAD_ID, FINISHED_AT AS UPDATED_AT FROM {log} "
                   "WHERE STATUS = 'ok' QUALIFY ROW_NUMBER() OVER (PARTITION BY TABLE_NAME "
                   "ORDER BY LOAD_ID DESC) = 1");
    /* a row per table: who loads it now, until when (the lease protocol is the loader's) */
    fh_sql_buf_add(&out[2],
                   "CREATE TABLE IF NOT EXISTS {leases} (TABLE_NAME VARCHAR NOT NULL, HOLDER "
                   "VARCHAR, ACQUIRED_AT TIMESTAMP_TZ, EXPIRES_AT TIMESTAMP_TZ, "
                   "PRIMARY KEY (TABLE_NAME))");
    int oom = 0;
    for (size_t i = 0; i < LOAD_LOG_SF_SETUP_MAX; i++)
        oom |= out[i].oom;
    if (!oom)
        return LOAD_LOG_SF_SETUP_MAX;
    for (size_t i = 0; i < LOAD_LOG_SF_SETUP_MAX; i++)
        fh_sql_buf_reset(&out[i]);
    return 0;
}

int load_log_print_sf_setup(FILE *f)
{
    fh_sql_buf st[LOAD_LOG_SF_SETUP_MAX];
    size_t n = load_log_sf_setup(st);
    if (!n)
        return FH_EINTERNAL;
    fputs("{\"placeholders\": [\"{log}\", \"{state}\", \"{leases}\"], \"statements\": [", f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        fh_json_string(f, st[i].s);
        fh_sql_buf_reset(&st[i]);
    }
    fputs("]}\n", f);
    return FH_OK;
}
