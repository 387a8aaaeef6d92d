/*
 * cli — options, environment, help and output formats (interface in cli.h).
 *
 * Options take their value as the next argument or after '=' (--lookback 60, --lookback=60).
 * Precedence: option, then FINHOUSE_* variable, then default. Everything is validated here so
 * that main only ever sees a coherent cli_options.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fh_json.h"
#include "fh_time.h"
#include "pgoutput.h"
#include "registry.h"

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? v : dflt;
}

static int parse_int(const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out,
                     fh_error *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return fh_error_set(err, FH_EUSAGE,
                            "%s expects a whole number from %" PRId64 " to %" PRId64
                            ", got '%s' — see fhload --help",
                            opt, lo, hi, v);
    *out = x;
    return FH_OK;
}

/* A size as DuckDB reads it: a number and an optional unit (B, KB, MB, GB, TB, KiB … TiB). */
static int is_size(const char *v)
{
    const char *p = v;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p) || *p == '.')
        p++;
    while (*p == ' ')
        p++;
    static const char *const UNITS[] = {"",   "b",   "kb",  "mb",  "gb",
                                        "tb", "kib", "mib", "gib", "tib"};
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
        if (!strcasecmp(p, UNITS[i]))
            return 1;
    return 0;
}

int cli_parse(int argc, char **argv, cli_options *o, fh_error *err)
{
    memset(o, 0, sizeof *o);
    o->source = env_or("FINHOUSE_OLTP_URL", CLI_DEFAULT_SOURCE);
    o->warehouse = env_or("FINHOUSE_DUCKDB_PATH", CLI_DEFAULT_WAREHOUSE);
    o->registry = env_or("FINHOUSE_REGISTRY", CLI_DEFAULT_REGISTRY);
    o->memory_limit = env_or("FINHOUSE_DUCKDB_MEMORY_LIMIT", CLI_DEFAULT_MEMORY_LIMIT);
    o->disabled_compression = env_or("FINHOUSE_DUCKDB_DISABLED_COMPRESSION", "");
    o->parquet_file_size = env_or("FINHOUSE_PARQUET_FILE_SIZE", "200MB");
    o->workers = 2;
    int64_t v;
    int rc = parse_int("FINHOUSE_LOOKBACK_SECONDS", env_or("FINHOUSE_LOOKBACK_SECONDS", "900"), 0,
                       INT64_C(315360000), &o->lookback_s, err);
    if (rc == FH_OK)
        rc = parse_int("FINHOUSE_MAX_DELETE_PERCENT",
                       env_or("FINHOUSE_MAX_DELETE_PERCENT", CLI_DEFAULT_MAX_DELETE_PCT), 0, 100,
                       &v, err);
    if (rc == FH_OK && env_or("FINHOUSE_KEYS_PER_PASS", NULL))
        rc = parse_int("FINHOUSE_KEYS_PER_PASS", env_or("FINHOUSE_KEYS_PER_PASS", NULL), 1,
                       INT64_MAX, &o->keys_per_pass, err);
    if (rc != FH_OK)
        return rc;
    o->max_delete_pct = (int)v;
    o->slot = env_or("FINHOUSE_STREAM_SLOT", CLI_DEFAULT_STREAM_SLOT);
    o->publication = env_or("FINHOUSE_STREAM_PUBLICATION", CLI_DEFAULT_STREAM_PUBLICATION);
    rc = parse_int("FINHOUSE_STREAM_COMMIT_INTERVAL_MS",
                   env_or("FINHOUSE_STREAM_COMMIT_INTERVAL_MS",
                          CLI_DEFAULT_STREAM_COMMIT_INTERVAL_MS),
                   1, 3600000, &o->commit_interval_ms, err);
    if (rc == FH_OK)
        rc = parse_int("FINHOUSE_STREAM_COMMIT_ROWS",
                       env_or("FINHOUSE_STREAM_COMMIT_ROWS", CLI_DEFAULT_STREAM_COMMIT_ROWS), 1,
                       INT64_MAX, &o->commit_rows, err);
    if (rc != FH_OK)
        return rc;
    o->trace_sql = env_or("FHLOAD_TRACE_SQL", NULL) != NULL;
    o->tables = calloc((size_t)argc + 1, sizeof *o->tables);
    if (!o->tables)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    const char *since = NULL;
    int only_args = 0;
    int first = 1;
    if (argc > 1 && !strcmp(argv[1], "stream")) {
        o->stream = 1;
        first = 2;
    }
    const char *stop_lsn = NULL;
    for (int i = first; i < argc; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || !strcmp(a, "-")) {
            o->tables[o->ntables++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (eq && !strncmp(a, "--", 2)) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        /* flags */
        int *flag = !strcmp(name, "--full")                           ? &o->full
                    : !strcmp(name, "--json")                         ? &o->json
                    : !strcmp(name, "--reconcile")                    ? &o->reconcile
                    : !strcmp(name, "--quiet") || !strcmp(name, "-q") ? &o->quiet
                    : !strcmp(name, "--help") || !strcmp(name, "-h")  ? &o->help
                    : !strcmp(name, "--version")                      ? &o->version
                    : !strcmp(name, "--print-registry")               ? &o->print_registry
                    : !strcmp(name, "--print-snowflake-setup")        ? &o->print_sf_setup
                    : o->stream && !strcmp(name, "--resync")          ? &o->resync
                    : o->stream && !strcmp(name, "--setup")           ? &o->setup
                    : o->stream && !strcmp(name, "--status")          ? &o->status
                    : o->stream && !strcmp(name, "--drop-slot")       ? &o->drop_slot
                                                                      : NULL;
        if (flag) {
            if (val)
                return fh_error_set(err, FH_EUSAGE, "%s takes no value — see fhload --help", name);
            *flag = 1;
            continue;
        }
        static const char *const WITH_VALUE[] = {"--source",     "--warehouse",
                                                 "--registry",   "--group",
                                                 "--lookback",   "--workers",
                                                 "--parquet",    "--since",
                                                 "--load-id",    "--max-delete-percent",
                                                 "--raw-columns"};
        static const char *const STREAM_WITH_VALUE[] = {"--slot",
                                                        "--publication",
                                                        "--commit-interval",
                                                        "--commit-rows",
                                                        "--stop-at-lsn",
                                                        "--max-seconds"};
        int known = 0;
        for (size_t k = 0; k < sizeof WITH_VALUE / sizeof WITH_VALUE[0]; k++)
            known |= !strcmp(name, WITH_VALUE[k]);
        for (size_t k = 0; o->stream && k < sizeof STREAM_WITH_VALUE / sizeof STREAM_WITH_VALUE[0];
             k++)
            known |= !strcmp(name, STREAM_WITH_VALUE[k]);
        if (!known)
            return fh_error_set(err, FH_EUSAGE, "unknown option %s — see fhload --help", name);
        if (!val) {
            if (i + 1 >= argc)
                return fh_error_set(err, FH_EUSAGE, "%s needs a value — see fhload --help", name);
            val = argv[++i];
        }
        if (!strcmp(name, "--source"))
            o->source = val;
        else if (!strcmp(name, "--warehouse"))
            o->warehouse = val;
        else if (!strcmp(name, "--registry"))
            o->registry = val;
        else if (!strcmp(name, "--parquet"))
            o->parquet = val;
        else if (!strcmp(name, "--since"))
            since = val;
        else if (!strcmp(name, "--raw-columns"))
            o->raw_columns = val;
        else if (!strcmp(name, "--slot"))
            o->slot = val;
        else if (!strcmp(name, "--publication"))
            o->publication = val;
        else if (!strcmp(name, "--stop-at-lsn"))
            stop_lsn = val;
        else if (!strcmp(name, "--commit-interval")) {
            if ((rc = parse_int("--commit-interval", val, 1, 3600000, &o->commit_interval_ms, err)))
                return rc;
        } else if (!strcmp(name, "--commit-rows")) {
            if ((rc = parse_int("--commit-rows", val, 1, INT64_MAX, &o->commit_rows, err)))
                return rc;
        } else if (!strcmp(name, "--max-seconds")) {
            if ((rc = parse_int("--max-seconds", val, 1, INT64_C(315360000), &o->max_seconds, err)))
                return rc;
        } else if (!strcmp(name, "--group")) {
            if (!registry_group_valid(val))
                return fh_error_set(err, FH_EUSAGE, "unknown group '%s' — use one of: %s", val,
                                    registry_groups());
            if (o->ngroups >= CLI_MAX_GROUPS)
                return fh_error_set(err, FH_EUSAGE, "too many --group options");
            o->groups[o->ngroups++] = val;
        } else if (!strcmp(name, "--lookback")) {
            if ((rc = parse_int("--lookback", val, 0, INT64_C(315360000), &o->lookback_s, err)))
                return rc;
        } else if (!strcmp(name, "--load-id")) {
            if ((rc = parse_int("--load-id", val, 1, INT64_MAX, &o->load_id, err)))
                return rc;
        } else if (!strcmp(name, "--max-delete-percent")) {
            if ((rc = parse_int("--max-delete-percent", val, 0, 100, &v, err)))
                return rc;
            o->max_delete_pct = (int)v;
        } else if (!strcmp(name, "--workers")) {
            if ((rc = parse_int("--workers", val, 1, 16, &v, err)))
                return rc;
            o->workers = (int)v;
        }
    }
    if (stop_lsn) {
        if ((rc = pgo_lsn_parse(stop_lsn, &o->stop_lsn, err)))
            return fh_error_set(err, FH_EUSAGE,
                                "--stop-at-lsn '%s' is not an LSN — write it as PostgreSQL prints "
                                "it, e.g. 0/16B3748 (SELECT pg_current_wal_lsn())",
                                stop_lsn);
        o->has_stop_lsn = 1;
    }
    if (o->stream) {
        if (o->parquet || o->full || o->reconcile || o->print_registry || o->print_sf_setup)
            return fh_error_set(err, FH_EUSAGE,
                                "fhload stream takes none of --parquet, --full, --reconcile, "
                                "--print-registry, --print-snowflake-setup — see fhload --help");
        if (o->setup + o->status + o->drop_slot + o->resync > 1)
            return fh_error_set(err, FH_EUSAGE,
                                "fhload stream: use one of --setup, --status, --drop-slot, "
                                "--resync");
        const char *ids[] = {o->slot, o->publication};
        for (int k = 0; k < 2; k++) {
            size_t n = strlen(ids[k]);
            int ok = n > 0 && n < PGO_NAME_MAX;
            for (size_t j = 0; j < n && ok; j++)
                ok = islower((unsigned char)ids[k][j]) || isdigit((unsigned char)ids[k][j]) ||
                     ids[k][j] == '_';
            if (!ok)
                return fh_error_set(err, FH_EUSAGE,
                                    "%s '%s' must be 1 to 63 lower-case letters, digits or '_' "
                                    "(PostgreSQL's rule for slot names)",
                                    k ? "--publication" : "--slot", ids[k]);
        }
    }
    if (since) {
        if (!o->parquet)
            return fh_error_set(err, FH_EUSAGE,
                                "--since only applies with --parquet (in DuckDB mode the watermark "
                                "is read from the warehouse)");
        if (fh_time_parse(since, &o->since_us) != 0)
            return fh_error_set(err, FH_EUSAGE,
                                "--since '%s' is not a timestamp — write e.g. 2024-07-11T11:50:45Z "
                                "or '2024-07-11 11:50:45+00'",
                                since);
        o->has_since = 1;
    }
    if (!is_size(o->parquet_file_size))
        return fh_error_set(err, FH_EUSAGE,
                            "FINHOUSE_PARQUET_FILE_SIZE='%s' is not a size — write e.g. 200MB",
                            o->parquet_file_size);
    if (!is_size(o->memory_limit))
        return fh_error_set(err, FH_EUSAGE,
                            "FINHOUSE_DUCKDB_MEMORY_LIMIT='%s' is not a size — write e.g. 100MB",
                            o->memory_limit);
    if (o->parquet && !o->load_id)
        return fh_error_set(err, FH_EUSAGE,
                            "--parquet needs --load-id N, the load id the warehouse's sequence "
                            "gave "
                            "(finhouse snowflake-load passes it)");
    if (o->load_id && !o->parquet)
        return fh_error_set(err, FH_EUSAGE,
                            "--load-id only applies with --parquet (in DuckDB mode the warehouse "
                            "numbers its loads)");
    if (o->raw_columns && !o->parquet)
        return fh_error_set(err, FH_EUSAGE,
                            "--raw-columns only applies with --parquet (DuckDB's raw tables "
                            "are read from the warehouse)");
    if (o->print_registry && (o->ntables || o->ngroups))
        return fh_error_set(err, FH_EUSAGE,
                            "--print-registry prints the whole registry; it takes no TABLE or "
                            "--group");
    if (o->print_sf_setup && (o->ntables || o->ngroups || o->parquet))
        return fh_error_set(err, FH_EUSAGE,
                            "--print-snowflake-setup prints the same statements for every table; "
                            "it takes no TABLE, --group or --parquet");
    if (o->reconcile && (o->parquet || o->full))
        return fh_error_set(err, FH_EUSAGE, "--reconcile cannot be combined with %s",
                            o->parquet ? "--parquet" : "--full");
    if (!o->source[0])
        return fh_error_set(err, FH_EUSAGE, "--source is empty — set it or FINHOUSE_OLTP_URL");
    return FH_OK;
}

void cli_free(cli_options *o)
{
    free(o->tables);
    o->tables = NULL;
    o->ntables = 0;
}

void cli_help(FILE *f)
{
    fputs(
        "fhload " CLI_VERSION " — load OLTP tables from PostgreSQL into the warehouse RAW layer\n"
        "\n"
        "Usage: fhload [OPTIONS] [TABLE ...]\n"
        "       fhload stream [STREAM OPTIONS] [TABLE ...]   (change data capture, see below)\n"
        "\n"
        "Reads every selected table of the registry from one consistent PostgreSQL snapshot with\n"
        "binary COPY and appends it to raw.<table> in the DuckDB warehouse, together with the "
        "load's\n"
        "state (watermark, load id, row counts) in the same transaction: a crash leaves all of a\n"
        "table's load or none of it. Incremental tables read the rows whose cursor is newer than\n"
        "the stored watermark minus the lookback; full tables (and --full, and a table's first\n"
        "load) read everything and also record keys that disappeared as 'delete' rows.\n"
        "With --parquet, the rows go to Parquet files plus manifest.json for Snowflake instead.\n"
        "\n"
        "Tables: TABLE arguments and --group options select tables (their union); none selects "
        "all.\n"
        "\n"
        "Options:\n"
        "  --source URL        PostgreSQL to read      [env FINHOUSE_OLTP_URL, default\n"
        "                      " CLI_DEFAULT_SOURCE "]\n"
        "  --warehouse PATH    DuckDB file to write    [env FINHOUSE_DUCKDB_PATH, default\n"
        "                      " CLI_DEFAULT_WAREHOUSE "; its directory is created]\n"
        "  --registry FILE     table registry          [env FINHOUSE_REGISTRY, "
        "default " CLI_DEFAULT_REGISTRY "]\n"
        "  --group NAME        tables of an entity group: customers, savings, loans, payments,\n"
        "                      ledger, investments (repeatable)\n"
        "  --full              full load of incremental tables too (with delete detection)\n"
        "  --max-delete-percent P\n"
        "                      refuse a full load or reconciliation that would mark more than P%\n"
        "                      of a table's rows deleted (a source pointed at an empty or wrong\n"
        "                      database); 100 allows any [env FINHOUSE_MAX_DELETE_PERCENT, "
        "default\n"
        "                      " CLI_DEFAULT_MAX_DELETE_PCT "]\n"
        "  --reconcile         compare every selected table with the source, key by key and row\n"
        "                      hash by row hash, and load only what differs: rows raw lacks or\n"
        "                      holds in another version, and deletes raw has not recorded (what "
        "an\n"
        "                      incremental load misses: hard deletes, commits older than the\n"
        "                      lookback); the watermark does not move\n"
        "  --lookback SECONDS  re-read this much before the watermark, so that a transaction that\n"
        "                      committed late with an older cursor is not missed\n"
        "                      [env FINHOUSE_LOOKBACK_SECONDS, default 900]\n"
        "  --workers N         PostgreSQL connections reading a large table in parallel (ctid\n"
        "                      ranges of one exported snapshot) and DuckDB threads [default 2]\n"
        "  --parquet DIR       Snowflake staging: write DIR/<table>/part-N.parquet and\n"
        "                      DIR/<table>/manifest.json instead of loading DuckDB\n"
        "  --since TIMESTAMP   with --parquet: the watermark kept in Snowflake; incremental "
        "tables\n"
        "                      read rows newer than TIMESTAMP minus the lookback (none: full)\n"
        "  --load-id N         with --parquet (required): the load id the warehouse's sequence "
        "gave;\n"
        "                      every row carries it, and so does the manifest\n"
        "  --raw-columns FILE  with --parquet: Snowflake's raw columns (CSV of "
        "INFORMATION_SCHEMA.\n"
        "                      COLUMNS: table_name, column_name, data_type, numeric_precision,\n"
        "                      numeric_scale); the manifest then prescribes the raw table's DDL, "
        "or\n"
        "                      an incompatible type change is refused (exit 4)\n"
        "  --json              print one JSON object per table on stdout (no progress, no table)\n"
        "  --print-registry    check the registry and print it as one JSON document on stdout:\n"
        "                      {\"registry\", \"groups\": [...], \"tables\": [{\"name\", "
        "\"group\",\n"
        "                      \"key\": [...], \"cursor\", \"mode\", \"types\", \"line\"}, ...]}; "
        "loads\n"
        "                      nothing and connects to nothing (exit 2 and one line on a bad "
        "registry)\n"
        "  --print-snowflake-setup\n"
        "                      print the DDL of Snowflake's load bookkeeping as one JSON "
        "document:\n"
        "                      {\"placeholders\": [\"{log}\", \"{state}\", \"{leases}\"], "
        "\"statements\": [...]}\n"
        "                      — the load log FH_LOADS (the shape of DuckDB's raw._fh_loads), the\n"
        "                      FH_STATE view, the FH_LEASES table, each CREATE … IF NOT EXISTS; "
        "the\n"
        "                      loader replaces each placeholder with the object's qualified name "
        "and\n"
        "                      runs them in order. Connects to nothing\n"
        "  --quiet, -q         no progress and no summary; errors only\n"
        "  --help, -h          this text\n"
        "  --version           print the version\n"
        "\n"
        "Environment (besides the defaults above):\n"
        "  FINHOUSE_DUCKDB_MEMORY_LIMIT  DuckDB memory_limit while loading; fhload's peak RSS is\n"
        "                                about this plus 130MB [default " CLI_DEFAULT_MEMORY_LIMIT
        "]\n"
        "  FINHOUSE_KEYS_PER_PASS        keys per pass of the statements over a table's keys\n"
        "                                [default: the memory limit / 384 bytes]\n"
        "  FHLOAD_TRACE_SQL=1            print every DuckDB statement on stderr\n"
        "  FINHOUSE_PARQUET_FILE_SIZE    target size of one Parquet file [default 200MB]\n"
        "  FINHOUSE_DUCKDB_DISABLED_COMPRESSION  DuckDB compressions to skip for a faster load and "
        "a\n"
        "                                bigger file, e.g. fsst,dictionary [default: none]\n"
        "\n"
        "Registry file: one table per line, 5 fields separated by whitespace, '#' comments:\n"
        "  table  group  primary_key[,col...]  cursor|-  incremental|full\n"
        "\n"
        "Examples:\n"
        "  fhload                                  load every table of ingest/registry.tsv\n"
        "  fhload --group loans --group payments   two entity groups\n"
        "  fhload loans --full --json              one table, full, machine-readable summary\n"
        "  fhload --reconcile --group loans          repair what incremental loads missed\n"
        "  fhload --print-registry                 the registry as JSON, as the platform reads it\n"
        "  fhload --parquet .finhouse/stage --load-id 42 --since 2024-07-11T00:00:00Z loans\n"
        "  FINHOUSE_OLTP_URL=postgresql://reader@db:5432/mfi fhload --workers 4 --group ledger\n"
        "\n"
        "Exit codes:\n"
        "  0  every selected table loaded\n"
        "  1  internal error (a bug, or DuckDB failed unexpectedly)\n"
        "  2  usage or configuration: bad option, malformed registry, unknown table or group\n"
        "  3  connection: cannot reach or authenticate to the source, or open the warehouse\n"
        "  4  schema: unsupported column type, incompatible type change, missing table/column\n"
        "  5  data: a value does not fit its column (e.g. numeric beyond DECIMAL's precision),\n"
        "     or the COPY stream is malformed\n"
        "fhload stops at the first table that fails; tables loaded before it stay committed.\n"
        "Every error is one line on stderr (and an error object with --json).\n"
        "\n"
        "Change data capture: fhload stream [OPTIONS] [TABLE ...]\n"
        "\n"
        "Follows PostgreSQL's logical replication (slot + publication, plugin pgoutput; the "
        "source\n"
        "needs wal_level=logical and a role with REPLICATION) and appends every committed change "
        "of\n"
        "the selected tables to raw.<table> (_fh_op insert/update/delete, _fh_commit_lsn,\n"
        "_fh_commit_ts), exactly once: each group commit stores the slot's progress "
        "(raw._fh_stream)\n"
        "in the same warehouse transaction, and PostgreSQL is acknowledged only after it. On the\n"
        "first start (and with --resync) the slot is created with an exported snapshot and the\n"
        "tables are loaded inside it: a full load, or a reconciliation of a table batch-loaded "
        "before.\n"
        "  --slot NAME           replication slot [env FINHOUSE_STREAM_SLOT, "
        "default " CLI_DEFAULT_STREAM_SLOT "]\n"
        "  --publication NAME    publication [env FINHOUSE_STREAM_PUBLICATION, default\n"
        "                        " CLI_DEFAULT_STREAM_PUBLICATION
        "]; created FOR TABLE over the selected "
        "tables\n"
        "                        when missing and the role may\n"
        "  --setup               create or update the publication over the selected tables and "
        "check\n"
        "                        their replica identity, then exit; run it as the tables' owner\n"
        "  --status              print the slot (active pid, confirmed LSN, lag in bytes and\n"
        "                        seconds, WAL retained) and exit; warns when "
        "max_slot_wal_keep_size\n"
        "                        is -1 (an abandoned slot can fill the disk)\n"
        "  --drop-slot           drop the slot and forget its progress in the warehouse, then "
        "exit\n"
        "  --resync              drop and recreate the slot and reconcile every table again\n"
        "  --commit-interval MS  longest wait of a committed source transaction before its group\n"
        "                        commit [env FINHOUSE_STREAM_COMMIT_INTERVAL_MS, default\n"
        "                        " CLI_DEFAULT_STREAM_COMMIT_INTERVAL_MS "]\n"
        "  --commit-rows N       group commit once this many changes are pending\n"
        "                        [env FINHOUSE_STREAM_COMMIT_ROWS, "
        "default " CLI_DEFAULT_STREAM_COMMIT_ROWS "]\n"
        "  --stop-at-lsn LSN     exit 0 once everything up to LSN (e.g. pg_current_wal_lsn()) is\n"
        "                        committed\n"
        "  --max-seconds S       exit 0 after S seconds (after committing)\n"
        "  --json, --quiet       progress (every ~10 s on stderr) as JSON lines / none\n"
        "SIGTERM or SIGINT: commit what is whole, acknowledge it, exit 0. A lost connection is\n"
        "retried with backoff, resuming from the stored LSN.\n"
        "Exit codes of fhload stream, besides 0-5 (each with a one-line fix):\n"
        "  6  the source's wal_level is not logical\n"
        "  7  the slot is missing while the warehouse holds progress for it: run --resync\n"
        "  8  the slot is in use by another process (its pid is named)\n"
        "  9  permission: the role lacks REPLICATION, may not create the publication, or may not\n"
        "     read a captured table\n"
        "  4  also: a captured table has no primary key or REPLICA IDENTITY NOTHING\n",
        f);
}

void cli_print_json(FILE *f, const cli_result *r)
{
    fputs("{\"table\": ", f);
    if (r->table)
        fh_json_string(f, r->table);
    else
        fputs("null", f);
    fputs(", \"group\": ", f);
    if (r->group)
        fh_json_string(f, r->group);
    else
        fputs("null", f);
    if (r->code != FH_OK) {
        fprintf(f,
                ", \"status\": \"failed\", \"error\": {\"code\": %d, \"kind\": \"%s\", "
                "\"message\": ",
                r->code, fh_error_kind(r->code));
        fh_json_string(f, r->message ? r->message : "");
        fputs("}}\n", f);
        return;
    }
    fputs(", \"mode\": ", f);
    fh_json_string(f, r->mode ? r->mode : "");
    fprintf(f,
            ", \"rows\": %" PRIu64 ", \"deleted\": %" PRIu64 ", \"bytes\": %" PRIu64
            ", \"seconds\": %.3f, \"load_id\": %" PRId64 ", \"watermark_from\": ",
            r->rows, r->deleted, r->bytes, r->seconds, r->load_id);
    fh_json_time(f, r->has_wm_from, r->wm_from);
    fputs(", \"watermark_to\": ", f);
    fh_json_time(f, r->has_wm_to, r->wm_to);
    if (r->files)
        fprintf(f, ", \"files\": %zu", r->files);
    if (r->has_reconciled)
        fprintf(f, ", \"compared\": %" PRIu64, r->compared);
    fputs(", \"status\": \"ok\"}\n", f);
}

static void thousands(uint64_t v, char *buf, size_t n)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
}

