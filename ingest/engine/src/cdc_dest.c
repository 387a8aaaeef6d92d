/*
 * cdc_dest — streamed changes into RAW, group by group (contract in cdc_dest.h).
 *
 * Buffering. Each described relation has a copy_decoder (row hashes on) bound to a data chunk laid
 * out as the relation's temporary table temp._fh_cdc_<relid>_<generation>:
 *     <source columns>, _fh_h (row hash), _fh_lsn, _fh_seq (order in the group), _fh_ts (µs),
 *     _fh_cop ('insert', 'update', 'delete', or 'T' for a TRUNCATE marker), _fh_u (the columns
 *     whose unchanged TOASTed value was not sent: a UBIGINT bitmask when the relation has at most 64
 *     columns, else a VARCHAR of '0'/'1' per column; NULL when none)
 * A change is decoded straight into the next row of the chunk (copy_decode_put); a full chunk is
 * appended to the temporary table (DuckDB spills it under the memory limit). Nothing per row is
 * allocated. A relation described again with other columns while it has rows pending starts a new
 * generation (a new entry and temporary table): each generation is applied as its own load, in order.
 *
 * Group commit, in one DuckDB transaction, per entry with rows (in the order they were created):
 *   1. raw.<t>'s schema evolution (duck_dest_ensure_table: the batch loads' rules);
 *   2. the load id (max + 1), and for each TRUNCATE marker, in order, 'delete' rows for every key
 *      live at that point (raw's current view and the group's earlier changes) added to the temporary
 *      table at the marker's sequence number, and a row in raw._fh_truncates;
 *   3. one INSERT INTO raw.<t> … SELECT from the temporary table (see apply_sql: superseded flags
 *      by a window over the key, 'u' columns from the key's previous version);
 *   4. raw._fh_loads (mode 'stream') and raw._fh_state (last_load_id; the watermark is the batch
 *      loads' cursor and is left as it is: a stream has no cursor column);
 * then raw._fh_stream, COMMIT, and the temporary tables are emptied. Any error: ROLLBACK, and the
 * pending changes are dropped (the caller receives them again).
 */
#include "cdc_dest.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_sql.h"
#include "fh_time.h"

#define NEXTRA 6 /* _fh_h, _fh_lsn, _fh_seq, _fh_ts, _fh_cop, _fh_u */

typedef struct rel {
    uint32_t relid;
    int retired; /* an older generation: no new changes, applied at the next commit */
    unsigned gen;
    char table[PGO_NAME_MAX];
    char tmp[96]; /* temp."_fh_cdc_<relid>_<gen>" */
    cd_column *cols;
    size_t ncols;
    int *key_cols;
    const char **key_names; /* into cols[].name */
    int nkey;
    copy_decoder *dec;
    duckdb_logical_type *types;
    duckdb_data_chunk chunk;
    size_t cap, nrows; /* rows in the chunk */
    duckdb_appender app;
    int tmp_ready;
    char *umask_text; /* ncols > 64: the row's '0'/'1' string, reused */
    uint64_t pending, seq;
    int has_u, has_trunc;
    /* raw.<table> was checked against (or evolved to) this layout in a committed group, or in the
     * group being committed: the check reads DuckDB's catalog and costs a statement per table and
     * group, so it runs once per relation layout (a new layout is a new rel). */
    int schema_ok, schema_ok_pending;
} rel;

struct cdc_dest {
    duck_dest *wh;
    char slot[PGO_NAME_MAX];
    rel **rels;
    size_t nrels, caprels;
    unsigned next_gen;
    uint64_t pending;
    int64_t next_load_id; /* the group's next load id (0: not read yet in this group) */
};

static int q(cdc_dest *d, const char *sql, fh_error *err)
{
    return duck_dest_query(d->wh, sql, NULL, err);
}

