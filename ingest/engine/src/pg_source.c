/*
 * pg_source — PostgreSQL connections, the run's snapshot, catalog discovery and COPY streams
 * (interface in pg_source.h).
 *
 * How it works:
 *   open      main connection → BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY → (workers > 1)
 *             SELECT pg_export_snapshot(); if exporting fails (e.g. on a standby) the run falls
 *             back to one worker, still inside one snapshot.
 *   describe  one catalog query: the columns of to_regclass(table) in attnum order, with domain
 *             types resolved to their base type, format_type() for messages, and the relation's
 *             size in blocks.
 *   scan      one COPY (SELECT cols FROM t [WHERE cursor > since - lookback]) TO STDOUT (FORMAT
 *             binary) — or, for a big table read in full with several workers, one such COPY per
 *             ctid range ((lo,0) <= ctid < (hi,0), a TID range scan since PostgreSQL 14).
 *   fill      runs on DuckDB's threads: a thread claims a connection slot (opening a worker that
 *             joins the exported snapshot if needed), then claims ranges one after the other;
 *             CopyData messages from PQgetCopyData go to that thread's decoder, which writes into
 *             DuckDB's output chunk. A message that straddles two chunks is kept for the next call.
 * libpq allocates each CopyData message (one row); it is freed as soon as it is decoded, so memory
 * does not grow with the table.
 */
#include "pg_source.h"

#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_time.h"

#define SPLIT_MIN_PAGES 1024 /* 8 MiB: smaller tables are read by one COPY */

typedef struct {
    PGconn *conn;
    int busy;  /* claimed by a scan thread */
    int dirty; /* left in the middle of a COPY: unusable */
} conn_slot;

struct pg_source {
    char *url;
    char shown[512]; /* url without password, for messages */
    int workers;
    char snapshot[64];
    pthread_mutex_t mu;
    conn_slot slot[PG_SOURCE_MAX_WORKERS];
};

struct pg_source_scan {
    pg_source *src;
    int row_hash;
    char table[2 * CD_NAME_MAX + 2];
    cd_column *cols;
    size_t ncols;
    int cursor_col;
    char **sql;
    size_t nparts;
    atomic_size_t next_part, done_parts;
    atomic_uint_fast64_t rows, bytes;
    pthread_mutex_t mu;
    int has_cursor;
    int64_t cursor_max;
};

typedef struct {
    int slot; /* -1: none (nothing to do) */
    copy_decoder *dec;
    int in_copy;
    char *msg;
    int msglen, msgoff;
} scan_local;

/* ---- URLs and connection errors ------------------------------------------------------------- */

void pg_source_redact_url(const char *url, char *out, size_t outsz)
{
    size_t o = 0, n = strlen(url);
    const char *scheme_end = strstr(url, "://");
    size_t i = 0;
    if (scheme_end) {
        size_t s = (size_t)(scheme_end - url) + 3;
        size_t hostpart_end = s;
        while (hostpart_end < n && url[hostpart_end] != '/' && url[hostpart_end] != '?')
            hostpart_end++;
        const char *at = NULL;
        for (size_t k = s; k < hostpart_end; k++)
            if (url[k] == '@')
                at = url + k;
        for (; i < s && o + 1 < outsz; i++)
            out[o++] = url[i];
        if (at) {
            for (; url + i < at && url[i] != ':' && o + 1 < outsz; i++)
                out[o++] = url[i];
            i = (size_t)(at - url);
        }
    }
    while (i < n && o + 1 < outsz) {
        /* password=... in a query string or a keyword/value string */
        if ((i == 0 || url[i - 1] == '?' || url[i - 1] == '&' || url[i - 1] == ' ') &&
            strncmp(url + i, "password=", 9) == 0) {
            const char *rep = "password=***";
            for (const char *r = rep; *r && o + 1 < outsz; r++)
                out[o++] = *r;
            i += 9;
            if (url[i] == '\'') {
                i++;
                while (i < n && url[i] != '\'')
                    i += url[i] == '\\' ? 2 : 1;
                i++;
            } else {
                while (i < n && url[i] != '&' && url[i] != ' ')
                    i++;
            }
            continue;
        }
        out[o++] = url[i++];
    }
    out[o < outsz ? o : outsz - 1] = '\0';
}

