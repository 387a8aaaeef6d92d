/*
 * test_cli — option and environment parsing, output formats, and the small helpers around them
 * (fh_time, fh_json, fh_error, pg_source's password redaction), none of which need a server.
 */
#include <stdlib.h>

#include "check.h"
#include "cli.h"
#include "fh_json.h"
#include "fh_time.h"
#include "pg_source.h"

static int parse(cli_options *o, fh_error *e, int argc, const char **argv)
{
    return cli_parse(argc, (char **)argv, o, e);
}

static void test_defaults_and_env(void)
{
    unsetenv("FINHOUSE_OLTP_URL");
    unsetenv("FINHOUSE_DUCKDB_PATH");
    unsetenv("FINHOUSE_REGISTRY");
    unsetenv("FINHOUSE_LOOKBACK_SECONDS");
    cli_options o;
    fh_error e;
    const char *a[] = {"fhload"};
    CHECK_EQ_INT(parse(&o, &e, 1, a), FH_OK);
    CHECK_STR(o.source, CLI_DEFAULT_SOURCE);
    CHECK_STR(o.warehouse, ".finhouse/warehouse/finhouse.duckdb");
    CHECK_STR(o.registry, "ingest/registry.tsv");
    CHECK_EQ_INT(o.lookback_s, 900);
    CHECK_EQ_INT(o.workers, 2);
    CHECK_EQ_INT(o.ntables, 0);
    cli_free(&o);

    setenv("FINHOUSE_OLTP_URL", "postgresql://env@h/db", 1);
    setenv("FINHOUSE_DUCKDB_PATH", "/tmp/env.duckdb", 1);
    setenv("FINHOUSE_LOOKBACK_SECONDS", "60", 1);
    CHECK_EQ_INT(parse(&o, &e, 1, a), FH_OK);
    CHECK_STR(o.source, "postgresql://env@h/db");
    CHECK_STR(o.warehouse, "/tmp/env.duckdb");
    CHECK_EQ_INT(o.lookback_s, 60);
    cli_free(&o);
    /* options win over the environment */
    const char *b[] = {"fhload",
                       "--source",
                       "postgresql://opt@h/db",
                       "--lookback=5",
                       "loans",
                       "--group",
                       "loans",
                       "--group=payments",
                       "--full",
                       "--json",
                       "--workers",
                       "4",
                       "payments",
                       "--",
                       "--odd-table"};
    CHECK_EQ_INT(parse(&o, &e, 15, b), FH_OK);
    CHECK_STR(o.source, "postgresql://opt@h/db");
    CHECK_EQ_INT(o.lookback_s, 5);
    CHECK_EQ_INT(o.ntables, 3);
    CHECK_STR(o.tables[0], "loans");
    CHECK_STR(o.tables[2], "--odd-table");
    CHECK_EQ_INT(o.ngroups, 2);
    CHECK_STR(o.groups[1], "payments");
    CHECK(o.full && o.json && !o.quiet);
    CHECK_EQ_INT(o.workers, 4);
    cli_free(&o);
    setenv("FINHOUSE_LOOKBACK_SECONDS", "soon", 1);
    CHECK_EQ_INT(parse(&o, &e, 1, a), FH_EUSAGE);
    CHECK_CONTAINS(e.msg, "FINHOUSE_LOOKBACK_SECONDS");
    cli_free(&o);
    unsetenv("FINHOUSE_LOOKBACK_SECONDS");
    unsetenv("FINHOUSE_OLTP_URL");
    unsetenv("FINHOUSE_DUCKDB_PATH");
}

