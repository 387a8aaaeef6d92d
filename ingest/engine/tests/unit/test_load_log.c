/*
 * test_load_log — the load log's one shape on both warehouses, and the Snowflake bookkeeping DDL
 * fhload --print-snowflake-setup prints (no server needed).
 */
#include <stdlib.h>

#include "check.h"
#include "cli.h"
#include "load_log.h"

/* FH_LOADS as deployments have it (the loader's CREATE before fhload owned it): names, types and
 * nullability must not change, or existing deployments would need a migration. */
static const char SF_LOG[] =
    "CREATE TABLE IF NOT EXISTS {log} (LOAD_ID NUMBER(38,0) NOT NULL, TABLE_NAME VARCHAR NOT NULL, "
    "MODE VARCHAR NOT NULL, STARTED_AT TIMESTAMP_TZ NOT NULL, FINISHED_AT TIMESTAMP_TZ, "
    "ROWS_LOADED NUMBER(38,0) NOT NULL, ROWS_DELETED NUMBER(38,0) NOT NULL, "
    "FILES NUMBER(38,0) NOT NULL, WATERMARK_FROM TIMESTAMP_TZ, WATERMARK_TO TIMESTAMP_TZ, "
    "STATUS VARCHAR NOT NULL, PRIMARY KEY (TABLE_NAME, LOAD_ID))";

/* raw._fh_loads as duck_dest created it before. */
static const char DUCK_LOG[] =
    "CREATE TABLE IF NOT EXISTS raw._fh_loads (load_id BIGINT NOT NULL PRIMARY KEY, "
    "table_name VARCHAR NOT NULL, mode VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, "
    "finished_at TIMESTAMPTZ NOT NULL, rows_loaded BIGINT NOT NULL, rows_deleted BIGINT NOT NULL, "
    "files BIGINT NOT NULL DEFAULT 0, watermark_from TIMESTAMPTZ, watermark_to TIMESTAMPTZ, "
    "status VARCHAR NOT NULL)";

static void test_one_shape(void)
{
    fh_sql_buf sf = {0}, duck = {0};
    load_log_create(&sf, LOAD_LOG_SNOWFLAKE, "{log}");
    load_log_create(&duck, LOAD_LOG_DUCKDB, "raw._fh_loads");
    CHECK(!sf.oom && !duck.oom);
    CHECK_STR(sf.s, SF_LOG);
    CHECK_STR(duck.s, DUCK_LOG);
    /* the same columns, in the same order, on both */
    CHECK_EQ_INT((int)LOAD_LOG_NCOLUMNS, 11);
    for (size_t i = 0; i < LOAD_LOG_NCOLUMNS; i++) {
        CHECK_CONTAINS(duck.s, LOAD_LOG_COLUMNS[i].name);
        CHECK(LOAD_LOG_COLUMNS[i].meaning && LOAD_LOG_COLUMNS[i].meaning[0]);
    }
    fh_sql_buf_reset(&sf);
    fh_sql_buf_reset(&duck);
}

static void test_sf_setup(void)
{
    fh_sql_buf st[LOAD_LOG_SF_SETUP_MAX];
    CHECK_EQ_INT((int)load_log_sf_setup(st), 3);
    CHECK_STR(st[0].s, SF_LOG);
    CHECK_STR(st[1].s, "CREATE VIEW IF NOT EXISTS {state} AS SELECT TABLE_NAME, WATERMARK_TO AS "
                       "WATERMARK, LOAD_ID AS LAST_LOAD_ID, FINISHED_AT AS UPDATED_AT FROM {log} "
                       "WHERE STATUS = 'ok' QUALIFY ROW_NUMBER() OVER (PARTITION BY TABLE_NAME "
                       "ORDER BY LOAD_ID DESC) = 1");
    CHECK_STR(st[2].s, "CREATE TABLE IF NOT EXISTS {leases} (TABLE_NAME VARCHAR NOT NULL, HOLDER "
                       "VARCHAR, ACQUIRED_AT TIMESTAMP_TZ, EXPIRES_AT TIMESTAMP_TZ, "
                       "PRIMARY KEY (TABLE_NAME))");
    for (int i = 0; i < LOAD_LOG_SF_SETUP_MAX; i++)
        fh_sql_buf_reset(&st[i]);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_EQ_INT(load_log_print_sf_setup(f), FH_OK);
    fclose(f);
    CHECK_CONTAINS(text,
                   "{\"placeholders\": [\"{log}\", \"{state}\", \"{leases}\"], "
                   "\"statements\": [\"CREATE TABLE IF NOT EXISTS {log} (LOAD_ID NUMBER(38,0)");
    CHECK_CONTAINS(text, "WHERE STATUS = 'ok' QUALIFY");
    CHECK_CONTAINS(text, "PRIMARY KEY (TABLE_NAME))\"]}\n");
    free(text);
}

static void test_cli(void)
{
    cli_options o;
    fh_error e;
    const char *ok[] = {"fhload", "--print-snowflake-setup"};
    CHECK_EQ_INT(cli_parse(2, (char **)ok, &o, &e), FH_OK);
    CHECK_EQ_INT(o.print_sf_setup, 1);
    cli_free(&o);
    const char *bad[] = {"fhload", "--print-snowflake-setup", "loans"};
    CHECK_EQ_INT(cli_parse(3, (char **)bad, &o, &e), FH_EUSAGE);
    CHECK_CONTAINS(e.msg, "--print-snowflake-setup");
    cli_free(&o);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_help(f);
    fclose(f);
    CHECK_CONTAINS(text, "--print-snowflake-setup");
    free(text);
}

int main(void)
{
    test_one_shape();
    test_sf_setup();
    test_cli();
    return check_done("test_load_log");
}