static int run_buf(cdc_dest *d, fh_sql_buf *b, uint64_t *changed, fh_error *err)
{
    if (b->oom) {
        fh_sql_buf_reset(b);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    duckdb_result r;
    int rc = duck_dest_query(d->wh, b->s, changed ? &r : NULL, err);
    fh_sql_buf_reset(b);
    if (rc == FH_OK && changed) {
        *changed = duckdb_rows_changed(&r);
        duckdb_destroy_result(&r);
    }
    return rc;
}

int cdc_dest_open(duck_dest *wh, const char *slot, cdc_dest **out, fh_error *err)
{
    *out = NULL;
    cdc_dest *d = calloc(1, sizeof *d);
    if (!d)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    d->wh = wh;
    snprintf(d->slot, sizeof d->slot, "%s", slot);
    int rc = q(d,
               "CREATE TABLE IF NOT EXISTS raw._fh_stream (slot_name VARCHAR PRIMARY KEY, "
               "publication VARCHAR, confirmed_lsn BIGINT NOT NULL, confirmed_commit_ts "
               "TIMESTAMPTZ, snapshot_lsn BIGINT, tables VARCHAR[], updated_at TIMESTAMPTZ NOT "
               "NULL);"
               "CREATE TABLE IF NOT EXISTS raw._fh_truncates (table_name VARCHAR NOT NULL, "
               "commit_lsn BIGINT NOT NULL, commit_ts TIMESTAMPTZ, load_id BIGINT NOT NULL, "
               "keys_deleted BIGINT NOT NULL)",
               err);
    if (rc != FH_OK) {
        free(d);
        return rc;
    }
    *out = d;
    return FH_OK;
}

static void rel_free(rel *r)
{
    if (!r)
        return;
    if (r->app)
        duckdb_appender_destroy(&r->app);
    if (r->chunk)
        duckdb_destroy_data_chunk(&r->chunk);
    if (r->types) {
        for (size_t c = 0; c < r->ncols + NEXTRA; c++)
            if (r->types[c])
                duckdb_destroy_logical_type(&r->types[c]);
        free(r->types);
    }
    copy_decode_free(r->dec);
    free(r->cols);
    free(r->key_cols);
    free(r->key_names);
    free(r->umask_text);
    free(r);
}

/* Drop rel's temporary table (its rows were applied or are dropped). */
static void rel_drop_tmp(cdc_dest *d, rel *r)
{
    if (r->app)
        duckdb_appender_destroy(&r->app);
    r->app = NULL;
    if (r->tmp_ready) {
        char sql[160];
        fh_error ignored;
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", r->tmp);
        q(d, sql, &ignored);
    }
    r->tmp_ready = 0;
}

void cdc_dest_close(cdc_dest *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nrels; i++) {
        rel_drop_tmp(d, d->rels[i]);
        rel_free(d->rels[i]);
    }
    free(d->rels);
    free(d);
}

static int wide(const rel *r) { return r->ncols > 64; }