static void test_sizes(void)
{
    cli_options o;
    fh_error e;
    const char *a[] = {"fhload"};
    setenv("FINHOUSE_PARQUET_FILE_SIZE", "200MB') TO '/etc/x", 1);
    CHECK_EQ_INT(parse(&o, &e, 1, a), FH_EUSAGE);
    CHECK_CONTAINS(e.msg, "FINHOUSE_PARQUET_FILE_SIZE=");
    CHECK_CONTAINS(e.msg, "is not a size");
    cli_free(&o);
    setenv("FINHOUSE_PARQUET_FILE_SIZE", "1.5 GiB", 1);
    setenv("FINHOUSE_DUCKDB_MEMORY_LIMIT", "lots", 1);
    CHECK_EQ_INT(parse(&o, &e, 1, a), FH_EUSAGE);
    CHECK_CONTAINS(e.msg, "FINHOUSE_DUCKDB_MEMORY_LIMIT='lots'");
    cli_free(&o);
    setenv("FINHOUSE_DUCKDB_MEMORY_LIMIT", "512KB", 1);
    CHECK_EQ_INT(parse(&o, &e, 1, a), FH_OK);
    CHECK_EQ_INT(o.keys_per_pass, 0);
    cli_free(&o);
    setenv("FINHOUSE_KEYS_PER_PASS", "lots", 1);
    CHECK_EQ_INT(parse(&o, &e, 1, a), FH_EUSAGE);
    CHECK_CONTAINS(e.msg, "FINHOUSE_KEYS_PER_PASS expects a whole number");
    cli_free(&o);
    setenv("FINHOUSE_KEYS_PER_PASS", "50000", 1);
    CHECK_EQ_INT(parse(&o, &e, 1, a), FH_OK);
    CHECK_EQ_INT(o.keys_per_pass, 50000);
    cli_free(&o);
    unsetenv("FINHOUSE_KEYS_PER_PASS");
    unsetenv("FINHOUSE_PARQUET_FILE_SIZE");
    unsetenv("FINHOUSE_DUCKDB_MEMORY_LIMIT");
}