/* The password in url, if it holds one: the userinfo's after "user:" in a URI, the value of
 * password= in a query string or keyword/value string, or, in a string libpq will not read as a
 * URI ("postgres:/u:pw@host", which it takes for a database name and echoes), the text between
 * the last ':' and an '@'. Copied into out ("" when none). */
static void password_of(const char *url, int userinfo, char *out, size_t outsz)
{
    out[0] = '\0';
    const char *kv = strstr(url, "password=");
    if (kv && !userinfo) {
        const char *v = kv + 9, *e = v;
        if (*v == '\'')
            for (e = ++v; *e && *e != '\''; e++)
                ;
        else
            while (*e && *e != '&' && *e != ' ')
                e++;
        snprintf(out, outsz, "%.*s", (int)(e - v), v);
        return;
    }
    const char *at = strchr(url, '@');
    if (!at || !userinfo)
        return;
    const char *start = strstr(url, "://");
    start = start && start < at ? start + 3 : url;
    const char *colon = NULL;
    for (const char *p = start; p < at; p++)
        if (*p == ':')
            colon = p;
        else if (*p == '/' || *p == ' ')
            colon = NULL, start = p + 1;
    if (colon && at > colon + 1)
        snprintf(out, outsz, "%.*s", (int)(at - colon - 1), colon + 1);
}

void pg_source_scrub(const char *url, char *text, size_t textsz)
{
    for (int userinfo = 0; userinfo <= 1; userinfo++) {
        char pw[256];
        password_of(url, userinfo, pw, sizeof pw);
        size_t n = strlen(pw);
        if (n == 0)
            continue;
        /* Scanning on after each replacement: a password that "***" contains ends too. */
        for (char *hit = strstr(text, pw); hit; hit = strstr(hit + 3, pw)) {
            if ((size_t)(hit - text) + 4 > textsz) { /* no room for "***": cut the text there */
                *hit = '\0';
                break;
            }
            size_t tail = strlen(hit + n);
            if ((size_t)(hit - text) + 3 + tail + 1 > textsz)
                tail = textsz - (size_t)(hit - text) - 4;
            memmove(hit + 3, hit + n, tail);
            memcpy(hit, "***", 3);
            hit[3 + tail] = '\0';
        }
    }
}

/* An error whose message holds libpq's text, which can echo the connection string: scrubbed. */
static int scrubbed(const pg_source *src, fh_error *err)
{
    pg_source_scrub(src->url, err->msg, sizeof err->msg);
    return err->code;
}

static int connect_error(pg_source *src, PGconn *conn, fh_error *err)
{
    const char *m = conn ? PQerrorMessage(conn) : "out of memory";
    char detail[512];
    const char *f = strstr(m, "failed: ");
    const char *d = f ? f + 8 : m;
    if (strncmp(d, "FATAL:", 6) == 0)
        d += 6;
    while (*d == ' ')
        d++;
    size_t k = 0;
    for (; d[k] && d[k] != '\n' && k + 1 < sizeof detail; k++)
        detail[k] = d[k];
    detail[k] = '\0';
    if (k > 0 && isupper((unsigned char)detail[0]) && islower((unsigned char)detail[1]))
        detail[0] = (char)tolower((unsigned char)detail[0]);
    const char *hint = "check --source or FINHOUSE_OLTP_URL";
    int code = FH_ECONN;
    if (strstr(m, "refused") || strstr(m, "timeout") || strstr(m, "timed out") ||
        strstr(m, "translate host") || strstr(m, "route") || strstr(m, "No such file"))
        hint = "is PostgreSQL running and reachable? set --source or FINHOUSE_OLTP_URL";
    else if ((strstr(m, "role") && strstr(m, "does not exist")) || strstr(m, "password") ||
             strstr(m, "pg_hba.conf") || strstr(m, "authentication"))
        hint = "check the user and password in --source or FINHOUSE_OLTP_URL";
    else if (strstr(m, "database") && strstr(m, "does not exist"))
        hint = "check the database name in --source or FINHOUSE_OLTP_URL";
    else if (!strstr(m, "connection to server")) {
        hint = "fix the URL in --source or FINHOUSE_OLTP_URL "
               "(postgresql://user@host:port/database)";
        code = FH_EUSAGE;
    }
    fh_error_set(err, code, "cannot connect to source %s: %s — %s", src->shown, detail, hint);
    return scrubbed(src, err);
}