static int rel_new(cdc_dest *d, uint32_t relid, const char *table, const cd_column *cols,
                   size_t ncols, const int *key_cols, int nkey, rel **out, fh_error *err)
{
    rel *r = calloc(1, sizeof *r);
    if (!r)
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    r->relid = relid;
    r->gen = d->next_gen++;
    snprintf(r->table, sizeof r->table, "%s", table);
    snprintf(r->tmp, sizeof r->tmp, "temp.\"_fh_cdc_%u_%u\"", relid, r->gen);
    r->ncols = ncols;
    r->nkey = nkey;
    r->cols = malloc(ncols * sizeof *r->cols);
    r->key_cols = malloc((size_t)nkey * sizeof *r->key_cols);
    r->key_names = malloc((size_t)nkey * sizeof *r->key_names);
    r->types = calloc(ncols + NEXTRA, sizeof *r->types);
    r->umask_text = ncols > 64 ? malloc(ncols) : NULL;
    if (!r->cols || !r->key_cols || !r->key_names || !r->types || (ncols > 64 && !r->umask_text)) {
        rel_free(r);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    memcpy(r->cols, cols, ncols * sizeof *cols);
    memcpy(r->key_cols, key_cols, (size_t)nkey * sizeof *key_cols);
    for (int k = 0; k < nkey; k++)
        r->key_names[k] = r->cols[key_cols[k]].name;
    int rc = copy_decode_new(table, cols, ncols, -1, &r->dec, err);
    if (rc == FH_OK)
        rc = copy_decode_enable_row_hash(r->dec, err);
    if (rc != FH_OK) {
        rel_free(r);
        return rc;
    }
    for (size_t c = 0; c < ncols; c++)
        r->types[c] = copy_decode_logical_type(&cols[c]);
    r->types[ncols + 0] = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    r->types[ncols + 1] = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    r->types[ncols + 2] = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    r->types[ncols + 3] = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    r->types[ncols + 4] = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    r->types[ncols + 5] =
        duckdb_create_logical_type(wide(r) ? DUCKDB_TYPE_VARCHAR : DUCKDB_TYPE_UBIGINT);
    r->chunk = duckdb_create_data_chunk(r->types, ncols + NEXTRA);
    r->cap = duckdb_vector_size();
    copy_decode_bind_chunk(r->dec, r->chunk, r->cap);
    *out = r;
    return FH_OK;
}

static int same_layout(const rel *r, const char *table, const cd_column *cols, size_t ncols,
                       const int *key_cols, int nkey)
{
    if (strcmp(r->table, table) || r->ncols != ncols || r->nkey != nkey)
        return 0;
    for (size_t c = 0; c < ncols; c++)
        if (strcmp(r->cols[c].name, cols[c].name) || r->cols[c].kind != cols[c].kind ||
            r->cols[c].width != cols[c].width || r->cols[c].scale != cols[c].scale)
            return 0;
    for (int k = 0; k < nkey; k++)
        if (r->key_cols[k] != key_cols[k])
            return 0;
    return 1;
}

static rel *find_rel(cdc_dest *d, uint32_t relid)
{
    for (size_t i = 0; i < d->nrels; i++)
        if (d->rels[i]->relid == relid && !d->rels[i]->retired)
            return d->rels[i];
    return NULL;
}

int cdc_dest_relation(cdc_dest *d, uint32_t relid, const char *table, const cd_column *cols,
                      size_t ncols, const int *key_cols, int nkey, fh_error *err)
{
    if (nkey <= 0)
        return fh_error_set(err, FH_ESCHEMA,
                            "table %s has no key: streamed changes cannot be applied by key — add "
                            "one (ALTER TABLE %s ADD PRIMARY KEY (…)) or name a unique index "
                            "(ALTER TABLE %s REPLICA IDENTITY USING INDEX …)",
                            table, table, table);
    for (size_t c = 0; c < ncols; c++)
        if (strncmp(cols[c].name, "_fh_", 4) == 0)
            return fh_error_set(err, FH_ESCHEMA,
                                "table %s, column %s: names starting with _fh_ are reserved for "
                                "fhload's load metadata — rename the column",
                                table, cols[c].name);
    for (int k = 0; k < nkey; k++)
        assert(key_cols[k] >= 0 && (size_t)key_cols[k] < ncols);
    rel *old = find_rel(d, relid);
    if (old && same_layout(old, table, cols, ncols, key_cols, nkey))
        return FH_OK;
    if (d->nrels == d->caprels) {
        size_t n = d->caprels ? d->caprels * 2 : 8;
        rel **nr = realloc(d->rels, n * sizeof *nr);
        if (!nr)
            return fh_error_set(err, FH_EINTERNAL, "out of memory");
        d->rels = nr;
        d->caprels = n;
    }
    rel *r = NULL;
    int rc = rel_new(d, relid, table, cols, ncols, key_cols, nkey, &r, err);
    if (rc != FH_OK)
        return rc;
    if (old) {
        if (old->pending > 0) {
            old->retired = 1; /* applied, as its own load, before the new generation */
        } else {
            rel_drop_tmp(d, old);
            for (size_t i = 0; i < d->nrels; i++)
                if (d->rels[i] == old) {
                    memmove(&d->rels[i], &d->rels[i + 1], (d->nrels - i - 1) * sizeof *d->rels);
                    d->nrels--;
                    break;
                }
            rel_free(old);
        }
    }
    d->rels[d->nrels++] = r;
    return FH_OK;
}

/* ---- buffering ------------------------------------------------------------------------------ */

static int ensure_tmp(cdc_dest *d, rel *r, fh_error *err)
{
    if (r->tmp_ready)
        return FH_OK;
    fh_sql_buf b = {0};
    char qn[160];
    fh_sql_buf_add(&b, "CREATE OR REPLACE TEMP TABLE %s (", r->tmp + 5);
    for (size_t c = 0; c < r->ncols; c++) {
        char ty[64];
        copy_decode_type_sql(&r->cols[c], ty, sizeof ty);
        fh_sql_buf_add(&b, "%s %s, ", fh_sql_ident(r->cols[c].name, qn, sizeof qn), ty);
    }
    fh_sql_buf_add(&b,
                   "_fh_h BIGINT, _fh_lsn BIGINT, _fh_seq BIGINT, _fh_ts BIGINT, _fh_cop "
                   "VARCHAR, _fh_u %s)",
                   wide(r) ? "VARCHAR" : "UBIGINT");
    int rc = run_buf(d, &b, NULL, err);
    if (rc != FH_OK)
        return rc;
    char name[64];
    snprintf(name, sizeof name, "_fh_cdc_%u_%u", r->relid, r->gen);
    if (duckdb_appender_create_ext(duck_dest_connection(d->wh), "temp", "main", name, &r->app) !=
        DuckDBSuccess) {
        const char *m = r->app ? duckdb_appender_error(r->app) : NULL;
        rc = fh_error_set(err, FH_EINTERNAL, "table %s: cannot append to %s: %s", r->table, r->tmp,
                          m ? m : "?");
        if (r->app)
            duckdb_appender_destroy(&r->app);
        r->app = NULL;
        return rc;
    }
    r->tmp_ready = 1;
    return FH_OK;
}

/* Append the chunk's rows to the temporary table and start an empty chunk. */
static int flush_chunk(cdc_dest *d, rel *r, fh_error *err)
{
    if (r->nrows == 0)
        return FH_OK;
    int rc = ensure_tmp(d, r, err);
    if (rc != FH_OK)
        return rc;
    copy_decode_finish_chunk(r->dec);
    duckdb_data_chunk_set_size(r->chunk, r->nrows);
    if (duckdb_append_data_chunk(r->app, r->chunk) != DuckDBSuccess ||
        duckdb_appender_flush(r->app) != DuckDBSuccess) {
        const char *m = duckdb_appender_error(r->app);
        return fh_error_set(err, FH_EINTERNAL, "table %s: cannot buffer changes: %s", r->table,
                            m ? m : "?");
    }
    duckdb_data_chunk_reset(r->chunk);
    copy_decode_bind_chunk(r->dec, r->chunk, r->cap);
    r->nrows = 0;
    return FH_OK;
}

static void set_i64(rel *r, size_t col, size_t row, int64_t v)
{
    ((int64_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(r->chunk, col)))[row] = v;
}

static void set_null(rel *r, size_t col, size_t row)
{
    duckdb_vector v = duckdb_data_chunk_get_vector(r->chunk, col);
    duckdb_vector_ensure_validity_writable(v);
    duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), row);
}

