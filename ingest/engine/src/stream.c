/*
 * stream — fhload stream's replication runtime (interface and the exactly-once argument in stream.h).
 *
 *   start      SQL connection: wal_level (FH_EWAL), REPLICATION (FH_EPERM), the captured tables
 *              (SELECT, primary key / replica identity covering the registry key: FH_EPERM,
 *              FH_ESCHEMA), the publication (created or extended when missing, FH_EPERM when the role
 *              may not), the slot (FH_EBUSY when active, FH_ESLOT when missing while the warehouse has
 *              progress for it). Nothing is changed before every check passed.
 *   snapshot   CREATE_REPLICATION_SLOT … LOGICAL pgoutput (SNAPSHOT 'export') on the walsender
 *              connection, which then stays idle while pg_source reads the tables inside that snapshot
 *              (main's per-table load through the callback), then cdc_dest_snapshot_done.
 *   stream     START_REPLICATION … (proto_version '2', binary 'true'); poll() on the socket, frames
 *              through pgoutput, changes into cdc_dest; a group commit when the socket is drained, or
 *              --commit-interval after the first waiting commit, or --commit-rows pending — always at
 *              a transaction boundary — and only then the status update.
 *   loss       the pending group is dropped and the connection retried with backoff from the stored
 *              LSN; the server sends again everything after it.
 *
 * Large transactions come as streamed blocks (streaming 'on': Stream Start/Stop, then Stream Commit or
 * Abort). fhload keeps memory bounded whatever their size by spooling each top-level transaction's raw
 * messages to disk (cdc_spool: <warehouse>.spool/<slot>/<xid>, 0600; a Stream Abort of a
 * subtransaction truncates the file where it began, as PostgreSQL's worker.c does, of the whole
 * transaction deletes it); a Stream Commit replays it through the same apply path as one transaction.
 * The spool is emptied at start and on every reconnect: the server sends an unfinished transaction
 * again from its first change.
 */
#include "stream.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc_dest.h"
#include "cdc_spool.h"
#include "fh_sql.h"
#include "fh_time.h"
#include "pgoutput.h"

#define STATUS_EVERY_S 10.0
#define PROGRESS_EVERY_S 10.0
#define KEEPALIVE_PROGRESS_EVERY_S 1.0
#define STOP_GRACE_S 5.0
#define BUSY_WAIT_TENTHS 30 /* 3 s */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* A captured table: the registry's, resolved in the source's catalog. */
typedef struct {
    const registry_table *t;
    uint32_t oid;
    char nspname[PGO_NAME_MAX];
    char relname[PGO_NAME_MAX];
} cap_table;

typedef struct {
    const cli_options *o;
    char shown[512]; /* source URL without password */
    PGconn *sql;     /* ordinary connection: checks, publication, slot queries */
    PGconn *repl;    /* replication=database: the walsender */
    cap_table *caps;
    size_t ncaps;
    duck_dest *wh;
    cdc_dest *dest;
    pgo_parser *parser;
    uint64_t confirmed; /* committed in the warehouse (and so acknowledgeable) */
    uint64_t acked;     /* last position sent in a status update */
    int64_t confirmed_ts;
    /* statistics */
    uint64_t txns, rows, skipped, streamed; /* streamed: transactions received as stream blocks */
    double t_report;
    uint64_t rep_rows;
    uint64_t server_end; /* the server's end of WAL in the last frame */
    /* streamed (in-progress) transactions, spooled */
    cdc_spool *spool;
    uint32_t stream_xid; /* the top-level transaction of the open stream block */
} stream_ctx;

/* ---- messages --------------------------------------------------------------------------------------- */

static int pq_fail(stream_ctx *s, PGconn *c, const PGresult *r, const char *what, fh_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *m = r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(c);
    int code = PQstatus(c) != CONNECTION_OK ? FH_ECONN : FH_EINTERNAL;
    const char *hint = "";
    if (state && !strcmp(state, "42501")) {
        code = FH_EPERM;
        hint = " — grant the privilege, or have the tables' owner run fhload stream --setup";
    } else if (state && !strcmp(state, "55000") && strstr(m, "invalidated")) {
        /* the same SQLSTATE as a wal_level below logical: told apart by the server's message */
        code = FH_ESLOT;
        hint =
            " — the server removed WAL the slot still needed (max_slot_wal_keep_size), so the "
            "changes since the warehouse's LSN are gone: run fhload stream --resync to take a new "
            "snapshot (and raise max_slot_wal_keep_size, or keep the stream running)";
    } else if (state && !strcmp(state, "55000") &&
               (strstr(m, "wal_level") || strstr(m, "max_replication_slots") ||
                strstr(m, "max_wal_senders"))) {
        code = FH_EWAL;
        hint = strstr(m, "wal_level")
                   ? " — set wal_level = logical in postgresql.conf and restart PostgreSQL"
                   : " — raise max_replication_slots / max_wal_senders in postgresql.conf and "
                     "restart PostgreSQL";
    } else if (state && !strcmp(state, "55006")) {
        code = FH_EBUSY;
        hint = " — another fhload stream is running on this slot; stop it or use another --slot";
    } else if (state && !strcmp(state, "42704")) {
        code = FH_ESLOT;
        hint = " — run fhload stream --resync";
    }
    fh_error_set(err, code, "source %s: %s failed: %s%s", s->shown, what, m, hint);
    pg_source_scrub(s->o->source, err->msg, sizeof err->msg);
    return code;
}

