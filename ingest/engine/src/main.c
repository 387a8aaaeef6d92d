/*
 * main — fhload's orchestration: options → registry → table selection → one PostgreSQL snapshot
 * → per table: describe, read state, extract and load in one warehouse transaction → report.
 *
 * This is the only file that prints or exits. Library modules return fh_error values; main turns
 * the first error into one line on stderr (and a JSON error object with --json) and into the exit
 * status, which is the error's code (see cli_help for the table). A progress thread, started per
 * table when stderr is a terminal, redraws one line from the scan's atomic row counter.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "duck_dest.h"
#include "fh_time.h"
#include "load_log.h"
#include "pg_source.h"
#include "registry.h"
#include "stage_parquet.h"
#include "stream.h"

/* ---- progress ---------------------------------------------------------------------------------- */

typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, running;
    const char *table;
    uint64_t (*rows)(const void *ctx); /* rows read so far (safe from another thread) */
    const void *ctx;
    double t0;
} progress;

static void *progress_main(void *arg)
{
    progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (!p->stop)
            cli_print_progress(stderr, p->table, p->rows(p->ctx), fh_time_mono() - p->t0, 0);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void progress_start(progress *p, int enabled, const char *table,
                           uint64_t (*rows)(const void *), const void *ctx)
{
    memset(p, 0, sizeof *p);
    if (!enabled)
        return;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->table = table;
    p->rows = rows;
    p->ctx = ctx;
    p->t0 = fh_time_mono();
    p->running = pthread_create(&p->thread, NULL, progress_main, p) == 0;
}

static void progress_stop(progress *p, uint64_t rows, int ok)
{
    if (!p->running)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    if (ok)
        cli_print_progress(stderr, p->table, rows, fh_time_mono() - p->t0, 1);
    else
        fputs("\r\033[K", stderr);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* ---- glue between pg_source_scan and the destinations ------------------------------------------------ */

static int scan_done(void *ctx, int *has, int64_t *max, fh_error *err)
{
    pg_source_scan *scan = ctx;
    int rc = pg_source_scan_check_complete(scan, err);
    if (rc != FH_OK)
        return rc;
    *has = pg_source_scan_cursor_max(scan, max);
    return FH_OK;
}

static uint64_t scan_rows(const void *scan) { return pg_source_scan_rows(scan); }

/* ---- reconciliation: one scan per key range ---------------------------------------------------- */

typedef struct {
    pg_source *src;
    const pg_source_table_desc *desc;
    duck_scan_source dss;
    pthread_mutex_t mu;   /* guards scan and done_rows against the progress thread */
    pg_source_scan *scan; /* the open range's, or NULL */
    uint64_t done_rows;   /* rows of the ranges already closed */
    uint64_t bytes;
} range_ctx;

static uint64_t range_rows(const void *vctx)
{
    range_ctx *rc = (range_ctx *)vctx;
    pthread_mutex_lock(&rc->mu);
    uint64_t n = rc->done_rows + (rc->scan ? pg_source_scan_rows(rc->scan) : 0);
    pthread_mutex_unlock(&rc->mu);
    return n;
}

static int open_range(void *vctx, const char *where, duck_scan_source **out, fh_error *err)
{
    range_ctx *rc = vctx;
    pg_source_scan_opts so = {.cursor_col = -1, .row_hash = 1, .where = where};
    pg_source_scan *scan;
    int r = pg_source_scan_new(rc->src, rc->desc, &so, &scan, err);
    if (r != FH_OK)
        return r;
    /* The whole table's estimate, not the range's: the join must hash raw's side, never the
     * source's (see duck_scan.c). */
    uint64_t card = rc->desc->rows_estimate > 1000000 ? rc->desc->rows_estimate : 1000000;
    rc->dss = (duck_scan_source){.ctx = scan,
                                 .cols = rc->desc->cols,
                                 .ncols = rc->desc->ncols,
                                 .row_hash = 1,
                                 .cardinality = card,
                                 .max_threads = pg_source_scan_parts(scan),
                                 .fill = pg_source_scan_fill,
                                 .local_free = pg_source_scan_local_free};
    pthread_mutex_lock(&rc->mu);
    rc->scan = scan;
    pthread_mutex_unlock(&rc->mu);
    *out = &rc->dss;
    return FH_OK;
}

static int close_range(void *vctx, int ok, fh_error *err)
{
    range_ctx *rc = vctx;
    pthread_mutex_lock(&rc->mu);
    pg_source_scan *scan = rc->scan;
    rc->scan = NULL;
    rc->done_rows += pg_source_scan_rows(scan);
    pthread_mutex_unlock(&rc->mu);
    int r = ok ? pg_source_scan_check_complete(scan, err) : FH_OK;
    rc->bytes += pg_source_scan_bytes(scan);
    pg_source_scan_free(scan);
    return r;
}

/* The registry's column types (the sixth field) take the place of the default mapping. */
static int registry_override(void *ctx, const char *table, cd_column *col, int *done, fh_error *err)
{
    const registry_column_type *ct = registry_column(ctx, col->name);
    *done = ct != NULL;
    return ct ? copy_decode_override(table, col, ct->as_text, ct->width, ct->scale, err) : FH_OK;
}

/* ---- one table ----------------------------------------------------------------------------------- */

typedef struct {
    const cli_options *o;
    pg_source *src;
    duck_dest *dest;
    stage_parquet *stage;
    int show_progress;
} run_ctx;

/* Reconcile one table that was loaded before: its source in key ranges against raw's current keys. */
static int reconcile_table(run_ctx *ctx, const registry_table *t, const pg_source_table_desc *desc,
                           const char *const *keys, int has_wm, int64_t wm, cli_result *res,
                           fh_error *err)
{
    range_ctx rc = {.src = ctx->src, .desc = desc};
    pthread_mutex_init(&rc.mu, NULL);
    duck_dest_spec ls = {.table = desc->name,
                         .cols = desc->cols,
                         .ncols = desc->ncols,
                         .key = keys,
                         .nkey = t->nkey,
                         .max_delete_pct = ctx->o->max_delete_pct,
                         .has_wm_from = has_wm,
                         .wm_from = wm,
                         .open_range = open_range,
                         .close_range = close_range,
                         .range_ctx = &rc,
                         .compared = &rc.done_rows};
    progress prog;
    progress_start(&prog, ctx->show_progress, t->name, range_rows, &rc);
    duck_dest_result lr;
    int r = duck_dest_reconcile(ctx->dest, &ls, &lr, err);
    progress_stop(&prog, rc.done_rows, r == FH_OK);
    res->mode = "reconcile";
    res->load_id = lr.load_id;
    res->rows = lr.rows;
    res->deleted = lr.deleted;
    res->compared = rc.done_rows;
    res->has_reconciled = 1;
    res->bytes = rc.bytes;
    res->has_wm_from = has_wm;
    res->wm_from = wm;
    res->has_wm_to = lr.has_wm_to;
    res->wm_to = lr.wm_to;
    pthread_mutex_destroy(&rc.mu);
    return r;
}

static int load_table(run_ctx *ctx, const registry_table *t, cli_result *res, fh_error *err)
{
    const cli_options *o = ctx->o;
    double t0 = fh_time_mono();
    pg_source_table_desc desc;
    int rc = pg_source_describe(ctx->src, t->name, registry_override, (void *)t, &desc, err);
    if (rc != FH_OK)
        return rc;
    for (int k = 0; k < t->ntypes && rc == FH_OK; k++)
        if (pg_source_column(&desc, t->types[k].column) < 0)
            rc =
                fh_error_set(err, FH_ESCHEMA,
                             "table %s: column %s, given a type on registry line %d, is not in the "
                             "source table — fix the registry",
                             t->name, t->types[k].column, t->line);

    const char *keys[REGISTRY_KEY_MAX];
    for (int k = 0; k < t->nkey && rc == FH_OK; k++) {
        keys[k] = t->key[k];
        if (pg_source_column(&desc, t->key[k]) < 0)
            rc = fh_error_set(err, FH_ESCHEMA,
                              "table %s: primary key column %s (registry line %d) is not in the "
                              "source table — fix the registry",
                              t->name, t->key[k], t->line);
    }
    int cursor_col = -1;
    if (rc == FH_OK && t->cursor[0]) {
        cursor_col = pg_source_column(&desc, t->cursor);
        if (cursor_col < 0)
            rc = fh_error_set(err, FH_ESCHEMA,
                              "table %s: cursor column %s (registry line %d) is not in the source "
                              "table — fix the registry",
                              t->name, t->cursor, t->line);
        else if (desc.cols[cursor_col].kind != CD_TIMESTAMPTZ &&
                 desc.cols[cursor_col].kind != CD_TIMESTAMP &&
                 desc.cols[cursor_col].kind != CD_DATE)
            rc = fh_error_set(err, FH_ESCHEMA,
                              "table %s: cursor column %s is %s; a cursor must be timestamptz, "
                              "timestamp or date — fix the registry",
                              t->name, t->cursor, desc.cols[cursor_col].pg_type);
    }
    if (rc != FH_OK) {
        pg_source_desc_free(&desc);
        return rc;
    }

    /* where the watermark comes from, and so the mode */
    int has_wm = 0, loaded_before = 0;
    int64_t wm = 0;
    if (ctx->dest) {
        duck_dest_state st;
        rc = duck_dest_read_state(ctx->dest, desc.name, &st, err);
        has_wm = rc == FH_OK && st.found && st.has_watermark;
        loaded_before = rc == FH_OK && st.found;
        wm = st.watermark_us;
    } else {
        has_wm = o->has_since;
        wm = o->since_us;
    }
    if (rc != FH_OK) {
        pg_source_desc_free(&desc);
        return rc;
    }
    /* A table never loaded has nothing to reconcile against: it is loaded in full. */
    if (o->reconcile && loaded_before && t->nkey > 0) {
        rc = reconcile_table(ctx, t, &desc, keys, has_wm, wm, res, err);
        pg_source_desc_free(&desc);
        res->seconds = fh_time_mono() - t0;
        return rc;
    }
    int full = t->mode == REGISTRY_FULL || o->full || o->reconcile || cursor_col < 0 || !has_wm;
    res->mode = full ? "full" : "incremental";
    res->has_wm_from = has_wm;
    res->wm_from = wm;

    pg_source_scan_opts so = {.cursor_col = cursor_col,
                              .incremental = !full,
                              .since_us = wm,
                              .lookback_s = o->lookback_s,
                              .allow_split = 1,
                              .row_hash = 1};
    pg_source_scan *scan = NULL;
    rc = pg_source_scan_new(ctx->src, &desc, &so, &scan, err);
    if (rc != FH_OK) {
        pg_source_desc_free(&desc);
        return rc;
    }
    duck_scan_source dss = {.ctx = scan,
                            .cols = desc.cols,
                            .ncols = desc.ncols,
                            .row_hash = 1,
                            .max_threads = pg_source_scan_parts(scan),
                            .fill = pg_source_scan_fill,
                            .local_free = pg_source_scan_local_free};
    progress prog;
    progress_start(&prog, ctx->show_progress, t->name, scan_rows, scan);
    if (ctx->dest) {
        duck_dest_spec ls = {.table = desc.name,
                             .cols = desc.cols,
                             .ncols = desc.ncols,
                             .key = keys,
                             .nkey = t->nkey,
                             .full = full,
                             .max_delete_pct = o->max_delete_pct,
                             .has_wm_from = has_wm,
                             .wm_from = wm,
                             .src = &dss,
                             .scan_done = scan_done,
                             .scan_ctx = scan};
        duck_dest_result lr;
        rc = duck_dest_load(ctx->dest, &ls, &lr, err);
        res->load_id = lr.load_id;
        res->rows = lr.rows;
        res->deleted = lr.deleted;
        res->has_wm_to = lr.has_wm_to;
        res->wm_to = lr.wm_to;
    } else {
        stage_parquet_spec ss = {.table = desc.name,
                                 .group = t->group,
                                 .cursor = t->cursor,
                                 .cols = desc.cols,
                                 .ncols = desc.ncols,
                                 .key = keys,
                                 .nkey = t->nkey,
                                 .full = full,
                                 .load_id = o->load_id,
                                 .lookback_s = o->lookback_s,
                                 .has_wm_from = has_wm,
                                 .wm_from = wm,
                                 .file_size = o->parquet_file_size,
                                 .raw_columns = o->raw_columns,
                                 .src = &dss,
                                 .scan_done = scan_done,
                                 .scan_ctx = scan};
        stage_parquet_result sr;
        rc = stage_parquet_write(ctx->stage, &ss, &sr, err);
        res->load_id = o->load_id;
        res->rows = sr.rows;
        res->files = sr.nfiles;
        res->has_wm_to = sr.has_wm_to;
        res->wm_to = sr.wm_to;
    }
    res->bytes = pg_source_scan_bytes(scan);
    progress_stop(&prog, res->rows, rc == FH_OK);
    res->seconds = fh_time_mono() - t0;
    pg_source_scan_free(scan);
    pg_source_desc_free(&desc);
    return rc;
}

/* fhload stream's initial snapshot: the same per-table load, inside the slot's snapshot; a table
 * loaded before (in batch mode) is reconciled, one never loaded is loaded in full. */
static int stream_load(void *vctx, pg_source *src, duck_dest *wh, const registry_table *t,
                       cli_result *res, fh_error *err)
{
    run_ctx *ctx = vctx;
    cli_options o = *ctx->o;
    o.reconcile = 1;
    run_ctx one = *ctx;
    one.o = &o;
    one.src = src;
    one.dest = wh;
    return load_table(&one, t, res, err);
}

/* ---- selection ------------------------------------------------------------------------------------ */

static int select_tables(const cli_options *o, const registry *reg, const registry_table **sel,
                         size_t *nsel, fh_error *err)
{
    *nsel = 0;
    for (int i = 0; i < o->ntables; i++)
        if (!registry_find(reg, o->tables[i]))
            return fh_error_set(err, FH_EUSAGE,
                                "unknown table '%s' — it is not in registry %s; add it there or "
                                "check the spelling",
                                o->tables[i], o->registry);
    for (int g = 0; g < o->ngroups; g++) {
        int any = 0;
        for (size_t i = 0; i < reg->ntables; i++)
            any |= !strcmp(reg->tables[i].group, o->groups[g]);
        if (!any)
            return fh_error_set(err, FH_EUSAGE, "group %s has no tables in registry %s",
                                o->groups[g], o->registry);
    }
    for (size_t i = 0; i < reg->ntables; i++) {
        const registry_table *t = &reg->tables[i];
        int take = o->ntables == 0 && o->ngroups == 0;
        for (int k = 0; k < o->ntables && !take; k++)
            take = registry_find(reg, o->tables[k]) == t;
        for (int g = 0; g < o->ngroups && !take; g++)
            take = !strcmp(t->group, o->groups[g]);
        if (take)
            sel[(*nsel)++] = t;
    }
    if (*nsel == 0)
        return fh_error_set(err, FH_EUSAGE, "registry %s lists no tables", o->registry);
    return FH_OK;
}

static void report_error(const cli_options *o, const registry_table *t, const fh_error *err)
{
    fprintf(stderr, "fhload: %s\n", err->msg);
    if (o && o->json) {
        cli_result r = {.table = t ? t->name : NULL,
                        .group = t ? t->group : NULL,
                        .code = err->code,
                        .message = err->msg};
        cli_print_json(stdout, &r);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    /* Everything fhload creates holds customers' data (the warehouse, its WAL and spill files,
     * Parquet files, manifests): private to the user that runs it. */
    umask(077);
    cli_options o;
    fh_error err;
    fh_error_clear(&err);
    int rc = cli_parse(argc, argv, &o, &err);
    if (rc != FH_OK) {
        fprintf(stderr, "fhload: %s\n", err.msg);
        cli_free(&o);
        return rc;
    }
    if (o.help) {
        cli_help(stdout);
        cli_free(&o);
        return 0;
    }
    if (o.version) {
        printf("fhload %s (DuckDB %s)\n", CLI_VERSION, duckdb_library_version());
        cli_free(&o);
        return 0;
    }
    if (o.print_sf_setup) {
        rc = load_log_print_sf_setup(stdout);
        if (rc != FH_OK)
            fprintf(stderr, "fhload: out of memory\n");
        cli_free(&o);
        return rc;
    }

    registry reg = {0};
    const registry_table **sel = NULL;
    size_t nsel = 0;
    cli_result *results = NULL;
    size_t nres = 0;
    run_ctx ctx = {.o = &o};
    ctx.show_progress = !o.quiet && !o.json && isatty(STDERR_FILENO);

    rc = registry_load(o.registry, &reg, &err);
    if (o.print_registry) {
        /* Nothing else: no source, no warehouse. The registry's error is fhload's usual one line. */
        if (rc == FH_OK) {
            cli_print_registry(stdout, o.registry, &reg);
            if (fflush(stdout) != 0 || ferror(stdout)) /* a reader must never get half a document */
                rc = fh_error_set(&err, FH_EINTERNAL, "cannot write the registry to stdout");
        }
        if (rc != FH_OK)
            fprintf(stderr, "fhload: %s\n", err.msg);
        registry_free(&reg);
        cli_free(&o);
        return rc;
    }
    if (rc == FH_OK) {
        sel = calloc(reg.ntables ? reg.ntables : 1, sizeof *sel);
        results = calloc(reg.ntables ? reg.ntables : 1, sizeof *results);
        if (!sel || !results)
            rc = fh_error_set(&err, FH_EINTERNAL, "out of memory");
    }
    if (rc == FH_OK)
        rc = select_tables(&o, &reg, sel, &nsel, &err);
    if (rc == FH_OK && o.stream) {
        /* fhload stream: its connections and the warehouse are opened in stream_run */
        rc = stream_run(&o, sel, nsel, stream_load, &ctx, &err);
        if (rc != FH_OK)
            report_error(&o, NULL, &err);
        free(results);
        free(sel);
        registry_free(&reg);
        cli_free(&o);
        return rc;
    }
    if (rc == FH_OK)
        rc = pg_source_open(o.source, o.workers, &ctx.src, &err);
    if (rc == FH_OK) {
        if (o.parquet)
            rc = stage_parquet_open(o.parquet, o.workers, o.memory_limit, &ctx.stage, &err);
        else
            rc = duck_dest_open(o.warehouse, o.workers, o.memory_limit, o.disabled_compression,
                                &ctx.dest, &err);
        if (rc == FH_OK && ctx.dest) {
            if (o.keys_per_pass)
                duck_dest_set_keys_per_pass(ctx.dest, o.keys_per_pass);
            duck_dest_set_trace(ctx.dest, o.trace_sql);
        }
    }
    if (rc != FH_OK)
        report_error(&o, NULL, &err);

    for (size_t i = 0; i < nsel && rc == FH_OK; i++) {
        cli_result *r = &results[nres++];
        r->table = sel[i]->name;
        r->group = sel[i]->group;
        rc = load_table(&ctx, sel[i], r, &err);
        r->code = rc;
        if (rc != FH_OK) {
            r->message = err.msg;
            report_error(&o, sel[i], &err);
        } else if (o.json) {
            cli_print_json(stdout, r);
            fflush(stdout);
        }
    }
    if (!o.quiet && !o.json && nres > 0)
        cli_print_summary(stdout, results, nres);

    duck_dest_close(ctx.dest);
    stage_parquet_close(ctx.stage);
    pg_source_close(ctx.src);
    free(results);
    free(sel);
    registry_free(&reg);
    cli_free(&o);
    return rc;
}