/* One row: the values of tup (every column), op and position. */
static int put_row(cdc_dest *d, rel *r, const char *op, uint64_t lsn, int64_t ts,
                   const pgo_tuple *tup, int key_only, fh_error *err)
{
    int rc;
    if (r->nrows == r->cap && (rc = flush_chunk(d, r, err)) != FH_OK)
        return rc;
    size_t row = r->nrows;
    uint64_t umask = 0;
    int any_u = 0;
    if (wide(r))
        memset(r->umask_text, '0', r->ncols);
    if (tup) {
        if (tup->ncols != r->ncols)
            return fh_error_set(err, FH_EDATA,
                                "table %s: a change with %u columns, the relation has %zu — "
                                "was a Relation message missed?",
                                r->table, (unsigned)tup->ncols, r->ncols);
        for (size_t c = 0; c < r->ncols; c++) {
            const pgo_value *v = &tup->vals[c];
            if (v->kind == 'b') {
                rc = copy_decode_put(r->dec, row, c, v->data, v->len, err);
                if (rc != FH_OK)
                    return rc;
            } else if (v->kind == 'n' || (v->kind == 'u' && !key_only)) {
                copy_decode_put_null(r->dec, row, c);
                if (v->kind == 'u') {
                    any_u = 1;
                    if (wide(r))
                        r->umask_text[c] = '1';
                    else
                        umask |= UINT64_C(1) << c;
                }
            } else {
                return fh_error_set(err, FH_EDATA,
                                    "table %s, column %s: a value in %s format (kind '%c'), "
                                    "expected binary — is the subscription started with binary "
                                    "'true'?",
                                    r->table, r->cols[c].name, v->kind == 't' ? "text" : "unknown",
                                    v->kind);
            }
        }
    } else {
        for (size_t c = 0; c < r->ncols; c++)
            copy_decode_put_null(r->dec, row, c);
    }
    copy_decode_put_row_done(r->dec, row);
    assert(lsn <= (uint64_t)INT64_MAX);
    set_i64(r, r->ncols + 1, row, (int64_t)lsn);
    set_i64(r, r->ncols + 2, row, (int64_t)r->seq++);
    set_i64(r, r->ncols + 3, row, ts);
    duckdb_vector_assign_string_element(duckdb_data_chunk_get_vector(r->chunk, r->ncols + 4), row,
                                        op);
    duckdb_vector uv = duckdb_data_chunk_get_vector(r->chunk, r->ncols + 5);
    if (!any_u) {
        set_null(r, r->ncols + 5, row);
    } else if (wide(r)) {
        duckdb_vector_assign_string_element_len(uv, row, r->umask_text, r->ncols);
        r->has_u = 1;
    } else {
        ((uint64_t *)duckdb_vector_get_data(uv))[row] = umask;
        r->has_u = 1;
    }
    r->nrows++;
    r->pending++;
    d->pending++;
    return FH_OK;
}

int cdc_dest_change(cdc_dest *d, uint32_t relid, char op, uint64_t commit_lsn, int64_t commit_ts,
                    const pgo_tuple *old_key, const pgo_tuple *tuple, fh_error *err)
{
    rel *r = find_rel(d, relid);
    if (!r)
        return fh_error_set(err, FH_EINTERNAL,
                            "a change of relation %u, which no Relation message described", relid);
    int rc = FH_OK;
    if (op == 'I')
        rc = put_row(d, r, "insert", commit_lsn, commit_ts, tuple, 0, err);
    else if (op == 'U') {
        if (old_key)
            rc = put_row(d, r, "delete", commit_lsn, commit_ts, old_key, 1, err);
        if (rc == FH_OK)
            rc = put_row(d, r, "update", commit_lsn, commit_ts, tuple, 0, err);
    } else if (op == 'D')
        rc = put_row(d, r, "delete", commit_lsn, commit_ts, tuple, 1, err);
    else
        rc = fh_error_set(err, FH_EINTERNAL, "table %s: unknown change '%c'", r->table, op);
    if (rc != FH_OK) /* a row may be half written: the group is dropped (the caller resends it) */
        cdc_dest_rollback_group(d);
    return rc;
}

int cdc_dest_truncate(cdc_dest *d, uint32_t relid, uint64_t commit_lsn, int64_t commit_ts,
                      fh_error *err)
{
    rel *r = find_rel(d, relid);
    if (!r)
        return fh_error_set(err, FH_EINTERNAL,
                            "a TRUNCATE of relation %u, which no Relation message described",
                            relid);
    int rc = put_row(d, r, "T", commit_lsn, commit_ts, NULL, 0, err);
    if (rc == FH_OK)
        r->has_trunc = 1;
    else
        cdc_dest_rollback_group(d);
    return rc;
}