/* Run a query (parameters as text); *out holds the result on FH_OK. */
static int q(stream_ctx *s, PGconn *c, const char *sql, int np, const char *const *params,
             PGresult **out, const char *what, fh_error *err)
{
    PGresult *r = np ? PQexecParams(c, sql, np, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        int rc = pq_fail(s, c, r, what, err);
        PQclear(r);
        return rc;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return FH_OK;
}

static void say(const stream_ctx *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const stream_ctx *s, const char *fmt, ...)
{
    if (s->o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("fhload stream: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- connections ------------------------------------------------------------------------------------ */

static int connect_pg(stream_ctx *s, int replication, PGconn **out, fh_error *err)
{
    const char *kw[] = {"dbname",
                        "connect_timeout",
                        "fallback_application_name",
                        "client_encoding",
                        replication ? "replication" : NULL,
                        NULL};
    const char *val[] =
        {s->o->source, "10", "fhload-stream", "UTF8", replication ? "database" : NULL, NULL};
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        const char *m = c ? PQerrorMessage(c) : "out of memory";
        int code = FH_ECONN;
        const char *hint =
            "is PostgreSQL running and reachable? check --source or FINHOUSE_OLTP_URL";
        if (replication && strstr(m, "replication")) {
            code = FH_EPERM;
            hint = "the role needs REPLICATION: ALTER ROLE … WITH REPLICATION (as a superuser), or "
                   "check pg_hba.conf's replication lines";
        }
        char line[600];
        size_t k = 0;
        for (; m[k] && m[k] != '\n' && k + 1 < sizeof line; k++)
            line[k] = m[k];
        line[k] = '\0';
        fh_error_set(err, code, "cannot connect to source %s%s: %s — %s", s->shown,
                     replication ? " for replication" : "", line, hint);
        pg_source_scrub(s->o->source, err->msg, sizeof err->msg);
        PQfinish(c);
        return code;
    }
    *out = c;
    return FH_OK;
}

/* ---- checks at start -------------------------------------------------------------------------------- */

static int check_server(stream_ctx *s, fh_error *err)
{
    PGresult *r = NULL;
    int rc =
        q(s, s->sql,
          "SELECT current_setting('wal_level'), "
          "       (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user), "
          "       current_user",
          0, NULL, &r, "reading wal_level", err);
    if (rc != FH_OK)
        return rc;
    char wal[32], user[PGO_NAME_MAX];
    snprintf(wal, sizeof wal, "%s", PQgetvalue(r, 0, 0));
    int may = PQgetvalue(r, 0, 1)[0] == 't';
    snprintf(user, sizeof user, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if (strcmp(wal, "logical"))
        return fh_error_set(err, FH_EWAL,
                            "source %s has wal_level = %s; logical replication needs wal_level = "
                            "logical — set it in postgresql.conf (ALTER SYSTEM SET wal_level = "
                            "logical) and restart PostgreSQL",
                            s->shown, wal);
    if (!may)
        return fh_error_set(err, FH_EPERM,
                            "role %s may not replicate — as a superuser: ALTER ROLE %s WITH "
                            "REPLICATION",
                            user, user);
    return FH_OK;
}

/* Resolve every selected table; check SELECT and that its replica identity covers the registry key. */
static int check_tables(stream_ctx *s, const registry_table *const *sel, size_t nsel, fh_error *err)
{
    static const char *SQL =
        "SELECT c.oid, n.nspname, c.relname, c.relreplident, "
        "       has_table_privilege(c.oid, 'SELECT'), "
        "       (SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a "
        "          ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey) "
        "        WHERE i.indrelid = c.oid AND CASE c.relreplident WHEN 'i' THEN i.indisreplident "
        "              ELSE i.indisprimary END) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass($1)";
    s->caps = calloc(nsel ? nsel : 1, sizeof *s->caps);
    if (!s->caps)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    for (size_t i = 0; i < nsel; i++) {
        const registry_table *t = sel[i];
        const char *p[1] = {t->name};
        PGresult *r = NULL;
        int rc = q(s, s->sql, SQL, 1, p, &r, "reading the catalog", err);
        if (rc != FH_OK)
            return rc;
        if (PQntuples(r) != 1) {
            PQclear(r);
            return fh_error_set(err, FH_ESCHEMA,
                                "table %s does not exist in source %s — fix the registry", t->name,
                                s->shown);
        }
        cap_table *c = &s->caps[s->ncaps++];
        c->t = t;
        c->oid = (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(c->nspname, sizeof c->nspname, "%s", PQgetvalue(r, 0, 1));
        snprintf(c->relname, sizeof c->relname, "%s", PQgetvalue(r, 0, 2));
        char ident = PQgetvalue(r, 0, 3)[0];
        int can_read = PQgetvalue(r, 0, 4)[0] == 't';
        char keycols[1024];
        snprintf(keycols, sizeof keycols, ",%s,", PQgetvalue(r, 0, 5));
        int nokey = PQgetisnull(r, 0, 5);
        PQclear(r);
        if (!can_read)
            return fh_error_set(err, FH_EPERM,
                                "table %s.%s: the role may not read it — GRANT SELECT ON %s.%s TO "
                                "the role of --source",
                                c->nspname, c->relname, c->nspname, c->relname);
        if (ident == 'n')
            return fh_error_set(err, FH_ESCHEMA,
                                "table %s.%s has REPLICA IDENTITY NOTHING: its updates and deletes "
                                "cannot be streamed — ALTER TABLE %s.%s REPLICA IDENTITY DEFAULT "
                                "(with a primary key)",
                                c->nspname, c->relname, c->nspname, c->relname);
        if (ident == 'f')
            continue;
        if (nokey)
            return fh_error_set(
                err, FH_ESCHEMA,
                "table %s.%s has no %s: its updates and deletes cannot be streamed by key — "
                "ALTER TABLE %s.%s ADD PRIMARY KEY (%s%s) (or REPLICA IDENTITY USING INDEX …)",
                c->nspname, c->relname, ident == 'i' ? "replica identity index" : "primary key",
                c->nspname, c->relname, t->key[0], t->nkey > 1 ? ", …" : "");
        for (int k = 0; k < t->nkey; k++) {
            char probe[REGISTRY_NAME_MAX + 2];
            snprintf(probe, sizeof probe, ",%s,", t->key[k]);
            if (!strstr(keycols, probe))
                return fh_error_set(err, FH_ESCHEMA,
                                    "table %s.%s: its replica identity (%.*s) does not cover the "
                                    "registry key column %s (registry line %d) — make the key the "
                                    "primary key, or ALTER TABLE %s.%s REPLICA IDENTITY FULL",
                                    c->nspname, c->relname, (int)(strlen(keycols) - 2), keycols + 1,
                                    t->key[k], t->line, c->nspname, c->relname);
        }
    }
    return FH_OK;
}

/* Create the publication over the captured tables, or add the ones it lacks (replace its list with
 * `exact`, for --setup). */
static int ensure_publication(stream_ctx *s, int exact, fh_error *err)
{
    const char *p[1] = {s->o->publication};
    PGresult *r = NULL;
    int rc = q(s, s->sql, "SELECT count(*) FROM pg_publication WHERE pubname = $1", 1, p, &r,
               "reading the publication", err);
    if (rc != FH_OK)
        return rc;
    int exists = atoi(PQgetvalue(r, 0, 0)) > 0;
    PQclear(r);
    fh_sql_buf b = {0};
    char id[2 * PGO_NAME_MAX + 4], id2[2 * PGO_NAME_MAX + 4];
    size_t nmissing = 0;
    fh_sql_buf list = {0};
    for (size_t i = 0; i < s->ncaps; i++) {
        int have = 0;
        if (exists && !exact) {
            char oid[16];
            snprintf(oid, sizeof oid, "%u", s->caps[i].oid);
            const char *pp[2] = {s->o->publication, oid};
            rc = q(s, s->sql,
                   "SELECT count(*) FROM pg_publication_tables t JOIN pg_namespace n "
                   "ON n.nspname = t.schemaname JOIN pg_class c ON c.relnamespace = n.oid "
                   "AND c.relname = t.tablename WHERE t.pubname = $1 AND c.oid = $2::oid",
                   2, pp, &r, "reading the publication's tables", err);
            if (rc != FH_OK) {
                fh_sql_buf_reset(&list);
                return rc;
            }
            have = atoi(PQgetvalue(r, 0, 0)) > 0;
            PQclear(r);
        }
        if (!have) {
            fh_sql_buf_add(&list, "%s%s.%s", nmissing ? ", " : "",
                           fh_sql_ident(s->caps[i].nspname, id, sizeof id),
                           fh_sql_ident(s->caps[i].relname, id2, sizeof id2));
            nmissing++;
        }
    }
    if (nmissing == 0) {
        fh_sql_buf_reset(&list);
        return FH_OK;
    }
    fh_sql_ident(s->o->publication, id, sizeof id);
    if (!exists)
        fh_sql_buf_add(&b, "CREATE PUBLICATION %s FOR TABLE %s", id, list.s);
    else if (exact)
        fh_sql_buf_add(&b, "ALTER PUBLICATION %s SET TABLE %s", id, list.s);
    else
        fh_sql_buf_add(&b, "ALTER PUBLICATION %s ADD TABLE %s", id, list.s);
    fh_sql_buf_reset(&list);
    if (b.oom) {
        fh_sql_buf_reset(&b);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    rc = q(s, s->sql, b.s, 0, NULL, NULL,
           exists ? "updating the publication" : "creating the publication", err);
    if (rc == FH_OK)
        say(s, "%s", b.s);
    else if (rc == FH_EINTERNAL && strstr(err->msg, "must be owner"))
        err->code = rc = FH_EPERM;
    if (rc == FH_EPERM)
        fh_error_prefix(err, "publication %s: the tables' owner must run fhload stream --setup: ",
                        s->o->publication);
    fh_sql_buf_reset(&b);
    return rc;
}

typedef struct {
    int exists, active;
    long pid;
    char plugin[PGO_NAME_MAX];
} slot_info;

static int read_slot(stream_ctx *s, slot_info *si, fh_error *err)
{
    memset(si, 0, sizeof *si);
    const char *p[1] = {s->o->slot};
    PGresult *r = NULL;
    int rc = q(s, s->sql,
               "SELECT active, coalesce(active_pid, 0), coalesce(plugin, '') "
               "FROM pg_replication_slots WHERE slot_name = $1",
               1, p, &r, "reading the replication slot", err);
    if (rc != FH_OK)
        return rc;
    if (PQntuples(r) == 1) {
        si->exists = 1;
        si->active = PQgetvalue(r, 0, 0)[0] == 't';
        si->pid = atol(PQgetvalue(r, 0, 1));
        snprintf(si->plugin, sizeof si->plugin, "%s", PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return FH_OK;
}

static int busy(stream_ctx *s, const slot_info *si, fh_error *err)
{
    return fh_error_set(err, FH_EBUSY,
                        "replication slot %s is in use by process %ld — another fhload stream "
                        "runs on it: stop that one (or use another --slot)",
                        s->o->slot, si->pid);
}

static int drop_slot(stream_ctx *s, fh_error *err)
{
    const char *p[1] = {s->o->slot};
    return q(s, s->sql, "SELECT pg_drop_replication_slot($1)", 1, p, NULL,
             "dropping the replication slot", err);
}

/* ---- --status ---------------------------------------------------------------------------------------- */

static int print_status(stream_ctx *s, fh_error *err)
{
    const char *p[1] = {s->o->slot};
    PGresult *r = NULL;
    int rc =
        q(s, s->sql,
          "SELECT coalesce(active_pid::text, ''), coalesce(confirmed_flush_lsn::text, ''), "
          "       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint, "
          "       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint, "
          "       current_setting('max_slot_wal_keep_size'), coalesce(wal_status, '') "
          "FROM pg_replication_slots WHERE slot_name = $1",
          1, p, &r, "reading the replication slot", err);
    if (rc != FH_OK)
        return rc;
    cdc_state st = {0};
    rc = cdc_dest_read_state(s->dest, &st, err);
    if (rc != FH_OK) {
        PQclear(r);
        return rc;
    }
    int found = PQntuples(r) == 1;
    char wh_lsn[32] = "-";
    if (st.found)
        pgo_lsn_format(st.confirmed_lsn, wh_lsn, sizeof wh_lsn);
    double lag_s = 0;
    long long lag_b = found ? atoll(PQgetvalue(r, 0, 2)) : 0;
    if (st.found && st.confirmed_commit_ts && lag_b > 0)
        lag_s = (double)(fh_time_now_us() - st.confirmed_commit_ts) / 1e6;
    if (s->o->json) {
        printf("{\"slot\": \"%s\", \"exists\": %s, \"active_pid\": %s, \"confirmed_lsn\": \"%s\", "
               "\"warehouse_lsn\": \"%s\", \"lag_bytes\": %lld, \"lag_seconds\": %.1f, "
               "\"wal_retained_bytes\": %lld, \"max_slot_wal_keep_size\": \"%s\"}\n",
               s->o->slot, found ? "true" : "false",
               found && PQgetvalue(r, 0, 0)[0] ? PQgetvalue(r, 0, 0) : "null",
               found ? PQgetvalue(r, 0, 1) : "", wh_lsn, lag_b, lag_s,
               found ? atoll(PQgetvalue(r, 0, 3)) : 0LL, found ? PQgetvalue(r, 0, 4) : "");
    } else if (!found) {
        printf("slot %s: does not exist (warehouse progress: %s)\n", s->o->slot, wh_lsn);
    } else {
        printf("slot %s: %s, confirmed %s (warehouse %s), lag %lld bytes / %.1f s, WAL retained "
               "%lld bytes, wal_status %s\n",
               s->o->slot, PQgetvalue(r, 0, 0)[0] ? "active" : "inactive", PQgetvalue(r, 0, 1),
               wh_lsn, lag_b, lag_s, atoll(PQgetvalue(r, 0, 3)), PQgetvalue(r, 0, 5));
        if (PQgetvalue(r, 0, 0)[0])
            printf("  active pid %s\n", PQgetvalue(r, 0, 0));
    }
    if (found && !strcmp(PQgetvalue(r, 0, 4), "-1"))
        fprintf(stderr,
                "fhload stream: warning: max_slot_wal_keep_size is -1 (unlimited): a slot nobody "
                "reads keeps WAL until the disk is full — set it (e.g. ALTER SYSTEM SET "
                "max_slot_wal_keep_size = '10GB') or drop unused slots (--drop-slot)\n");
    PQclear(r);
    return FH_OK;
}

/* ---- snapshot handoff ------------------------------------------------------------------------------- */

static int snapshot(stream_ctx *s, stream_load_fn load, void *load_ctx, fh_error *err)
{
    char sql[256], id[PGO_NAME_MAX + 4];
    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'export')",
             fh_sql_ident(s->o->slot, id, sizeof id));
    PGresult *r = NULL;
    int rc = q(s, s->repl, sql, 0, NULL, &r, "creating the replication slot", err);
    if (rc != FH_OK)
        return rc;
    uint64_t cp = 0;
    char snap[64];
    rc = pgo_lsn_parse(PQgetvalue(r, 0, 1), &cp, err);
    snprintf(snap, sizeof snap, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if (rc != FH_OK)
        return rc;
    char lsn[32];
    pgo_lsn_format(cp, lsn, sizeof lsn);
    say(s, "slot %s created at %s; loading %zu table(s) in its snapshot %s", s->o->slot, lsn,
        s->ncaps, snap);
    pg_source *src = NULL;
    rc = pg_source_open_snapshot(s->o->source, s->o->workers, snap, &src, err);
    for (size_t i = 0; i < s->ncaps && rc == FH_OK; i++) {
        cli_result res = {.table = s->caps[i].t->name, .group = s->caps[i].t->group};
        rc = load(load_ctx, src, s->wh, s->caps[i].t, &res, err);
        if (rc == FH_OK && s->o->json) {
            cli_print_json(stdout, &res);
            fflush(stdout);
        } else if (rc == FH_OK)
            say(s, "%s: %s, %" PRIu64 " rows, %" PRIu64 " deleted, %.1f s", res.table, res.mode,
                res.rows, res.deleted, res.seconds);
    }
    pg_source_close(src);
    if (rc == FH_OK)
        rc = cdc_dest_snapshot_done(s->dest, s->o->publication, cp, err);
    if (rc == FH_OK)
        s->confirmed = s->acked = cp;
    return rc;
}

/* ---- streaming --------------------------------------------------------------------------------------- */

static int start_replication(stream_ctx *s, fh_error *err)
{
    char sql[512], id[PGO_NAME_MAX + 4], lsn[32], pub[PGO_NAME_MAX + 4];
    pgo_lsn_format(s->confirmed, lsn, sizeof lsn);
    fh_sql_ident(s->o->publication, pub, sizeof pub);
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL %s (proto_version '2', publication_names '%s', "
             "binary 'true', streaming 'on')",
             fh_sql_ident(s->o->slot, id, sizeof id), lsn, pub);
    PGresult *r = PQexec(s->repl, sql);
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        int rc = pq_fail(s, s->repl, r, "START_REPLICATION", err);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    return FH_OK;
}

static int send_status(stream_ctx *s, int reply, fh_error *err)
{
    unsigned char buf[PGO_STATUS_UPDATE_LEN];
    int64_t now_pg = fh_time_now_us() - PGO_EPOCH_OFFSET_US;
    pgo_status_update(buf, s->confirmed, s->confirmed, s->confirmed, now_pg, reply);
    if (PQputCopyData(s->repl, (const char *)buf, sizeof buf) != 1 || PQflush(s->repl) != 0)
        return fh_error_set(err, FH_ECONN, "source %s: sending the status update failed: %s",
                            s->shown, PQerrorMessage(s->repl));
    s->acked = s->confirmed;
    return FH_OK;
}

/* Resolve a Relation message: the registry table, its columns mapped, its key. */
static int on_relation(stream_ctx *s, const pgo_relation *rel, fh_error *err)
{
    const cap_table *c = NULL;
    for (size_t i = 0; i < s->ncaps && !c; i++)
        if (!strcmp(s->caps[i].nspname, rel->nspname) && !strcmp(s->caps[i].relname, rel->relname))
            c = &s->caps[i];
    if (!c)
        return FH_OK; /* published, but not selected: its changes are ignored */
    const registry_table *t = c->t;
    cd_column *cols = calloc(rel->ncols ? rel->ncols : 1, sizeof *cols);
    if (!cols)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    int rc = FH_OK;
    for (uint16_t i = 0; i < rel->ncols && rc == FH_OK; i++) {
        cd_column *col = &cols[i];
        snprintf(col->name, sizeof col->name, "%s", rel->cols[i].name);
        snprintf(col->pg_type, sizeof col->pg_type, "type oid %u", rel->cols[i].type_oid);
        col->type_oid = rel->cols[i].type_oid;
        col->typmod = rel->cols[i].typmod;
        const registry_column_type *ct = registry_column(t, col->name);
        rc = ct ? copy_decode_override(t->name, col, ct->as_text, ct->width, ct->scale, err)
                : copy_decode_map_type(t->name, col, err);
    }
    int key_cols[REGISTRY_KEY_MAX];
    for (int k = 0; k < t->nkey && rc == FH_OK; k++) {
        key_cols[k] = -1;
        for (uint16_t i = 0; i < rel->ncols; i++)
            if (!strcmp(rel->cols[i].name, t->key[k]))
                key_cols[k] = i;
        if (key_cols[k] < 0)
            rc = fh_error_set(err, FH_ESCHEMA,
                              "table %s: key column %s (registry line %d) is not in the source "
                              "table — fix the registry",
                              t->name, t->key[k], t->line);
        else if (rel->replident != 'f' && !rel->cols[key_cols[k]].key)
            rc = fh_error_set(err, FH_ESCHEMA,
                              "table %s: key column %s is not part of the table's replica "
                              "identity — make it the primary key, or ALTER TABLE %s.%s REPLICA "
                              "IDENTITY FULL",
                              t->name, t->key[k], rel->nspname, rel->relname);
    }
    if (rc == FH_OK)
        rc = cdc_dest_relation(s->dest, rel->relid, c->relname, cols, rel->ncols, key_cols, t->nkey,
                               err);
    free(cols);
    return rc;
}

/* Did an update with the old row ('O', REPLICA IDENTITY FULL) change the key? */
static int key_changed(const pgo_msg *m, const registry_table *t)
{
    for (int k = 0; k < t->nkey; k++)
        for (uint16_t i = 0; i < m->rel->ncols; i++)
            if (!strcmp(m->rel->cols[i].name, t->key[k])) {
                const pgo_value *a = &m->old_tuple.vals[i], *b = &m->new_tuple.vals[i];
                if (a->kind != b->kind || a->len != b->len ||
                    (a->len && memcmp(a->data, b->data, a->len)))
                    return 1;
            }
    return 0;
}

static const cap_table *cap_of(const stream_ctx *s, const pgo_relation *rel)
{
    for (size_t i = 0; rel && i < s->ncaps; i++)
        if (!strcmp(s->caps[i].nspname, rel->nspname) && !strcmp(s->caps[i].relname, rel->relname))
            return &s->caps[i];
    return NULL;
}

typedef struct {
    int in_txn, skip;
    uint64_t commit_lsn;
    int64_t commit_ts; /* µs since 1970 */
    int whole;         /* whole transactions are pending (or progress to store) */
    uint64_t end_lsn;  /* end LSN of the last whole transaction */
    int64_t end_ts;
    double first_whole_at; /* when the first pending whole transaction arrived */
    uint64_t txns_pending;
} txn_state;

static int apply(stream_ctx *s, txn_state *x, const pgo_msg *m, fh_error *err)
{
    switch (m->kind) {
    case PGO_BEGIN:
        x->in_txn = 1;
        x->commit_lsn = m->lsn;
        x->commit_ts = m->commit_ts + PGO_EPOCH_OFFSET_US;
        /* already in the warehouse (the server resends from its own confirmed position) */
        x->skip = m->lsn < s->confirmed;
        return FH_OK;
    case PGO_COMMIT:
        x->in_txn = 0;
        if (x->skip) {
            s->skipped++;
            x->skip = 0;
            return FH_OK;
        }
        if (!x->whole) /* counted from arrival: under a backlog a group then holds an
                        * interval's worth of reading, not one transaction */
            x->first_whole_at = fh_time_mono();
        x->whole = 1;
        x->end_lsn = m->end_lsn;
        x->end_ts = m->commit_ts + PGO_EPOCH_OFFSET_US;
        x->txns_pending++;
        return FH_OK;
    case PGO_RELATION: return on_relation(s, m->rel, err);
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE: {
        if (x->skip)
            return FH_OK;
        const cap_table *c = cap_of(s, m->rel);
        if (!c)
            return FH_OK;
        s->rows++;
        if (m->kind == PGO_INSERT)
            return cdc_dest_change(s->dest, m->relid, 'I', x->commit_lsn, x->commit_ts, NULL,
                                   &m->new_tuple, err);
        if (m->kind == PGO_DELETE)
            return cdc_dest_change(s->dest, m->relid, 'D', x->commit_lsn, x->commit_ts, NULL,
                                   &m->old_tuple, err);
        const pgo_tuple *old = NULL;
        if (m->old_kind == 'K' || (m->old_kind == 'O' && key_changed(m, c->t)))
            old = &m->old_tuple;
        return cdc_dest_change(s->dest, m->relid, 'U', x->commit_lsn, x->commit_ts, old,
                               &m->new_tuple, err);
    }
    case PGO_TRUNCATE:
        if (x->skip)
            return FH_OK;
        for (uint32_t i = 0; i < m->nrelids; i++) {
            if (!cap_of(s, pgo_relation_find(s->parser, m->relids[i])))
                continue;
            int rc = cdc_dest_truncate(s->dest, m->relids[i], x->commit_lsn, x->commit_ts, err);
            if (rc != FH_OK)
                return rc;
        }
        return FH_OK;
    default: /* Origin, Type, Message: nothing to store */ return FH_OK;
    }
}

/* Commit the pending whole transactions (or progress only), then acknowledge. */
static int group_commit(stream_ctx *s, txn_state *x, fh_error *err)
{
    assert(!x->in_txn);
    cdc_group_stats st;
    int rc = cdc_dest_commit_group(s->dest, x->end_lsn, x->end_ts, &st, err);
    if (rc != FH_OK)
        return rc;
    s->confirmed = x->end_lsn;
    s->confirmed_ts = x->end_ts;
    s->txns += x->txns_pending;
    x->whole = 0;
    x->txns_pending = 0;
    return send_status(s, 0, err);
}

static void report(stream_ctx *s, int force)
{
    double now = fh_time_mono();
    if (s->o->quiet || (!force && now - s->t_report < PROGRESS_EVERY_S))
        return;
    double dt = now - s->t_report;
    double rate = dt > 0 ? (double)(s->rows - s->rep_rows) / dt : 0;
    uint64_t lag_b = s->server_end > s->confirmed ? s->server_end - s->confirmed : 0;
    double lag_s =
        s->confirmed_ts && lag_b ? (double)(fh_time_now_us() - s->confirmed_ts) / 1e6 : 0;
    char lsn[32];
    pgo_lsn_format(s->confirmed, lsn, sizeof lsn);
    if (s->o->json)
        fprintf(stderr,
                "{\"stream\": \"%s\", \"confirmed_lsn\": \"%s\", \"transactions\": %" PRIu64
                ", \"streamed\": %" PRIu64 ", \"rows\": %" PRIu64
                ", \"rows_per_s\": %.0f, \"lag_bytes\": %" PRIu64 ", \"lag_seconds\": %.1f}\n",
                s->o->slot, lsn, s->txns, s->streamed, s->rows, rate, lag_b, lag_s);
    else
        fprintf(stderr,
                "fhload stream: %s at %s: %" PRIu64 " transactions (%" PRIu64 " streamed), %" PRIu64
                " rows (%.0f rows/s), lag %" PRIu64 " bytes / %.1f s\n",
                s->o->slot, lsn, s->txns, s->streamed, s->rows, rate, lag_b, lag_s);
    s->t_report = now;
    s->rep_rows = s->rows;
}

/* ---- streamed transactions (spooled by cdc_spool) ---------------------------------------------------- */

typedef struct {
    stream_ctx *s;
    txn_state *x;
    pgo_msg m;
} replay_ctx;

/* One spooled message of a committed streamed transaction: parse it and apply it. */
static int replay_msg(void *ctx, const unsigned char *msg, size_t len, fh_error *err)
{
    replay_ctx *r = ctx;
    int rc = pgo_parse(r->s->parser, msg, len, &r->m, err);
    return rc == FH_OK ? apply(r->s, r->x, &r->m, err) : rc;
}

/* Stream Commit: replay the spooled transaction through apply() as one transaction. */
static int spool_commit(stream_ctx *s, txn_state *x, const pgo_msg *c, fh_error *err)
{
    int spooled = cdc_spool_has(s->spool, c->xid);
    pgo_msg b = {.kind = PGO_BEGIN, .lsn = c->lsn, .commit_ts = c->commit_ts, .xid = c->xid};
    int rc = apply(s, x, &b, err);
    /* A stream block's messages carry their xid: put the parser in a block around the replay. */
    unsigned char ss[6] = {'S',
                           (unsigned char)(c->xid >> 24),
                           (unsigned char)(c->xid >> 16),
                           (unsigned char)(c->xid >> 8),
                           (unsigned char)c->xid,
                           0};
    unsigned char se[1] = {'E'};
    pgo_msg m;
    if (rc == FH_OK && spooled && !x->skip) {
        rc = pgo_parse(s->parser, ss, sizeof ss, &m, err);
        replay_ctx r = {.s = s, .x = x};
        if (rc == FH_OK)
            rc = cdc_spool_replay(s->spool, c->xid, replay_msg, &r, err);
        if (rc == FH_OK)
            rc = pgo_parse(s->parser, se, sizeof se, &m, err);
    }
    cdc_spool_drop(s->spool, c->xid);
    if (rc != FH_OK)
        return rc;
    pgo_msg e = {.kind = PGO_COMMIT,
                 .lsn = c->lsn,
                 .end_lsn = c->end_lsn,
                 .commit_ts = c->commit_ts};
    return apply(s, x, &e, err);
}

typedef enum { RUN_STOP, RUN_LOST } run_end;

/* The COPY BOTH loop, until a stop condition (FH_OK, *end = RUN_STOP), a lost connection (FH_OK,
 * *end = RUN_LOST) or an error. */
static int stream_loop(stream_ctx *s, double t_start, run_end *end, fh_error *err)
{
    txn_state x = {0};
    x.end_lsn = s->confirmed;
    x.end_ts = s->confirmed_ts;
    double last_status = fh_time_mono(), last_progress_commit = 0, stop_since = 0;
    double last_probe = 0;
    int rc = FH_OK;
    *end = RUN_STOP;
    for (;;) {
        double now = fh_time_mono();
        int stop_req = g_stop || (s->o->max_seconds && now - t_start >= (double)s->o->max_seconds);
        if (stop_req && stop_since == 0)
            stop_since = now;
        char *buf = NULL;
        int n = PQgetCopyData(s->repl, &buf, 1);
        if (n > 0) {
            pgo_frame f;
            rc = pgo_frame_parse((const unsigned char *)buf, (size_t)n, &f, err);
            if (rc == FH_OK && f.kind == 'w') {
                s->server_end = f.wal_end;
                pgo_msg m;
                rc = pgo_parse(s->parser, f.data, f.len, &m, err);
                if (rc != FH_OK)
                    ;
                else if (m.kind == PGO_STREAM_START)
                    s->stream_xid = m.xid;
                else if (m.kind == PGO_STREAM_STOP)
                    ;
                else if (m.in_stream) {
                    if (m.kind == PGO_RELATION)
                        rc = on_relation(s, m.rel, err);
                    if (rc == FH_OK)
                        rc = cdc_spool_write(s->spool, s->stream_xid, m.xid, f.data, f.len, err);
                } else if (m.kind == PGO_STREAM_ABORT)
                    rc = cdc_spool_abort(s->spool, m.xid, m.subxid, err);
                else if (m.kind == PGO_STREAM_COMMIT) {
                    s->streamed++;
                    rc = spool_commit(s, &x, &m, err);
                } else
                    rc = apply(s, &x, &m, err);
                if (rc == FH_OK && (m.kind == PGO_COMMIT || m.kind == PGO_STREAM_COMMIT) &&
                    x.whole &&
                    (cdc_dest_pending(s->dest) >= (uint64_t)s->o->commit_rows ||
                     fh_time_mono() - x.first_whole_at >= s->o->commit_interval_ms / 1000.0))
                    rc = group_commit(s, &x, err);
            } else if (rc == FH_OK && f.kind == 'k') {
                s->server_end = f.wal_end;
                /* Idle: nothing in flight, nothing pending: store the server's position as
                 * progress (so an idle slot holds no WAL), rate-limited, then acknowledge. */
                int due = now - last_progress_commit >= KEEPALIVE_PROGRESS_EVERY_S ||
                          (s->o->has_stop_lsn && f.wal_end >= s->o->stop_lsn);
                if (!x.in_txn && !x.whole && cdc_spool_count(s->spool) == 0 &&
                    f.wal_end > s->confirmed && due) {
                    x.end_lsn = f.wal_end;
                    x.end_ts = s->confirmed_ts;
                    rc = group_commit(s, &x, err);
                    last_progress_commit = now;
                } else if (f.reply_requested)
                    rc = send_status(s, 0, err);
            }
            PQfreemem(buf);
            if (rc != FH_OK)
                return rc;
            continue;
        }
        if (n == -2 || n == -1) {
            if (n == -1) {
                PGresult *r = PQgetResult(s->repl);
                PQclear(r);
            }
            say(s, "connection lost: %s", PQerrorMessage(s->repl));
            *end = RUN_LOST;
            return FH_OK;
        }
        /* n == 0: nothing more to read right now. The group commits once its first transaction has
         * waited --commit-interval (or the run is ending), not at once: a commit per source
         * transaction would cost a warehouse commit and a load-log row per table each time, so the
         * interval bounds the warehouse's commit rate (and the load log's growth) whatever the
         * source's rate, and the latency to RAW stays under interval + one commit. */
        if (x.whole && !x.in_txn &&
            (now - x.first_whole_at >= s->o->commit_interval_ms / 1000.0 || stop_req ||
             (s->o->has_stop_lsn && x.end_lsn >= s->o->stop_lsn))) {
            if ((rc = group_commit(s, &x, err)) != FH_OK)
                return rc;
            last_status = now;
        }
        report(s, 0);
        if (s->o->has_stop_lsn && s->confirmed >= s->o->stop_lsn && !x.in_txn) {
            if (s->acked != s->confirmed && (rc = send_status(s, 0, err)) != FH_OK)
                return rc;
            return FH_OK;
        }
        if (stop_req && !x.in_txn)
            return FH_OK;
        if (stop_req && now - stop_since > STOP_GRACE_S) {
            say(s, "stopping in the middle of a transaction: it will be read again next time");
            cdc_dest_rollback_group(s->dest);
            return FH_OK;
        }
        /* --stop-at-lsn while idle: ask the server for a keepalive (its sent position) */
        int probe = s->o->has_stop_lsn && !x.in_txn && now - last_probe >= 0.1;
        if (now - last_status >= STATUS_EVERY_S || probe) {
            if ((rc = send_status(s, probe, err)) != FH_OK) {
                *end = RUN_LOST;
                say(s, "%s", err->msg);
                return FH_OK;
            }
            last_status = now;
            if (probe)
                last_probe = now;
        }
        double wait_s = 1.0;
        if (x.whole) {
            double left = s->o->commit_interval_ms / 1000.0 - (now - x.first_whole_at);
            wait_s = left < wait_s ? left : wait_s;
        }
        if (s->o->has_stop_lsn && wait_s > 0.1)
            wait_s = 0.1;
        struct pollfd pfd = {.fd = PQsocket(s->repl), .events = POLLIN};
        int pr = poll(&pfd, 1, wait_s > 0 ? (int)(wait_s * 1000) + 1 : 0);
        if (pr < 0 && errno != EINTR)
            return fh_error_set(err, FH_EINTERNAL, "poll failed: %s", strerror(errno));
        if (PQconsumeInput(s->repl) == 0) {
            say(s, "connection lost: %s", PQerrorMessage(s->repl));
            *end = RUN_LOST;
            return FH_OK;
        }
    }
}

/* ---- entry ------------------------------------------------------------------------------------------ */

int stream_run(const cli_options *o, const registry_table *const *sel, size_t nsel,
               stream_load_fn load, void *load_ctx, fh_error *err)
{
    duck_dest *wh = NULL;
    stream_ctx s = {.o = o};
    pg_source_redact_url(o->source, s.shown, sizeof s.shown);
    pg_source_scrub(o->source, s.shown, sizeof s.shown);
    int rc = connect_pg(&s, 0, &s.sql, err);
    if (rc == FH_OK && !o->status)
        rc = check_server(&s, err);
    if (rc == FH_OK)
        rc = duck_dest_open(o->warehouse, o->workers, o->memory_limit, o->disabled_compression, &wh,
                            err);
    if (rc == FH_OK) {
        duck_dest_set_trace(wh, o->trace_sql);
        s.wh = wh;
        rc = cdc_dest_open(wh, o->slot, &s.dest, err);
    }
    if (rc == FH_OK && o->status) {
        rc = print_status(&s, err);
        goto done;
    }
    slot_info si;
    if (rc == FH_OK)
        rc = read_slot(&s, &si, err);
    /* A predecessor just killed keeps the slot active until its walsender notices: wait a little
     * before calling the slot busy. */
    for (int i = 0; rc == FH_OK && si.exists && si.active && i < BUSY_WAIT_TENTHS; i++) {
        usleep(100 * 1000);
        rc = read_slot(&s, &si, err);
    }
    if (rc == FH_OK && o->drop_slot) {
        if (si.exists && si.active)
            rc = busy(&s, &si, err);
        if (rc == FH_OK && si.exists)
            rc = drop_slot(&s, err);
        if (rc == FH_OK)
            rc = cdc_dest_forget(s.dest, err);
        if (rc == FH_OK)
            say(&s, "slot %s %s; progress forgotten", o->slot,
                si.exists ? "dropped" : "did not exist");
        goto done;
    }
    if (rc == FH_OK)
        rc = check_tables(&s, sel, nsel, err);
    if (rc == FH_OK && o->setup) {
        rc = ensure_publication(&s, 1, err);
        if (rc == FH_OK)
            say(&s, "publication %s covers %zu table(s); replica identities checked",
                o->publication, s.ncaps);
        goto done;
    }
    cdc_state st = {0};
    if (rc == FH_OK)
        rc = cdc_dest_read_state(s.dest, &st, err);
    if (rc == FH_OK && si.exists && si.active)
        rc = busy(&s, &si, err);
    if (rc == FH_OK && !si.exists && st.found && !o->resync)
        rc = fh_error_set(err, FH_ESLOT,
                          "replication slot %s does not exist on source %s, but the warehouse "
                          "holds progress for it: changes since then are lost to the slot — run "
                          "fhload stream --resync (recreates it and reconciles every table)",
                          o->slot, s.shown);
    if (rc == FH_OK && si.exists && strcmp(si.plugin, "pgoutput"))
        rc = fh_error_set(err, FH_EUSAGE,
                          "replication slot %s uses plugin %s, not pgoutput — choose another "
                          "--slot, or drop it (fhload stream --drop-slot --slot %s)",
                          o->slot, si.plugin, o->slot);
    /* every check passed: from here on, state changes */
    if (rc == FH_OK)
        rc = ensure_publication(&s, 0, err);
    if (rc == FH_OK)
        rc = connect_pg(&s, 1, &s.repl, err);
    if (rc == FH_OK)
        rc = pgo_parser_new(&s.parser, err);
    int need_snapshot = !si.exists || o->resync || !st.found;
    if (rc == FH_OK && need_snapshot) {
        if (si.exists) {
            say(&s,
                o->resync ? "--resync: dropping slot %s to recreate it"
                          : "slot %s exists but the warehouse has no progress for it (a stop "
                            "before the initial snapshot completed): dropping and recreating "
                            "it, then reconciling",
                o->slot);
            rc = drop_slot(&s, err);
        }
        if (rc == FH_OK && st.found)
            rc = cdc_dest_forget(s.dest, err);
        if (rc == FH_OK)
            rc = snapshot(&s, load, load_ctx, err);
    } else if (rc == FH_OK) {
        s.confirmed = s.acked = st.confirmed_lsn;
        s.confirmed_ts = st.confirmed_commit_ts;
    }
    if (rc != FH_OK)
        goto done;

    char spool_dir[4096];
    snprintf(spool_dir, sizeof spool_dir, "%s.spool/%s", o->warehouse, o->slot);
    rc = cdc_spool_open(spool_dir, &s.spool, err);
    if (rc != FH_OK)
        goto done;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    double t_start = fh_time_mono();
    s.t_report = t_start;
    int backoff = 1;
    for (;;) {
        rc = start_replication(&s, err);
        if (rc == FH_OK) {
            char lsn[32];
            pgo_lsn_format(s.confirmed, lsn, sizeof lsn);
            say(&s, "streaming slot %s from %s (publication %s)", o->slot, lsn, o->publication);
            backoff = 1;
            run_end end;
            rc = stream_loop(&s, t_start, &end, err);
            if (rc != FH_OK || end == RUN_STOP)
                break;
        } else if (rc != FH_ECONN && rc != FH_EBUSY) {
            break;
        }
        /* lost: drop what is pending, reconnect, resume from the stored LSN */
        cdc_dest_rollback_group(s.dest);
        pgo_parser_reset(s.parser);
        cdc_spool_clear(s.spool);
        PQfinish(s.repl);
        s.repl = NULL;
        for (;;) {
            if (g_stop || (o->max_seconds && fh_time_mono() - t_start >= (double)o->max_seconds)) {
                rc = FH_OK;
                goto done;
            }
            say(&s, "reconnecting in %d s", backoff);
            sleep((unsigned)backoff);
            backoff = backoff < 30 ? backoff * 2 : 30;
            fh_error e2;
            fh_error_clear(&e2);
            if (connect_pg(&s, 1, &s.repl, &e2) == FH_OK)
                break;
            say(&s, "%s", e2.msg);
        }
    }
    report(&s, 1);
done:
    if (s.repl)
        PQfinish(s.repl);
    if (s.sql)
        PQfinish(s.sql);
    cdc_spool_close(s.spool);
    pgo_parser_free(s.parser);
    cdc_dest_close(s.dest);
    duck_dest_close(wh);
    free(s.caps);
    return rc;
}