void cli_print_progress(FILE *f, const char *table, uint64_t rows, double seconds, int final)
{
    char r[32], rate[32];
    thousands(rows, r, sizeof r);
    thousands(seconds > 0 ? (uint64_t)((double)rows / seconds) : 0, rate, sizeof rate);
    fprintf(f, "\r\033[K  %-28s %14s rows %12s rows/s %8.1f s%s", table, r, rate, seconds,
            final ? "\n" : "");
    fflush(f);
}

void cli_print_summary(FILE *f, const cli_result *rs, size_t n)
{
    fprintf(f, "%-28s %-12s %12s %9s %9s %8s  %s\n", "table", "mode", "rows", "deleted", "rows/s",
            "seconds", "status");
    for (size_t i = 0; i < n; i++) {
        const cli_result *r = &rs[i];
        char rows[32], rate[32];
        thousands(r->rows, rows, sizeof rows);
        thousands(r->seconds > 0 ? (uint64_t)((double)r->rows / r->seconds) : 0, rate, sizeof rate);
        fprintf(f, "%-28s %-12s %12s %9" PRIu64 " %9s %8.2f  %s\n", r->table ? r->table : "-",
                r->mode ? r->mode : "-", rows, r->deleted, rate, r->seconds,
                r->code == FH_OK ? "ok" : fh_error_kind(r->code));
    }
}