uint64_t cdc_dest_pending(const cdc_dest *d) { return d->pending; }

/* Empty the buffers: after a commit (the temporary tables were emptied in its transaction: kept,
 * with their appenders) or to drop the pending changes (drop: the tables go, whatever they hold). */
static void reset_buffers(cdc_dest *d, int drop)
{
    size_t w = 0;
    for (size_t i = 0; i < d->nrels; i++) {
        rel *r = d->rels[i];
        if (r->retired) {
            rel_drop_tmp(d, r);
            rel_free(r);
            continue;
        }
        if (drop)
            rel_drop_tmp(d, r);
        duckdb_data_chunk_reset(r->chunk);
        copy_decode_bind_chunk(r->dec, r->chunk, r->cap);
        r->nrows = 0;
        r->pending = r->seq = 0;
        r->has_u = r->has_trunc = 0;
        d->rels[w++] = r;
    }
    d->nrels = w;
    d->pending = 0;
}

void cdc_dest_rollback_group(cdc_dest *d) { reset_buffers(d, 1); }

/* ---- group commit -------------------------------------------------------------------------- */

/* "a.k1 = b.k1 AND …" */
static void key_match(fh_sql_buf *b, const rel *r, const char *a, const char *bb)
{
    char qn[160];
    for (int k = 0; k < r->nkey; k++)
        fh_sql_buf_add(b, "%s%s.%s = %s.%s", k ? " AND " : "", a,
                       fh_sql_ident(r->key_names[k], qn, sizeof qn), bb, qn);
}

/* "a.k1, a.k2" ("" for bare names) */
static void key_list(fh_sql_buf *b, const rel *r, const char *a)
{
    char qn[160];
    for (int k = 0; k < r->nkey; k++)
        fh_sql_buf_add(b, "%s%s%s%s", k ? ", " : "", a, a[0] ? "." : "",
                       fh_sql_ident(r->key_names[k], qn, sizeof qn));
}

static int is_key(const rel *r, size_t c)
{
    for (int k = 0; k < r->nkey; k++)
        if ((size_t)r->key_cols[k] == c)
            return 1;
    return 0;
}

/* "column c was not sent" for a row of the temporary table (NULL when no column was). */
static void u_test(fh_sql_buf *b, const rel *r, size_t c)
{
    if (wide(r))
        fh_sql_buf_add(b, "substr(_fh_u, %zu, 1) = '1'", c + 1);
    else
        fh_sql_buf_add(b, "(_fh_u >> %zu) & 1 = 1", c);
}

static int live_cte(cdc_dest *d, rel *r, int64_t id, fh_sql_buf *b, fh_error *err)
{
    return duck_dest_live_cte(d->wh, r->table, r->cols, r->ncols, r->key_names, r->nkey, id, b,
                              err);
}

/* TRUNCATE markers → 'delete' rows of every key live at that point, in marker order. */
static int expand_truncates(cdc_dest *d, rel *r, int64_t id, uint64_t *deleted, fh_error *err)
{
    char sql[512], l[160];
    snprintf(sql, sizeof sql,
             "SELECT _fh_seq, _fh_lsn, _fh_ts FROM %s WHERE _fh_cop = 'T' ORDER BY _fh_seq",
             r->tmp);
    duckdb_result res;
    int rc = duck_dest_query(d->wh, sql, &res, err);
    if (rc != FH_OK)
        return rc;
    idx_t n = duckdb_row_count(&res);
    for (idx_t i = 0; i < n && rc == FH_OK; i++) {
        int64_t seq = duckdb_value_int64(&res, 0, i), lsn = duckdb_value_int64(&res, 1, i),
                ts = duckdb_value_int64(&res, 2, i);
        fh_sql_buf b = {0};
        fh_sql_buf_add(&b, "INSERT INTO %s (", r->tmp);
        key_list(&b, r, "");
        fh_sql_buf_add(&b, ", _fh_lsn, _fh_seq, _fh_ts, _fh_cop) WITH ");
        rc = live_cte(d, r, id, &b, err);
        fh_sql_buf_add(&b, ", prior AS (SELECT ");
        key_list(&b, r, "");
        fh_sql_buf_add(&b,
                       ", arg_max(_fh_cop, _fh_seq) AS op FROM %s WHERE _fh_seq < %" PRId64
                       " AND _fh_cop <> 'T' GROUP BY ALL) SELECT ",
                       r->tmp, seq);
        key_list(&b, r, "");
        fh_sql_buf_add(&b,
                       ", %" PRId64 ", %" PRId64 ", %" PRId64
                       ", 'delete' FROM (SELECT * EXCLUDE (op) FROM prior WHERE op <> 'delete' "
                       "UNION ALL SELECT ",
                       lsn, seq, ts);
        key_list(&b, r, "live");
        fh_sql_buf_add(&b, " FROM live ANTI JOIN prior ON ");
        key_match(&b, r, "live", "prior");
        fh_sql_buf_add(&b, ")");
        uint64_t keys = 0;
        if (rc == FH_OK)
            rc = run_buf(d, &b, &keys, err);
        fh_sql_buf_reset(&b);
        *deleted += keys;
        if (rc == FH_OK) {
            snprintf(sql, sizeof sql,
                     "INSERT INTO raw._fh_truncates VALUES (%s, %" PRId64
                     ", make_timestamptz(%" PRId64 "), %" PRId64 ", %" PRIu64 ")",
                     fh_sql_literal(r->table, l, sizeof l), lsn, ts, id, keys);
            rc = q(d, sql, err);
        }
    }
    duckdb_destroy_result(&res);
    return rc;
}