static int connect_one(pg_source *src, PGconn **out, fh_error *err)
{
    const char *kw[] = {"connect_timeout", "fallback_application_name", "dbname", "client_encoding",
                        NULL};
    const char *val[] = {"10", "fhload", src->url, "UTF8", NULL};
    PGconn *conn = PQconnectdbParams(kw, val, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        int rc = connect_error(src, conn, err);
        PQfinish(conn);
        return rc;
    }
    *out = conn;
    return FH_OK;
}

/* Run a command that returns no rows. */
static int exec_cmd(pg_source *src, PGconn *conn, const char *sql, fh_error *err)
{
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fh_error_set(err, PQstatus(conn) == CONNECTION_OK ? FH_EINTERNAL : FH_ECONN,
                     "source %s: %s failed: %s", src->shown, sql, PQerrorMessage(conn));
    PQclear(r);
    if (!ok)
        scrubbed(src, err);
    return ok ? FH_OK : err->code;
}

/* ---- source ------------------------------------------------------------------------------- */

int pg_source_open(const char *url, int workers, pg_source **out, fh_error *err)
{
    return pg_source_open_snapshot(url, workers, NULL, out, err);
}

int pg_source_open_snapshot(const char *url, int workers, const char *snapshot, pg_source **out,
                            fh_error *err)
{
    *out = NULL;
    pg_source *src = calloc(1, sizeof *src);
    if (!src || !(src->url = strdup(url))) {
        free(src);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    pthread_mutex_init(&src->mu, NULL);
    pg_source_redact_url(url, src->shown, sizeof src->shown);
    pg_source_scrub(url, src->shown, sizeof src->shown);
    src->workers = workers < 1                       ? 1
                   : workers > PG_SOURCE_MAX_WORKERS ? PG_SOURCE_MAX_WORKERS
                                                     : workers;
    int rc = connect_one(src, &src->slot[0].conn, err);
    if (rc == FH_OK)
        rc = exec_cmd(src, src->slot[0].conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                      err);
    if (rc == FH_OK && snapshot) {
        /* A snapshot exported elsewhere (a replication slot's consistent point): the main connection
         * and every worker read it; nothing to export. */
        if (strlen(snapshot) >= sizeof src->snapshot || strchr(snapshot, '\''))
            rc = fh_error_set(err, FH_EINTERNAL, "source %s: bad snapshot name '%s'", src->shown,
                              snapshot);
        char sql[128];
        if (rc == FH_OK) {
            snprintf(src->snapshot, sizeof src->snapshot, "%s", snapshot);
            snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'", src->snapshot);
            rc = exec_cmd(src, src->slot[0].conn, sql, err);
        }
    } else if (rc == FH_OK && src->workers > 1) {
        PGresult *r = PQexec(src->slot[0].conn, "SELECT pg_export_snapshot()");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            snprintf(src->snapshot, sizeof src->snapshot, "%s", PQgetvalue(r, 0, 0));
        } else {
            /* e.g. a hot standby: keep one snapshot, read with one connection */
            src->workers = 1;
            rc = exec_cmd(src, src->slot[0].conn, "ROLLBACK", err);
            if (rc == FH_OK)
                rc = exec_cmd(src, src->slot[0].conn,
                              "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
        }
        PQclear(r);
    }
    if (rc != FH_OK) {
        pg_source_close(src);
        return rc;
    }
    *out = src;
    return FH_OK;
}

int pg_source_workers(const pg_source *src) { return src->workers; }

void pg_source_close(pg_source *src)
{
    if (!src)
        return;
    for (int i = 0; i < PG_SOURCE_MAX_WORKERS; i++)
        if (src->slot[i].conn)
            PQfinish(src->slot[i].conn);
    pthread_mutex_destroy(&src->mu);
    free(src->url);
    free(src);
}

/* "name" → "name"; "schema.name" → "schema"."name" (identifiers are validated by the registry). */
static void quote_qualified(const char *table, char *out, size_t outsz)
{
    const char *dot = strchr(table, '.');
    if (dot)
        snprintf(out, outsz, "\"%.*s\".\"%s\"", (int)(dot - table), table, dot + 1);
    else
        snprintf(out, outsz, "\"%s\"", table);
}

int pg_source_describe(pg_source *src, const char *table, pg_source_column_override override,
                       void *override_ctx, pg_source_table_desc *out, fh_error *err)
{
    static const char *SQL =
        "SELECT a.attname, "
        "       CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, "
        "       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, "
        "       format_type(a.atttypid, a.atttypmod), n.nspname, c.relname, "
        "       (pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint, "
        "       greatest(c.reltuples, 0)::bigint "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE c.oid = to_regclass($1) ORDER BY a.attnum";
    memset(out, 0, sizeof *out);
    if (strchr(table, '"'))
        return fh_error_set(err, FH_EUSAGE, "table name %s contains a quote", table);
    char q[2 * CD_NAME_MAX + 8];
    quote_qualified(table, q, sizeof q);
    const char *params[1] = {q};
    PGconn *conn = src->slot[0].conn;
    PGresult *r = PQexecParams(conn, SQL, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fh_error_set(err, PQstatus(conn) == CONNECTION_OK ? FH_EINTERNAL : FH_ECONN,
                     "source %s: reading the columns of %s failed: %s", src->shown, table,
                     PQerrorMessage(conn));
        PQclear(r);
        return scrubbed(src, err);
    }
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return fh_error_set(err, FH_ESCHEMA,
                            "table %s does not exist in source %s (or is not visible to its user) "
                            "— "
                            "fix the registry or the source's search_path",
                            table, src->shown);
    }
    out->cols = calloc((size_t)n, sizeof *out->cols);
    if (!out->cols) {
        PQclear(r);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    out->ncols = (size_t)n;
    snprintf(out->schema, sizeof out->schema, "%s", PQgetvalue(r, 0, 4));
    snprintf(out->name, sizeof out->name, "%s", PQgetvalue(r, 0, 5));
    out->pages = strtoull(PQgetvalue(r, 0, 6), NULL, 10);
    out->rows_estimate = strtoull(PQgetvalue(r, 0, 7), NULL, 10);
    int rc = FH_OK;
    for (int i = 0; i < n && rc == FH_OK; i++) {
        cd_column *c = &out->cols[i];
        snprintf(c->name, sizeof c->name, "%s", PQgetvalue(r, i, 0));
        c->type_oid = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
        c->typmod = (int32_t)strtol(PQgetvalue(r, i, 2), NULL, 10);
        snprintf(c->pg_type, sizeof c->pg_type, "%s", PQgetvalue(r, i, 3));
        int done = 0;
        if (override)
            rc = override(override_ctx, table, c, &done, err);
        if (rc == FH_OK && !done)
            rc = copy_decode_map_type(table, c, err);
    }
    PQclear(r);
    if (rc != FH_OK)
        pg_source_desc_free(out);
    return rc;
}

void pg_source_desc_free(pg_source_table_desc *desc)
{
    if (!desc)
        return;
    free(desc->cols);
    desc->cols = NULL;
    desc->ncols = 0;
}

int pg_source_column(const pg_source_table_desc *desc, const char *name)
{
    for (size_t i = 0; i < desc->ncols; i++)
        if (strcmp(desc->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- scans ------------------------------------------------------------------------------------ */

static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < *len + n + 1)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

int pg_source_scan_new(pg_source *src, const pg_source_table_desc *desc,
                       const pg_source_scan_opts *opts, pg_source_scan **out, fh_error *err)
{
    *out = NULL;
    for (int i = 0; i < PG_SOURCE_MAX_WORKERS; i++)
        if (src->slot[i].dirty)
            return fh_error_set(err, FH_EINTERNAL,
                                "source connection left in the middle of a COPY by an earlier "
                                "failure; start a new run");
    pg_source_scan *s = calloc(1, sizeof *s);
    if (!s)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    s->src = src;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->table, sizeof s->table, "%s.%s", desc->schema, desc->name);
    s->ncols = desc->ncols;
    s->cursor_col = opts->cursor_col;
    s->row_hash = opts->row_hash;
    s->cols = malloc(desc->ncols * sizeof *s->cols);
    s->nparts = 1;
    if (opts->allow_split && !opts->incremental && !opts->where && src->workers > 1 &&
        desc->pages >= SPLIT_MIN_PAGES)
        s->nparts = (size_t)src->workers;
    s->sql = calloc(s->nparts, sizeof *s->sql);
    if (!s->cols || !s->sql) {
        pg_source_scan_free(s);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    memcpy(s->cols, desc->cols, desc->ncols * sizeof *s->cols);

    /* SELECT list and FROM, quoted by the server's rules */
    PGconn *conn = src->slot[0].conn;
    char *head = NULL, *tail = NULL;
    size_t hl = 0, hc = 0;
    int oom = append(&head, &hl, &hc, "COPY (SELECT ");
    for (size_t i = 0; i < desc->ncols && !oom; i++) {
        char *q = PQescapeIdentifier(conn, desc->cols[i].name, strlen(desc->cols[i].name));
        oom = !q || (i && append(&head, &hl, &hc, ", ")) || append(&head, &hl, &hc, q);
        PQfreemem(q);
    }
    char *qs = PQescapeIdentifier(conn, desc->schema, strlen(desc->schema));
    char *qn = PQescapeIdentifier(conn, desc->name, strlen(desc->name));
    oom = oom || !qs || !qn || append(&head, &hl, &hc, " FROM ") || append(&head, &hl, &hc, qs) ||
          append(&head, &hl, &hc, ".") || append(&head, &hl, &hc, qn);
    PQfreemem(qs);
    PQfreemem(qn);

    char cond[512] = "";
    if (!oom && opts->incremental) {
        char lit[FH_TIME_TEXT];
        fh_time_format_sql(opts->since_us, lit, sizeof lit);
        const cd_column *cc = &desc->cols[opts->cursor_col];
        char *qc = PQescapeIdentifier(conn, cc->name, strlen(cc->name));
        oom = !qc;
        if (qc) {
            char bound[200];
            snprintf(bound, sizeof bound, "(TIMESTAMPTZ '%s' - INTERVAL '%" PRId64 " seconds')",
                     lit, opts->lookback_s);
            if (cc->kind == CD_TIMESTAMPTZ)
                snprintf(cond, sizeof cond, "%s > %s", qc, bound);
            else if (cc->kind == CD_TIMESTAMP)
                snprintf(cond, sizeof cond, "%s > (%s AT TIME ZONE 'UTC')", qc, bound);
            else
                snprintf(cond, sizeof cond, "%s >= (%s AT TIME ZONE 'UTC')::date", qc, bound);
        }
        PQfreemem(qc);
    }
    for (size_t p = 0; p < s->nparts && !oom; p++) {
        size_t len = 0, cap = 0;
        char range[160] = "";
        if (s->nparts > 1) {
            uint64_t lo = desc->pages * p / s->nparts, hi = desc->pages * (p + 1) / s->nparts;
            if (p == 0)
                snprintf(range, sizeof range, "ctid < '(%" PRIu64 ",0)'::tid", hi);
            else if (p == s->nparts - 1)
                snprintf(range, sizeof range, "ctid >= '(%" PRIu64 ",0)'::tid", lo);
            else
                snprintf(range, sizeof range,
                         "ctid >= '(%" PRIu64 ",0)'::tid AND ctid < '(%" PRIu64 ",0)'::tid", lo,
                         hi);
        }
        oom = append(&tail, &len, &cap, head);
        const char *conds[3] = {cond, range, opts->where ? opts->where : ""};
        int first = 1;
        for (int k = 0; k < 3 && !oom; k++) {
            if (!conds[k][0])
                continue;
            oom = append(&tail, &len, &cap, first ? " WHERE (" : " AND (") ||
                  append(&tail, &len, &cap, conds[k]) || append(&tail, &len, &cap, ")");
            first = 0;
        }
        oom = oom || append(&tail, &len, &cap, ") TO STDOUT (FORMAT binary)");
        s->sql[p] = tail;
        tail = NULL;
    }
    free(head);
    if (oom) {
        pg_source_scan_free(s);
        return fh_error_set(err, FH_EINTERNAL, "out of memory building the COPY of %s", desc->name);
    }
    *out = s;
    return FH_OK;
}

size_t pg_source_scan_parts(const pg_source_scan *scan) { return scan->nparts; }
const char *pg_source_scan_sql(const pg_source_scan *scan, size_t part)
{
    return part < scan->nparts ? scan->sql[part] : NULL;
}
uint64_t pg_source_scan_rows(const pg_source_scan *scan)
{
    return atomic_load(&((pg_source_scan *)scan)->rows);
}
uint64_t pg_source_scan_bytes(const pg_source_scan *scan)
{
    return atomic_load(&((pg_source_scan *)scan)->bytes);
}

int pg_source_scan_cursor_max(const pg_source_scan *scan, int64_t *out)
{
    if (!scan->has_cursor)
        return 0;
    *out = scan->cursor_max;
    return 1;
}

int pg_source_scan_check_complete(const pg_source_scan *scan, fh_error *err)
{
    size_t done = atomic_load(&((pg_source_scan *)scan)->done_parts);
    if (done == scan->nparts)
        return FH_OK;
    return fh_error_set(err, FH_EINTERNAL, "table %s: %zu of %zu COPY ranges were read",
                        scan->table, done, scan->nparts);
}

void pg_source_scan_free(pg_source_scan *scan)
{
    if (!scan)
        return;
    if (scan->sql)
        for (size_t p = 0; p < scan->nparts; p++)
            free(scan->sql[p]);
    free(scan->sql);
    free(scan->cols);
    pthread_mutex_destroy(&scan->mu);
    free(scan);
}

/* Claim a connection for a scan thread; open a worker joining the snapshot if needed. */
static int claim_slot(pg_source *src, int *slot, fh_error *err)
{
    *slot = -1;
    int rc = FH_OK, open_i = -1;
    pthread_mutex_lock(&src->mu);
    for (int i = 0; i < src->workers; i++) {
        if (src->slot[i].conn && !src->slot[i].busy && !src->slot[i].dirty) {
            src->slot[i].busy = 1;
            *slot = i;
            break;
        }
        if (!src->slot[i].conn && !src->slot[i].busy && open_i < 0)
            open_i = i;
    }
    if (*slot < 0 && open_i >= 0)
        src->slot[open_i].busy = 1; /* reserve while connecting, outside the lock */
    pthread_mutex_unlock(&src->mu);
    if (*slot >= 0 || open_i < 0)
        return FH_OK;

    PGconn *conn = NULL;
    rc = connect_one(src, &conn, err);
    if (rc == FH_OK)
        rc = exec_cmd(src, conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
    if (rc == FH_OK) {
        char sql[128];
        snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'", src->snapshot);
        rc = exec_cmd(src, conn, sql, err);
    }
    pthread_mutex_lock(&src->mu);
    if (rc == FH_OK) {
        src->slot[open_i].conn = conn;
        *slot = open_i;
    } else {
        src->slot[open_i].busy = 0;
        PQfinish(conn);
    }
    pthread_mutex_unlock(&src->mu);
    return rc;
}

static int copy_failed(pg_source_scan *s, PGconn *conn, const char *what, PGresult *r,
                       fh_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int code = PQstatus(conn) != CONNECTION_OK           ? FH_ECONN
               : (state && strncmp(state, "42", 2) == 0) ? FH_ESCHEMA
               : (state && strncmp(state, "22", 2) == 0) ? FH_EDATA
                                                         : FH_EINTERNAL;
    fh_error_set(err, code, "table %s: %s: %s", s->table, what,
                 r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    return scrubbed(s->src, err);
}

int pg_source_scan_fill(void *vscan, void **vlocal, duckdb_data_chunk chunk, size_t capacity,
                        size_t *rows, fh_error *err)
{
    pg_source_scan *s = vscan;
    scan_local *L = *vlocal;
    *rows = 0;
    int rc;
    if (!L) {
        L = calloc(1, sizeof *L);
        if (!L)
            return fh_error_set(err, FH_EINTERNAL, "out of memory");
        L->slot = -1;
        *vlocal = L;
        rc = copy_decode_new(s->table, s->cols, s->ncols, s->cursor_col, &L->dec, err);
        if (rc == FH_OK && s->row_hash)
            rc = copy_decode_enable_row_hash(L->dec, err);
        if (rc == FH_OK)
            rc = claim_slot(s->src, &L->slot, err);
        if (rc != FH_OK)
            return rc;
    }
    if (L->slot < 0)
        return FH_OK;
    PGconn *conn = s->src->slot[L->slot].conn;
    copy_decode_bind_chunk(L->dec, chunk, capacity);
    for (;;) {
        if (!L->in_copy) {
            size_t part = atomic_fetch_add(&s->next_part, 1);
            if (part >= s->nparts)
                break;
            PGresult *r = PQexec(conn, s->sql[part]);
            if (PQresultStatus(r) != PGRES_COPY_OUT) {
                rc = copy_failed(s, conn, "starting the COPY failed", r, err);
                PQclear(r);
                return rc;
            }
            PQclear(r);
            copy_decode_reset(L->dec);
            L->in_copy = 1;
        }
        if (!L->msg) {
            int n = PQgetCopyData(conn, &L->msg, 0);
            if (n == -1) { /* end of this COPY */
                L->msg = NULL;
                PGresult *r = PQgetResult(conn);
                int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
                if (!ok)
                    rc = copy_failed(s, conn, "the COPY failed", r, err);
                PQclear(r);
                while ((r = PQgetResult(conn)) != NULL)
                    PQclear(r);
                L->in_copy = 0;
                if (!ok)
                    return rc;
                if ((rc = copy_decode_finish(L->dec, err)) != FH_OK)
                    return rc;
                int64_t mx;
                if (copy_decode_cursor_max(L->dec, &mx)) {
                    pthread_mutex_lock(&s->mu);
                    if (!s->has_cursor || mx > s->cursor_max)
                        s->cursor_max = mx;
                    s->has_cursor = 1;
                    pthread_mutex_unlock(&s->mu);
                }
                atomic_fetch_add(&s->done_parts, 1);
                continue;
            }
            if (n < 0) {
                L->msg = NULL;
                fh_error_set(err, FH_ECONN,
                             "table %s: reading the COPY stream from source %s failed: %s",
                             s->table, s->src->shown, PQerrorMessage(conn));
                return scrubbed(s->src, err);
            }
            L->msglen = n;
            L->msgoff = 0;
            atomic_fetch_add(&s->bytes, (uint64_t)n);
        }
        size_t used;
        cd_status st;
        rc = copy_decode_feed(L->dec, L->msg + L->msgoff, (size_t)(L->msglen - L->msgoff), &used,
                              &st, err);
        if (rc != FH_OK)
            return rc;
        L->msgoff += (int)used;
        if (L->msgoff >= L->msglen) {
            PQfreemem(L->msg);
            L->msg = NULL;
        }
        if (st == CD_CHUNK_FULL)
            break;
    }
    *rows = copy_decode_finish_chunk(L->dec);
    atomic_fetch_add(&s->rows, *rows);
    return FH_OK;
}

void pg_source_scan_local_free(void *vscan, void *vlocal)
{
    pg_source_scan *s = vscan;
    scan_local *L = vlocal;
    if (!L)
        return;
    if (L->msg)
        PQfreemem(L->msg);
    if (L->slot >= 0) {
        pthread_mutex_lock(&s->src->mu);
        if (L->in_copy)
            s->src->slot[L->slot].dirty = 1;
        s->src->slot[L->slot].busy = 0;
        pthread_mutex_unlock(&s->src->mu);
    }
    copy_decode_free(L->dec);
    free(L);
}