void cli_print_registry(FILE *f, const char *path, const registry *reg)
{
    fputs("{\"registry\": ", f);
    fh_json_string(f, path);
    fputs(", \"groups\": [", f);
    for (size_t g = 0; g < registry_group_count(); g++) {
        fputs(g ? ", " : "", f);
        fh_json_string(f, registry_group_name(g));
    }
    fputs("], \"tables\": [", f);
    for (size_t i = 0; i < reg->ntables; i++) {
        const registry_table *t = &reg->tables[i];
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", f);
        fh_json_string(f, t->name);
        fputs(", \"group\": ", f);
        fh_json_string(f, t->group);
        fputs(", \"key\": [", f);
        for (int k = 0; k < t->nkey; k++) {
            fputs(k ? ", " : "", f);
            fh_json_string(f, t->key[k]);
        }
        fputs("], \"cursor\": ", f);
        if (t->cursor[0])
            fh_json_string(f, t->cursor);
        else
            fputs("null", f);
        fputs(", \"mode\": ", f);
        fh_json_string(f, t->mode == REGISTRY_FULL ? "full" : "incremental");
        fputs(", \"types\": [", f);
        for (int k = 0; k < t->ntypes; k++) {
            const registry_column_type *ct = &t->types[k];
            fputs(k ? ", {\"column\": " : "{\"column\": ", f);
            fh_json_string(f, ct->column);
            if (ct->as_text)
                fputs(", \"type\": \"VARCHAR\"}", f);
            else
                fprintf(f, ", \"type\": \"DECIMAL(%d,%d)\"}", ct->width, ct->scale);
        }
        fprintf(f, "], \"line\": %d}", t->line);
    }
    fputs(reg->ntables ? "\n]}\n" : "]}\n", f);
}