/* The group's INSERT INTO raw.<t> … SELECT (see the file comment). */
static int apply_sql(cdc_dest *d, rel *r, int64_t id, fh_sql_buf *b, fh_error *err)
{
    char qn[160], tq[200];
    snprintf(tq, sizeof tq, "raw.%s", fh_sql_ident(r->table, qn, sizeof qn));
    fh_sql_buf_add(b, "INSERT INTO %s (", tq);
    for (size_t c = 0; c < r->ncols; c++)
        fh_sql_buf_add(b, "%s, ", fh_sql_ident(r->cols[c].name, qn, sizeof qn));
    fh_sql_buf_add(b, "_fh_row_hash, _fh_load_id, _fh_loaded_at, _fh_op, _fh_commit_lsn, "
                      "_fh_commit_ts, _fh_superseded) ");
    const char *src = r->tmp;
    if (r->has_u) {
        /* 'u' columns: the key's previous version, in the group or else raw's current row */
        fh_sql_buf_add(b, "WITH ");
        int rc = live_cte(d, r, id, b, err);
        if (rc != FH_OK)
            return rc;
        fh_sql_buf_add(b, ", seed AS (SELECT ");
        for (size_t c = 0; c < r->ncols; c++)
            fh_sql_buf_add(b, "s.%s, ", fh_sql_ident(r->cols[c].name, qn, sizeof qn));
        fh_sql_buf_add(b,
                       "NULL::BIGINT AS _fh_h, NULL::BIGINT AS _fh_lsn, -1::BIGINT AS _fh_seq, "
                       "NULL::BIGINT AS _fh_ts, 'seed' AS _fh_cop, NULL AS _fh_u FROM %s s JOIN "
                       "live ON ",
                       tq);
        key_match(b, r, "s", "live");
        fh_sql_buf_add(b, " AND s._fh_load_id = live._fh_load_id SEMI JOIN (SELECT ");
        key_list(b, r, "");
        fh_sql_buf_add(b, " FROM %s WHERE _fh_u IS NOT NULL) uk ON ", r->tmp);
        key_match(b, r, "s", "uk");
        fh_sql_buf_add(b, " WHERE s._fh_superseded IS NOT TRUE AND s._fh_op <> 'delete'), "
                          "allv AS (SELECT * FROM seed UNION ALL BY NAME SELECT * FROM ");
        fh_sql_buf_add(b, "%s WHERE _fh_cop <> 'T'), filled AS (SELECT ", r->tmp);
        for (size_t c = 0; c < r->ncols; c++) {
            fh_sql_ident(r->cols[c].name, qn, sizeof qn);
            if (is_key(r, c)) {
                fh_sql_buf_add(b, "%s, ", qn);
                continue;
            }
            fh_sql_buf_add(b, "CASE WHEN ");
            u_test(b, r, c);
            fh_sql_buf_add(b, " THEN (last_value(CASE WHEN _fh_u IS NULL OR NOT (");
            u_test(b, r, c);
            fh_sql_buf_add(b, ") THEN {'v': %s} END IGNORE NULLS) OVER w).v ELSE %s END AS %s, ",
                           qn, qn, qn);
        }
        fh_sql_buf_add(b, "_fh_h, _fh_lsn, _fh_seq, _fh_ts, _fh_cop, _fh_u FROM allv WINDOW w AS "
                          "(PARTITION BY ");
        key_list(b, r, "");
        fh_sql_buf_add(b, " ORDER BY _fh_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) ");
        src = "filled";
    }
    fh_sql_buf_add(b, "SELECT ");
    for (size_t c = 0; c < r->ncols; c++)
        fh_sql_buf_add(b, "%s, ", fh_sql_ident(r->cols[c].name, qn, sizeof qn));
    /* A row some of whose values were filled in has no source hash: NULL (a reconciliation
     * compares it as changed and appends the source's version, which is the same row). */
    fh_sql_buf_add(b,
                   "CASE WHEN _fh_cop = 'delete' OR _fh_u IS NOT NULL THEN NULL ELSE _fh_h END, "
                   "%" PRId64 ", now(), _fh_cop, _fh_lsn, make_timestamptz(_fh_ts), _fh_seq < "
                   "max(_fh_seq) OVER (PARTITION BY ",
                   id);
    key_list(b, r, "");
    fh_sql_buf_add(b, ") FROM %s WHERE _fh_cop IN ('insert', 'update', 'delete')", src);
    return FH_OK;
}