static void test_bad_options(void)
{
    struct {
        int argc;
        const char *argv[6];
        const char *msg;
    } bad[] = {
        {2, {"fhload", "--frobnicate"}, "unknown option --frobnicate"},
        {2, {"fhload", "--source"}, "--source needs a value"},
        {3, {"fhload", "--workers", "0"}, "--workers expects a whole number from 1 to 16"},
        {3, {"fhload", "--workers", "3x"}, "got '3x'"},
        {3, {"fhload", "--lookback", "-1"}, "--lookback expects"},
        {3, {"fhload", "--group", "clients"}, "unknown group 'clients'"},
        {2, {"fhload", "--full=yes"}, "--full takes no value"},
        {3, {"fhload", "--since", "2024-01-01"}, "--since only applies with --parquet"},
        {4, {"fhload", "--parquet", "/tmp/x", "--since=yesterday"}, "is not a timestamp"},
        {3, {"fhload", "--source", ""}, "--source is empty"},
        {3, {"fhload", "--parquet", "/tmp/x"}, "--parquet needs --load-id N"},
        {3, {"fhload", "--load-id", "5"}, "--load-id only applies with --parquet"},
        {3, {"fhload", "--raw-columns", "/tmp/c.csv"}, "--raw-columns only applies with --parquet"},
        {5,
         {"fhload", "--parquet", "/tmp/x", "--load-id", "0"},
         "--load-id expects a whole number"},
        {3, {"fhload", "--max-delete-percent", "101"}, "--max-delete-percent expects"},
        {3, {"fhload", "--reconcile", "--full"}, "--reconcile cannot be combined with --full"},
        {3, {"fhload", "--print-registry", "loans"}, "--print-registry prints the whole registry"},
        {4, {"fhload", "--print-registry", "--group", "loans"}, "it takes no TABLE or --group"},
        {3,
         {"fhload", "--group", "users"},
         "use one of: customers, savings, loans, payments, ledger"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_options o;
        fh_error e;
        CHECK_EQ_INT(parse(&o, &e, bad[i].argc, bad[i].argv), FH_EUSAGE);
        CHECK_CONTAINS(e.msg, bad[i].msg);
        cli_free(&o);
    }
    cli_options o;
    fh_error e;
    const char *ok[] = {"fhload",      "--parquet", "/tmp/x", "--since", "2024-07-11T11:50:45Z",
                        "--load-id=42"};
    CHECK_EQ_INT(parse(&o, &e, 6, ok), FH_OK);
    CHECK(o.has_since);
    CHECK_EQ_INT(o.load_id, 42);
    CHECK_EQ_INT(o.max_delete_pct, 50);
    CHECK_EQ_INT(o.since_us, INT64_C(1720698645000000));
    CHECK(o.raw_columns == NULL);
    cli_free(&o);
    const char *cols[] = {"fhload",    "--parquet", "/tmp/x",
                          "--load-id", "7",         "--raw-columns=/tmp/c.csv"};
    CHECK_EQ_INT(parse(&o, &e, 6, cols), FH_OK);
    CHECK_STR(o.raw_columns, "/tmp/c.csv");
    cli_free(&o);
}

static void test_time(void)
{
    int64_t us;
    char buf[FH_TIME_TEXT];
    CHECK_EQ_INT(fh_time_parse("2024-07-11 11:50:45.123456+00", &us), 0);
    CHECK_EQ_INT(us, INT64_C(1720698645123456));
    fh_time_format_sql(us, buf, sizeof buf);
    CHECK_STR(buf, "2024-07-11 11:50:45.123456+00");
    fh_time_format_iso(us, buf, sizeof buf);
    CHECK_STR(buf, "2024-07-11T11:50:45.123456Z");
    CHECK_EQ_INT(fh_time_parse("2024-07-11T13:50:45.123456+02:00", &us), 0);
    CHECK_EQ_INT(us, INT64_C(1720698645123456));
    CHECK_EQ_INT(fh_time_parse("1970-01-01", &us), 0);
    CHECK_EQ_INT(us, 0);
    CHECK_EQ_INT(fh_time_parse("1969-12-31T23:59:59.5Z", &us), 0);
    CHECK_EQ_INT(us, -500000);
    fh_time_format_sql(-500000, buf, sizeof buf);
    CHECK_STR(buf, "1969-12-31 23:59:59.500000+00");
    CHECK_EQ_INT(fh_time_parse("2000-02-29 00:00", &us), 0);
    CHECK_EQ_INT(us, INT64_C(951782400000000));
    CHECK_EQ_INT(fh_time_parse("2024-13-01", &us), -1);
    CHECK_EQ_INT(fh_time_parse("2024-01-01 25:00", &us), -1);
    CHECK_EQ_INT(fh_time_parse("2024-01-01x", &us), -1);
    CHECK_EQ_INT(fh_time_parse("", &us), -1);
}

static void test_redact(void)
{
    char out[256];
    pg_source_redact_url("postgresql://fh:s3cret@db.example:5432/mfi", out, sizeof out);
    CHECK_STR(out, "postgresql://fh@db.example:5432/mfi");
    pg_source_redact_url("postgresql://postgres@127.0.0.1:5999/x", out, sizeof out);
    CHECK_STR(out, "postgresql://postgres@127.0.0.1:5999/x");
    pg_source_redact_url("postgres://u:p%40ss@h/db?sslmode=require&password=abc", out, sizeof out);
    CHECK_STR(out, "postgres://u@h/db?sslmode=require&password=***");
    pg_source_redact_url("host=h user=u password='a b' dbname=d", out, sizeof out);
    CHECK_STR(out, "host=h user=u password=*** dbname=d");
    pg_source_redact_url("password=x", out, sizeof out);
    CHECK_STR(out, "password=***");

    /* libpq's messages can echo a string it could not parse as a URI: scrubbed of the password */
    char msg[256];
    snprintf(msg, sizeof msg, "database \"postgres:/u:s3cretpw@127.0.0.1/db\" does not exist");
    pg_source_scrub("postgres:/u:s3cretpw@127.0.0.1/db", msg, sizeof msg);
    CHECK_STR(msg, "database \"postgres:/u:***@127.0.0.1/db\" does not exist");
    snprintf(msg, sizeof msg, "missing \"=\" after \"pw x s3cret\" in connection info string");
    pg_source_scrub("host=h password='pw x s3cret' user=u", msg, sizeof msg);
    CHECK_STR(msg, "missing \"=\" after \"***\" in connection info string");
    snprintf(msg, sizeof msg, "twice: abc and abc");
    pg_source_scrub("postgresql://u:abc@h/d", msg, sizeof msg);
    CHECK_STR(msg, "twice: *** and ***");
    snprintf(msg, sizeof msg, "p%%40ss or abc");
    pg_source_scrub("postgres://u:p%40ss@h/db?sslmode=require&password=abc", msg, sizeof msg);
    CHECK_STR(msg, "*** or ***");
    snprintf(msg, sizeof msg, "a ** b");
    pg_source_scrub("postgresql://u:**@h/d", msg, sizeof msg);
    CHECK_STR(msg, "a *** b");
    snprintf(msg, sizeof msg, "role \"u\" does not exist");
    pg_source_scrub("postgresql://u@h/d", msg, sizeof msg);
    CHECK_STR(msg, "role \"u\" does not exist");
}

/* --print-registry: every field of a table, in file order, the groups in canonical order, as
 * src/finhouse/registry.py reads them. */
static void test_print_registry(void)
{
    cli_options o;
    fh_error e;
    const char *a[] = {"fhload", "--print-registry", "--registry=r.tsv"};
    CHECK_EQ_INT(parse(&o, &e, 3, a), FH_OK);
    CHECK(o.print_registry);
    CHECK_STR(o.registry, "r.tsv");
    cli_free(&o);

    const char *text = "# r\nrates loans id - full ratio:DECIMAL(38,20),raw:VARCHAR\n"
                       "txns ledger id,seq updated_at incremental\n";
    registry reg;
    CHECK_EQ_INT(registry_parse(text, strlen(text), "r\"1.tsv", &reg, &e), FH_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_print_registry(f, "r\"1.tsv", &reg);
    fclose(f);
    CHECK_STR(buf,
              "{\"registry\": \"r\\\"1.tsv\", \"groups\": [\"customers\", \"savings\", "
              "\"loans\", \"payments\", \"ledger\", \"investments\"], \"tables\": [\n"
              "  {\"name\": \"rates\", \"group\": \"loans\", \"key\": [\"id\"], \"cursor\": null, "
              "\"mode\": \"full\", \"types\": [{\"column\": \"ratio\", \"type\": "
              "\"DECIMAL(38,20)\"}, "
              "{\"column\": \"raw\", \"type\": \"VARCHAR\"}], \"line\": 2},\n"
              "  {\"name\": \"txns\", \"group\": \"ledger\", \"key\": [\"id\", \"seq\"], "
              "\"cursor\": \"updated_at\", \"mode\": \"incremental\", \"types\": [], "
              "\"line\": 3}\n]}\n");
    free(buf);
    registry_free(&reg);

    f = open_memstream(&buf, &len);
    cli_print_registry(f, "empty.tsv", &reg); /* a registry of comments only */
    fclose(f);
    CHECK_CONTAINS(buf, "\"investments\"], \"tables\": []}\n");
    free(buf);
}

static void test_outputs(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_result r = {.table = "loans",
                    .group = "loans",
                    .mode = "incremental",
                    .rows = 12,
                    .deleted = 1,
                    .bytes = 345,
                    .seconds = 0.5,
                    .load_id = 7,
                    .has_wm_to = 1,
                    .wm_to = INT64_C(1720698645123456)};
    cli_print_json(f, &r);
    cli_result e = {.table = "odd",
                    .group = "payments",
                    .code = FH_EDATA,
                    .message = "value \"x\"\tdoes not fit"};
    cli_print_json(f, &e);
    fclose(f);
    CHECK_CONTAINS(buf, "{\"table\": \"loans\", \"group\": \"loans\", \"mode\": \"incremental\", "
                        "\"rows\": 12, \"deleted\": 1, \"bytes\": 345, \"seconds\": 0.500, "
                        "\"load_id\": 7, \"watermark_from\": null, \"watermark_to\": "
                        "\"2024-07-11T11:50:45.123456Z\", \"status\": \"ok\"}\n");
    CHECK_CONTAINS(buf, "\"status\": \"failed\", \"error\": {\"code\": 5, \"kind\": \"data\", "
                        "\"message\": \"value \\\"x\\\"\\tdoes not fit\"}}\n");
    free(buf);

    f = open_memstream(&buf, &len);
    cli_result rs[2] = {r, e};
    rs[0].rows = 1234567;
    cli_print_summary(f, rs, 2);
    cli_help(f);
    fclose(f);
    CHECK_CONTAINS(buf, "1,234,567");
    CHECK_CONTAINS(buf, "data");
    CHECK_CONTAINS(buf, "Exit codes:");
    CHECK_CONTAINS(buf, "FINHOUSE_DUCKDB_PATH");
    CHECK_CONTAINS(buf, "FINHOUSE_REGISTRY");
    CHECK_CONTAINS(buf, "Examples:");
    CHECK_CONTAINS(buf, "--print-registry");
    CHECK_CONTAINS(buf, "customers, savings, loans, payments,\n                      ledger, "
                        "investments");
    free(buf);

    fh_error err;
    fh_error_set(&err, FH_ESCHEMA, "line one\nline two\t");
    CHECK_STR(err.msg, "line one line two");
    fh_error_prefix(&err, "table %s: ", "t");
    CHECK_STR(err.msg, "table t: line one line two");
    CHECK_EQ_INT(err.code, FH_ESCHEMA);
    CHECK_STR(fh_error_kind(FH_ECONN), "connection");
}

/* fhload stream: its options exist only after "stream", with env defaults and checked values. */
static void test_stream_options(void)
{
    unsetenv("FINHOUSE_STREAM_SLOT");
    unsetenv("FINHOUSE_STREAM_COMMIT_INTERVAL_MS");
    cli_options o;
    fh_error e;
    const char *a[] = {"fhload", "stream"};
    CHECK_EQ_INT(parse(&o, &e, 2, a), FH_OK);
    CHECK_EQ_INT(o.stream, 1);
    CHECK_STR(o.slot, "finhouse");
    CHECK_STR(o.publication, "finhouse");
    CHECK_EQ_INT(o.commit_interval_ms, 200);
    CHECK_EQ_INT(o.has_stop_lsn, 0);
    cli_free(&o);

    setenv("FINHOUSE_STREAM_SLOT", "envslot", 1);
    const char *b[] = {"fhload",
                       "stream",
                       "--stop-at-lsn=16/B374D848",
                       "--commit-rows",
                       "5",
                       "--max-seconds",
                       "3",
                       "--resync",
                       "loans"};
    CHECK_EQ_INT(parse(&o, &e, 9, b), FH_OK);
    CHECK_STR(o.slot, "envslot");
    CHECK_EQ_INT(o.has_stop_lsn, 1);
    CHECK(o.stop_lsn == ((UINT64_C(0x16) << 32) | 0xB374D848));
    CHECK_EQ_INT(o.commit_rows, 5);
    CHECK_EQ_INT(o.max_seconds, 3);
    CHECK_EQ_INT(o.resync, 1);
    CHECK_EQ_INT(o.ntables, 1);
    cli_free(&o);
    unsetenv("FINHOUSE_STREAM_SLOT");

    struct {
        int argc;
        const char *argv[4];
    } bad[] = {
        {2, {"fhload", "--resync"}},                     /* stream options need "stream" */
        {3, {"fhload", "--slot", "x"}},                  /* … with a value too */
        {4, {"fhload", "stream", "--stop-at-lsn", "1"}}, /* not an LSN */
        {4, {"fhload", "stream", "--slot", "Bad-Name"}}, /* not a slot name */
        {4, {"fhload", "stream", "--setup", "--status"}},
        {3, {"fhload", "stream", "--full"}},
        {4, {"fhload", "stream", "--commit-interval", "0"}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(parse(&o, &e, bad[i].argc, bad[i].argv), FH_EUSAGE);
        cli_free(&o);
    }
}

int main(void)
{
    test_defaults_and_env();
    test_stream_options();
    test_bad_options();
    test_time();
    test_redact();
    test_sizes();
    test_outputs();
    test_print_registry();
    return check_done("test_cli");
}