static int apply_rel(cdc_dest *d, rel *r, int64_t started_us, cdc_group_stats *st, fh_error *err)
{
    char sql[2048], l[160];
    int rc = flush_chunk(d, r, err);
    if (rc == FH_OK && !r->schema_ok) {
        rc = duck_dest_ensure_table(d->wh, r->table, r->cols, r->ncols, err);
        r->schema_ok_pending = rc == FH_OK;
    }
    /* One read of the log's last id per group; the group's tables then take the ids after it (the
     * warehouse file has one writer, so nothing else takes ids meanwhile). */
    if (rc == FH_OK && d->next_load_id == 0) {
        duckdb_result res;
        rc = duck_dest_query(d->wh, "SELECT coalesce(max(load_id), 0) + 1 FROM raw._fh_loads", &res,
                             err);
        if (rc == FH_OK) {
            d->next_load_id = duckdb_value_int64(&res, 0, 0);
            duckdb_destroy_result(&res);
        }
    }
    if (rc != FH_OK)
        return rc;
    int64_t id = d->next_load_id++;
    uint64_t tdel = 0;
    if (r->has_trunc && (rc = expand_truncates(d, r, id, &tdel, err)) != FH_OK)
        return rc;
    fh_sql_buf b = {0};
    rc = apply_sql(d, r, id, &b, err);
    if (rc == FH_OK)
        rc = run_buf(d, &b, NULL, err);
    fh_sql_buf_reset(&b);
    if (rc != FH_OK)
        return rc;
    /* the load's counts and time span */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE _fh_cop IN ('insert', 'update')), count(*) FILTER "
             "(WHERE _fh_cop = 'delete'), min(_fh_ts), max(_fh_ts) FROM %s",
             r->tmp);
    duckdb_result res;
    if ((rc = duck_dest_query(d->wh, sql, &res, err)) != FH_OK)
        return rc;
    uint64_t rows = (uint64_t)duckdb_value_int64(&res, 0, 0),
             dels = (uint64_t)duckdb_value_int64(&res, 1, 0);
    int64_t tmin = duckdb_value_int64(&res, 2, 0), tmax = duckdb_value_int64(&res, 3, 0);
    duckdb_destroy_result(&res);
    char st_t[FH_TIME_TEXT], fin_t[FH_TIME_TEXT];
    fh_time_format_sql(started_us, st_t, sizeof st_t);
    fh_time_format_sql(fh_time_now_us(), fin_t, sizeof fin_t);
    fh_sql_literal(r->table, l, sizeof l);
    snprintf(sql, sizeof sql,
             "INSERT INTO raw._fh_loads (load_id, table_name, mode, started_at, finished_at, "
             "rows_loaded, rows_deleted, files, watermark_from, watermark_to, status) VALUES "
             "(%" PRId64 ", %s, 'stream', TIMESTAMPTZ '%s', TIMESTAMPTZ '%s', %" PRIu64 ", %" PRIu64
             ", 0, make_timestamptz(%" PRId64 "), make_timestamptz(%" PRId64 "), 'ok');"
             "INSERT INTO raw._fh_state (table_name, watermark, last_load_id, updated_at) VALUES "
             "(%s, NULL, %" PRId64 ", TIMESTAMPTZ '%s') ON CONFLICT (table_name) DO UPDATE SET "
             "last_load_id = excluded.last_load_id, updated_at = excluded.updated_at;"
             "DELETE FROM %s;",
             id, l, st_t, fin_t, rows, dels, tmin, tmax, l, id, fin_t, r->tmp);
    if ((rc = q(d, sql, err)) != FH_OK)
        return rc;
    if (st->load_id == 0)
        st->load_id = id;
    st->rows += rows;
    st->deleted += dels;
    st->tables++;
    return FH_OK;
}

static int write_progress(cdc_dest *d, uint64_t end_lsn, int64_t commit_ts, fh_error *err)
{
    char l[160], ts[80] = "NULL";
    if (commit_ts != 0)
        snprintf(ts, sizeof ts, "make_timestamptz(%" PRId64 ")", commit_ts);
    fh_sql_buf tl = {0};
    fh_sql_buf_add(&tl, "[");
    for (size_t i = 0, n = 0; i < d->nrels; i++) {
        char lt[160];
        if (d->rels[i]->pending > 0)
            fh_sql_buf_add(&tl, "%s%s", n++ ? ", " : "",
                           fh_sql_literal(d->rels[i]->table, lt, sizeof lt));
    }
    fh_sql_buf_add(&tl, "]::VARCHAR[]");
    if (tl.oom) {
        fh_sql_buf_reset(&tl);
        return fh_error_set(err, FH_EINTERNAL, "out of memory");
    }
    fh_sql_buf b = {0};
    assert(end_lsn <= (uint64_t)INT64_MAX);
    fh_sql_buf_add(&b,
                   "INSERT INTO raw._fh_stream (slot_name, confirmed_lsn, confirmed_commit_ts, "
                   "tables, updated_at) VALUES (%s, %" PRId64 ", %s, list_sort(%s), now()) ON "
                   "CONFLICT (slot_name) DO UPDATE SET confirmed_lsn = excluded.confirmed_lsn, "
                   "confirmed_commit_ts = coalesce(excluded.confirmed_commit_ts, "
                   "raw._fh_stream.confirmed_commit_ts), tables = "
                   "list_sort(list_distinct(list_concat(coalesce(raw._fh_stream.tables, []), "
                   "excluded.tables))), updated_at = excluded.updated_at",
                   fh_sql_literal(d->slot, l, sizeof l), (int64_t)end_lsn, ts, tl.s);
    fh_sql_buf_reset(&tl);
    return run_buf(d, &b, NULL, err);
}

int cdc_dest_commit_group(cdc_dest *d, uint64_t end_lsn, int64_t commit_ts, cdc_group_stats *st,
                          fh_error *err)
{
    cdc_group_stats ignored_st;
    if (!st)
        st = &ignored_st;
    memset(st, 0, sizeof *st);
    int64_t started = fh_time_now_us();
    d->next_load_id = 0;
    int rc = q(d, "BEGIN TRANSACTION", err);
    for (size_t i = 0; i < d->nrels && rc == FH_OK; i++) {
        rel *r = d->rels[i];
        if (r->pending == 0)
            continue;
        rc = apply_rel(d, r, started, st, err);
        char want[PGO_NAME_MAX + 8];
        snprintf(want, sizeof want, "table %s", r->table);
        if (rc != FH_OK && !strstr(err->msg, want)) { /* DuckDB's message: say which table */
            char m[FH_ERROR_MAX];
            snprintf(m, sizeof m, "%s", err->msg);
            fh_error_set(err, rc, "table %s: streamed changes not applied: %s", r->table, m);
        }
    }
    if (rc == FH_OK)
        rc = write_progress(d, end_lsn, commit_ts, err);
    if (rc == FH_OK)
        rc = q(d, "COMMIT", err);
    if (rc != FH_OK) {
        fh_error ignored;
        q(d, "ROLLBACK", &ignored);
        memset(st, 0, sizeof *st);
    }
    for (size_t i = 0; i < d->nrels; i++) { /* a schema change rolled back must be checked again */
        d->rels[i]->schema_ok |= rc == FH_OK && d->rels[i]->schema_ok_pending;
        d->rels[i]->schema_ok_pending = 0;
    }
    /* applied or dropped: either way the buffers start empty */
    reset_buffers(d, rc != FH_OK);
    return rc;
}

/* ---- progress ------------------------------------------------------------------------------ */

int cdc_dest_read_state(cdc_dest *d, cdc_state *out, fh_error *err)
{
    memset(out, 0, sizeof *out);
    char sql[512], l[160];
    snprintf(sql, sizeof sql,
             "SELECT confirmed_lsn, epoch_us(confirmed_commit_ts), snapshot_lsn, publication "
             "FROM raw._fh_stream WHERE slot_name = %s",
             fh_sql_literal(d->slot, l, sizeof l));
    duckdb_result r;
    int rc = duck_dest_query(d->wh, sql, &r, err);
    if (rc != FH_OK)
        return rc;
    if (duckdb_row_count(&r) > 0) {
        out->found = 1;
        out->confirmed_lsn = (uint64_t)duckdb_value_int64(&r, 0, 0);
        out->confirmed_commit_ts = duckdb_value_int64(&r, 1, 0);
        out->snapshot_lsn = (uint64_t)duckdb_value_int64(&r, 2, 0);
        char *p = duckdb_value_varchar(&r, 3, 0);
        snprintf(out->publication, sizeof out->publication, "%s", p ? p : "");
        duckdb_free(p);
    }
    duckdb_destroy_result(&r);
    return FH_OK;
}

int cdc_dest_snapshot_done(cdc_dest *d, const char *publication, uint64_t consistent_point,
                           fh_error *err)
{
    char sql[1024], l[160], p[160];
    assert(consistent_point <= (uint64_t)INT64_MAX);
    snprintf(sql, sizeof sql,
             "INSERT INTO raw._fh_stream (slot_name, publication, confirmed_lsn, snapshot_lsn, "
             "updated_at) VALUES (%s, %s, %" PRId64 ", %" PRId64
             ", now()) ON CONFLICT (slot_name) DO UPDATE SET publication = excluded.publication, "
             "confirmed_lsn = excluded.confirmed_lsn, snapshot_lsn = excluded.snapshot_lsn, "
             "updated_at = excluded.updated_at",
             fh_sql_literal(d->slot, l, sizeof l), fh_sql_literal(publication, p, sizeof p),
             (int64_t)consistent_point, (int64_t)consistent_point);
    return q(d, sql, err);
}

int cdc_dest_forget(cdc_dest *d, fh_error *err)
{
    char sql[512], l[160];
    snprintf(sql, sizeof sql, "DELETE FROM raw._fh_stream WHERE slot_name = %s",
             fh_sql_literal(d->slot, l, sizeof l));
    return q(d, sql, err);
}
